"""The Qt-free session model, jobs and session files (no widgets here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

from colorstudio.engine.hints import Hint
from colorstudio.engine.jobs import (
    DraftJob,
    ExportJob,
    ExportSettings,
    HueBias,
    PredictJob,
    ReferenceSettings,
    preview_size,
)
from colorstudio.engine.session_file import open_session, read_session, save_session
from colorstudio.errors import CancelledError, ColorStudioError
from colorstudio.families import REGISTRY, families

sys.path.insert(0, str(Path(__file__).parent))
from test_session_fakes import (  # noqa: E402
    fake_ranking_session,
    fake_score,
    fake_session,
    write_color_image,
    write_gray_image,
)


@pytest.fixture
def gray_path(tmp_path):
    return write_gray_image(tmp_path / "photo.png")


@pytest.fixture
def session(gray_path):
    s = fake_session()
    s.open_image(gray_path)
    return s


def test_open_image_sets_lightness_and_preview(session):
    assert session.source_size == (64, 48)
    assert session.image.lightness.shape == (48, 64)
    assert session.image.preview_lightness.shape == (48, 64)  # small images are never upscaled
    assert preview_size((4000, 3000)) == (512, 384)


def test_colorize_gives_n_samples_with_their_seeds(session):
    session.set_sample_count(3)
    session.set_base_seed(7)
    session.colorize()
    assert [slot.seed for slot in session.slots] == [7, 8, 9]
    assert all(slot.sample is not None and not slot.stale for slot in session.slots)
    assert session.chosen == 0
    assert session.result.rgb.shape == (48, 64, 3)
    assert session.result.rgb.dtype == np.float32
    assert 0.0 <= session.result.rgb.min() and session.result.rgb.max() <= 1.0
    # Different seeds give different samples.
    assert not np.allclose(session.slots[0].sample.ab, session.slots[1].sample.ab)


def test_result_keeps_source_lightness(session):
    from colorstudio.color import rgb_to_lab

    session.colorize()
    lab = rgb_to_lab(session.result.rgb)
    assert np.abs(lab[..., 0] - session.image.preview_lightness).mean() < 1.0


def test_sample_alone_equals_sample_among_others(session):
    """What makes seeds a complete record: sample k does not depend on the other seeds requested."""
    job = PredictJob(session.colorizers)
    together = job.run(session._predict_request([3, 4, 5]))
    alone = job.run(session._predict_request([4]))
    np.testing.assert_array_equal(together[1].ab, alone[0].ab)


def test_choose_sample_updates_result_and_emits(session):
    seen = []
    session.events.chosen.connect(seen.append)
    session.set_sample_count(2)
    session.colorize()
    first = session.result.rgb.copy()
    session.choose_sample(1)
    session.run_pending()
    assert seen[-1] == 1
    assert session.result.seed == 1
    assert not np.allclose(first, session.result.rgb)
    with pytest.raises(ColorStudioError, match="no sample"):
        session.choose_sample(5)


def test_hints_invalidate_and_are_honoured(session):
    session.colorize()
    stale = []
    session.events.stale.connect(stale.append)
    index = session.add_hint(Hint(x=10.0, y=10.0, radius=4.0, color="#0000ff"))
    assert index == 0 and "predict" in stale
    assert session.slots[0].stale
    session.run_pending()
    assert not session.slots[0].stale
    sample = session.current_sample
    w, h = sample.work_size
    a, b = sample.ab[int(10 * h / 48), int(10 * w / 64)]
    assert b < -30  # blue: strongly negative b*
    session.move_hint(0, 40.0, 30.0)
    assert (session.hints[0].x, session.hints[0].y) == (40.0, 30.0)
    session.set_hint_radius(0, 6.0)
    session.set_hint_color(0, "#ff0000")
    assert session.hints[0] == Hint(40.0, 30.0, 6.0, "#ff0000")
    assert session.hint_at(41, 31) == 0 and session.hint_at(5, 5) is None
    removed = session.remove_hint(0)
    assert removed.color == "#ff0000" and session.hints == ()


def test_hint_outside_image_is_refused(session):
    with pytest.raises(ColorStudioError, match="outside"):
        session.add_hint(Hint(x=100.0, y=10.0, radius=3.0, color="#00ff00"))


def test_first_hint_without_samples_colorizes_one(session):
    session.add_hint(Hint(x=5.0, y=5.0, radius=3.0, color="#00ff00"))
    request = session.refresh_request()
    assert request is not None and request.seeds == (session.base_seed,)


def test_stale_results_are_dropped(session):
    session.colorize()
    old_revision = session.predict_revision
    old_request = session._predict_request([0])
    old_sample = PredictJob(session.colorizers).run(old_request)[0]
    session.add_hint(Hint(x=10.0, y=10.0, radius=3.0, color="#00ff00"))
    session.run_pending()
    # An older prediction arriving late must not replace the up-to-date sample.
    assert not session.accept_sample(old_revision, old_sample)
    # Same for previews: an older revision never replaces a newer one on screen.
    shown = session.result
    older = type(shown)(rgb=shown.rgb * 0, ab=shown.ab, uncertainty=None, seed=0, revision=shown.revision - 1, seconds=0)
    assert not session.accept_preview(older)
    assert session.result is shown


def test_hue_bias_changes_uncertain_pixels(session):
    session.colorize()
    before = session.result.ab.copy()
    session.set_hue_bias(HueBias(angle_deg=180.0, strength=1.0))
    session.run_pending()
    assert session.hue_bias.angle_deg == 180.0
    assert not np.allclose(before, session.result.ab)
    assert session.result.uncertainty is not None
    assert session.result.uncertainty.shape == before.shape[:2]


def test_reference_transfer_both_methods(session, tmp_path):
    session.colorize()
    before = session.result.rgb.copy()
    session.load_reference(write_color_image(tmp_path / "ref.png"))
    assert session.reference_image is not None and session.reference.path.endswith("ref.png")
    session.set_reference(ReferenceSettings(path=session.reference.path, strength=5.0, method="energy"))
    session.run_pending()
    energy = session.result.rgb.copy()
    assert not np.allclose(before, energy)
    session.set_reference(ReferenceSettings(path=session.reference.path, strength=1.0, method="quantile"))
    session.run_pending()
    assert not np.allclose(energy, session.result.rgb)
    session.set_reference(ReferenceSettings(path=None))
    session.run_pending()
    np.testing.assert_allclose(session.result.rgb, before, atol=1e-6)


def test_session_file_reproduces_result(session, tmp_path):
    session.set_sample_count(3)
    session.colorize()
    session.add_hint(Hint(x=20.0, y=12.0, radius=3.0, color="#2050c0"))
    session.choose_sample(2)
    session.set_hue_bias(HueBias(angle_deg=90.0, strength=0.5))
    session.load_reference(write_color_image(tmp_path / "ref.png"))
    session.set_reference(ReferenceSettings(path=session.reference.path, strength=0.7, method="quantile"))
    session.set_export_settings(ExportSettings(fmt="tiff", bit_depth=16))
    session.run_pending()
    path = tmp_path / "work.colorstudio.json"
    save_session(path, session)
    assert not session.dirty and session.path == path
    payload = json.loads(path.read_text())
    assert payload["source"]["sha256"] == session.image.source.sha256
    assert payload["seeds"] == [0, 1, 2] and payload["chosen"] == 2

    reopened = fake_session()
    open_session(reopened, path)
    assert reopened.hints == session.hints
    assert reopened.hue_bias == session.hue_bias
    assert reopened.export_settings == session.export_settings
    assert reopened.chosen == 2
    for a, b in zip(session.slots, reopened.slots, strict=True):
        np.testing.assert_array_equal(a.sample.ab, b.sample.ab)
    np.testing.assert_array_equal(session.result.rgb, reopened.result.rgb)


def test_session_file_errors(session, tmp_path, gray_path):
    bad = tmp_path / "bad.colorstudio.json"
    bad.write_text("{ not json")
    with pytest.raises(ColorStudioError, match="invalid JSON"):
        read_session(bad)
    bad.write_text(json.dumps({"format": "colorstudio-session", "version": 99}))
    with pytest.raises(ColorStudioError, match="version"):
        read_session(bad)
    session.colorize()
    good = tmp_path / "good.colorstudio.json"
    save_session(good, session)
    write_gray_image(gray_path, seed=1)  # the source changed on disk
    with pytest.raises(ColorStudioError, match="changed since the session was saved"):
        open_session(fake_session(), good)


def test_export_16bit_tiff_full_size_never_over_source(session, tmp_path, gray_path):
    session.set_sample_count(2)
    session.colorize()
    settings = ExportSettings(fmt="tiff", bit_depth=16, all_samples=True, uncertainty=True)
    written = ExportJob().run(session.export_request(tmp_path / "out.tiff", settings))
    names = sorted(p.name for p in written)
    assert names == ["out.tiff", "out.uncertainty.png", "out_s0.tiff", "out_s1.tiff"]
    pixels = tifffile.imread(tmp_path / "out.tiff")
    assert pixels.dtype == np.uint16 and pixels.shape == (48, 64, 3)
    with pytest.raises(ColorStudioError, match="overwrite the source"):
        ExportJob().validate(session.export_request(gray_path.with_suffix(".png"), ExportSettings(fmt="png")))


def test_export_needs_a_result(session, tmp_path):
    with pytest.raises(ColorStudioError, match="colorize"):
        session.export_request(tmp_path / "x.png")


def test_cancel_stops_prediction(session):
    request = session.begin_colorize()
    with pytest.raises(CancelledError):
        PredictJob(session.colorizers).run(request, cancel=lambda: True)


def test_model_choices_show_missing_models_disabled(tmp_path):
    choices = {c.name: c for c in REGISTRY.model_choices(tmp_path)}  # an empty models folder
    assert choices["propagation"].available
    for name in (family.name for family in families() if not family.builtin):
        assert not choices[name].available and "not installed" in choices[name].reason
    from colorstudio.engine.session import Session

    s = Session(models_dir=tmp_path, catalog=REGISTRY)
    assert s.model == "propagation"  # the default when no trained model is installed
    with pytest.raises(ColorStudioError, match="cannot be used"):
        s.set_model("pic")
    with pytest.raises(ColorStudioError, match="unknown model"):
        s.set_model("nonexistent")


def test_a_model_starts_at_its_cards_temperature(tmp_path):
    import torch

    from colorstudio.engine.session import Session
    from colorstudio.models.pixcolor import PixColor, PixColorConfig
    from colorstudio.models.registry import ModelCard, save_model

    config = PixColorConfig(grid=4, cond_width=4, cond_channels=4, pixelcnn_channels=4, pixelcnn_blocks=1,
                            head_channels=4, refine_width=4, refine_blocks=1)
    torch.manual_seed(0)
    card = ModelCard.from_dict({"name": "pixcolor", "family": "pixcolor", "config": config.to_dict(),
                                "sampling": {"temperature": 0.8}})
    save_model(PixColor(config), card, tmp_path / "pixcolor")
    s = Session(models_dir=tmp_path, catalog=REGISTRY)
    assert s.model == "pixcolor" and s.temperature == 0.8  # the only trained model is the default
    s.set_temperature(1.2)  # the user's choice holds until the model changes
    s.set_model("propagation")
    assert s.temperature == 1.0


def test_edits_a_model_cannot_take_are_kept_but_not_applied(gray_path, tmp_path):
    """Hue bias and energy transfer need histograms; carried to a model without them they must not block
    its preview: hue bias is left out, an energy reference becomes quantile matching (issue 16, item 8)."""
    s = fake_session()
    s.open_image(gray_path)
    s.set_model("propagation")
    s.add_hint(Hint(x=10.0, y=10.0, radius=3.0, color="#ff0000"))
    s.run_pending()
    assert s.current_sample is not None and not s.histograms_available
    plain = s.result.rgb.copy()
    s.set_hue_bias(HueBias(angle_deg=30.0, strength=1.0))
    s.run_pending()
    np.testing.assert_array_equal(s.result.rgb, plain)
    assert s.hue_bias.strength == 1.0  # kept for a histogram model
    s.load_reference(write_color_image(tmp_path / "reference.png"))
    assert s.reference.method == "energy"
    assert s.edits.reference.method == "quantile"
    s.run_pending()
    assert not np.array_equal(s.result.rgb, plain)


def test_engine_modules_import_no_qt():
    code = (
        "import sys; import colorstudio.engine.session, colorstudio.engine.jobs, colorstudio.engine.session_file; "
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'qtawesome'))]; print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_suggested_colors_on_a_histogram_grid_coarser_than_work_size(session):
    """The histogram model's output grid (e.g. 32x32) is coarser than its working size (128x128)."""
    import dataclasses

    from colorstudio.engine.pipeline import HistogramPrediction

    session.set_sample_count(1)
    session.colorize()
    slot = session.slots[0]
    hist = slot.sample.histograms
    coarse = HistogramPrediction(hue=np.ascontiguousarray(hist.hue[:, ::4, ::4]),
                                 chroma=np.ascontiguousarray(hist.chroma[:, ::4, ::4]))
    slot.sample = dataclasses.replace(slot.sample, histograms=coarse)
    width, height = session.source_size
    for x, y in ((0, 0), (width - 1, height - 1), (width / 2, height / 2)):
        colors = session.suggested_colors(x, y)
        assert colors and all(c.startswith("#") and len(c) == 7 for c in colors)


