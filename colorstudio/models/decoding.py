"""Reading colours from the histogram model's per-cell hue/chroma distributions (Larsson et al. 2016).

The network predicts, for each cell, a distribution over K hue bins (Lab hue ``atan2(b*, a*)`` in turns,
circular bins centred at ``(k + 0.5) / K``) and over K chroma bins (Lab ``hypot(a*, b*)``, uniform over
``[0, CHROMA_MAX]``). This module holds what every reader of those distributions shares:

- :func:`decode_ab`: chroma = median of the chroma histogram, hue = argument of the circular mean, chroma
  faded by ``min(|z| / 0.03, 1)`` where the hue is undecided (paper sec. 3.3; its "max" is a typo); or,
  with ``mode="mean"``, the expected a*b* ``E[C] * z``. :class:`Decoding` is a card's choice of quantile
  and fading threshold.
- :func:`uncertainty_map`: normalized hue entropy x normalized chroma, on a fixed scale.

It sits below the networks and the engine alike: the network decodes batches with it, and the engine's
edits (:mod:`colorstudio.engine.histogram_edit`) decode biased distributions with its kernels.

Arrays: distributions are numpy ``(K, h, w)`` (torch tensors are accepted and read into numpy), one image,
non-negative, summing to 1 over K (re-normalized here, so float32 softmax round-off is harmless).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from colorstudio.color.quantize import CHROMA_QUANTIZER, HUE_QUANTIZER, CircularQuantizer, UniformQuantizer
from colorstudio.errors import ColorStudioError

__all__ = [
    "FADING_THRESHOLD",
    "PAPER_DECODING",
    "Decoding",
    "circular_mean_hue",
    "decode_ab",
    "median_chroma",
    "uncertainty_map",
]

FADING_THRESHOLD = 0.03  # |z| below which chroma fades to gray (paper sec. 3.3, min(|z| / 0.03, 1))


@dataclass(frozen=True)
class Decoding:
    """How a point estimate is read from a cell's distributions (``median`` mode of :func:`decode_ab`).

    ``chroma_quantile`` 0.5 is the paper's median chroma; above it the colours are more vivid at the cost
    of PSNR. ``fading_threshold``: chroma fades to gray as ``min(|z| / fading_threshold, 1)`` (paper 0.03).
    A model's card may choose its own (``decoding`` in card.json).
    """

    fading_threshold: float = FADING_THRESHOLD
    chroma_quantile: float = 0.5

    def __post_init__(self) -> None:
        # a threshold of 1 fades by |z| itself; a quantile of 0 or 1 would be the histogram's ends
        for name, upper, bracket in (("fading_threshold", 1.0, "]"), ("chroma_quantile", 1.0 - 1e-9, ")")):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= upper:
                raise ColorStudioError(f"decoding.{name} must be a number in (0, 1{bracket}, got {value!r}")


PAPER_DECODING = Decoding()

# ----------------------------------------------------------------------------------------------------------
# Shapes and bins


def _as_probs(probs: Any, name: str) -> np.ndarray:
    """(K, h, w) non-negative distributions as float64 numpy, normalized over K."""
    if hasattr(probs, "detach"):  # torch tensor: one copy to host, no torch import needed here
        probs = probs.detach().cpu().numpy()
    arr = np.asarray(probs, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[0] < 2:
        raise ColorStudioError(f"{name} must have shape (K, h, w) with K >= 2, got {arr.shape}")
    if not np.all(np.isfinite(arr)) or arr.min() < 0:
        raise ColorStudioError(f"{name} must be finite and non-negative")
    total = arr.sum(axis=0, keepdims=True)
    if np.any(total <= 0):
        raise ColorStudioError(f"{name} has a cell whose distribution sums to zero")
    return arr / total


def _check_pair(hue: np.ndarray, chroma: np.ndarray) -> None:
    if hue.shape[1:] != chroma.shape[1:]:
        raise ColorStudioError(f"hue_probs {hue.shape} and chroma_probs {chroma.shape} cover different grids")


@functools.lru_cache(maxsize=8)
def _hue_centres(bins: int) -> np.ndarray:
    """Hue bin centres in turns; the model's quantizer when K matches, the same rule otherwise."""
    quantizer = HUE_QUANTIZER if HUE_QUANTIZER.bins == bins else CircularQuantizer(bins)
    return np.asarray(quantizer.centres, dtype=np.float64)


