"""numpy / torch dispatch shared by the color conversions (private).

Layout convention of the whole package:
- numpy arrays are channels-last: ``(..., 3)``;
- torch tensors are channels-first: ``(..., 3, H, W)`` (channels at dim -3).

Every helper keeps the input's kind, dtype and (for torch) device, so the conversions can be written
once with arithmetic operators plus the few helpers below. The helpers are generic in ``ArrayT`` (numpy
in, numpy out; torch in, torch out) and branch with ``isinstance`` so that type checkers follow along.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias, TypeVar, cast

import numpy as np
import torch

from colorstudio.errors import ColorStudioError

Array: TypeAlias = np.ndarray | torch.Tensor
ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


class ColorShapeError(ColorStudioError, ValueError):
    """A color array has the wrong shape, kind or dtype (both a ``ColorStudioError`` and a ``ValueError``)."""


def is_torch(x: object) -> bool:
    return isinstance(x, torch.Tensor)


def check_array(x: object, name: str) -> None:
    """Raise ``ColorShapeError`` unless ``x`` is a floating numpy array or torch tensor."""
    if isinstance(x, torch.Tensor):
        if not x.is_floating_point():
            raise ColorShapeError(f"{name}: expected a floating point tensor, got {x.dtype} (use to_float)")
        return
    if isinstance(x, (np.ndarray, np.generic)):  # numpy scalars come from indexing a single color
        if not np.issubdtype(x.dtype, np.floating):
            raise ColorShapeError(f"{name}: expected a floating point array, got {x.dtype} (use to_float)")
        return
    raise ColorShapeError(f"{name}: expected a numpy array or a torch tensor, got {type(x).__name__}")


def check_color(x: object, name: str) -> None:
    """Check a 3-channel image: numpy ``(..., 3)`` or torch ``(..., 3, H, W)``."""
    check_array(x, name)
    if isinstance(x, torch.Tensor):
        if x.ndim < 3 or x.shape[-3] != 3:
            raise ColorShapeError(
                f"{name}: a torch tensor must have shape (..., 3, H, W) (channels first), got {tuple(x.shape)}"
            )
    elif not isinstance(x, np.ndarray) or x.ndim < 1 or x.shape[-1] != 3:  # not isinstance: a numpy scalar
        shape = getattr(x, "shape", None)
        raise ColorShapeError(f"{name}: a numpy array must have shape (..., 3) (channels last), got {shape}")


def check_planes(planes: Sequence[object], names: Sequence[str]) -> None:
    """Check separate channel planes (e.g. hue, chroma, lightness): same kind, broadcastable shapes."""
    for plane, name in zip(planes, names, strict=True):
        check_array(plane, name)
    kinds = {is_torch(p) for p in planes}
    if len(kinds) != 1:
        raise ColorShapeError(f"{', '.join(names)}: mix of numpy arrays and torch tensors")
    shapes = [tuple(cast(Array, p).shape) for p in planes]  # check_array passed: each has a shape
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise ColorShapeError(f"{', '.join(names)}: shapes {shapes} do not broadcast") from None
    if kinds == {True} and any(len(s) < 2 for s in shapes):
        raise ColorShapeError(f"{', '.join(names)}: torch planes must have shape (..., H, W), got {shapes}")


def split_channels(x: ArrayT) -> tuple[ArrayT, ArrayT, ArrayT]:
    """The three channel planes: numpy ``(...)``, torch ``(..., H, W)``."""
    if isinstance(x, torch.Tensor):
        c0, c1, c2 = x.unbind(-3)
        return c0, c1, c2
    return x[..., 0], x[..., 1], x[..., 2]


def stack_channels(planes: Sequence[ArrayT]) -> ArrayT:
    """Inverse of ``split_channels`` (broadcasts the planes first)."""
    if isinstance(planes[0], torch.Tensor):
        return torch.stack(torch.broadcast_tensors(*planes), dim=-3)
    return np.stack(np.broadcast_arrays(*planes), axis=-1)


def apply_matrix(x: ArrayT, matrix: np.ndarray) -> ArrayT:
    """Per-pixel ``matrix @ color`` with the matrix made in ``x``'s dtype (and device)."""
    if isinstance(x, torch.Tensor):
        # via a list: the module-level matrices are read-only and torch warns on those buffers
        m = torch.tensor(matrix.tolist(), dtype=x.dtype, device=x.device)
        return torch.einsum("ij,...jhw->...ihw", m, x)
    if x.ndim > 1:
        return _apply_matrix_planes(x, matrix.astype(x.dtype, copy=False))
    return x @ matrix.T.astype(x.dtype, copy=False)


