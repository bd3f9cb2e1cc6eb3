"""Image input/output: read any supported photo into float sRGB, write PNG/TIFF results atomically.

- :func:`load_image` -> :class:`SourceImage` (float32 ``(H, W, 3)`` in [0, 1], 8/16-bit sources, EXIF
  orientation applied, ICC profile kept); :func:`luminance` gives its L* ``(H, W)`` in [0, 100].
- :func:`save_image` writes PNG or TIFF at 8 or 16 bits; :func:`save_gray_map` writes a map as PNG;
  :func:`save_uncertainty_map` writes the uncertainty map as the GUI shows it (colour maps and the
  stretch live in :mod:`colorstudio.io.maps`).

Every problem with a file is a :class:`~colorstudio.errors.ColorStudioError` naming the file.
"""

from colorstudio.io.maps import UNCERTAINTY_COLORMAP
from colorstudio.io.read import DEFAULT_MAX_PIXELS, SUPPORTED_FORMATS, SourceImage, load_image, luminance
from colorstudio.io.write import EXPORT_FORMATS, GRAY_MAP_COLORMAPS, save_gray_map, save_image, save_uncertainty_map

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "EXPORT_FORMATS",
    "GRAY_MAP_COLORMAPS",
    "SUPPORTED_FORMATS",
    "SourceImage",
    "UNCERTAINTY_COLORMAP",
    "load_image",
    "luminance",
    "save_gray_map",
    "save_image",
    "save_uncertainty_map",
]
