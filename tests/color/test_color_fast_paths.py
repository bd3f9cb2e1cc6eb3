"""numpy fast paths of the colour module: per-pixel matrices as plane arithmetic, in-place transfer curves.

They must give the exact formula's values, keep dtypes, leave inputs alone, and convert a pixel the same
way wherever it sits in the array (the compositor's row tiles rely on that).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.color.colorconv import rgb_from_xyz as SKIMAGE_RGB_FROM_XYZ

from colorstudio.color import (
    lab_to_rgb,
    lab_to_xyz,
    linear_to_srgb,
    rgb_to_lab,
    rgb_to_xyz,
    srgb_to_linear,
    xyz_to_linear_rgb,
    xyz_to_rgb,
)
from colorstudio.color.xyz import RGB_FROM_XYZ, XYZ_FROM_RGB


def iec_linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 encoding written out in float64 (the reference for the fast path)."""
    x = np.asarray(x, np.float64)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.maximum(x, 0.0031308) ** (1 / 2.4) - 0.055)


def iec_srgb_to_linear(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return np.where(x <= 0.04045, x / 12.92, ((np.maximum(x, 0.04045) + 0.055) / 1.055) ** 2.4)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-6), (np.float64, 1e-13)])  # f32: 1.055 p - 0.055 cancels
def test_transfer_curves_match_formula_both_ways(rng, dtype, rtol):
    # Both sides of both knees, the ends, and values outside [0, 1] (extended, not clipped).
    x = np.concatenate([rng.random(5000), [0.0, 0.0031308, 0.04045, 1.0, -0.2, 1.3],
                        np.linspace(0.0, 0.05, 501)]).astype(dtype)
    encoded = linear_to_srgb(x)
    decoded = srgb_to_linear(x)
    assert encoded.dtype == dtype and decoded.dtype == dtype
    np.testing.assert_allclose(encoded, iec_linear_to_srgb(x), rtol=rtol, atol=rtol * 1e-3)
    np.testing.assert_allclose(decoded, iec_srgb_to_linear(x), rtol=rtol, atol=rtol * 1e-3)


def test_transfer_curves_leave_input_and_shapes_alone(rng):
    x = rng.random((4, 5, 3)).astype(np.float32)
    before = x.copy()
    for fn in (linear_to_srgb, srgb_to_linear):
        out = fn(x)
        assert out.shape == x.shape and not np.shares_memory(out, x)
        np.testing.assert_array_equal(x, before)
    view = x[:, ::2, 1]  # non-contiguous
    np.testing.assert_array_equal(linear_to_srgb(view), linear_to_srgb(np.ascontiguousarray(view)))
    assert np.isnan(linear_to_srgb(np.array([np.nan, 0.5]))[0])
    scalar = linear_to_srgb(np.float32(0.5))  # numpy scalars take the generic path
    np.testing.assert_allclose(scalar, iec_linear_to_srgb(0.5), rtol=1e-6)


@pytest.mark.parametrize("shape", [(3,), (7, 3), (5, 6, 3), (2, 3, 4, 3), (0, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matrix_paths_match_float64_product(rng, shape, dtype):
    xyz = (rng.random(shape) * [0.95, 1.0, 1.09]).astype(dtype)
    linear = xyz_to_linear_rgb(xyz)
    assert linear.shape == shape and linear.dtype == dtype
    expected = xyz.astype(np.float64) @ RGB_FROM_XYZ.T
    np.testing.assert_allclose(linear, expected, atol=2e-6 if dtype == np.float32 else 1e-14)
    rgb = rng.random(shape).astype(dtype)
    expected_xyz = iec_srgb_to_linear(rgb) @ XYZ_FROM_RGB.T
    np.testing.assert_allclose(rgb_to_xyz(rgb), expected_xyz, atol=2e-6 if dtype == np.float32 else 1e-14)


def test_xyz_to_linear_rgb_is_skimage_matrix_and_feeds_xyz_to_rgb(rng):
    xyz = rng.random((6, 6, 3)) * [0.95, 1.0, 1.09]
    np.testing.assert_allclose(xyz_to_linear_rgb(xyz), xyz @ SKIMAGE_RGB_FROM_XYZ.T, atol=1e-12)
    np.testing.assert_allclose(xyz_to_rgb(xyz), np.clip(linear_to_srgb(xyz_to_linear_rgb(xyz)), 0, 1), atol=0)
    gray = np.full((1, 3), 0.37)  # the luminance row of the inverse sums to one: Y stays the gray
    np.testing.assert_allclose(xyz_to_linear_rgb(rgb_to_xyz(linear_to_srgb(gray))), gray, atol=1e-12)


def test_xyz_to_linear_rgb_numpy_and_torch_agree(rng):
    xyz = rng.random((2, 4, 5, 3))
    ours = xyz_to_linear_rgb(torch.from_numpy(xyz).movedim(-1, -3))
    np.testing.assert_allclose(ours.movedim(-3, -1).numpy(), xyz_to_linear_rgb(xyz), atol=1e-12)


@pytest.mark.parametrize("convert", [xyz_to_linear_rgb, rgb_to_lab, lambda lab: lab_to_rgb(lab, clip=False), lab_to_xyz])
def test_pixels_convert_the_same_anywhere_in_the_array(rng, convert):
    """Row slices of any length convert bit for bit like the whole array (no SIMD-tail rounding)."""
    x = (rng.random((9, 53, 3)) * [100, 1, 1]).astype(np.float32)
    whole = convert(x)
    for start, stop in [(0, 1), (1, 4), (4, 9)]:
        np.testing.assert_array_equal(convert(x[start:stop]), whole[start:stop])
    np.testing.assert_array_equal(convert(x[:, 5:12]), whole[:, 5:12])


@pytest.mark.parametrize("chunk", [1, 7, 64, 1 << 15])
def test_matrix_chunks_do_not_change_the_result(rng, monkeypatch, chunk):
    from colorstudio.color import _dispatch

    x = rng.random((13, 11, 3)).astype(np.float32)
    whole = xyz_to_linear_rgb(x)
    monkeypatch.setattr(_dispatch, "_MATRIX_CHUNK", chunk)
    np.testing.assert_array_equal(xyz_to_linear_rgb(x), whole)
