"""`colorstudio bench`: speed and memory figures.

Every benchmark times the project's code and a baseline in the same process, repeats both, and prints
medians, the ratio against the baseline, and peak traced memory. Nothing here asserts a number: these
are measurements to read, not tests.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

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


BENCHMARKS: dict[str, Callable[[int], dict]] = {
    "lab": bench_lab,
    "composite": bench_composite,
    "export24": bench_export_24mp,
}


def _optional_benchmarks() -> dict[str, Callable[[int], dict]]:
    from colorstudio.engine.histogram_edit import bench_slider

    return {"slider": bench_slider}


def run_bench(names: list[str], *, repeats: int = 5, list_only: bool = False) -> int:
    from colorstudio.errors import ColorStudioError

    benchmarks = {**BENCHMARKS, **_optional_benchmarks()}
    if list_only:
        print("\n".join(benchmarks))
        return 0
    unknown = [n for n in names if n not in benchmarks]
    if unknown:
        raise ColorStudioError(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(benchmarks)}")
    if repeats < 1:
        raise ColorStudioError("--repeats must be at least 1")
    import torch

    print(f"colorstudio bench: {repeats} repeats each, torch threads {torch.get_num_threads()}")
    for name in names or list(benchmarks):
        benchmarks[name](repeats)
    return 0
