"""Scalar maps shown as colour (the uncertainty map): one definition for the GUI overlay and written files.

The uncertainty map is on a fixed [0, 1] scale, but real predictions sit mostly in [0, 0.5]: shown or
written as is, they are a dark, nearly uniform veil (the CLI's map peaked at 83/255). So a map is
*stretched* over a value range (by default this map's 2nd..98th percentile), coloured through
:data:`UNCERTAINTY_COLORMAP`, and upsampled smoothly (bicubic) from the model's coarse grid. The range
is the legend: the GUI labels its colour bar with it, written PNGs carry it as text
(:func:`colorstudio.io.write.save_uncertainty_map`).
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = [
    "COLORMAP_NAMES",
    "FIXED_RANGE",
    "MIN_SPAN",
    "OVERLAY_COLORMAPS",
    "UNCERTAINTY_COLORMAP",
    "colormap_lut",
    "colormap_rgb",
    "stretch",
    "stretch_range",
    "uncertainty_legend",
    "upsample_map",
]

_PREFIX = "COLORMAP_"
_OPENCV_COLORMAPS = {name[len(_PREFIX):].lower(): getattr(cv2, name) for name in dir(cv2) if name.startswith(_PREFIX)}
COLORMAP_NAMES = tuple(sorted(_OPENCV_COLORMAPS))
"""Every colour map name :func:`colormap_rgb` accepts (OpenCV's: "inferno", "magma", "viridis", ...)."""
UNCERTAINTY_COLORMAP = "inferno"  # dark = confident, bright = unsure; perceptually ordered, fine in gray print
OVERLAY_COLORMAPS = ("inferno", "viridis", "magma", "turbo")  # offered in the GUI, the default first
FIXED_RANGE = (0.0, 0.5)  # comparable between photos
MIN_SPAN = 0.02  # a nearly flat map is not stretched into noise
PERCENTILES = (2.0, 98.0)


def stretch_range(values: np.ndarray, mode: str = "auto") -> tuple[float, float]:
    """The (lo, hi) of ``values`` that the colour map spans.

    ``"auto"``: the 2nd..98th percentile of this map (where *in this photo* the model is least sure);
    ``"fixed"``: :data:`FIXED_RANGE`. The span is at least :data:`MIN_SPAN` so a flat map stays flat.
    """
    if mode == "fixed":
        return FIXED_RANGE
    finite = np.asarray(values)[np.isfinite(values)]
    if finite.size == 0:
        return FIXED_RANGE
    lo, hi = (float(v) for v in np.percentile(finite, PERCENTILES))
    if hi - lo < MIN_SPAN:
        mid = 0.5 * (lo + hi)
        lo = max(0.0, mid - MIN_SPAN / 2)
        hi = lo + MIN_SPAN
    return lo, hi


def stretch(values: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """(h, w) values -> [0, 1] float32, linear over ``value_range`` and clipped."""
    lo, hi = value_range
    return np.clip((np.nan_to_num(np.asarray(values, np.float32)) - lo) / max(hi - lo, 1e-6), 0.0, 1.0)


def _colormap_id(name: str) -> int:
    key = name.lower()
    if key not in _OPENCV_COLORMAPS:
        raise ValueError(f"unknown colour map {name!r} (choose from {', '.join(COLORMAP_NAMES)})")
    return _OPENCV_COLORMAPS[key]


def colormap_rgb(stretched: np.ndarray, name: str = UNCERTAINTY_COLORMAP) -> np.ndarray:
    """(h, w) in [0, 1] -> (h, w, 3) uint8 sRGB through colour map ``name`` (0 -> its first entry)."""
    levels = np.ascontiguousarray(np.clip(np.rint(np.asarray(stretched, np.float32) * 255.0), 0, 255).astype(np.uint8))
    return np.ascontiguousarray(cv2.applyColorMap(levels, _colormap_id(name))[..., ::-1])


def colormap_lut(name: str = UNCERTAINTY_COLORMAP) -> np.ndarray:
    """(256, 3) uint8: the colour of each level (for legends and for checking a written map)."""
    return colormap_rgb(np.linspace(0.0, 1.0, 256, dtype=np.float32)[None], name)[0]


def upsample_map(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w) -> (H, W) float32 for ``size = (W, H)``: bicubic, so a coarse grid (32x32 under a 512 px
    photo) gives smooth gradients instead of bilinear's visible facets; clipped to the input's range
    (bicubic overshoots at steps)."""
    arr = np.asarray(values, np.float32)
    width, height = (int(v) for v in size)
    if arr.shape == (height, width):
        return arr.copy()
    up = cv2.resize(arr, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(up, float(arr.min()), float(arr.max()))


def uncertainty_legend(value_range: tuple[float, float], colormap: str = UNCERTAINTY_COLORMAP) -> str:
    lo, hi = value_range
    return (f"ColorStudio uncertainty map (entropy of the predicted hue x chroma, 0 = certain, 1 = anything goes), "
            f"colour map {colormap}: its darkest colour = {lo:.3f} or less (confident), its brightest = {hi:.3f} "
            f"or more (unsure), linear between; stretched to this photo's {PERCENTILES[0]:g}th..{PERCENTILES[1]:g}th "
            "percentile")
