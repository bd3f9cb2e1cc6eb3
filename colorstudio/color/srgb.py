"""sRGB transfer function (IEC 61966-2-1) and 8/16-bit integer <-> float conversion.

Conversions accept a numpy array or a torch tensor and return the same kind, dtype preserved.
The transfer functions are elementwise, so any shape works.
"""

from __future__ import annotations

from typing import TypeGuard

import numpy as np
import torch

from colorstudio.color import _dispatch as d
from colorstudio.color._dispatch import Array, ArrayT, ColorShapeError

__all__ = ["srgb_to_linear", "linear_to_srgb", "to_float", "to_uint"]

# IEC 61966-2-1 constants, the same thresholds as skimage.color.rgb2xyz / xyz2rgb.
_SRGB_KNEE = 0.04045  # encoded value where the curve switches from linear to power
_LINEAR_KNEE = 0.0031308  # the same point on the linear side
_SLOPE = 12.92
_GAMMA = 2.4
_OFFSET = 0.055


def srgb_to_linear(x: ArrayT) -> ArrayT:
    """Decode sRGB values to linear light (elementwise, any shape).

    ``x`` in [0, 1] gives [0, 1]; values outside are extended (linear segment below the knee, power law
    above) without clipping.
    """
    d.check_array(x, "srgb_to_linear")
    if _in_place_ok(x):
        out = np.maximum(x, _SRGB_KNEE)
        out += _OFFSET
        out /= 1.0 + _OFFSET
        np.power(out, _GAMMA, out=out)
        np.copyto(out, x / _SLOPE, where=x <= _SRGB_KNEE)
        return out
    # The power branch sees the value clamped to its own domain so that torch.where never
    # back-propagates a NaN from the branch it did not select.
    power = ((d.maximum(x, _SRGB_KNEE) + _OFFSET) / (1.0 + _OFFSET)) ** _GAMMA
    return d.where(x > _SRGB_KNEE, power, x / _SLOPE)


def linear_to_srgb(x: ArrayT) -> ArrayT:
    """Encode linear light to sRGB values (elementwise, any shape, no clipping)."""
    d.check_array(x, "linear_to_srgb")
    if _in_place_ok(x):
        out = np.maximum(x, _LINEAR_KNEE)
        np.power(out, 1.0 / _GAMMA, out=out)
        out *= 1.0 + _OFFSET
        out -= _OFFSET
        np.copyto(out, x * _SLOPE, where=x <= _LINEAR_KNEE)
        return out
    power = (1.0 + _OFFSET) * d.maximum(x, _LINEAR_KNEE) ** (1.0 / _GAMMA) - _OFFSET
    return d.where(x > _LINEAR_KNEE, power, x * _SLOPE)


def _in_place_ok(x: Array) -> TypeGuard[np.ndarray]:
    """numpy arrays take the in-place path: the same formula as the generic one, in one buffer.

    The generic ``where(cond, power, linear)`` allocates five temporaries; on 512 x 512 x 3 float32 the
    in-place form takes 3.5 ms instead of 9 ms (np.power on float32 is vectorized; a lookup table with
    interpolation measured slower, 5.8 ms, and less exact, 9e-7). Torch keeps the generic form (autograd).
    """
    return isinstance(x, np.ndarray) and x.ndim > 0


_UINT_DTYPES = {8: np.uint8, 16: np.uint16}


def to_float(arr: ArrayT) -> ArrayT:
    """Integer image -> float32 in [0, 1]: uint8 is divided by 255, uint16 by 65535.

    Float input is returned as float32 with its values unchanged. Works on numpy arrays and torch
    tensors (torch.uint8 / torch.uint16), any shape.
    """
    if isinstance(arr, torch.Tensor):
        if arr.dtype == torch.uint8:
            return arr.to(torch.float32) / 255.0
        if arr.dtype == torch.uint16:
            return arr.to(torch.float32) / 65535.0
        if arr.is_floating_point():
            return arr.to(torch.float32)
        raise ColorShapeError(f"to_float: unsupported dtype {arr.dtype} (expected uint8, uint16 or float)")
    if not isinstance(arr, np.ndarray):
        raise ColorShapeError(f"to_float: expected a numpy array or a torch tensor, got {type(arr).__name__}")
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / np.float32(255.0)
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / np.float32(65535.0)
    if np.issubdtype(arr.dtype, np.floating):
        return arr.astype(np.float32, copy=False)
    raise ColorShapeError(f"to_float: unsupported dtype {arr.dtype} (expected uint8, uint16 or float)")


def to_uint(arr: ArrayT, bits: int = 8) -> ArrayT:
    """Float image in [0, 1] -> uint8 (``bits=8``) or uint16 (``bits=16``), rounded to the nearest level.

    Values outside [0, 1] are clipped and NaN becomes 0, so the result is always a valid image.
    Rounding happens in float64 so that a 16-bit value survives ``to_uint(to_float(v), 16) == v``.
    """
    if bits not in _UINT_DTYPES:
        raise ColorShapeError(f"to_uint: bits must be 8 or 16, got {bits}")
    levels = float(2**bits - 1)
    if isinstance(arr, torch.Tensor):
        if not arr.is_floating_point():
            raise ColorShapeError(f"to_uint: expected a floating point tensor, got {arr.dtype}")
        scaled = torch.nan_to_num(arr.to(torch.float64), nan=0.0).clamp(0.0, 1.0) * levels
        return scaled.round().to(torch.uint8 if bits == 8 else torch.uint16)
    if not isinstance(arr, np.ndarray) or not np.issubdtype(arr.dtype, np.floating):
        raise ColorShapeError("to_uint: expected a floating point numpy array or torch tensor")
    scaled_np = np.clip(np.nan_to_num(arr.astype(np.float64), nan=0.0), 0.0, 1.0) * levels
    return np.rint(scaled_np).astype(_UINT_DTYPES[bits])
