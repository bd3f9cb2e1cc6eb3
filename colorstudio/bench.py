"""`colorstudio bench`: speed and memory figures.

Every benchmark times the project's code and a baseline in the same process, repeats both, and prints
medians, the ratio against the baseline, and peak traced memory. Nothing here asserts a number: these
are measurements to read, not tests.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Measurement", "measure", "BENCHMARKS", "run_bench"]


@dataclass
class Measurement:
    name: str
    median_s: float
    runs_s: list[float]
    peak_mb: float
    work: float  # units of work per run (e.g. megapixels), for throughput
    unit: str

    @property
    def throughput(self) -> float:
        return self.work / self.median_s if self.median_s > 0 else float("inf")


def measure(name: str, fn: Callable[[], object], *, repeats: int, work: float = 1.0, unit: str = "runs",
            warmup: int = 1) -> Measurement:
    """Median wall time over ``repeats`` runs after ``warmup``; peak memory traced over one run."""
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return Measurement(name, statistics.median(runs), runs, peak / 2**20, work, unit)


def _print_pair(title: str, ours: Measurement, baseline: Measurement) -> dict:
    ratio = baseline.median_s / ours.median_s if ours.median_s > 0 else float("inf")
    print(f"\n{title}")
    for m in (ours, baseline):
        print(f"  {m.name:<44} median {m.median_s * 1000:9.1f} ms  {m.throughput:8.2f} {m.unit}/s"
              f"  peak {m.peak_mb:8.1f} MB  (n={len(m.runs_s)})")
    print(f"  speed ratio (baseline time / ours): {ratio:.2f}x")
    return {"title": title, "ours": vars(ours), "baseline": vars(baseline), "ratio": ratio}


def _test_photo(size: tuple[int, int]) -> np.ndarray:
    """A natural photo (scikit-image's bundled astronaut) resized to (w, h), float32 sRGB."""
    import cv2
    from skimage import data

    return cv2.resize(data.astronaut(), size, interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255.0


def bench_lab(repeats: int) -> dict:
    from skimage.color import rgb2lab

    from colorstudio.color import rgb_to_lab

    rgb = _test_photo((2048, 2048))
    mp = rgb.shape[0] * rgb.shape[1] / 1e6
    ours = measure("colorstudio.color.rgb_to_lab (numpy)", lambda: rgb_to_lab(rgb), repeats=repeats, work=mp, unit="MP")
    base = measure("skimage.color.rgb2lab", lambda: rgb2lab(rgb), repeats=repeats, work=mp, unit="MP")
    return _print_pair("sRGB -> Lab, 4 MP", ours, base)


def bench_composite(repeats: int) -> dict:
    import cv2

    from colorstudio.color import lab_to_rgb, rgb_to_lab
    from colorstudio.engine.composite import composite

    lab = rgb_to_lab(_test_photo((2048, 2048)))
    lightness = lab[..., 0]
    ab_low = cv2.resize(lab[..., 1:], (512, 512), interpolation=cv2.INTER_AREA)
    mp = lightness.size / 1e6

    def naive() -> np.ndarray:
        ab = cv2.resize(ab_low, (2048, 2048), interpolation=cv2.INTER_LINEAR)
        return lab_to_rgb(np.concatenate([lightness[..., None], ab], axis=-1))

    ours = measure("composite (guided upsampling + L* correction)", lambda: composite(lightness, ab_low),
                   repeats=repeats, work=mp, unit="MP")
    base = measure("bilinear upsampling + Lab->sRGB (no correction)", naive, repeats=repeats, work=mp, unit="MP")
    return _print_pair("compositing 512x512 chroma onto 4 MP L*", ours, base)


def bench_export_24mp(repeats: int) -> dict:
    import tifffile

    from colorstudio.io import save_image

    height, width = 4000, 6000
    rng = np.random.default_rng(0)
    rgb = np.clip(_test_photo((width // 4, height // 4)).repeat(4, 0).repeat(4, 1)
                  + rng.normal(0, 0.01, (height, width, 3)).astype(np.float32), 0, 1)
    mp = height * width / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "export.tiff"
        raw = Path(tmp) / "raw.tiff"

        def baseline() -> None:
            tifffile.imwrite(raw, (rgb * 65535 + 0.5).astype(np.uint16), compression="zlib")

        ours = measure("save_image 16-bit TIFF (atomic, ICC, tags)", lambda: save_image(out, rgb, bit_depth=16, fmt="tiff"),
                       repeats=repeats, work=mp, unit="MP", warmup=0)
        base = measure("tifffile.imwrite uint16 zlib (no checks)", baseline, repeats=repeats, work=mp, unit="MP", warmup=0)
    return _print_pair("24-megapixel 16-bit TIFF export", ours, base)


def bench_slider(repeats: int, cells: int = 128) -> dict:
    """A whole slider move at the 512 px preview, as the GUI does it, timed piece by piece.

    One move = :func:`colorstudio.engine.pipeline.apply_edits` (eq. 6 for both marginals, decode) +
    :func:`colorstudio.engine.pipeline.composite_with_edits` onto the 512 x 512 L*. The reference-strength
    slider is dragged in small steps both ways; "warm" starts each solve from the previous position's
    solution (the preview), the baseline "cold" solves the same positions from b = 0 (export, reopened
    sessions). A hue-slider move (hue bias on top of the reference) is timed warm too. Inputs: ``cells``
    x ``cells`` hue/chroma distributions built from scikit-image's astronaut at 1/4 of the preview's
    resolution, the coffee photo as reference (as in ``histogram_edit.bench_histogram_slider``).
    """
    from colorstudio.engine.histogram_edit import _bench_inputs, reference_histograms
    from colorstudio.engine.pipeline import (
        EditSettings,
        EditWarmStart,
        HistogramPrediction,
        apply_edits,
        composite_with_edits,
    )

    hue, chroma, lightness, reference_rgb = _bench_inputs(cells)
    histograms = HistogramPrediction(hue=hue, chroma=chroma)
    reference = reference_histograms(reference_rgb)
    strengths = [1.0 + 0.05 * (i % 10) for i in range(repeats + 1)]  # a drag: small steps, both directions
    hue_angles = [40.0 + 3.0 * (i % 10) for i in range(repeats + 1)]

    def move(settings: EditSettings, warm: EditWarmStart | None) -> tuple[float, float, EditWarmStart | None]:
        start = time.perf_counter()
        edited = apply_edits([], histograms, settings, reference, warm)
        middle = time.perf_counter()
        composite_with_edits(lightness, edited.ab_samples[0], settings, reference_rgb)
        return 1000.0 * (middle - start), 1000.0 * (time.perf_counter() - middle), edited.warm

    rows: dict[str, tuple[list[float], list[float]]] = {"warm": ([], []), "cold": ([], []), "hue": ([], [])}
    warm = move(EditSettings(reference_strength=strengths[0]), None)[2]
    hue_warm = warm
    for strength, angle in zip(strengths[1:], hue_angles[1:], strict=True):
        edit_ms, comp_ms, warm = move(EditSettings(reference_strength=strength), warm)
        rows["warm"][0].append(edit_ms)
        rows["warm"][1].append(comp_ms)
        edit_ms, comp_ms, _ = move(EditSettings(reference_strength=strength), None)
        rows["cold"][0].append(edit_ms)
        rows["cold"][1].append(comp_ms)
        settings = EditSettings(hue_shift_deg=angle, hue_strength=1.0, reference_strength=strengths[0])
        edit_ms, comp_ms, hue_warm = move(settings, hue_warm)
        rows["hue"][0].append(edit_ms)
        rows["hue"][1].append(comp_ms)

    median = statistics.median
    labels = {
        "warm": "reference slider, warm-started (preview)",
        "cold": "reference slider, cold solve (baseline)",
        "hue": "hue slider on a reference, warm-started",
    }
    size = lightness.shape[0]
    result: dict = {"title": f"slider move at a {size} px preview ({cells}x{cells} cells)", "repeats": repeats}
    print(f"\n{result['title']}: edit (eq. 6 + decode) + composite, medians over n={repeats}")
    for key, (edit_times, comp_times) in rows.items():
        totals = [e + c for e, c in zip(edit_times, comp_times, strict=True)]
        result[key] = {"edit_ms": median(edit_times), "composite_ms": median(comp_times), "total_ms": median(totals)}
        print(f"  {labels[key]:<42} edit {median(edit_times):7.1f} ms  composite {median(comp_times):6.1f} ms"
              f"  total {median(totals):7.1f} ms")
    result["ratio"] = result["cold"]["total_ms"] / result["warm"]["total_ms"]
    print(f"  speed ratio (cold total / warm total): {result['ratio']:.2f}x   (bar: a move under 100 ms)")
    return result


def bench_pic_sampling(repeats: int) -> dict:
    """8 samples for a 512x512 image with the installed PIC (untrained if none): fast against naive
    sampling, same run."""
    from colorstudio.engine.pic_colorizer import bench_pic

    return bench_pic(repeats)


def bench_pixcolor_sampling(repeats: int) -> dict:
    """8 samples for a 512x512 image with the installed PixColor (untrained when none): fast against naive
    sampling, same run."""
    from colorstudio.engine.pixcolor_colorizer import bench_pixcolor

    return bench_pixcolor(repeats)


def bench_histogram_prediction(repeats: int) -> dict:
    """A 512x512 photo colorized end to end (prediction at the card's working size, decoding, composite at
    full resolution) by the installed histogram model (the encoder architecture, untrained when none is
    installed), against the architecture trained from scratch before it, same run."""
    import torch

    from colorstudio.color import rgb_to_lab
    from colorstudio.engine.histogram_colorizer import HistogramModelColorizer
    from colorstudio.engine.pipeline import load_installed_colorizer, predict_full_resolution
    from colorstudio.models.histogram import HistogramColorizer
    from colorstudio.training.train_histogram import DEFAULT_CONFIG, SCRATCH_CONFIG

    cpu = torch.device("cpu")
    card = {"working_resolution": 128}

    def untrained(config) -> HistogramModelColorizer:
        return HistogramModelColorizer("histogram", HistogramColorizer(config).eval(), dict(card), cpu)

    ours = load_installed_colorizer("histogram", cpu, lambda: untrained(DEFAULT_CONFIG))
    scratch = untrained(SCRATCH_CONFIG)
    L = rgb_to_lab(_test_photo((512, 512)))[..., 0]
    zeros_ab, zeros_mask = np.zeros((2, 512, 512), np.float32), np.zeros((512, 512), np.float32)
    run = lambda colorizer: predict_full_resolution(L, zeros_ab, zeros_mask, colorizer)  # noqa: E731
    encoder_name = ours.network.config.encoder
    return _print_pair(
        f"histogram colorizer, 512x512 photo end to end (working size {ours.card.get('working_resolution')})",
        measure(f"{ours.name} ({encoder_name} encoder)", lambda: run(ours), repeats=repeats, work=0.262144, unit="MP"),
        measure("trunk trained from scratch (untrained copy)", lambda: run(scratch), repeats=repeats, work=0.262144, unit="MP"),
    )


BENCHMARKS: dict[str, Callable[[int], dict]] = {
    "histogram": bench_histogram_prediction,
    "lab": bench_lab,
    "composite": bench_composite,
    "export24": bench_export_24mp,
    "slider": bench_slider,
    "pic": bench_pic_sampling,
    "pixcolor": bench_pixcolor_sampling,
}


def run_bench(names: list[str], *, repeats: int = 5, list_only: bool = False) -> int:
    from colorstudio.errors import ColorStudioError

    benchmarks = BENCHMARKS
    if list_only:
        print("\n".join(benchmarks))
        return 0
    unknown = [n for n in names if n not in benchmarks]
    if unknown:
        raise ColorStudioError(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(benchmarks)}")
    if repeats < 1:
        raise ColorStudioError("--repeats must be at least 1")
    import torch

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"colorstudio bench: {repeats} repeats each, torch threads {torch.get_num_threads()}, "
          f"load average {load:.2f} on {os.cpu_count()} CPUs")
    for name in names or list(benchmarks):
        benchmarks[name](repeats)
    return 0
