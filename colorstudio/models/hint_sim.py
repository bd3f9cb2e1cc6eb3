"""Simulated user hints (Zhang et al. 2017, "Real-Time User-Guided Image Colorization").

Training (the authors' ``add_color_patches_rand_gt``): the number of hints is geometric with p = 1/8
(mean 7, may be 0); each hint is a P x P patch, P uniform in 1..9, whose top-left corner is
``clip(N((H-P+1)/2, (H-P+1)/4), 0, H-P)`` per axis (so the patch centre is normal around the image
centre); its value is the mean ground-truth ab of the patch; later patches overwrite earlier ones;
the mask is 1 on hinted pixels.

Evaluation sweep (DESIGN.md): the same placement with fixed 6x6 patches and a fixed count, the RNG
seeded from (image seed, hint count) so a sweep is reproducible and image k always gets the same points
whatever the evaluation order.

Shapes: numpy ab (2, H, W) normalized (``ab / AB_SCALE``); torch ab (B, 2, H, W).
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = [
    "HINT_P",
    "batch_training_hints",
    "hint_for_batch",
    "MAX_PATCH",
    "SWEEP_PATCH",
    "simulate_training_hints",
    "simulate_training_hints_torch",
    "sweep_corners",
    "sweep_hints",
]

HINT_P = 1.0 / 8.0  # geometric parameter: P(no more hints) per draw; mean count (1 - p) / p = 7
MAX_PATCH = 9
SWEEP_PATCH = 6
_MAX_HINTS_TORCH = 100  # truncation of the geometric count: P(count > 100) = (7/8)^101 ~ 1e-6


def _check_ab(ab: np.ndarray) -> None:
    if not isinstance(ab, np.ndarray) or ab.ndim != 3 or ab.shape[0] != 2 or min(ab.shape[1:]) < 1:
        raise ValueError(f"ab must be a (2, H, W) array, got shape {getattr(ab, 'shape', None)}")


def _normal_corner(rng: np.random.Generator, length: int, patch: int) -> int:
    """Top-left coordinate of a patch along one axis: clip(N((n-P+1)/2, (n-P+1)/4), 0, n-P), floored."""
    span = length - patch + 1
    return int(np.clip(rng.normal(span / 2.0, span / 4.0), 0, length - patch))


def _paint_patches(ab: np.ndarray, corners: list[tuple[int, int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Fill each (top, left, size) patch with its mean ab, in order (later ones win)."""
    hint_ab = np.zeros(ab.shape, dtype=np.float32)
    mask = np.zeros((1, *ab.shape[1:]), dtype=np.float32)
    for top, left, size in corners:
        window = (slice(None), slice(top, top + size), slice(left, left + size))
        hint_ab[window] = ab[window].mean(axis=(1, 2), dtype=np.float64)[:, None, None]
        mask[window] = 1.0
    return hint_ab, mask


def simulate_training_hints(
    ab: np.ndarray, rng: np.random.Generator, p: float = HINT_P, max_patch: int = MAX_PATCH
) -> tuple[np.ndarray, np.ndarray]:
    """Random training hints for one image (Zhang et al. 2017).

    Args:
        ab: (2, H, W) ground-truth ab, normalized.
        rng: numpy generator (the only source of randomness).
        p: geometric parameter of the hint count (mean (1 - p) / p).
        max_patch: patch sizes are uniform in 1..max_patch (capped by the image size).

    Returns:
        hint_ab (2, H, W) float32 (zero where no hint) and mask (1, H, W) float32 in {0, 1}.
    """
    _check_ab(ab)
    return _paint_patches(ab, _training_corners(rng, ab.shape[1], ab.shape[2], p, max_patch))


def _training_corners(
    rng: np.random.Generator, height: int, width: int, p: float, max_patch: int
) -> list[tuple[int, int, int]]:
    count = int(rng.geometric(p)) - 1  # numpy counts trials up to the first success; we want failures
    corners = []
    for _ in range(count):
        size = min(int(rng.integers(1, max_patch + 1)), height, width)
        corners.append((_normal_corner(rng, height, size), _normal_corner(rng, width, size), size))
    return corners


def _geometric_counts(batch: int, generator: torch.Generator, p: float) -> torch.Tensor:
    """Hint counts per image on the generator's device, by inversion: P(count >= k) = (1 - p)^k."""
    u = torch.rand(batch, generator=generator, device=generator.device)
    return torch.floor(torch.log(u) / math.log1p(-p)).clamp(0, _MAX_HINTS_TORCH).long()


