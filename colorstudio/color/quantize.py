"""Quantizers: continuous color values <-> integer bins (numpy and torch alike).

- ``UniformQuantizer(lo, hi, bins)``: equal bins over [lo, hi], values outside are clipped.
- ``CircularQuantizer(bins)``: hue in turns; bin k covers [k/bins, (k+1)/bins) and is centred at
  (k + 0.5)/bins; values wrap (1.0 -> bin 0, -0.01 -> last bin).
- ``PicLevels``: PIC's (Royer et al. 2017) 256 integer levels of a*, b*; level k <-> a* = k - 128 <->
  x = 2k/255 - 1 in [-1, 1], the scale of the discretized logistic likelihood (bin half width 1/255).

``encode`` returns int64 (numpy) / torch.long (torch, same device); ``decode`` returns centres as
float32 unless ``dtype`` is given (a numpy dtype for numpy, a torch dtype for torch). NaN encodes to
the first bin. numpy indices out of range raise ``ColorShapeError``; torch indices are not checked
up front (that would force a GPU sync), indexing fails on them instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import torch

from colorstudio.color import _dispatch as d
from colorstudio.color._dispatch import Array, ArrayT, ColorShapeError

__all__ = [
    "UniformQuantizer",
    "CircularQuantizer",
    "PicLevels",
    "CHROMA_MAX",
    "YCBCR_QUANTIZER",
    "HUE_QUANTIZER",
    "CHROMA_QUANTIZER",
    "BICONE_CHROMA_QUANTIZER",
    "PIC_LEVELS",
    "PIC_HALF_WIDTH",
    "ab_to_pic",
    "pic_to_ab",
]


def _check_values(values: object, name: str) -> None:
    if isinstance(values, (np.ndarray, torch.Tensor)):
        return
    raise ColorShapeError(f"{name}: expected a numpy array or a torch tensor, got {type(values).__name__}")


def _as_float(values: ArrayT) -> ArrayT:
    """Integers -> float64 so bin arithmetic is exact; NaN -> -inf (clips to the first bin)."""
    if isinstance(values, torch.Tensor):
        if not values.is_floating_point():
            values = values.to(torch.float64)
        return torch.nan_to_num(values, nan=-math.inf)
    if not np.issubdtype(values.dtype, np.floating):
        values = values.astype(np.float64)
    return np.nan_to_num(values, nan=-np.inf, posinf=np.inf, neginf=-np.inf)


def _float32_unless_float(values: ArrayT) -> ArrayT:
    if isinstance(values, torch.Tensor):
        return values if values.is_floating_point() else values.to(torch.float32)
    return values if np.issubdtype(values.dtype, np.floating) else values.astype(np.float32)


def _to_index(values: ArrayT) -> ArrayT:
    if isinstance(values, torch.Tensor):
        return values.to(torch.long)
    return values.astype(np.int64)


def _check_indices(indices: Array, bins: int, name: str) -> None:
    _check_values(indices, name)
    if isinstance(indices, torch.Tensor):
        bad = indices.is_floating_point() or indices.dtype == torch.bool
    else:
        bad = not np.issubdtype(indices.dtype, np.integer)
    if bad:
        raise ColorShapeError(f"{name}: indices must be integers, got {indices.dtype}")
    # The range check would force a host sync for torch (on GPU), where indexing checks anyway.
    if isinstance(indices, np.ndarray) and indices.size:
        lo, hi = int(indices.min()), int(indices.max())
        if lo < 0 or hi >= bins:
            raise ColorShapeError(f"{name}: indices must be in [0, {bins - 1}], got [{lo}, {hi}]")


def _lookup(centres: np.ndarray, indices: ArrayT, dtype: Any) -> ArrayT:
    if isinstance(indices, torch.Tensor):
        table = torch.tensor(centres.tolist(), dtype=dtype or torch.float32, device=indices.device)
        return table[indices]
    return centres.astype(dtype or np.float32)[indices]


@dataclass(frozen=True)
class UniformQuantizer:
    """``bins`` equal bins over [lo, hi]; bin k is centred at lo + (k + 0.5) (hi - lo) / bins."""

    lo: float
    hi: float
    bins: int

    def __post_init__(self) -> None:
        if int(self.bins) != self.bins or self.bins < 1:
            raise ValueError(f"UniformQuantizer: bins must be a positive integer, got {self.bins}")
        if not self.hi > self.lo:
            raise ValueError(f"UniformQuantizer: need lo < hi, got lo={self.lo}, hi={self.hi}")

    @property
    def width(self) -> float:
        return (self.hi - self.lo) / self.bins

    @cached_property
    def centres(self) -> np.ndarray:
        """(bins,) float64, read-only."""
        c = self.lo + (np.arange(self.bins) + 0.5) * self.width
        c.flags.writeable = False
        return c

    def encode(self, values: ArrayT) -> ArrayT:
        """Values (any shape) -> bin indices in [0, bins - 1], same shape; out-of-range values clip."""
        _check_values(values, "UniformQuantizer.encode")
        scaled = (_as_float(values) - self.lo) / self.width
        return _to_index(d.clip(d.floor(scaled), 0, self.bins - 1))

    def decode(self, indices: ArrayT, dtype: Any = None) -> ArrayT:
        """Bin indices (any shape) -> bin centres, float32 unless ``dtype``."""
        _check_indices(indices, self.bins, "UniformQuantizer.decode")
        return _lookup(self.centres, indices, dtype)


@dataclass(frozen=True)
class CircularQuantizer:
    """``bins`` equal bins around the circle of hues in turns; values wrap modulo 1."""

    bins: int

    def __post_init__(self) -> None:
        if int(self.bins) != self.bins or self.bins < 1:
            raise ValueError(f"CircularQuantizer: bins must be a positive integer, got {self.bins}")

    @cached_property
    def centres(self) -> np.ndarray:
        """(bins,) float64 in (0, 1), read-only: (k + 0.5) / bins."""
        c = (np.arange(self.bins) + 0.5) / self.bins
        c.flags.writeable = False
        return c

    def encode(self, values: ArrayT) -> ArrayT:
        """Hue in turns (any real value, any shape) -> bin indices in [0, bins - 1]."""
        _check_values(values, "CircularQuantizer.encode")
        v = _as_float(values)
        v = d.where(d.abs_(v) < math.inf, v, d.constant(0.0, v))  # +-inf (and NaN) -> bin 0
        k = d.floor((v - d.floor(v)) * self.bins)
        # v - floor(v) can round up to exactly 1.0 for tiny negative v: wrap that to bin 0.
        return _to_index(d.where(k >= self.bins, k - self.bins, k))

    def decode(self, indices: ArrayT, dtype: Any = None) -> ArrayT:
        """Bin indices -> centre hues in turns, float32 unless ``dtype``."""
        _check_indices(indices, self.bins, "CircularQuantizer.decode")
        return _lookup(self.centres, indices, dtype)


# Lab chroma C* = hypot(a*, b*). The sRGB gamut reaches C* ~ 134 (pure blue), but photos don't: on a
# sample of the training photos the 99.99th percentile is ~91 and only ~3e-7 of pixels exceed 100.
# Capping at 100 keeps the 32 bins 3.1 C* wide (about one just-noticeable difference) instead of 4.2.
CHROMA_MAX = 100.0

YCBCR_QUANTIZER = UniformQuantizer(0.0, 1.0, 32)  # PixColor: Cb, Cr each in 32 bins
HUE_QUANTIZER = CircularQuantizer(32)  # Larsson: hue histogram (bicone or LCh hue, both in turns)
CHROMA_QUANTIZER = UniformQuantizer(0.0, CHROMA_MAX, 32)  # Lab chroma (lab_to_lch)
# Larsson's own chroma is the bicone's max - min in [0, 1] (rgb_to_bicone); use this one with it.
BICONE_CHROMA_QUANTIZER = UniformQuantizer(0.0, 1.0, 32)


PIC_HALF_WIDTH = 1.0 / 255.0  # half the spacing of 2k/255 - 1: the discretized logistic's bin half width


@dataclass(frozen=True)
class PicLevels:
    """PIC's 256 levels per ab channel: level k in 0..255 <-> a* = k - 128 <-> x = 2k/255 - 1.

    ``encode`` rounds a*, b* to the nearest level (clipped to 0..255), ``decode`` gives back a* = k - 128.
    ``to_unit`` / ``from_unit`` map levels to the [-1, 1] scale of the likelihood and back.
    """

    bins: int = 256
    offset: float = 128.0
    half_width: float = PIC_HALF_WIDTH

    def __post_init__(self) -> None:
        if self.bins != 256:
            raise ValueError(f"PicLevels: PIC uses 256 levels, got {self.bins}")

    @cached_property
    def centres(self) -> np.ndarray:
        """(256,) float64 a*/b* values of the levels: -128 .. 127, read-only."""
        c = np.arange(self.bins) - self.offset
        c.flags.writeable = False
        return c

    def encode(self, ab: ArrayT) -> ArrayT:
        """a*/b* values (any shape) -> levels 0..255 (int64 / torch.long)."""
        _check_values(ab, "PicLevels.encode")
        shifted = _as_float(ab) + self.offset
        rounded = torch.round(shifted) if isinstance(shifted, torch.Tensor) else np.rint(shifted)
        return _to_index(d.clip(rounded, 0, self.bins - 1))

    def decode(self, levels: ArrayT, dtype: Any = None) -> ArrayT:
        """Levels 0..255 -> a*/b* = level - 128, float32 unless ``dtype``."""
        _check_indices(levels, self.bins, "PicLevels.decode")
        return _lookup(self.centres, levels, dtype)

    def to_unit(self, levels: ArrayT, dtype: Any = None) -> ArrayT:
        """Levels 0..255 -> x = 2k/255 - 1 in [-1, 1], float32 unless ``dtype``."""
        _check_indices(levels, self.bins, "PicLevels.to_unit")
        return _lookup(2.0 * np.arange(self.bins) / (self.bins - 1) - 1.0, levels, dtype)

    def from_unit(self, x: ArrayT) -> ArrayT:
        """x in [-1, 1] -> nearest level 0..255 (clipped)."""
        _check_values(x, "PicLevels.from_unit")
        scaled = (_as_float(x) + 1.0) * ((self.bins - 1) / 2.0)
        rounded = torch.round(scaled) if isinstance(scaled, torch.Tensor) else np.rint(scaled)
        return _to_index(d.clip(rounded, 0, self.bins - 1))


PIC_LEVELS = PicLevels()

_PIC_SCALE = (PIC_LEVELS.bins - 1) / 2.0  # 127.5 a* units per unit of x


def ab_to_pic(ab: ArrayT, quantize: bool = True) -> ArrayT:
    """a*, b* -> PIC's x in [-1, 1] (elementwise, any shape, dtype/device preserved for floats).

    With ``quantize`` (default) the values are first rounded to the 256 levels, so x lies exactly on
    the grid 2k/255 - 1 that the discretized logistic likelihood (bin half width 1/255) assumes;
    without it the affine map x = (ab + 128) / 127.5 - 1 is applied and clipped to [-1, 1].
    """
    _check_values(ab, "ab_to_pic")
    shifted = _float32_unless_float(ab) + PIC_LEVELS.offset
    if quantize:
        shifted = torch.round(shifted) if isinstance(shifted, torch.Tensor) else np.rint(shifted)
    return d.clip(shifted / _PIC_SCALE - 1.0, -1.0, 1.0)


def pic_to_ab(x: ArrayT) -> ArrayT:
    """PIC's x in [-1, 1] -> a*, b* = (x + 1) * 127.5 - 128 (continuous; a grid x gives an integer a*)."""
    _check_values(x, "pic_to_ab")
    return (x + 1.0) * _PIC_SCALE - PIC_LEVELS.offset
