"""pipeline.apply_edits: the one edit path of the CLI, the GUI preview and the GUI export."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from colorstudio.engine import histogram_edit as he
from colorstudio.engine.jobs import (
    Edits,
    ExportJob,
    ExportRequest,
    ExportSettings,
    HueBias,
    LoadedReference,
    PreviewJob,
    PreviewRequest,
    ReferenceSettings,
    SampleResult,
    edit_sample,
)
from colorstudio.engine.pipeline import (
    ColorizeRequest,
    HistogramPrediction,
    apply_edits,
    colorize_source,
    composite_with_edits,
)
from colorstudio.errors import ColorStudioError

sys.path.insert(0, str(Path(__file__).parent))
from test_session_fakes import FakeHistogramColorizerForTests  # noqa: E402

K = 32
# Warm-started and cold solves stop at a Newton decrement below 1e-7: their decoded a*b* agree far
# inside one 8-bit sRGB step (~0.4 a*b* units); measured up to 0.012 on the benchmark inputs.
WARM_COLD_AB_TOL = 0.05


def smooth_prediction(h: int = 12, w: int = 16, seed: int = 0) -> HistogramPrediction:
    """Hue peaked at a hue that drifts over the grid, with confidence varying; chroma around 20."""
    rng = np.random.default_rng(seed)
    centres = (np.arange(K) + 0.5) / K
    mean = (0.15 + 0.5 * np.arange(w)[None, :] / w) * np.ones((h, 1))
    kappa = 1.0 + 6.0 * rng.random((h, w))
    gap = (centres[:, None, None] - mean[None] + 0.5) % 1.0 - 0.5
    hue = np.exp(kappa[None] * np.cos(2 * np.pi * gap))
    chroma = np.exp(-((np.arange(K)[:, None, None] - 5.0 - 2.0 * rng.random((1, h, w))) ** 2) / 8.0)
    return HistogramPrediction(hue=(hue / hue.sum(0)).astype(np.float32), chroma=(chroma / chroma.sum(0)).astype(np.float32))


def reference_rgb() -> np.ndarray:
    """A blue-and-orange reference (30 x 40 sRGB)."""
    rgb = np.zeros((30, 40, 3), np.float32)
    rgb[:, :20] = (0.15, 0.35, 0.8)
    rgb[:, 20:] = (0.9, 0.55, 0.2)
    return rgb


def edits(hue_shift_deg: float | None = None, hue_strength: float = 1.0, reference_strength: float = 1.0,
          reference_method: str = "energy", reference: he.ReferenceHistograms | None = None) -> Edits:
    """The edits of the CLI's options (``--hue-shift`` etc.) with a reference of these histograms (None: none)."""
    bias = HueBias(hue_shift_deg or 0.0, hue_strength if hue_shift_deg is not None else 0.0)
    image = None if reference is None else LoadedReference(Path("ref.png"), "", reference_rgb(), reference)
    return Edits(bias, ReferenceSettings(path=None if image is None else "ref.png", strength=reference_strength,
                                         method=reference_method), image)


def test_no_active_edit_returns_the_samples():
    hists = smooth_prediction()
    samples = [np.full((12, 16, 2), 3.0, np.float32), np.full((12, 16, 2), -2.0, np.float64)]
    ref = he.reference_histograms(reference_rgb())
    for settings in [edits(), edits(hue_shift_deg=90.0, hue_strength=0.0), edits(reference_strength=0.0, reference=ref),
                     edits(reference_method="quantile", reference=ref)]:
        edited = apply_edits(samples, hists, settings)
        assert edited.warm is None and len(edited.ab_samples) == 2
        assert all(ab.dtype == np.float32 for ab in edited.ab_samples)
        np.testing.assert_array_equal(edited.ab_samples[1], samples[1])


def test_histogram_edit_without_histograms_is_refused():
    with pytest.raises(ColorStudioError, match="histograms"):
        apply_edits([np.zeros((4, 4, 2), np.float32)], None, edits(hue_shift_deg=30.0))
    with pytest.raises(ColorStudioError, match="histograms"):
        apply_edits([np.zeros((4, 4, 2), np.float32)], None, edits(reference=he.reference_histograms(reference_rgb())))