#: Pixels per pass of :func:`_apply_matrix_planes`: its three planes and accumulators stay in L2 cache.
_MATRIX_CHUNK = 1 << 15


def _apply_matrix_planes(x: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``matrix @ color`` for (..., 3) numpy as nine plane multiply-adds, on the calling thread.

    ``x @ matrix.T`` hands (N, 3) x (3, 3) to multi-threaded BLAS, which on a busy 2-core machine can
    wait for the second core (measured 64 ms instead of under 2 ms for 512 x 512 pixels). Plain ufuncs
    also round every pixel the same way wherever it sits in the array (no FMA, no SIMD-tail variant, as
    cv2.transform has), so a row tile converts bit for bit like the whole image. Done in chunks so that
    the planes stay in cache: 4 MP in about the time of an unstalled BLAS call.
    """
    flat = x.reshape(-1, 3)
    out = np.empty(flat.shape, dtype=x.dtype)
    count = flat.shape[0]
    size = min(_MATRIX_CHUNK, count)
    planes_buf = np.empty((3, size), dtype=x.dtype)
    acc_buf, scratch_buf = np.empty(size, dtype=x.dtype), np.empty(size, dtype=x.dtype)
    for start in range(0, count, _MATRIX_CHUNK):
        stop = min(start + _MATRIX_CHUNK, count)
        planes, acc, scratch = planes_buf[:, : stop - start], acc_buf[: stop - start], scratch_buf[: stop - start]
        np.copyto(planes, flat[start:stop].T)
        for channel, row in enumerate(matrix):
            np.multiply(planes[0], row[0], out=acc)
            acc += np.multiply(planes[1], row[1], out=scratch)
            acc += np.multiply(planes[2], row[2], out=scratch)
            out[start:stop, channel] = acc
    return out.reshape(x.shape)


def constant(value: Sequence[float] | float, like: ArrayT) -> ArrayT:
    """A constant in ``like``'s dtype (and device), shaped to broadcast against one channel plane."""
    if isinstance(like, torch.Tensor):
        return torch.as_tensor(value, dtype=like.dtype, device=like.device)
    return np.asarray(value, dtype=like.dtype)


def where(cond: ArrayT, a: ArrayT, b: ArrayT) -> ArrayT:
    if isinstance(cond, torch.Tensor):
        return torch.where(cond, a, b)
    return np.where(cond, a, b)


def maximum(a: ArrayT, b: ArrayT | float) -> ArrayT:
    if isinstance(a, torch.Tensor):
        return torch.clamp(a, min=b) if isinstance(b, float) else torch.maximum(a, b)
    return np.maximum(a, b)


def minimum(a: ArrayT, b: ArrayT | float) -> ArrayT:
    if isinstance(a, torch.Tensor):
        return torch.clamp(a, max=b) if isinstance(b, float) else torch.minimum(a, b)
    return np.minimum(a, b)


def clip(x: ArrayT, lo: float, hi: float) -> ArrayT:
    if isinstance(x, torch.Tensor):
        return x.clamp(lo, hi)
    return np.clip(x, lo, hi)


def cbrt(x: ArrayT) -> ArrayT:
    """Real cube root for ``x >= 0`` (callers clamp first)."""
    if isinstance(x, torch.Tensor):
        return x.pow(1.0 / 3.0)
    return np.cbrt(x)


def atan2(y: ArrayT, x: ArrayT) -> ArrayT:
    if isinstance(y, torch.Tensor):
        return torch.atan2(y, x)
    return np.arctan2(y, x)


def hypot(x: ArrayT, y: ArrayT) -> ArrayT:
    if isinstance(x, torch.Tensor):
        return torch.hypot(x, y)
    return np.hypot(x, y)


def cos(x: ArrayT) -> ArrayT:
    if isinstance(x, torch.Tensor):
        return torch.cos(x)
    return np.cos(x)


def sin(x: ArrayT) -> ArrayT:
    if isinstance(x, torch.Tensor):
        return torch.sin(x)
    return np.sin(x)


def floor(x: ArrayT) -> ArrayT:
    if isinstance(x, torch.Tensor):
        return torch.floor(x)
    return np.floor(x)


def abs_(x: ArrayT) -> ArrayT:
    if isinstance(x, torch.Tensor):
        return x.abs()
    return np.abs(x)


def channel_max_min(x: ArrayT) -> tuple[ArrayT, ArrayT]:
    """Per-pixel max and min over the channel axis."""
    if isinstance(x, torch.Tensor):
        return x.amax(dim=-3), x.amin(dim=-3)
    return x.max(axis=-1), x.min(axis=-1)
