"""JPEG full-range YCbCr: values vs OpenCV and Pillow, round trip, numpy/torch."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from colorstudio.color import ColorShapeError, rgb_to_ycbcr, ycbcr_to_rgb


def test_known_values():
    ycc = rgb_to_ycbcr(np.array([[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 0, 1.0]]))
    np.testing.assert_allclose(ycc[0], [0, 0.5, 0.5], atol=1e-12)
    np.testing.assert_allclose(ycc[1], [1, 0.5, 0.5], atol=1e-9)
    np.testing.assert_allclose(ycc[2], [0.299, 0.5 - 0.168736, 1.0], atol=1e-6)
    np.testing.assert_allclose(ycc[3], [0.114, 1.0, 0.5 - 0.081312], atol=1e-6)


def test_matches_opencv_float():
    rgb = np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)
    ycrcb = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)  # OpenCV rounds the coefficients to 3 digits
    np.testing.assert_allclose(rgb_to_ycbcr(rgb), ycrcb[..., [0, 2, 1]], atol=2e-3)


def test_matches_pillow_uint8():
    rgb8 = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    pil = np.asarray(Image.fromarray(rgb8).convert("YCbCr"), dtype=np.float64)
    assert np.abs(rgb_to_ycbcr(rgb8 / 255.0) * 255.0 - pil).max() <= 1.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_and_torch_agreement(dtype):
    rgb = np.random.default_rng(2).random((5, 7, 3)).astype(dtype)
    ycc = rgb_to_ycbcr(rgb)
    assert ycc.dtype == dtype and ycc.min() >= 0 and ycc.max() <= 1
    np.testing.assert_allclose(ycbcr_to_rgb(ycc), rgb, atol=1e-6 if dtype == np.float32 else 1e-12)
    t = torch.from_numpy(rgb).permute(2, 0, 1)[None]
    ycc_t = rgb_to_ycbcr(t)
    assert ycc_t.shape == (1, 3, 5, 7)
    np.testing.assert_allclose(ycc_t[0].permute(1, 2, 0).numpy(), ycc, atol=1e-6)
    np.testing.assert_allclose(ycbcr_to_rgb(ycc_t).numpy(), t.numpy(), atol=1e-6)


def test_clip_option():
    out_of_gamut = np.array([0.5, 1.0, 1.0])
    assert ycbcr_to_rgb(out_of_gamut).max() > 1.0
    assert ycbcr_to_rgb(out_of_gamut, clip=True).max() == 1.0


def test_bad_shape_raises():
    with pytest.raises(ColorShapeError):
        rgb_to_ycbcr(torch.zeros(2, 2, 3))
