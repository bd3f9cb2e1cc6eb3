"""PixColor (:mod:`colorstudio.models.pixcolor`) as an engine :class:`Colorizer`, and its speed benchmark.

The network samples (Cr, Cb) on a 28-cell grid, refines them to the working resolution (112 px on the
short side by default, the scale of the training photos) and returns Lab a*b* there; the engine then
composites with the full-resolution L* (guided upsampling, exact lightness).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from colorstudio.color import normalize_l
from colorstudio.engine.pipeline import (
    Prediction,
    check_cancel,
    load_installed_colorizer,
    register_colorizer_factory,
)
from colorstudio.errors import ColorStudioError
from colorstudio.models.pixcolor import SAMPLERS, PixColor, PixColorConfig

__all__ = ["PixColorColorizer", "bench_pixcolor"]


class PixColorColorizer:
    """Wraps a trained :class:`PixColor`; several seeded samples per image.

    ``predict(..., sampler="fast"|"naive")``: the pipeline passes ``ColorizeRequest.sampler``; both give the
    same samples, naive is the O(n^2) reference.
    """

    supports_samples = True
    predicts_histograms = False

    def __init__(self, name: str, network: PixColor, card: dict[str, Any], device: torch.device) -> None:
        self.name = name
        self.network = network.eval()
        self.card = card
        self.device = device
        self.short_side = int(card.get("working_resolution") or network.config.working_short_side)

    def working_size(self, source_size: tuple[int, int]) -> tuple[int, int]:
        return self.network.working_size(source_size, self.short_side)

    def predict(self, lightness, hint_ab, hint_mask, *, samples=1, seed=0, temperature=1.0, sampler="fast",
                progress=None, cancel=None) -> Prediction:
        """``lightness`` (h, w) L*, ``hint_ab`` (2, h, w) normalized a*b*, ``hint_mask`` (1, h, w) in {0, 1}
        -> ``samples`` Lab a*b* maps (h, w, 2) with seeds ``seed .. seed + samples - 1``."""
        if sampler not in SAMPLERS:
            raise ColorStudioError(f"unknown sampler {sampler!r} ({' or '.join(SAMPLERS)})")
        if samples < 1 or temperature <= 0:
            raise ColorStudioError(f"samples must be >= 1 and temperature > 0, got {samples} and {temperature}")
        check_cancel(cancel)
        h, w = lightness.shape
        mask = np.asarray(hint_mask, np.float32).reshape(1, h, w)
        hint = np.concatenate([np.asarray(hint_ab, np.float32).reshape(2, h, w) * mask, mask])[None]
        L_norm = torch.from_numpy(normalize_l(np.asarray(lightness, np.float32)))[None, None].to(self.device)
        hint_t = torch.from_numpy(np.ascontiguousarray(hint)).to(self.device) if mask.any() else None
        with torch.inference_mode():
            out = self.network.sample(L_norm, hint_t, n=samples, seed=seed, temperature=temperature,
                                      sampler=sampler, progress=progress, cancel=cancel)
        ab = out.ab.permute(0, 2, 3, 1).float().cpu().numpy()
        return Prediction(ab_samples=[np.ascontiguousarray(a) for a in ab], seeds=out.seeds, work_size=(w, h))


def _load(name: str, device: torch.device, models_dir: Path | None) -> PixColorColorizer:
    from colorstudio.models.registry import load_model

    network, card = load_model(name, device, models_dir)
    return PixColorColorizer(name, cast(PixColor, network), card.to_dict(), device)  # a pixcolor card builds one


register_colorizer_factory("pixcolor", _load)


def _bench_colorizer(model: str | None, config: PixColorConfig | None) -> PixColorColorizer:
    return load_installed_colorizer(model, torch.device("cpu"), lambda: PixColorColorizer(
        "pixcolor-untrained", PixColor(config or PixColorConfig()), {"name": "pixcolor-untrained"}, torch.device("cpu")))


def bench_pixcolor(repeats: int = 5, naive_repeats: int = 1, size: int = 512, samples: int = 8,
                   config: PixColorConfig | None = None, threads: int | None = None,
                   model: str | None = "pixcolor") -> dict[str, Any]:
    """Time ``samples`` samples of a ``size`` x ``size`` photo end to end (sampling + refinement +
    composite at full size), fast vs naive sampler in the same process, and print medians and the ratio.

    The installed ``model`` is timed when there is one (and no ``config`` is given), else an untrained
    network of ``config`` (speed depends on the architecture, not on the weights). The naive sampler runs
    the whole PixelCNN once per grid cell (O(n^2)); it takes minutes, so it is timed ``naive_repeats``
    times. Returns the timings (seconds) and the ratio naive / fast.
    """
    from colorstudio.bench import _test_photo
    from colorstudio.color import rgb_to_lab
    from colorstudio.engine.composite import composite
    from colorstudio.engine.pipeline import resize_lightness

    if threads is not None:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    colorizer = _bench_colorizer(model if config is None else None, config)
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
