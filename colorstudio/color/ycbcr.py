"""sRGB <-> YCbCr, JPEG/JFIF full range (ITU-T T.871), as used by PixColor.

Y, Cb, Cr are all in [0, 1] for sRGB in [0, 1]; Cb and Cr carry the +0.5 offset (0.5 = no chroma).
Shapes: numpy ``(..., 3)`` channels last, torch ``(..., 3, H, W)``; dtype and device preserved.
Note this is not skimage.rgb2ycbcr (studio range 16..235); it equals Pillow's "YCbCr" mode and
OpenCV's COLOR_RGB2YCrCb on float input (with Cr, Cb order swapped there).
"""

from __future__ import annotations

import numpy as np

from colorstudio.color import _dispatch as d
from colorstudio.color._dispatch import ArrayT

__all__ = ["YCBCR_FROM_RGB", "RGB_FROM_YCBCR", "rgb_to_ycbcr", "ycbcr_to_rgb"]

# BT.601 luma weights; Cb = 0.5 (B - Y) / (1 - 0.114), Cr = 0.5 (R - Y) / (1 - 0.299).
YCBCR_FROM_RGB = np.array(
    [
        [0.299, 0.587, 0.114],
        [-0.168735892, -0.331264108, 0.5],
        [0.5, -0.418687589, -0.081312411],
    ]
)
# The exact inverse (1.402, -0.344136, -0.714136, 1.772), so round trips are exact to float precision.
RGB_FROM_YCBCR = np.linalg.inv(YCBCR_FROM_RGB)
YCBCR_FROM_RGB.flags.writeable = False
RGB_FROM_YCBCR.flags.writeable = False

_CHROMA_OFFSET = (0.0, 0.5, 0.5)


def _offset(like: ArrayT) -> ArrayT:
    off = d.constant(_CHROMA_OFFSET, like)
    return off[:, None, None] if d.is_torch(like) else off  # broadcast over (..., 3, H, W)


def rgb_to_ycbcr(rgb: ArrayT) -> ArrayT:
    """sRGB in [0, 1] -> (Y, Cb, Cr) in [0, 1], JPEG full range; no clipping."""
    d.check_color(rgb, "rgb_to_ycbcr")
    return d.apply_matrix(rgb, YCBCR_FROM_RGB) + _offset(rgb)


def ycbcr_to_rgb(ycc: ArrayT, clip: bool = False) -> ArrayT:
    """(Y, Cb, Cr) JPEG full range -> sRGB; out-of-gamut values are kept unless ``clip`` (to [0, 1])."""
    d.check_color(ycc, "ycbcr_to_rgb")
    rgb = d.apply_matrix(ycc - _offset(ycc), RGB_FROM_YCBCR)
    return d.clip(rgb, 0.0, 1.0) if clip else rgb
