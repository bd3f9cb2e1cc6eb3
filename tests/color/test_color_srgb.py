"""sRGB transfer function and the 8/16-bit integer <-> float helpers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from colorstudio.color import ColorShapeError, linear_to_srgb, srgb_to_linear, to_float, to_uint


def reference_srgb_to_linear(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def test_transfer_matches_iec_formula():
    x = np.linspace(0, 1, 1001)
    np.testing.assert_allclose(srgb_to_linear(x), reference_srgb_to_linear(x), rtol=1e-12)
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(x)), x, atol=5e-8)  # 3e-8 gap at the knee
    assert srgb_to_linear(np.array([0.0, 1.0])).tolist() == [0.0, 1.0]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_transfer_numpy_torch_agree_and_keep_dtype(dtype):
    x = torch.linspace(-0.1, 1.2, 257, dtype=dtype)  # out-of-range values are extended, not NaN
    lin = srgb_to_linear(x)
    assert lin.dtype == dtype and torch.isfinite(lin).all()
    np.testing.assert_allclose(lin.numpy(), srgb_to_linear(x.numpy()), rtol=1e-6)
    np.testing.assert_allclose(linear_to_srgb(lin).numpy(), x.numpy(), atol=1e-6)
    assert srgb_to_linear(x.numpy()).dtype == x.numpy().dtype


def test_transfer_rejects_integers():
    with pytest.raises(ColorShapeError, match="to_float"):
        srgb_to_linear(np.zeros(3, np.uint8))


def test_to_float_and_to_uint_8_bit():
    levels = np.arange(256, dtype=np.uint8)
    f = to_float(levels)
    assert f.dtype == np.float32 and f[0] == 0.0 and f[-1] == 1.0
    assert np.array_equal(to_uint(f, 8), levels)
    t = to_float(torch.from_numpy(levels))
    assert t.dtype == torch.float32
    assert torch.equal(to_uint(t, 8), torch.from_numpy(levels))


def test_to_float_and_to_uint_16_bit_exact():
    levels = np.arange(65536, dtype=np.uint16)
    assert np.array_equal(to_uint(to_float(levels), 16), levels)


def test_to_uint_clips_and_handles_nan():
    out = to_uint(np.array([-0.5, 0.5, 1.5, np.nan]), 8)
    assert out.tolist() == [0, 128, 255, 0]
    assert to_uint(torch.tensor([2.0, -1.0]), 16).tolist() == [65535, 0]


def test_to_float_passes_floats_and_rejects_others():
    assert to_float(np.array([0.25], np.float64)).dtype == np.float32
    with pytest.raises(ColorShapeError, match="uint8, uint16"):
        to_float(np.array([1], np.int32))
    with pytest.raises(ColorShapeError, match="8 or 16"):
        to_uint(np.zeros(2), 12)