@functools.lru_cache(maxsize=8)
def _chroma_quantizer(bins: int) -> UniformQuantizer:
    if CHROMA_QUANTIZER.bins == bins:
        return CHROMA_QUANTIZER
    return UniformQuantizer(CHROMA_QUANTIZER.lo, CHROMA_QUANTIZER.hi, bins)


def _chroma_max() -> float:
    return float(CHROMA_QUANTIZER.hi)


# ----------------------------------------------------------------------------------------------------------
# 1. Decoding
#
# Kernels take (K, N) arrays ``y`` plus optional bin weights ``w`` (K,) and work on the posterior
# ``y_kn w_k / Z_n``: a biased distribution is decoded without materializing it. Matrix-vector products
# go through einsum, single-threaded by design: on a busy 2-core machine multi-threaded BLAS calls of
# this size wait for a free core and take 10-100x longer than doing the work on one.


def _cumsum_bins(y: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """cumsum over K of ``y * w[:, None]``; a loop over K rows is ~15x faster than np.cumsum(axis=0)."""
    out = np.empty_like(y)
    if w is None:
        out[0] = y[0]
    else:
        np.multiply(y[0], w[0], out=out[0])
    for k in range(1, y.shape[0]):
        if w is None:
            np.add(out[k - 1], y[k], out=out[k])
        else:
            np.multiply(y[k], w[k], out=out[k])
            out[k] += out[k - 1]
    return out


def _median_chroma_flat(chroma: np.ndarray, w: np.ndarray | None = None, q: float = 0.5) -> np.ndarray:
    """The ``q`` quantile (median by default) of each column of (K, N) histograms (times ``w``), linear
    within the bin that crosses it."""
    bins = chroma.shape[0]
    quantizer = _chroma_quantizer(bins)
    cdf = _cumsum_bins(chroma, w)
    half = q * cdf[-1]
    k = np.minimum((cdf < half).sum(axis=0), bins - 1)  # first bin whose cdf reaches 1/2
    cols = np.arange(chroma.shape[1])
    at = cdf[k, cols]
    before = np.where(k > 0, cdf[np.maximum(k - 1, 0), cols], 0.0)
    mass = at - before
    # mass > 0 wherever the cdf crosses 1/2 inside bin k; the guard only covers round-off ties.
    frac = np.clip(np.divide(half - before, mass, out=np.full_like(half, 0.5), where=mass > 0), 0.0, 1.0)
    return quantizer.lo + (k + frac) * quantizer.width


def _circular_mean_flat(hue: np.ndarray, w: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(angle in turns [0, 1), |z|) of z = sum_k p_k e^{2 pi i h_k} for each column of (K, N) (times ``w``)."""
    angles = 2.0 * math.pi * _hue_centres(hue.shape[0])
    weights = np.ones(hue.shape[0]) if w is None else w
    basis = np.stack([np.cos(angles), np.sin(angles), np.ones_like(angles)]) * weights  # (3, K)
    re, im, total = np.einsum("jk,kn->jn", basis, hue)
    return np.mod(np.arctan2(im, re) / (2.0 * math.pi), 1.0), np.hypot(re, im) / total


def _mean_chroma_flat(chroma: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """Expected chroma E[C] (bin centres) of each column of (K, N) histograms (times ``w``)."""
    centres = np.asarray(_chroma_quantizer(chroma.shape[0]).centres, dtype=np.float64)
    weights = np.ones(chroma.shape[0]) if w is None else w
    weighted, total = np.einsum("jk,kn->jn", np.stack([centres * weights, weights]), chroma)
    return weighted / total


def _decode_flat(hue: np.ndarray, chroma: np.ndarray, hue_w: np.ndarray | None = None,
                 chroma_w: np.ndarray | None = None, *, mode: str = "median",
                 decoding: Decoding = PAPER_DECODING) -> np.ndarray:
    """(N, 2) a*b* of (K, N) distributions, each optionally biased by bin weights ``e^b``."""
    angle, length = _circular_mean_flat(hue, hue_w)
    if mode == "median":
        # Chromatic fading: an undecided hue (|z| small) would otherwise pick an arbitrary saturated colour.
        c = (_median_chroma_flat(chroma, chroma_w, decoding.chroma_quantile)
             * np.minimum(length / decoding.fading_threshold, 1.0))
    elif mode == "mean":
        c = _mean_chroma_flat(chroma, chroma_w) * length  # E[C] * |z|: E[ab] when hue and chroma are independent
    else:
        raise ValueError(f"unknown decode mode {mode!r} (median or mean)")
    theta = 2.0 * math.pi * angle
    return np.stack([c * np.cos(theta), c * np.sin(theta)], axis=-1)


def median_chroma(chroma_probs: Any) -> np.ndarray:
    """Median chroma C* of each cell's chroma histogram, interpolated within the bin: (h, w) float32.

    A one-hot histogram gives its bin centre; a flat one ``CHROMA_MAX / 2``.
    """
    chroma = _as_probs(chroma_probs, "chroma_probs")
    return _median_chroma_flat(chroma.reshape(chroma.shape[0], -1)).reshape(chroma.shape[1:]).astype(np.float32)


def circular_mean_hue(hue_probs: Any) -> tuple[np.ndarray, np.ndarray]:
    """(hue in turns [0, 1), resultant length |z| in [0, 1]) of each cell's hue distribution, (h, w) each."""
    hue = _as_probs(hue_probs, "hue_probs")
    angle, length = _circular_mean_flat(hue.reshape(hue.shape[0], -1))
    return angle.reshape(hue.shape[1:]).astype(np.float32), length.reshape(hue.shape[1:]).astype(np.float32)


def decode_ab(
    hue_probs: Any, chroma_probs: Any, *, mode: str = "median", decoding: Decoding = PAPER_DECODING
) -> np.ndarray:
    """Lab a*b* of each cell: (h, w, 2) float32, |ab| <= CHROMA_MAX. The one implementation of the decoding
    (:func:`colorstudio.models.histogram.decode_ab` adapts it to batched, channel-first torch tensors).

    ``mode="median"`` (the paper's, the default): chroma = median of the chroma histogram (interpolated
    within its bin), hue = argument of the circular mean ``z = sum_k p_k exp(2 pi i h_k)``, chroma
    multiplied by the chromatic fading factor ``min(|z| / fading_threshold, 1)``.
    ``mode="mean"``: ``E[C] * z``, the expected a*b* if hue and chroma are independent: the least-squares
    estimate (best PSNR), which shrinks every uncertain cell towards gray in proportion to |z|; less vivid.
    """
    hue = _as_probs(hue_probs, "hue_probs")
    chroma = _as_probs(chroma_probs, "chroma_probs")
    _check_pair(hue, chroma)
    ab = _decode_flat(hue.reshape(hue.shape[0], -1), chroma.reshape(chroma.shape[0], -1),
                      mode=mode, decoding=decoding)
    return ab.reshape(*hue.shape[1:], 2).astype(np.float32)


# ----------------------------------------------------------------------------------------------------------
# 2. Uncertainty


def uncertainty_map(hue_probs: Any, chroma_probs: Any) -> np.ndarray:
    """Hue entropy / log K times median chroma / CHROMA_MAX: (h, w) float32 in [0, 1].

    The paper's "entropy(hue) x chroma", on a fixed scale rather than stretched per image: both factors are
    divided by their theoretical maxima, so 1 means "a flat hue distribution at the largest chroma". A
    fixed scale keeps maps comparable between images and between edits of one image, and a gray photo
    (every chroma small) gets a dark map instead of amplified noise. Natural photos land in about
    [0, 0.5]; a display may apply its own gamma. The chroma is the un-faded median: chromatic fading is
    the *consequence* of hue uncertainty and would cancel it.
    """
    hue = _as_probs(hue_probs, "hue_probs")
    chroma = _as_probs(chroma_probs, "chroma_probs")
    _check_pair(hue, chroma)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(hue > 0, hue * np.log(hue), 0.0)
    entropy = -plogp.sum(axis=0) / math.log(hue.shape[0])
    c = _median_chroma_flat(chroma.reshape(chroma.shape[0], -1)).reshape(hue.shape[1:])
    return np.clip(entropy * c / _chroma_max(), 0.0, 1.0).astype(np.float32)

