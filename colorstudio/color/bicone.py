"""Larsson et al. (2016) HSL bicone: hue, chroma, lightness of sRGB.

- hue: the HSV hue as a fraction of a turn, in [0, 1) (0 = red, 1/3 = green, 2/3 = blue); 0 for grays
  (as skimage.rgb2hsv).
- chroma: ``max(R, G, B) - min(R, G, B)`` in [0, 1] (the bicone's radius).
- lightness: ``(max + min) / 2`` in [0, 1].

For sRGB in [0, 1], chroma <= 1 - |2 lightness - 1| (the bicone); ``bicone_to_rgb`` inverts exactly
inside it. Planes: numpy ``(...)``, torch ``(..., H, W)``; images: numpy ``(..., 3)``, torch
``(..., 3, H, W)``.
"""

from __future__ import annotations

from colorstudio.color import _dispatch as d
from colorstudio.color._dispatch import ArrayT

__all__ = ["rgb_to_bicone", "bicone_to_rgb"]


def rgb_to_bicone(rgb: ArrayT) -> tuple[ArrayT, ArrayT, ArrayT]:
    """sRGB in [0, 1] -> (hue in turns [0, 1), chroma in [0, 1], lightness in [0, 1])."""
    d.check_color(rgb, "rgb_to_bicone")
    r, g, b = d.split_channels(rgb)
    vmax, vmin = d.channel_max_min(rgb)
    chroma = vmax - vmin
    gray = chroma <= 0
    safe = d.where(gray, d.constant(1.0, chroma), chroma)  # no 0/0 (and no NaN gradient) on grays
    # HSV hue sextant; when two channels tie for the max the branches agree (mod 6).
    sextant = d.where(
        b >= vmax,
        4.0 + (r - g) / safe,
        d.where(g >= vmax, 2.0 + (b - r) / safe, (g - b) / safe),
    )
    hue = sextant / 6.0
    hue = d.where(hue < 0, hue + 1.0, hue)
    hue = d.where(hue >= 1.0, hue - 1.0, hue)
    hue = d.where(gray, d.constant(0.0, hue), hue)
    return hue, chroma, (vmax + vmin) / 2.0


def bicone_to_rgb(hue: ArrayT, chroma: ArrayT, lightness: ArrayT) -> ArrayT:
    """(hue in turns, chroma, lightness) -> sRGB; hue wraps (any real value is taken mod 1).

    Channel n of the result is ``L - C/2 * clamp(min(k - 3, 9 - k), -1, 1)`` with
    ``k = (n + 12 h) mod 12`` for n = 0, 8, 4 (R, G, B): the HSL formula written with chroma.
    Points outside the bicone give values outside [0, 1]; no clipping.
    """
    d.check_planes([hue, chroma, lightness], ["hue", "chroma", "lightness"])
    turns12 = 12.0 * (hue - d.floor(hue))

    def channel(n: float) -> ArrayT:
        k = n + turns12
        k = d.where(k >= 12.0, k - 12.0, k)
        ramp = d.clip(d.minimum(k - 3.0, 9.0 - k), -1.0, 1.0)
        return lightness - 0.5 * chroma * ramp

    return d.stack_channels([channel(0.0), channel(8.0), channel(4.0)])
