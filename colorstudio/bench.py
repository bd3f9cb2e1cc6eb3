"""`colorstudio bench`: speed and memory figures; every benchmark of the project lives here.

Every benchmark times the project's code and a baseline in the same process, repeats both, and prints
medians, the ratio against the baseline, and peak traced memory. Nothing here asserts a number: these
are measurements to read, not tests. A model's benchmark times the installed model of its family when
there is one, else an untrained network of the same architecture (speed depends on the architecture,
not on the weights).
"""

from __future__ import annotations

import math
import os
import statistics
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
import torch

from colorstudio.color import lab_to_rgb, rgb_to_lab
from colorstudio.color.quantize import HUE_QUANTIZER
from colorstudio.engine.composite import composite
from colorstudio.engine.hints import Hint
from colorstudio.engine.histogram_colorizer import HistogramModelColorizer
from colorstudio.engine.histogram_edit import (
    BiasSolution,
    ReferenceTransfer,
    TransferSolution,
    decode_ab,
    hue_bias,
    reference_histograms,
)
from colorstudio.engine.jobs import OpenImageJob, PredictJob, PreviewJob, SampleResult
from colorstudio.engine.pic_colorizer import DEFAULT_LONG_SIDE as PIC_LONG_SIDE, PICColorizer
from colorstudio.engine.pipeline import (
    ColorizeRequest,
    Edits,
    EditWarmStart,
    HistogramPrediction,
    HueBias,
    LoadedReference,
    ReferenceSettings,
    apply_edits,
    colorize_source,
    composite_with_edits,
    predict_full_resolution,
    resize_lightness,
)
from colorstudio.engine.pixcolor_colorizer import PixColorColorizer
from colorstudio.engine.session import Session
from colorstudio.errors import CancelledError, ColorStudioError
from colorstudio.families import REGISTRY, load_colorizer
from colorstudio.families.histogram import HISTOGRAM
from colorstudio.families.pic import PIC_FAMILY
from colorstudio.families.pixcolor import PIXCOLOR
from colorstudio.io import save_image
from colorstudio.models.decoding import _chroma_quantizer, _hue_centres
from colorstudio.models.histogram import HistogramColorizer
from colorstudio.models.pic import PIC, PIC_PHOTO_CONFIG
from colorstudio.models.pixcolor import PixColor, PixColorConfig
from colorstudio.training.train_histogram import DEFAULT_CONFIG, SCRATCH_CONFIG

__all__ = ["Measurement", "measure", "BENCHMARKS", "run_bench", "bench_histogram_slider", "bench_hint_preview",
           "bench_pic", "bench_pixcolor", "load_installed_colorizer"]

ColorizerT = TypeVar("ColorizerT")


def load_installed_colorizer(name: str | None, device: torch.device, untrained: Callable[[], ColorizerT]) -> ColorizerT:
    """The installed model ``name``, else ``untrained()``: what the speed benchmarks time, since a sampler's
    cost depends on its architecture, not on its weights."""
    if name is not None:
        try:
            return cast(ColorizerT, load_colorizer(name, device))  # the benchmarks name a model of untrained's family
        except ColorStudioError:
            pass
    return untrained()


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


    rgb = _test_photo((2048, 2048))
    mp = rgb.shape[0] * rgb.shape[1] / 1e6
    ours = measure("colorstudio.color.rgb_to_lab (numpy)", lambda: rgb_to_lab(rgb), repeats=repeats, work=mp, unit="MP")
    base = measure("skimage.color.rgb2lab", lambda: rgb2lab(rgb), repeats=repeats, work=mp, unit="MP")
    return _print_pair("sRGB -> Lab, 4 MP", ours, base)