def test_suggested_colors_stay_recognisable_on_dark_pixels(session):
    from colorstudio.color import rgb_to_lab

    session.colorize()
    lightness = session.image.lightness
    y, x = np.unravel_index(np.argmin(lightness), lightness.shape)
    for color in session.suggested_colors(float(x), float(y)):
        rgb = np.array([[int(color[i:i + 2], 16) / 255 for i in (1, 3, 5)]], np.float32)
        assert rgb_to_lab(rgb)[0, 0] >= 40.0  # not a near-black swatch


def test_single_sample_models_are_known_before_loading():
    from colorstudio.engine.session import ModelChoice

    s = fake_session(samples=False)
    assert not s.supports_samples()
    single = {family.name for family in families() if not family.capabilities.samples}
    assert {"histogram", "propagation"} <= single
    by_name = {c.name: c for c in REGISTRY.model_choices()}
    assert by_name["propagation"].samples is False
    assert by_name["pixcolor"].samples is True and by_name["pic"].samples is True
    assert ModelChoice("x", "", True).samples is True


@pytest.mark.parametrize("change", [
    {"temperature": float("nan")}, {"temperature": float("inf")}, {"reference_strength": float("nan")},
    {"reference_strength": float("-inf")}, {"hue_shift_deg": float("nan")}, {"hue_strength": float("nan")},
    {"seed": 10**30}, {"seed": -1}, {"samples": 17}, {"samples": 0},
], ids=lambda change: "-".join(f"{k}={v}" for k, v in change.items()))
def test_requests_refuse_non_finite_and_out_of_range_values(change):
    from colorstudio.engine.pipeline import ColorizeRequest

    def request() -> ColorizeRequest:  # the CLI's options, each in its place in the one request type
        fields = dict(change)
        hue = {k: fields.pop(k) for k in ("hue_shift_deg", "hue_strength") if k in fields}
        reference = {"strength": fields.pop("reference_strength")} if "reference_strength" in fields else {}
        return ColorizeRequest(**fields, hue_bias=HueBias(hue.get("hue_shift_deg", 0.0), hue.get("hue_strength", 1.0)),
                               reference=ReferenceSettings(**reference))

    with pytest.raises(ColorStudioError, match="--" + next(iter(change)).replace("_deg", "").replace("_", "-")):
        request()


