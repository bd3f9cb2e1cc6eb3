"""Issue 16, item 14: the written uncertainty map is stretched, smooth, in the GUI overlay's colour map,
and carries its legend."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from colorstudio.io import UNCERTAINTY_COLORMAP, save_uncertainty_map
from colorstudio.io.maps import colormap_lut, colormap_rgb, stretch, stretch_range, upsample_map


def lut_indices(rgb: np.ndarray, colormap: str = UNCERTAINTY_COLORMAP) -> tuple[np.ndarray, np.ndarray]:
    """Nearest colour-map level of each pixel, and the squared RGB distance to it."""
    lut = colormap_lut(colormap).astype(np.int32)
    pixels = rgb.reshape(-1, 3).astype(np.int32)
    distance = ((pixels[:, None, :] - lut[None]) ** 2).sum(-1)
    return distance.argmin(-1), distance.min(-1)


def installed(name: str) -> bool:
    from colorstudio.families import REGISTRY

    return any(c.name == name and c.available for c in REGISTRY.model_choices())


def test_cli_map_of_a_real_photo_spans_the_colour_map(tmp_path):
    """The trained histogram model on a real photo: the map used to peak at 83/255 (a dark veil)."""
    from skimage import data

    from colorstudio.cli import main

    if not installed("histogram"):
        pytest.skip("the trained histogram model is not installed")
    photo = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).convert("L").save(photo)
    umap = tmp_path / "astronaut.uncertainty.png"
    assert main(["colorize", str(photo), "-o", str(tmp_path / "out.png"), "--model", "histogram",
                 "--uncertainty", str(umap)]) == 0
    written = Image.open(umap)
    rgb = np.asarray(written.convert("RGB"))
    assert rgb.shape == (512, 512, 3)
    levels, error = lut_indices(rgb[::4, ::4])
    assert error.max() <= 3  # every pixel is a colour of the overlay's colour map
    low, high = np.percentile(levels, [1, 99])
    assert low <= 16 and high >= 240, (low, high)  # stretched over (nearly) all of 0..255
    description = written.text["Description"]
    assert UNCERTAINTY_COLORMAP in description and "confident" in description and "unsure" in description
    lo, hi = (float(v) for v in written.text["Value range"].split())
    assert 0.0 <= lo < hi <= 1.0


def test_written_map_is_the_overlay_colouring(tmp_path):
    rng = np.random.default_rng(0)
    values = np.clip(rng.normal(0.2, 0.05, (8, 10)), 0, 1).astype(np.float32)
    path, value_range = save_uncertainty_map(tmp_path / "u.png", values, (40, 32))
    assert value_range == stretch_range(values)
    expected = colormap_rgb(stretch(upsample_map(values, (40, 32)), value_range), UNCERTAINTY_COLORMAP)
    np.testing.assert_array_equal(np.asarray(Image.open(path).convert("RGB")), expected)


def test_upsampling_is_smooth_not_faceted():
    """Bilinear upsampling of a coarse grid is piecewise linear: its second differences vanish inside every
    cell and spike on the cell borders (the blocky look). Bicubic bends everywhere."""
    rng = np.random.default_rng(1)
    coarse = rng.uniform(0.1, 0.5, (8, 8)).astype(np.float32)
    smooth = upsample_map(coarse, (128, 128))
    faceted = cv2.resize(coarse, (128, 128), interpolation=cv2.INTER_LINEAR)

    def bending(image: np.ndarray) -> float:
        second = np.abs(np.diff(image.astype(np.float64), n=2, axis=1))[16:-16, 16:-16]
        return float((second > 1e-6).mean())

    assert bending(faceted) < 0.3 and bending(smooth) > 0.8
    assert smooth.min() >= coarse.min() and smooth.max() <= coarse.max()  # no overshoot past the data