def bench_composite(repeats: int) -> dict:
    import cv2


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

    hue, chroma, lightness, reference_rgb = _histogram_inputs(cells)
    histograms = HistogramPrediction(hue=hue, chroma=chroma)
    reference = LoadedReference(Path("coffee"), "", reference_rgb, reference_histograms(reference_rgb))
    strengths = [1.0 + 0.05 * (i % 10) for i in range(repeats + 1)]  # a drag: small steps, both directions
    hue_angles = [40.0 + 3.0 * (i % 10) for i in range(repeats + 1)]

    def edits(strength: float, hue: HueBias = HueBias()) -> Edits:
        return Edits(hue, ReferenceSettings(path=str(reference.path), strength=strength), reference)

    def move(settings: Edits, warm: EditWarmStart | None) -> tuple[float, float, EditWarmStart | None]:
        start = time.perf_counter()
        edited = apply_edits([], histograms, settings, warm)
        middle = time.perf_counter()
        composite_with_edits(lightness, edited.ab_samples[0], settings)
        return 1000.0 * (middle - start), 1000.0 * (time.perf_counter() - middle), edited.warm

    rows: dict[str, tuple[list[float], list[float]]] = {"warm": ([], []), "cold": ([], []), "hue": ([], [])}
    warm = move(edits(strengths[0]), None)[2]
    hue_warm = warm
    for strength, angle in zip(strengths[1:], hue_angles[1:], strict=True):
        edit_ms, comp_ms, warm = move(edits(strength), warm)
        rows["warm"][0].append(edit_ms)
        rows["warm"][1].append(comp_ms)
        edit_ms, comp_ms, _ = move(edits(strength), None)
        rows["cold"][0].append(edit_ms)
        rows["cold"][1].append(comp_ms)
        settings = edits(strengths[0], HueBias(angle, 1.0))
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

    return bench_pic(repeats)


def bench_pixcolor_sampling(repeats: int) -> dict:
    """8 samples for a 512x512 image with the installed PixColor (untrained when none): fast against naive
    sampling, same run."""

    return bench_pixcolor(repeats)


def bench_histogram_prediction(repeats: int) -> dict:
    """A 512x512 photo colorized end to end (prediction at the card's working size, decoding, composite at
    full resolution) by the installed histogram model (the encoder architecture, untrained when none is
    installed), against the architecture trained from scratch before it, same run."""

    cpu = torch.device("cpu")
    card = {"working_resolution": 128}

    def untrained(config) -> HistogramModelColorizer:
        return HistogramModelColorizer(HISTOGRAM.name, HistogramColorizer(config).eval(), dict(card), cpu)

    ours = load_installed_colorizer(HISTOGRAM.name, cpu, lambda: untrained(DEFAULT_CONFIG))
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


