"""Larsson's HSL bicone: hue vs skimage HSV, definitions, round trip, numpy/torch, errors."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.color as skc
import torch

from colorstudio.color import ColorShapeError, bicone_to_rgb, rgb_to_bicone

PRIMARIES = np.array(
    [[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 1, 1], [0, 0, 1], [1, 0, 1], [0, 0, 0], [1, 1, 1], [0.5, 0.5, 0.5]],
    dtype=np.float64,
)


def test_primaries_and_grays():
    hue, chroma, lightness = rgb_to_bicone(PRIMARIES)
    np.testing.assert_allclose(hue, [0, 1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6, 0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(chroma, [1, 1, 1, 1, 1, 1, 0, 0, 0])
    np.testing.assert_allclose(lightness, [0.5] * 6 + [0, 1, 0.5])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_definitions_and_skimage_hsv(dtype):
    rgb = np.concatenate([np.random.default_rng(0).random((400, 3)), PRIMARIES]).astype(dtype)
    hue, chroma, lightness = rgb_to_bicone(rgb)
    assert hue.dtype == dtype and hue.shape == (rgb.shape[0],)
    np.testing.assert_allclose(chroma, rgb.max(-1) - rgb.min(-1))
    np.testing.assert_allclose(lightness, (rgb.max(-1) + rgb.min(-1)) / 2)
    np.testing.assert_allclose(hue, skc.rgb2hsv(rgb)[..., 0], atol=1e-6)
    assert hue.min() >= 0 and hue.max() < 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip(dtype):
    rgb = np.concatenate([np.random.default_rng(1).random((400, 3)), PRIMARIES]).astype(dtype)
    np.testing.assert_allclose(bicone_to_rgb(*rgb_to_bicone(rgb)), rgb, atol=1e-6 if dtype == np.float32 else 1e-12)


def test_hue_wraps_on_inverse():
    hue, chroma, lightness = rgb_to_bicone(np.array([0.9, 0.2, 0.4]))
    np.testing.assert_allclose(bicone_to_rgb(hue + 1.0, chroma, lightness), [0.9, 0.2, 0.4])
    np.testing.assert_allclose(bicone_to_rgb(hue - 3.0, chroma, lightness), [0.9, 0.2, 0.4])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_numpy_and_torch_agree(dtype):
    t = torch.rand(2, 3, 4, 5, generator=torch.Generator().manual_seed(0), dtype=dtype)
    planes = rgb_to_bicone(t)
    assert all(p.shape == (2, 4, 5) and p.dtype == dtype for p in planes)
    ref = rgb_to_bicone(t.movedim(1, -1).numpy())
    for ours, expected in zip(planes, ref, strict=True):
        np.testing.assert_allclose(ours.numpy(), expected, atol=1e-6)
    back = bicone_to_rgb(*planes)
    assert back.shape == t.shape
    np.testing.assert_allclose(back.numpy(), t.numpy(), atol=1e-6)


def test_gradient_is_finite_on_grays():
    rgb = torch.full((3, 2, 2), 0.5, dtype=torch.float64, requires_grad=True)
    hue, chroma, lightness = rgb_to_bicone(rgb)
    (hue.sum() + chroma.sum() + lightness.sum()).backward()
    assert torch.isfinite(rgb.grad).all()


def test_bad_shapes_raise():
    with pytest.raises(ColorShapeError, match="channels last"):
        rgb_to_bicone(np.zeros((3, 4, 4)))
    with pytest.raises(ColorShapeError, match="broadcast"):
        bicone_to_rgb(np.zeros(3), np.zeros(2), np.zeros(3))
    with pytest.raises(ColorShapeError, match=r"\(\.\.\., H, W\)"):
        bicone_to_rgb(torch.zeros(3), torch.zeros(3), torch.zeros(3))
