"""The installed histogram model: a new hint makes the colour under it certain.

The uncertainty map (hue entropy x chroma, Larsson et al.) is read on the model's working grid before and
after one hint with the photo's own colour is added, as the window does when a user clicks. (Around the
hinted cell the map can still rise: there the network's and the hint's distributions are mixed, and
where they disagree the mixture's hue entropy grows.)
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data

from colorstudio.color import rgb_to_lab, to_float
from colorstudio.engine.hints import Hint, rasterize_hints
from colorstudio.engine.pipeline import resize_lightness
from colorstudio.families import load_colorizer
from colorstudio.models.decoding import uncertainty_map

GRID = (0.3, 0.5, 0.7)  # hint positions, as fractions of the width and height
RADIUS = 6.0  # source pixels, about what a click leaves


def _uncertainty(colorizer, lightness: np.ndarray, hints: list[Hint], source_size: tuple[int, int]) -> np.ndarray:
    work = colorizer.working_size(source_size)
    hint_ab, hint_mask = rasterize_hints(hints, source_size=source_size, work_size=work)
    histograms = colorizer.distributions(resize_lightness(lightness, work), hint_ab, hint_mask)
    return uncertainty_map(histograms.hue, histograms.chroma)


@pytest.fixture(scope="module")
def colorizer():
    return load_colorizer("histogram", torch.device("cpu"))


@pytest.mark.parametrize("photo", ["astronaut", "chelsea", "coffee"])
def test_uncertainty_falls_under_a_new_hint(colorizer, photo):
    rgb = getattr(data, photo)()
    height, width = rgb.shape[:2]
    lightness = rgb_to_lab(to_float(rgb))[..., 0].astype(np.float32)
    before = _uncertainty(colorizer, lightness, [], (width, height))
    work_width, work_height = colorizer.working_size((width, height))
    cell = 4  # working pixels per uncertainty cell
    for fy in GRID:
        for fx in GRID:
            x, y = fx * width, fy * height
            colour = "#" + "".join(f"{v:02x}" for v in rgb[int(y), int(x)])
            after = _uncertainty(colorizer, lightness, [Hint(x, y, RADIUS, colour)], (width, height))
            cx, cy = int(x * work_width / width) // cell, int(y * work_height / height) // cell
            assert after[cy, cx] < before[cy, cx], f"{photo} at ({x:.0f}, {y:.0f})"
