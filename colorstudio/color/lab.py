"""CIE L*a*b* and LCh (D65 white, 2 degree observer), matching skimage.color.rgb2lab / lab2rgb.

Ranges: L* in [0, 100]; a*, b* roughly [-128, 127] (sRGB colors span a* -86..98, b* -108..95).
Shapes: numpy ``(..., 3)`` channels last, torch ``(..., 3, H, W)``; dtype and device
preserved.

This module is also the single documented boundary for network normalization::

    L_norm  = (L - L_CENTER) / L_SCALE   # [0, 100] -> [-1, 1]
    ab_norm = ab / AB_SCALE              # |ab_norm| < 1 for every sRGB color (a* -86..98, b* -108..95)
"""

from __future__ import annotations

import math

import torch

from colorstudio.color import _dispatch as d
from colorstudio.color._dispatch import ArrayT
from colorstudio.color.srgb import linear_to_srgb
from colorstudio.color.xyz import D65_WHITE, rgb_to_xyz, xyz_to_rgb

__all__ = [
    "lightness_to_gray",
    "L_CENTER",
    "L_SCALE",
    "AB_SCALE",
    "normalize_l",
    "denormalize_l",
    "normalize_ab",
    "denormalize_ab",
    "xyz_to_lab",
    "lab_to_xyz",
    "rgb_to_lab",
    "lab_to_rgb",
    "lab_to_lch",
    "lch_to_lab",
]

L_CENTER = 50.0
L_SCALE = 50.0
AB_SCALE = 110.0

# CIE f(t) constants as written in skimage (the rounded 7.787 / 0.008856 forms, not 841/108 and
# (6/29)^3), so that values agree with skimage to float precision.
_EPSILON = 0.008856  # t above which f(t) = t^(1/3)
_KAPPA_SLOPE = 7.787
_F_OFFSET = 16.0 / 116.0
_F_KNEE = 0.2068966  # f(_EPSILON): inverse switches here


def normalize_l(L: ArrayT) -> ArrayT:
    """L* in [0, 100] -> network input in [-1, 1]."""
    return (L - L_CENTER) / L_SCALE


def denormalize_l(L_norm: ArrayT) -> ArrayT:
    """Network value in [-1, 1] -> L* in [0, 100]."""
    return L_norm * L_SCALE + L_CENTER


def normalize_ab(ab: ArrayT) -> ArrayT:
    """a*, b* -> ab / 110 (roughly [-1, 1])."""
    return ab / AB_SCALE


def denormalize_ab(ab_norm: ArrayT) -> ArrayT:
    """Network ab -> a*, b* (times 110)."""
    return ab_norm * AB_SCALE


def _f(t: ArrayT) -> ArrayT:
    # Clamp before the cube root so torch never differentiates t^(1/3) at 0 in the unused branch.
    return d.where(t > _EPSILON, d.cbrt(d.maximum(t, _EPSILON)), _KAPPA_SLOPE * t + _F_OFFSET)


def _f_inv(f: ArrayT) -> ArrayT:
    return d.where(f > _F_KNEE, f**3, (f - _F_OFFSET) / _KAPPA_SLOPE)


def xyz_to_lab(xyz: ArrayT) -> ArrayT:
    """CIE XYZ (Y of white = 1) -> L*a*b*, D65 white, 2 degree observer.

    Shapes: numpy ``(..., 3)``, torch ``(..., 3, H, W)``.
    """
    d.check_color(xyz, "xyz_to_lab")
    x, y, z = d.split_channels(xyz)
    wx, wy, wz = D65_WHITE
    fx, fy, fz = _f(x / wx), _f(y / wy), _f(z / wz)
    return d.stack_channels([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)])