# ---------------------------------------------------------------------------------------------- histogram edits
def _histogram_inputs(cells: int = 128, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Plausible distributions for a natural photo: (hue, chroma (K, cells, cells), L* (4 cells)^2, reference rgb).

    Built from scikit-image's astronaut: each cell's distributions are peaked at the photo's own hue and
    chroma, with a confidence that varies smoothly over the image (some cells nearly flat).
    """
    import cv2
    from skimage import data

    rng = np.random.default_rng(seed)
    photo = data.astronaut().astype(np.float32) / 255.0
    lab_full = rgb_to_lab(cv2.resize(photo, (4 * cells, 4 * cells), interpolation=cv2.INTER_AREA))
    lab = rgb_to_lab(cv2.resize(photo, (cells, cells), interpolation=cv2.INTER_AREA))
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    hue = np.mod(np.arctan2(lab[..., 2], lab[..., 1]) / (2 * math.pi), 1.0)
    bins = HUE_QUANTIZER.bins
    confidence = 2.0 + 30.0 * cv2.GaussianBlur(rng.random((cells, cells)).astype(np.float32), (0, 0), 8)
    gap = (_hue_centres(bins)[:, None, None] - hue[None] + 0.5) % 1.0 - 0.5
    hue_logits = confidence[None] * np.cos(2 * math.pi * gap) + 0.3 * rng.standard_normal((bins, cells, cells))
    centres = np.asarray(_chroma_quantizer(bins).centres, dtype=np.float64)
    chroma_logits = -((centres[:, None, None] - chroma[None]) ** 2) / (2 * 8.0**2)
    softmax = lambda z: np.exp(z - z.max(0)) / np.exp(z - z.max(0)).sum(0)  # noqa: E731
    reference = (data.coffee().astype(np.float32) / 255.0)[::2, ::2]
    return (softmax(hue_logits).astype(np.float32), softmax(chroma_logits).astype(np.float32),
            lab_full[..., 0].astype(np.float32), reference)


def bench_histogram_slider(repeats: int = 20, cells: int = 128) -> dict[str, float]:
    """Median milliseconds of one slider move at a 512 px preview (``cells`` x ``cells`` at 1/4 resolution).

    Keys: ``transfer_warm_ms`` (eq. 6 for both marginals, warm-started from the previous slider value, plus
    decode), ``transfer_cold_ms`` (same from b = 0), ``hue_bias_ms`` (hue bump + decode), ``composite_ms``
    (``engine.composite`` onto the 512 px L*, when that module exists), ``slider_ms`` = warm transfer +
    composite, ``warm_iterations`` / ``cold_iterations`` (median L-BFGS iterations, hue marginal).
    """
    hue, chroma, lightness, reference = _histogram_inputs(cells)
    transfer = ReferenceTransfer(hue, chroma, reference_histograms(reference))
    strengths = [1.0 + 0.05 * (i % 10) for i in range(repeats + 1)]  # a drag: small steps, both directions
    transfer.apply_ab(strengths[0])

    def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        return 1000.0 * (time.perf_counter() - start), out

    warm_ms, warm_iters, cold_ms, cold_iters, bias_ms, comp_ms, total_ms = [], [], [], [], [], [], []

    cold_start = TransferSolution(*(BiasSolution(np.zeros(hue.shape[0]), 0, 0, 0, 0, 0, True),) * 2)
    for step in strengths[1:]:
        ms, (ab, solution) = timed(transfer.apply_ab, step)
        warm_ms.append(ms)
        warm_iters.append(solution.hue.iterations)
        ms_cold, (_, cold) = timed(transfer.apply_ab, step, warm_start=cold_start)
        cold_ms.append(ms_cold)
        cold_iters.append(cold.hue.iterations)
        transfer.solve(step)  # put the warm state back where the drag left it
        bias_ms.append(timed(lambda s=step: decode_ab(hue_bias(hue, 40.0 * s, 1.0), chroma))[0])
        comp = timed(composite, lightness, ab)[0]
        comp_ms.append(comp)
        total_ms.append(ms + comp)
    median = lambda v: float(statistics.median(v)) if v else float("nan")  # noqa: E731
    return {
        "cells": float(cells),
        "transfer_warm_ms": median(warm_ms),
        "transfer_cold_ms": median(cold_ms),
        "warm_iterations": median(warm_iters),
        "cold_iterations": median(cold_iters),
        "hue_bias_ms": median(bias_ms),
        "composite_ms": median(comp_ms),
        "slider_ms": median(total_ms) if total_ms else median(warm_ms),
    }


# ---------------------------------------------------------------------------------------------- PIC sampling
def _time_naive(colorizer: PICColorizer, lightness: np.ndarray, hints: tuple[np.ndarray, np.ndarray], samples: int,
                rows: int | None, grid_rows: int) -> float:
    """Seconds for naive sampling of the whole grid: measured whole (``rows`` None) or over ``rows`` rows
    (stopped through the cancel hook, which the sampler checks as each row starts) and scaled."""
    if rows is None:
        start = time.perf_counter()
        colorizer.sample_grid(lightness, *hints, samples=samples, sampler="naive")
        return time.perf_counter() - start
    rows_started = 0

    def stop_after_rows() -> bool:
        nonlocal rows_started
        rows_started += 1
        return rows_started > rows

    start = time.perf_counter()
    try:
        colorizer.sample_grid(lightness, *hints, samples=samples, sampler="naive", cancel=stop_after_rows)
    except CancelledError:
        pass
    return (time.perf_counter() - start) * grid_rows / rows


def pic_bench_colorizer(model: str | None) -> PICColorizer:
    """The installed ``model`` (its own embedding network included), else an untrained photo-preset PIC."""
    return load_installed_colorizer(model, torch.device("cpu"), lambda: PICColorizer(
        "pic-untrained", PIC(PIC_PHOTO_CONFIG), {"working_resolution": PIC_LONG_SIDE}, torch.device("cpu")))


def bench_pic(repeats: int = 3, *, samples: int = 8, size: int = 512, naive_rows: int | None = 2,
              threads: int | None = None, model: str | None = PIC_FAMILY.name) -> dict:
    """Median time of ``samples`` samples for a ``size`` x ``size`` photo with the installed ``model`` (an
    untrained photo-preset PIC when it is missing): end to end (sampling, upsampling, composite at full
    resolution) with the fast sampler, and sampling alone with the fast and the naive sampler in the same
    run, with their ratio. ``threads``: torch intra-op threads (default: leave as set).

    The naive sampler runs the whole decoder once per grid cell, so its time is the same for every cell
    (about 9 minutes for a 32 x 32 grid of 8 samples on 2 cores); with ``naive_rows`` it is timed over
    that many grid rows and scaled to the full grid (the one-off embedding pass, milliseconds, is scaled
    with it); ``None`` runs it whole, once.
    """
    import cv2
    from skimage import data

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    rgb = cv2.resize(data.astronaut(), (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    lightness = rgb_to_lab(rgb)[..., 0]
    colorizer = pic_bench_colorizer(model)
    work = colorizer.working_size((size, size))
    small = cv2.resize(lightness, work, interpolation=cv2.INTER_AREA)
    no_hints = (np.zeros((2, work[1], work[0]), np.float32), np.zeros((1, work[1], work[0]), np.float32))

    def timed(fn, runs: int) -> list[float]:
        out = []
        for _ in range(runs):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
        return out

    request = ColorizeRequest(model=colorizer.name, samples=samples, seed=0)
    colorize_source(lightness, colorizer, request)  # warm-up
    end_to_end = timed(lambda: colorize_source(lightness, colorizer, request), repeats)
    fast = timed(lambda: colorizer.sample_grid(small, *no_hints, samples=samples, sampler="fast"), repeats)
    grid = colorizer.network.grid_size(work[1], work[0])
    naive_rows = None if naive_rows is None or naive_rows >= grid[0] else naive_rows
    naive = [_time_naive(colorizer, small, no_hints, samples, naive_rows, grid[0])]
    result: dict[str, Any] = {
        "model": colorizer.name, "image": f"{size}x{size}", "working": f"{work[0]}x{work[1]}",
        "chroma_grid": f"{grid[1]}x{grid[0]}",
        "samples": samples, "threads": torch.get_num_threads(),
        "end_to_end_fast_median_s": statistics.median(end_to_end),
        "sampling_fast_median_s": statistics.median(fast),
        "sampling_naive_median_s": statistics.median(naive),
    }
    result["ratio_naive_over_fast"] = result["sampling_naive_median_s"] / result["sampling_fast_median_s"]
    print(f"\nPIC: {samples} samples of a {size}x{size} photo (working {result['working']}, chroma grid "
          f"{result['chroma_grid']}, torch threads {result['threads']}, model {colorizer.name})")
    print(f"  end to end, fast sampler    median {result['end_to_end_fast_median_s']:8.3f} s  (n={len(end_to_end)})")
    print(f"  sampling only, fast         median {result['sampling_fast_median_s']:8.3f} s  (n={len(fast)})")
    how = "whole grid" if naive_rows is None else f"timed over {naive_rows} of {grid[0]} rows, scaled to the grid"
    result["naive_measurement"] = how
    print(f"  sampling only, naive        median {result['sampling_naive_median_s']:8.3f} s  (n=1, {how})")
    print(f"  speed ratio (naive / fast): {result['ratio_naive_over_fast']:.1f}x")
    return result


# ---------------------------------------------------------------------------------------------- PixColor sampling
def pixcolor_bench_colorizer(model: str | None, config: PixColorConfig | None) -> PixColorColorizer:
    return load_installed_colorizer(model, torch.device("cpu"), lambda: PixColorColorizer(
        "pixcolor-untrained", PixColor(config or PixColorConfig()), {"name": "pixcolor-untrained"}, torch.device("cpu")))


def bench_pixcolor(repeats: int = 5, naive_repeats: int = 1, size: int = 512, samples: int = 8,
                   config: PixColorConfig | None = None, threads: int | None = None,
                   model: str | None = PIXCOLOR.name) -> dict[str, Any]:
    """Time ``samples`` samples of a ``size`` x ``size`` photo end to end (sampling + refinement +
    composite at full size), fast vs naive sampler in the same process, and print medians and the ratio.

    The installed ``model`` is timed when there is one (and no ``config`` is given), else an untrained
    network of ``config`` (speed depends on the architecture, not on the weights). The naive sampler runs
    the whole PixelCNN once per grid cell (O(n^2)); it takes minutes, so it is timed ``naive_repeats``
    times. Returns the timings (seconds) and the ratio naive / fast.
    """
    if threads is not None:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    colorizer = pixcolor_bench_colorizer(model if config is None else None, config)
    network = colorizer.network
    lightness_full = rgb_to_lab(_test_photo((size, size)))[..., 0]
    work = colorizer.working_size((size, size))
    lightness = resize_lightness(lightness_full, work)
    no_ab, no_mask = np.zeros((2, work[1], work[0]), np.float32), np.zeros((1, work[1], work[0]), np.float32)

    def run(sampler: str) -> dict[str, float]:
        t0 = time.perf_counter()
        pred = colorizer.predict(lightness, no_ab, no_mask, samples=samples, seed=0, sampler=sampler)
        t1 = time.perf_counter()
        for ab in pred.ab_samples:
            composite(lightness_full, ab)
        t2 = time.perf_counter()
        return {"predict_s": t1 - t0, "composite_s": t2 - t1, "total_s": t2 - t0}

    run("fast")  # warm-up (allocations, kernels)
    fast = [run("fast") for _ in range(repeats)]
    naive = [run("naive") for _ in range(naive_repeats)]

    def median(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    result: dict[str, Any] = {
        "image": f"{size}x{size}", "samples": samples, "work_size": list(work),
        "grid": list(network.grid_size(work[1], work[0])), "threads": torch.get_num_threads(),
        "fast_total_s": median(fast, "total_s"), "fast_predict_s": median(fast, "predict_s"),
        "composite_s": median(fast, "composite_s"), "naive_total_s": median(naive, "total_s"),
        "naive_predict_s": median(naive, "predict_s"), "fast_runs_s": [r["total_s"] for r in fast],
        "naive_runs_s": [r["total_s"] for r in naive],
    }
    result["ratio_total"] = result["naive_total_s"] / result["fast_total_s"]
    result["ratio_sampling"] = result["naive_predict_s"] / result["fast_predict_s"]
    result["model"] = colorizer.name
    print(f"\n{colorizer.name}: {samples} samples of a {size}x{size} photo (grid {result['grid']}, work {work}, "
          f"torch threads {result['threads']}); sampling + refinement + composite")
    print(f"  fast sampler   median {result['fast_total_s'] * 1000:9.1f} ms  (predict {result['fast_predict_s'] * 1000:.1f} ms,"
          f" composite {result['composite_s'] * 1000:.1f} ms, n={repeats})")
    print(f"  naive sampler  median {result['naive_total_s'] * 1000:9.1f} ms  (predict {result['naive_predict_s'] * 1000:.1f} ms,"
          f" n={naive_repeats})")
    print(f"  speed ratio (naive / fast): {result['ratio_total']:.1f}x end to end, {result['ratio_sampling']:.1f}x prediction")
    return result


# ---------------------------------------------------------------------------------------------- hint -> preview
HINT_COLORS = ("#1f3a93", "#c0392b", "#27ae60", "#f1c40f", "#8e44ad", "#e67e22")


def bench_hint_preview(repeats: int = 5, *, size: int = 512, samples: int = 8,
                       models: Sequence[str] = (PIXCOLOR.name, PIC_FAMILY.name)) -> dict[str, Any]:
    """Hint -> first preview through the engine's :class:`~colorstudio.engine.session.Session`, as the GUI
    drives it, for a ``size`` x ``size`` photo with each installed sampling model of ``models``.

    Each run adds one hint to a gallery of ``samples`` samples. As in the GUI, the samples for the new hint
    are drawn on a worker thread (the colorize lane, chosen sample first) while this thread computes the
    draft (:class:`~colorstudio.engine.jobs.DraftJob`, the draft lane) and its preview
    (:class:`~colorstudio.engine.jobs.PreviewJob`) and hands both to the session: "draft" is the time
    from the hint to the draft's preview in ``session.result``. The baseline, what the first preview took
    before the draft, is the time from the hint until the chosen sample arrived, plus its preview.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo.png"
        save_image(path, _test_photo((size, size)))
        image = OpenImageJob().run(path)
    result: dict[str, Any] = {"image": f"{size}x{size}", "samples": samples, "threads": torch.get_num_threads()}
    print(f"\nhint -> first preview through the Session: {size}x{size} photo, {samples} samples drawn meanwhile on a "
          f"worker thread (torch threads {result['threads']})")
    for model in models:
        session = Session(catalog=REGISTRY)
        try:
            session.set_model(model)
        except ColorStudioError as exc:
            print(f"  {model:<10} skipped: {exc}")
            continue
        session.set_image(image)
        session.set_sample_count(samples)
        session.colorize()  # the model is loaded and the gallery full, as when a user starts hinting
        drafts, firsts = [], []
        for run in range(repeats + 1):  # the first run warms up
            draft_s, first_s = _hint_to_preview(session, run, size)
            if run:
                drafts.append(draft_s)
                firsts.append(first_s)
        row: dict[str, Any] = {"draft_median_s": statistics.median(drafts), "first_sample_median_s": statistics.median(firsts),
               "draft_runs_s": drafts, "first_sample_runs_s": firsts}
        row["ratio"] = row["first_sample_median_s"] / row["draft_median_s"]
        result[model] = row
        print(f"  {model:<10} draft preview        median {row['draft_median_s'] * 1000:8.1f} ms  (n={len(drafts)})")
        print(f"  {'':<10} first sample preview median {row['first_sample_median_s'] * 1000:8.1f} ms  (baseline; "
              f"{row['ratio']:.1f}x the draft)")
    return result


def _hint_to_preview(session: Session, run: int, size: int) -> tuple[float, float]:
    """One hint added to ``session``: seconds to the draft's preview, and to the first sample's preview."""
    arrived: list[tuple[float, SampleResult]] = []
    errors: list[BaseException] = []
    hint = Hint(x=size * (0.2 + 0.6 * ((run * 37) % 10) / 10), y=size * (0.3 + 0.05 * (run % 8)),
                radius=max(2.0, size / 100), color=HINT_COLORS[run % len(HINT_COLORS)])
    started = time.perf_counter()
    session.add_hint(hint)
    request = session.refresh_request()
    assert request is not None  # the new hint made every sample stale

    def draw() -> None:
        try:
            PredictJob(session.colorizers).run(request, on_sample=lambda s: arrived.append((time.perf_counter(), s)))
        except BaseException as exc:  # noqa: BLE001 - re-raised on the bench's thread
            errors.append(exc)

    worker = threading.Thread(target=draw)
    worker.start()
    session.run_draft()
    draft_s = time.perf_counter() - started
    shown_draft = session.result is not None and session.result.draft
    worker.join()
    if errors:
        raise errors[0]
    for _, sample in arrived:
        session.accept_sample(request.revision, sample)
    preview = session.preview_request()
    assert preview is not None and shown_draft, "the draft was not shown first"
    preview_started = time.perf_counter()
    session.accept_preview(PreviewJob().run(replace(preview, warm=None)))
    first_s = arrived[0][0] - started + (time.perf_counter() - preview_started)
    return draft_s, first_s


BENCHMARKS: dict[str, Callable[[int], dict]] = {
    HISTOGRAM.name: bench_histogram_prediction,
    "lab": bench_lab,
    "composite": bench_composite,
    "export24": bench_export_24mp,
    "slider": bench_slider,
    PIC_FAMILY.name: bench_pic_sampling,
    PIXCOLOR.name: bench_pixcolor_sampling,
    "hint-preview": bench_hint_preview,
}


def run_bench(names: list[str], *, repeats: int = 5, list_only: bool = False) -> int:
    benchmarks = BENCHMARKS
    if list_only:
        print("\n".join(benchmarks))
        return 0
    unknown = [n for n in names if n not in benchmarks]
    if unknown:
        raise ColorStudioError(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(benchmarks)}")
    if repeats < 1:
        raise ColorStudioError("--repeats must be at least 1")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"colorstudio bench: {repeats} repeats each, torch threads {torch.get_num_threads()}, "
          f"load average {load:.2f} on {os.cpu_count()} CPUs")
    for name in names or list(benchmarks):
        benchmarks[name](repeats)
    return 0
