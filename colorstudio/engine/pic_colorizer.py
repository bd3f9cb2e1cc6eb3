"""The PIC model (Royer et al. 2017) as an engine :class:`Colorizer`: N seeded chroma samples per image.

The network samples (a, b) on its chroma grid (1/4 of the working resolution; 1/2 for CIFAR models);
each sample is brought to the working resolution by guided upsampling with the working-resolution L*
(:func:`colorstudio.engine.composite.upsample_ab`), and the pipeline's composite takes it to full
resolution with the original L*.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from colorstudio.color import normalize_l, pic_to_ab
from colorstudio.engine.pipeline import (
    NetworkColorizer,
    Prediction,
    check_cancel,
    load_installed_colorizer,
    register_colorizer_factory,
)

if TYPE_CHECKING:
    from colorstudio.models.pic import PIC

__all__ = ["DEFAULT_LONG_SIDE", "PICColorizer", "bench_pic"]

# PIC's photo model works at 128 px (chroma 32 x 32), as the paper's ILSVRC model; the card's
# working_resolution overrides this.
DEFAULT_LONG_SIDE = 128


class PICColorizer(NetworkColorizer):
    """Wraps a trained :class:`colorstudio.models.pic.PIC`; ``sampler`` ("fast" or "naive") is the default
    for :meth:`predict` calls that do not name one."""

    supports_samples = True
    default_long_side = DEFAULT_LONG_SIDE
    network: PIC

    def __init__(self, name: str, network: torch.nn.Module, card: dict, device: torch.device, sampler: str = "fast") -> None:
        super().__init__(name, network, card, device)
        self.sampler = sampler
        self.working_multiple = int(self.network.config.chroma_stride)  # whole chroma cells

    def sample_grid(self, lightness: np.ndarray, hint_ab: np.ndarray, hint_mask: np.ndarray, *, samples: int = 1,
                    seed: int = 0, temperature: float = 1.0, sampler: str | None = None, progress=None,
                    cancel=None) -> np.ndarray:
        """Samples on the chroma grid: (N, h', w', 2) a*, b* for an (h, w) L* map and its hint channels."""
        mask = np.asarray(hint_mask, np.float32).reshape(1, 1, *lightness.shape)
        L_norm = torch.from_numpy(normalize_l(np.asarray(lightness, np.float32)))[None, None].to(self.device)
        hint = None
        if mask.any():
            hint_np = np.concatenate([np.asarray(hint_ab, np.float32).reshape(1, 2, *lightness.shape) * mask, mask], axis=1)
            hint = torch.from_numpy(hint_np).to(self.device)
        grid = self.network.sample(L_norm, hint, n=samples, seed=seed, temperature=temperature,
                                   sampler=sampler or self.sampler, progress=progress, cancel=cancel)
        return pic_to_ab(grid).permute(0, 2, 3, 1).float().cpu().numpy()

    def predict(self, lightness, hint_ab, hint_mask, *, samples=1, seed=0, temperature=1.0, sampler=None,
                progress=None, cancel=None) -> Prediction:
        from colorstudio.engine.composite import upsample_ab

        check_cancel(cancel)

        def sampling_progress(fraction: float, message: str) -> None:
            if progress is not None:
                progress(0.9 * fraction, message)

        grids = self.sample_grid(lightness, hint_ab, hint_mask, samples=samples, seed=seed, temperature=temperature,
                                 sampler=sampler, progress=sampling_progress, cancel=cancel)
        ab_samples = []
        for grid in grids:
            check_cancel(cancel)
            ab_samples.append(upsample_ab(np.asarray(lightness, np.float32), grid))
        if progress is not None:
            progress(1.0, "sampled")
        h, w = lightness.shape
        return Prediction(ab_samples=ab_samples, seeds=[seed + k for k in range(samples)], work_size=(w, h))


    def bits_per_dim(self, data: str | Path, *, limit: int | None = None, batch_size: int = 100, progress=None) -> dict:
        """The model's bits per dimension on a folder / tar of colour images (no hints): each image's centred
        square at the working resolution, NLL over its chroma grid (h' x w' x 2 dims). Returns
        ``{"bpd", "nll_nats_per_image", "images", "dims_per_image", "data", "working_resolution"}``."""
        from colorstudio.models.pic import bits_per_dim
        from colorstudio.training.train_pic import evaluation_dataset

        dataset = evaluation_dataset(data, self.long_side, limit)
        report = bits_per_dim(self.network, dataset, batch_size=batch_size, device=self.device, progress=progress)
        return {**report, "data": str(data), "working_resolution": self.long_side}


def _load(name: str, device: torch.device, models_dir: Path | None) -> PICColorizer:
    from colorstudio.models.registry import load_model

    network, card = load_model(name, device, models_dir)
    return PICColorizer(name, network, card.to_dict(), device)


register_colorizer_factory("pic", _load)


def _time_naive(colorizer: PICColorizer, lightness: np.ndarray, hints: tuple[np.ndarray, np.ndarray], samples: int,
                rows: int | None, grid_rows: int) -> float:
    """Seconds for naive sampling of the whole grid: measured whole (``rows`` None) or over ``rows`` rows
    (stopped through the cancel hook, which the sampler checks as each row starts) and scaled."""
    from colorstudio.errors import CancelledError

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


# ---------------------------------------------------------------------------------------------- bench
def _bench_colorizer(model: str | None) -> PICColorizer:
    """The installed ``model`` (its own embedding network included), else an untrained photo-preset PIC."""
    from colorstudio.models.pic import PIC, PIC_PHOTO_CONFIG

    return load_installed_colorizer(model, torch.device("cpu"), lambda: PICColorizer(
        "pic-untrained", PIC(PIC_PHOTO_CONFIG), {"working_resolution": DEFAULT_LONG_SIDE}, torch.device("cpu")))


def bench_pic(repeats: int = 3, *, samples: int = 8, size: int = 512, naive_rows: int | None = 2,
              threads: int | None = None, model: str | None = "pic") -> dict:
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

    from colorstudio.color import rgb_to_lab
    from colorstudio.engine.pipeline import ColorizeRequest, colorize_source

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    rgb = cv2.resize(data.astronaut(), (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    lightness = rgb_to_lab(rgb)[..., 0]
    colorizer = _bench_colorizer(model)
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

    request = ColorizeRequest(model="pic", samples=samples, seed=0)
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
