"""sRGB <-> CIE XYZ (D65 white, 2 degree observer), the same matrices as scikit-image.

numpy: ``(..., 3)`` channels last; torch: ``(..., 3, H, W)``. dtype (and device) preserved.
"""

from __future__ import annotations

import numpy as np

from colorstudio.color import _dispatch as d
from colorstudio.color._dispatch import ArrayT
from colorstudio.color.srgb import linear_to_srgb, srgb_to_linear

__all__ = ["XYZ_FROM_RGB", "RGB_FROM_XYZ", "D65_WHITE", "rgb_to_xyz", "xyz_to_linear_rgb", "xyz_to_rgb"]

# sRGB primaries, D65 white; the values of skimage.color.colorconv.xyz_from_rgb (kept identical so our
# Lab equals skimage's to float precision rather than to the 4th digit).
XYZ_FROM_RGB = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ]
)
RGB_FROM_XYZ = np.linalg.inv(XYZ_FROM_RGB)
XYZ_FROM_RGB.flags.writeable = False
RGB_FROM_XYZ.flags.writeable = False

#: Reference white (X, Y, Z) of illuminant D65, 2 degree observer, Y = 1 (skimage's value).
D65_WHITE = (0.95047, 1.0, 1.08883)


def rgb_to_xyz(rgb: ArrayT) -> ArrayT:
    """sRGB in [0, 1] -> CIE XYZ (Y of white = 1), D65.

    Shapes: numpy ``(..., 3)``, torch ``(..., 3, H, W)``; no clipping.
    """
    d.check_color(rgb, "rgb_to_xyz")
    return d.apply_matrix(srgb_to_linear(rgb), XYZ_FROM_RGB)


def xyz_to_linear_rgb(xyz: ArrayT) -> ArrayT:
    """CIE XYZ (D65, Y of white = 1) -> linear-light sRGB: the matrix only, no transfer curve, no clipping.

    Out-of-gamut colors come back outside [0, 1] (for gamut mapping in linear light). The luminance row
    of the inverse matrix sums to one, so a gray (Y, Y, Y) has Y = that gray. Shapes: numpy ``(..., 3)``,
    torch ``(..., 3, H, W)``.
    """
    d.check_color(xyz, "xyz_to_linear_rgb")
    return d.apply_matrix(xyz, RGB_FROM_XYZ)


def xyz_to_rgb(xyz: ArrayT, clip: bool = True) -> ArrayT:
    """CIE XYZ (D65, Y of white = 1) -> sRGB; with ``clip`` the result is clipped to [0, 1] (as skimage).

    Shapes: numpy ``(..., 3)``, torch ``(..., 3, H, W)``.
    """
    d.check_color(xyz, "xyz_to_rgb")
    rgb = linear_to_srgb(xyz_to_linear_rgb(xyz))
    return d.clip(rgb, 0.0, 1.0) if clip else rgb