def test_order_is_reference_then_hue_bias_then_decode():
    hists = smooth_prediction()
    ref = he.reference_histograms(reference_rgb())
    settings = edits(hue_shift_deg=200.0, hue_strength=0.7, reference_strength=2.0, reference=ref)
    (ab,), warm = apply_edits([], hists, settings)
    hue, chroma, _ = he.transfer_to_reference(hists.hue, hists.chroma, ref, strength=2.0)
    expected = he.decode_ab(he.hue_bias(hue, 200.0, 0.7), chroma)
    np.testing.assert_array_equal(ab, expected)
    assert warm is not None
    # Hue bias alone, and the reference alone (the slider's fast path decodes without float32 copies).
    (ab,), warm = apply_edits([], hists, edits(hue_shift_deg=200.0, hue_strength=0.7))
    np.testing.assert_array_equal(ab, he.decode_ab(he.hue_bias(hists.hue, 200.0, 0.7), hists.chroma))
    assert warm is None
    (ab,), _ = apply_edits([], hists, edits(reference_strength=2.0, reference=ref))
    np.testing.assert_allclose(ab, he.decode_ab(hue, chroma), atol=1e-3)


@pytest.mark.parametrize("hue_on", [False, True], ids=["reference", "reference+hue"])
def test_warm_started_drag_matches_cold_solves(hue_on):
    hists = smooth_prediction()
    ref = he.reference_histograms(reference_rgb())
    warm = None
    for strength in [0.5, 1.0, 1.5, 3.0, 2.5, 8.0, 0.3]:
        settings = edits(hue_shift_deg=120.0 if hue_on else None, hue_strength=0.8, reference_strength=strength,
                         reference=ref)
        (ab_warm,), next_warm = apply_edits([], hists, settings, warm)
        (ab_cold,), cold = apply_edits([], hists, settings)
        np.testing.assert_allclose(ab_warm, ab_cold, atol=WARM_COLD_AB_TOL)
        if warm is not None:
            assert next_warm.transfer is warm.transfer  # reused, not rebuilt
        assert cold.transfer is not next_warm.transfer
        warm = next_warm
    # A small step from a warm state takes no more Newton iterations than the cold solve.
    step = edits(reference_strength=0.35, reference=ref)
    assert (apply_edits([], hists, step, warm).warm.solution.hue.iterations
            <= apply_edits([], hists, step).warm.solution.hue.iterations)


def test_warm_state_of_another_prediction_or_reference_is_ignored():
    hists, other = smooth_prediction(seed=0), smooth_prediction(seed=1)
    ref = he.reference_histograms(reference_rgb())
    other_ref = he.reference_histograms(reference_rgb()[:, ::-1] * 0.5)
    warm = apply_edits([], hists, edits(reference_strength=2.0, reference=ref)).warm
    assert warm.matches(hists, (ref.hue.copy(), ref.chroma.copy()))  # the reference compares by value
    assert apply_edits([], hists, edits(reference_strength=0.0, reference=ref), warm).warm is warm  # drag through 0
    for h, r in [(other, ref), (hists, other_ref)]:
        (ab,), new = apply_edits([], h, edits(reference_strength=2.0, reference=r), warm)
        assert new.transfer is not warm.transfer
        np.testing.assert_array_equal(ab, apply_edits([], h, edits(reference_strength=2.0, reference=r)).ab_samples[0])