def test_session_settings_refuse_non_finite_values(session):
    nan = float("nan")
    for set_value in (lambda: session.set_temperature(nan), lambda: session.set_temperature(float("inf")),
                      lambda: session.set_base_seed(-1), lambda: session.set_base_seed(2**64),
                      lambda: HueBias(angle_deg=nan, strength=0.5).validate(),
                      lambda: ReferenceSettings(strength=nan).validate()):
        with pytest.raises(ColorStudioError):
            set_value()
    assert session.temperature > 0 and session.base_seed == 0


# ------------------------------------------------------------------ issue 14: best first, the draft
def ranking_session(path, n=4, base_seed=0):
    s = fake_ranking_session()
    s.open_image(path)
    s.set_sample_count(n)
    s.set_base_seed(base_seed)
    return s


def test_a_ranking_model_shows_its_samples_best_first_with_their_seeds(gray_path):
    s = ranking_session(gray_path)
    s.colorize()
    seeds = [slot.seed for slot in s.slots]
    assert seeds == sorted(range(4), key=lambda seed: (-fake_score(seed), seed)) == [0, 3, 2, 1]
    assert [slot.sample.score for slot in s.slots] == [fake_score(seed) for seed in seeds]
    assert s.chosen == 0 and s.result.seed == 0  # the best is shown
    # the seed travels with its sample: seed 3 alone gives the same chroma and score
    alone = PredictJob(s.colorizers).run(s._predict_request([3]))[0]
    np.testing.assert_array_equal(alone.ab, s.slots[1].sample.ab)
    assert alone.score == s.slots[1].sample.score