def lab_to_xyz(lab: ArrayT) -> ArrayT:
    """L*a*b* -> CIE XYZ (Y of white = 1), D65 white, 2 degree observer.

    As in skimage, f(Z) is clamped at 0 for colors far outside any gamut (no warning is issued).
    Shapes: numpy ``(..., 3)``, torch ``(..., 3, H, W)``.
    """
    d.check_color(lab, "lab_to_xyz")
    L, a, b = d.split_channels(lab)
    fy = (L + 16.0) / 116.0
    fx = a / 500.0 + fy
    fz = d.maximum(fy - b / 200.0, 0.0)
    wx, wy, wz = D65_WHITE
    return d.stack_channels([_f_inv(fx) * wx, _f_inv(fy) * wy, _f_inv(fz) * wz])


def lightness_to_gray(L: ArrayT) -> ArrayT:
    """L* in [0, 100] (any shape) -> the sRGB gray value in [0, 1] of the same lightness (a* = b* = 0).

    Networks pretrained on RGB photos see a grayscale image as this value in all three channels.
    """
    return linear_to_srgb(_f_inv((L + 16.0) / 116.0))


def rgb_to_lab(rgb: ArrayT) -> ArrayT:
    """sRGB in [0, 1] -> L*a*b* (L* in [0, 100], a*, b* roughly [-128, 127]), D65, as skimage.rgb2lab.

    Shapes: numpy ``(..., 3)`` channels last, torch ``(..., 3, H, W)``; dtype/device preserved.
    Differentiable in torch (kinks only at the sRGB and CIE knees).
    """
    d.check_color(rgb, "rgb_to_lab")
    return xyz_to_lab(rgb_to_xyz(rgb))


def lab_to_rgb(lab: ArrayT, clip: bool = True) -> ArrayT:
    """L*a*b* (D65) -> sRGB, as skimage.lab2rgb; ``clip=True`` clips to [0, 1].

    With ``clip=False`` out-of-gamut colors come back outside [0, 1] (useful for gamut checks and
    lightness correction). Shapes: numpy ``(..., 3)``, torch ``(..., 3, H, W)``.
    """
    d.check_color(lab, "lab_to_rgb")
    return xyz_to_rgb(lab_to_xyz(lab), clip=clip)


def lab_to_lch(lab: ArrayT) -> tuple[ArrayT, ArrayT, ArrayT]:
    """L*a*b* -> (L*, C*, h): chroma C* = hypot(a*, b*) >= 0, hue h = atan2(b*, a*) in turns [0, 1).

    Returns three planes: numpy ``(...)``, torch ``(..., H, W)``. Gray (a* = b* = 0) gets h = 0.
    """
    d.check_color(lab, "lab_to_lch")
    L, a, b = d.split_channels(lab)
    L = L.clone() if isinstance(L, torch.Tensor) else L.copy()  # a fresh plane, not a view into ``lab``
    # atan2 and hypot have 0/0 gradients at a* = b* = 0: evaluate them at a dummy point there, so
    # torch gives zero (not NaN) gradients on exact grays.
    gray = (a == 0) & (b == 0)
    a_safe = d.where(gray, d.constant(1.0, a), a)
    hue = d.atan2(b, a_safe) / (2.0 * math.pi)
    hue = d.where(hue < 0, hue + 1.0, hue)
    # -tiny + 1 rounds to exactly 1.0 in float; keep h strictly below one turn.
    hue = d.where(hue >= 1.0, hue - 1.0, hue)
    zero = d.constant(0.0, a)
    return L, d.where(gray, zero, d.hypot(a_safe, b)), d.where(gray, zero, hue)


def lch_to_lab(L: ArrayT, C: ArrayT, h: ArrayT) -> ArrayT:
    """(L*, C*, hue in turns) -> L*a*b*; planes numpy ``(...)`` / torch ``(..., H, W)``, broadcastable."""
    d.check_planes([L, C, h], ["L", "C", "h"])
    angle = h * (2.0 * math.pi)
    return d.stack_channels([L, C * d.cos(angle), C * d.sin(angle)])
