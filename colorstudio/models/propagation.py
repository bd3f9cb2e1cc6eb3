"""Hint propagation (Levin, Lischinski, Weiss 2004): the non-learned baseline colorizer.

Neighbouring pixels with similar luminance get similar chroma. Each un-hinted pixel's chroma is the
affinity-weighted mean of its 3x3 neighbours; hinted pixels keep their hint. One sparse linear system
per chroma channel, factorized once and solved for both. Without hints the answer is zero chroma,
i.e. the gray image: the baseline invents nothing.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

__all__ = ["propagate_hints"]

_MIN_VARIANCE = 2e-6  # Levin's floor, for flat windows


def _window_offsets() -> list[tuple[int, int]]:
    return [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]


def _affinity_rows(luma: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sparse (row, col, weight) triplets of the normalized 3x3 affinities, weights summing to 1 per row."""
    h, w = luma.shape
    padded = np.pad(luma, 1, mode="edge")
    neighbours = np.stack([padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy, dx in _window_offsets()])
    window = np.concatenate([neighbours, luma[None]], axis=0)
    squared = (neighbours - luma[None]) ** 2
    # Levin's sigma: 0.6 x the local variance, but at least enough that the most similar neighbour keeps
    # weight 0.01 (else isolated pixels get no colour), and floored for flat windows.
    sigma = np.maximum(0.6 * window.var(axis=0), -squared.min(axis=0) / np.log(0.01))
    sigma = np.maximum(sigma, _MIN_VARIANCE)
    weights = np.exp(-squared / sigma[None])

    ys, xs = np.mgrid[0:h, 0:w]
    rows, cols, vals = [], [], []
    valid_all = []
    for k, (dy, dx) in enumerate(_window_offsets()):
        ny, nx = ys + dy, xs + dx
        valid = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        valid_all.append(valid)
        rows.append((ys * w + xs)[valid])
        cols.append((ny * w + nx)[valid])
        vals.append(weights[k][valid])
    valid_stack = np.stack(valid_all)
    norm = (weights * valid_stack).sum(axis=0)
    norm_flat = norm.ravel()
    row = np.concatenate(rows)
    return row, np.concatenate(cols), np.concatenate(vals) / norm_flat[row]


def propagate_hints(lightness: np.ndarray, hint_ab: np.ndarray, hint_mask: np.ndarray) -> np.ndarray:
    """Spread hinted chroma over the image.

    Args:
        lightness: (h, w) L* in [0, 100].
        hint_ab: (2, h, w) hint chroma (any scale; returned in the same scale).
        hint_mask: (1, h, w) or (h, w), 1 where a hint is given.

    Returns:
        (h, w, 2) float32 chroma, equal to the hints where hinted.
    """
    h, w = lightness.shape
    mask = np.asarray(hint_mask, dtype=bool).reshape(h, w)
    if not mask.any():
        return np.zeros((h, w, 2), np.float32)
    luma = np.asarray(lightness, np.float64) / 100.0
    row, col, val = _affinity_rows(luma)
    n = h * w
    hinted = mask.ravel()
    keep = ~hinted[row]  # hinted rows become identity rows
    matrix = sp.csc_matrix(
        (np.concatenate([np.ones(n), -val[keep]]),
         (np.concatenate([np.arange(n), row[keep]]), np.concatenate([np.arange(n), col[keep]]))),
        shape=(n, n),
    )
    rhs = np.where(hinted[:, None], np.asarray(hint_ab, np.float64).reshape(2, n).T, 0.0)
    solution = spla.splu(matrix).solve(rhs)
    return solution.reshape(h, w, 2).astype(np.float32)