def test_the_best_is_shown_until_the_user_picks_one_which_then_stays(gray_path):
    s = ranking_session(gray_path, n=4, base_seed=1)  # scores of seeds 1..4: -5 -3 -1 -6
    s.colorize()
    assert [slot.seed for slot in s.slots] == [3, 2, 1, 4] and s.result.seed == 3
    for sample in PredictJob(s.colorizers).run(s.begin_more_samples(3)):  # seeds 5, 6, 7: -4 -2 0
        s.accept_sample(s.predict_revision, sample)
    s.run_pending()
    assert [slot.seed for slot in s.slots] == [7, 3, 6, 2, 5, 1, 4]
    assert s.chosen == 0 and s.result.seed == 7  # nothing picked yet: the new best is shown

    s.choose_sample(3)  # the user picks seed 2 ...
    assert s.slots[s.chosen].seed == 2
    s.add_hint(Hint(x=10.0, y=10.0, radius=2.0, color="#2050d0"))
    s.set_sample_count(2)
    for sample in PredictJob(s.colorizers).run(s.begin_more_samples()):  # seeds 8 (-5), 9 (-3)
        s.accept_sample(s.predict_revision, sample)
    s.run_pending()
    assert s.slots[s.chosen].seed == 2 and s.result.seed == 2  # ... and it stays chosen where it moved