def test_cli_and_gui_take_the_same_edit_path(tmp_path):
    """colorize_source (CLI), the preview job and the export job give the same chroma for the same edits."""
    fake = FakeHistogramColorizerForTests()
    rng = np.random.default_rng(3)
    lightness = np.clip(50 + 20 * rng.standard_normal((24, 32)), 0, 100).astype(np.float32)
    ref_rgb = reference_rgb()
    loaded = LoadedReference(path=tmp_path / "ref.png", sha256="", rgb=ref_rgb, histograms=he.reference_histograms(ref_rgb))
    request = ColorizeRequest(model=fake.name, seed=4, hue_bias=HueBias(75.0, 0.6),
                              reference=ReferenceSettings(path=str(loaded.path), strength=1.5))
    cli = colorize_source(lightness, fake, request, reference=loaded)

    pred = fake.predict(lightness, np.zeros((2, 24, 32), np.float32), np.zeros((1, 24, 32), np.float32), seed=4)
    sample = SampleResult(seed=4, ab=pred.ab_samples[0], work_size=pred.work_size, histograms=pred.histograms)
    gui_edits = Edits(hue_bias=HueBias(75.0, 0.6), reference=ReferenceSettings(path=str(loaded.path), strength=1.5),
                      reference_image=loaded)
    gui_ab, warm = edit_sample(sample, gui_edits)
    np.testing.assert_array_equal(gui_ab, cli.edited_ab[0])
    preview = PreviewJob().run(PreviewRequest(lightness=lightness, sample=sample, edits=gui_edits))
    np.testing.assert_array_equal(preview.ab, cli.edited_ab[0])
    np.testing.assert_array_equal(preview.rgb, cli.rgb_samples[0])  # preview L* is the full L* here
    assert preview.warm is not None and warm is not None

    source = tmp_path / "source.png"
    Image.fromarray(np.zeros((24, 32), np.uint8)).save(source)
    target = tmp_path / "out.tiff"
    ExportJob().run(ExportRequest(target=target, source_path=source, lightness=lightness, samples=(sample,), chosen=0,
                                  edits=gui_edits, settings=ExportSettings(fmt="tiff", bit_depth=16)))
    exported = tifffile.imread(target).astype(np.float32) / 65535.0
    np.testing.assert_allclose(exported, cli.rgb_samples[0], atol=1.0 / 65535)


def test_preview_drag_matches_export_within_tolerance():
    """Previews warm-start from the previous preview; the export solves cold and lands on the same colours."""
    fake = FakeHistogramColorizerForTests()
    lightness = np.linspace(20, 90, 24 * 32, dtype=np.float32).reshape(24, 32)
    pred = fake.predict(lightness, np.zeros((2, 24, 32), np.float32), np.zeros((1, 24, 32), np.float32), seed=1)
    sample = SampleResult(seed=1, ab=pred.ab_samples[0], work_size=pred.work_size, histograms=pred.histograms)
    ref = reference_rgb()
    loaded = LoadedReference(path=Path("ref.png"), sha256="", rgb=ref, histograms=he.reference_histograms(ref))
    warm = None
    for strength in [0.4, 0.8, 1.2, 1.6, 2.0]:
        dragged = Edits(reference=ReferenceSettings(path="ref.png", strength=strength), reference_image=loaded)
        result = PreviewJob().run(PreviewRequest(lightness=lightness, sample=sample, edits=dragged, warm=warm))
        warm = result.warm
    cold_ab, _ = edit_sample(sample, dragged)
    np.testing.assert_allclose(result.ab, cold_ab, atol=WARM_COLD_AB_TOL)
    cold_rgb = composite_with_edits(lightness, cold_ab, dragged)
    np.testing.assert_allclose(result.rgb, cold_rgb, atol=0.5 / 255)


def test_quantile_reference_is_applied_after_compositing():
    lightness = np.linspace(30, 80, 20 * 24, dtype=np.float32).reshape(20, 24)
    ab = np.full((5, 6, 2), [10.0, 5.0], np.float32)
    ref = he.reference_histograms(reference_rgb())
    plain = composite_with_edits(lightness, ab, edits(reference_strength=3.0, reference_method="quantile"))
    matched = composite_with_edits(lightness, ab, edits(reference_strength=3.0, reference_method="quantile", reference=ref))
    np.testing.assert_array_equal(matched, he.quantile_match_transfer(plain, reference_rgb(), 1.0))  # min(3, 1)
    off = composite_with_edits(lightness, ab, edits(reference_strength=0.0, reference_method="quantile", reference=ref))
    np.testing.assert_array_equal(off, plain)


def test_bench_slider_times_the_whole_move(capsys):
    from colorstudio.bench import BENCHMARKS, bench_slider

    assert BENCHMARKS["slider"] is bench_slider
    result = bench_slider(2, cells=32)
    for key in ("warm", "cold", "hue"):
        assert result[key]["total_ms"] >= result[key]["composite_ms"] > 0
    assert "cold solve (baseline)" in capsys.readouterr().out