def simulate_training_hints_torch(
    ab: torch.Tensor, generator: torch.Generator, p: float = HINT_P, max_patch: int = MAX_PATCH
) -> torch.Tensor:
    """Batched random training hints, vectorized (no per-hint Python loop), on ``ab``'s device.

    Random numbers come from ``generator`` on its own device and are then moved, so a CPU generator
    gives the same hints for a CUDA batch. The count is truncated at 100 per image (probability ~1e-6).

    Args:
        ab: (B, 2, H, W) ground-truth ab, normalized.
        generator: torch generator.

    Returns:
        (B, 3, H, W) tensor in ``ab``'s dtype: channels 0-1 the hint ab (patch means, zero where the
        mask is 0, i.e. ``hint_ab * mask``), channel 2 the mask in {0, 1}.
    """
    if ab.ndim != 4 or ab.shape[1] != 2:
        raise ValueError(f"ab must be a (B, 2, H, W) tensor, got shape {tuple(ab.shape)}")
    batch, _, height, width = ab.shape
    device, rand_device = ab.device, generator.device
    counts = _geometric_counts(batch, generator, p)
    total = int(counts.sum())
    out = torch.zeros(batch, 3, height, width, dtype=ab.dtype, device=device)
    if total == 0:
        return out
    image = torch.repeat_interleave(torch.arange(batch, device=rand_device), counts)
    size = torch.randint(1, max_patch + 1, (total,), generator=generator, device=rand_device)
    size = size.clamp(max=min(height, width))

    def corner(length: int) -> torch.Tensor:
        span = (length - size + 1).to(torch.float32)
        z = torch.randn(total, generator=generator, device=rand_device)
        return torch.minimum(torch.clamp(span / 2 + z * span / 4, min=0).floor().long(), length - size)

    top, left = corner(height), corner(width)
    image, size, top, left = (t.to(device) for t in (image, size, top, left))

    # Every hint as up to max_patch^2 pixels; offsets beyond its size are masked out.
    offsets = torch.arange(max_patch, device=device)
    dy, dx = (g.reshape(-1) for g in torch.meshgrid(offsets, offsets, indexing="ij"))
    valid = (dy[None] < size[:, None]) & (dx[None] < size[:, None])  # (N, K)
    rows = (top[:, None] + dy[None]).clamp(max=height - 1)
    cols = (left[:, None] + dx[None]).clamp(max=width - 1)
    pixels = ab.reshape(batch, 2, height * width)[image[:, None], :, rows * width + cols]  # (N, K, 2)
    weight = valid.to(ab.dtype)[..., None]
    means = (pixels * weight).sum(1) / (size.to(ab.dtype) ** 2)[:, None]  # (N, 2)

    # Later hints win: each pixel takes the largest hint index covering it (order-independent amax),
    # then only the (hint, pixel) pairs that won are written: O(hints), not O(B * H * W).
    flat = (image[:, None] * height + rows) * width + cols  # (N, K)
    hint_id = torch.arange(total, device=device)[:, None].expand_as(flat)
    owner = torch.full((batch * height * width,), -1, dtype=torch.long, device=device)
    owner.scatter_reduce_(0, flat[valid], hint_id[valid], reduce="amax")
    won = valid & (owner[flat] == hint_id)
    image, rows, cols, hint_id = image[:, None].expand_as(flat)[won], rows[won], cols[won], hint_id[won]
    out[image, 0, rows, cols] = means[hint_id, 0]
    out[image, 1, rows, cols] = means[hint_id, 1]
    out[image, 2, rows, cols] = 1.0
    return out


def sweep_corners(height: int, width: int, n_hints: int, seed: int, patch: int) -> list[tuple[int, int, int]]:
    if n_hints < 0 or seed < 0 or patch < 1:
        raise ValueError(f"n_hints and seed must be >= 0 and patch >= 1, got {n_hints}, {seed}, {patch}")
    rng = np.random.default_rng([seed, n_hints])
    size = min(patch, height, width)
    corners = []
    for _ in range(n_hints):
        top = _normal_corner(rng, height, size)
        corners.append((top, _normal_corner(rng, width, size), size))
    return corners


def sweep_hints(ab: np.ndarray, n_hints: int, seed: int, patch: int = SWEEP_PATCH) -> tuple[np.ndarray, np.ndarray]:
    """Evaluation hints: ``n_hints`` patches of ``patch`` x ``patch`` with the mean ground-truth ab.

    Args:
        ab: (2, H, W) ground-truth ab, normalized.
        n_hints: number of hints (0 gives empty channels).
        seed: per-image seed (e.g. the image index); the RNG is seeded from (seed, n_hints).
        patch: patch size (6 in Zhang et al. 2017).

    Returns:
        hint_ab (2, H, W) float32 and mask (1, H, W) float32 in {0, 1}.
    """
    _check_ab(ab)
    return _paint_patches(ab, sweep_corners(ab.shape[1], ab.shape[2], n_hints, seed, patch))


def batch_training_hints(ab: torch.Tensor, seed: int | torch.Tensor | None, p_no_hints: float) -> torch.Tensor:
    """Simulated hints (B, 3, H, W) for a training batch: :func:`simulate_training_hints_torch` for a
    random ``1 - p_no_hints`` of the images, zeros for the rest. ``seed`` (the shared loop's per-step seed)
    makes them reproducible across resumes; the generator is on the CPU, so a GPU run draws the same."""
    gen = torch.Generator(device="cpu")
    gen.manual_seed(int(seed) if seed is not None else int(torch.randint(0, 2**62, (1,)).item()))
    hint = simulate_training_hints_torch(ab, gen)
    keep = (torch.rand(ab.shape[0], 1, 1, 1, generator=gen) >= p_no_hints).to(ab.device)
    return hint * keep.to(hint.dtype)


def hint_for_batch(batch: dict[str, torch.Tensor], simulate: bool, p_no_hints: float) -> torch.Tensor | None:
    """A training batch's hint channels: its own ``"hint"`` if it has one, else simulated hints
    (:func:`batch_training_hints`) when ``simulate``, else None."""
    if "hint" in batch:
        return batch["hint"]
    return batch_training_hints(batch["ab"], batch.get("seed"), p_no_hints) if simulate else None