def test_the_session_file_keeps_the_ranked_order_and_the_pick(gray_path, tmp_path):
    s = ranking_session(gray_path)
    s.colorize()
    s.choose_sample(2)
    saved = save_session(tmp_path / "ranked.colorstudio.json", s)
    assert read_session(saved).seeds == (0, 3, 2, 1)
    reopened = fake_ranking_session()
    open_session(reopened, saved)
    reopened.run_pending()
    assert [slot.seed for slot in reopened.slots] == [0, 3, 2, 1]
    assert reopened.slots[reopened.chosen].seed == 2 and reopened.result.seed == 2


def test_a_hint_shows_the_draft_first_and_the_samples_replace_it(gray_path):
    """Issue 14, item 3 (functional, not timed): after a hint, the conditioner's draft is the first thing
    shown, and the samples for that hint replace it as they arrive."""
    s = ranking_session(gray_path, n=3)
    s.colorize()
    stale, shown = [], []
    s.events.stale.connect(stale.append)
    s.events.result.connect(lambda: shown.append((s.result.draft, s.result.seed)))
    s.add_hint(Hint(x=30.0, y=20.0, radius=3.0, color="#c03020"))
    assert stale == ["draft", "predict"]  # the draft is asked for before the samples

    request = s.refresh_request()
    s.run_draft()  # what the GUI's draft lane does, while the colorize lane draws the samples
    assert shown == [(True, 0)] and s.fake.drafts == 1
    np.testing.assert_allclose(s.result.ab, np.full_like(s.result.ab, s.fake.DRAFT_AB), atol=1e-4)
    assert all(slot.stale for slot in s.slots)  # the samples are still on their way
    assert s.draft_request() is None  # one draft per change

    for sample in PredictJob(s.colorizers).run(request):
        s.accept_sample(request.revision, sample)
        s.run_pending()
    assert shown[-1] == (False, s.slots[s.chosen].seed) and not s.result.draft
    assert [draft for draft, _seed in shown] == [True, False]  # the draft, then the best sample
    assert not s.samples_pending and s.displayed_sample is s.current_sample


def test_a_late_draft_is_dropped_and_single_sample_models_get_none(gray_path):
    s = ranking_session(gray_path, n=2)
    s.colorize()
    s.add_hint(Hint(x=30.0, y=20.0, radius=3.0, color="#c03020"))
    old = s.draft_request()
    s.add_hint(Hint(x=10.0, y=10.0, radius=3.0, color="#20c030"))  # the hints change again meanwhile
    assert not s.accept_draft(old.revision, DraftJob(s.colorizers).run(old))
    assert s.draft is None and s.draft_request().revision == s.predict_revision
    s.run_pending()
    assert not s.result.draft and not s.samples_pending

    single = fake_session(samples=False)
    single.open_image(gray_path)
    single.colorize()
    stale = []
    single.events.stale.connect(stale.append)
    single.add_hint(Hint(x=30.0, y=20.0, radius=3.0, color="#c03020"))
    assert "draft" not in stale and single.draft_request() is None
