"""Color science for ColorStudio: sRGB, XYZ, Lab/LCh, YCbCr, Larsson's HSL bicone, quantizers.

Every conversion takes a numpy array (channels last, ``(..., 3)``) or a torch tensor (channels at dim
-3, ``(..., 3, H, W)``) and returns the same kind with float32/float64 preserved. Lab is D65 / 2 degree
and matches ``skimage.color.rgb2lab``. Network normalization lives in :mod:`colorstudio.color.lab`.
"""

from colorstudio.color._dispatch import ColorShapeError
from colorstudio.color.bicone import bicone_to_rgb, rgb_to_bicone
from colorstudio.color.lab import (
    AB_SCALE,
    L_CENTER,
    L_SCALE,
    denormalize_ab,
    denormalize_l,
    lab_to_lch,
    lab_to_rgb,
    lab_to_xyz,
    lch_to_lab,
    lightness_to_gray,
    normalize_ab,
    normalize_l,
    rgb_to_lab,
    xyz_to_lab,
)
from colorstudio.color.quantize import (
    BICONE_CHROMA_QUANTIZER,
    CHROMA_MAX,
    CHROMA_QUANTIZER,
    HUE_QUANTIZER,
    PIC_HALF_WIDTH,
    PIC_LEVELS,
    YCBCR_QUANTIZER,
    CircularQuantizer,
    PicLevels,
    UniformQuantizer,
    ab_to_pic,
    pic_to_ab,
)
from colorstudio.color.srgb import linear_to_srgb, srgb_to_linear, to_float, to_uint
from colorstudio.color.xyz import D65_WHITE, rgb_to_xyz, xyz_to_linear_rgb, xyz_to_rgb
from colorstudio.color.ycbcr import rgb_to_ycbcr, ycbcr_to_rgb

__all__ = [
    "AB_SCALE",
    "BICONE_CHROMA_QUANTIZER",
    "CHROMA_MAX",
    "CHROMA_QUANTIZER",
    "CircularQuantizer",
    "ColorShapeError",
    "D65_WHITE",
    "HUE_QUANTIZER",
    "L_CENTER",
    "L_SCALE",
    "PIC_HALF_WIDTH",
    "PIC_LEVELS",
    "PicLevels",
    "UniformQuantizer",
    "YCBCR_QUANTIZER",
    "ab_to_pic",
    "bicone_to_rgb",
    "denormalize_ab",
    "denormalize_l",
    "lab_to_lch",
    "lab_to_rgb",
    "lab_to_xyz",
    "lch_to_lab",
    "lightness_to_gray",
    "linear_to_srgb",
    "normalize_ab",
    "normalize_l",
    "pic_to_ab",
    "rgb_to_bicone",
    "rgb_to_lab",
    "rgb_to_xyz",
    "rgb_to_ycbcr",
    "srgb_to_linear",
    "to_float",
    "to_uint",
    "xyz_to_lab",
    "xyz_to_linear_rgb",
    "xyz_to_rgb",
    "ycbcr_to_rgb",
]
