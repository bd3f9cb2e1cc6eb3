"""Quantizers: encode/decode round trips, clipping, circular wrap-around, PIC levels, numpy/torch."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from colorstudio.color import (
    BICONE_CHROMA_QUANTIZER,
    CHROMA_MAX,
    CHROMA_QUANTIZER,
    HUE_QUANTIZER,
    PIC_HALF_WIDTH,
    PIC_LEVELS,
    YCBCR_QUANTIZER,
    CircularQuantizer,
    ColorShapeError,
    PicLevels,
    UniformQuantizer,
    ab_to_pic,
    pic_to_ab,
)


def test_preset_quantizers():
    assert YCBCR_QUANTIZER == UniformQuantizer(0, 1, 32)
    assert HUE_QUANTIZER == CircularQuantizer(32)
    assert CHROMA_QUANTIZER == UniformQuantizer(0, CHROMA_MAX, 32) and CHROMA_MAX == 100.0
    assert BICONE_CHROMA_QUANTIZER == UniformQuantizer(0, 1, 32)
    assert YCBCR_QUANTIZER.centres.shape == (32,) and YCBCR_QUANTIZER.centres[0] == pytest.approx(1 / 64)
    with pytest.raises(dataclasses.FrozenInstanceError):
        YCBCR_QUANTIZER.bins = 8  # type: ignore[misc]
    with pytest.raises(ValueError):
        YCBCR_QUANTIZER.centres[0] = 1.0


def test_uniform_round_trip_and_clipping():
    q = UniformQuantizer(-2.0, 2.0, 8)
    idx = np.arange(8)
    assert np.array_equal(q.encode(q.decode(idx)), idx)
    values = np.random.default_rng(0).uniform(-2, 2, 1000)
    assert np.abs(q.decode(q.encode(values)) - values).max() <= q.width / 2 + 1e-6
    assert q.encode(np.array([-9.0, -2.0, 1.999, 2.0, 9.0, np.nan])).tolist() == [0, 0, 7, 7, 7, 0]
    assert q.encode(np.array([0, 1], np.int32)).tolist() == [4, 6]  # integer values are fine


def test_uniform_numpy_torch_agree():
    q = YCBCR_QUANTIZER
    values = torch.rand(2, 5, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    idx = q.encode(values)
    assert idx.dtype == torch.long and idx.shape == values.shape
    assert np.array_equal(idx.numpy(), q.encode(values.numpy()))
    centres = q.decode(idx)
    assert centres.dtype == torch.float32 and centres.device == idx.device
    np.testing.assert_allclose(centres.numpy(), q.decode(idx.numpy()))
    assert q.decode(idx, dtype=torch.float64).dtype == torch.float64
    assert q.decode(idx.numpy(), dtype=np.float64).dtype == np.float64


def test_circular_wraps():
    q = CircularQuantizer(32)
    assert q.centres[0] == pytest.approx(0.5 / 32) and q.centres[-1] == pytest.approx(31.5 / 32)
    hues = np.array([0.0, 1.0, 2.25, -0.01, -1e-20, 0.999999, 1 / 32, np.nan, np.inf])
    assert q.encode(hues).tolist() == [0, 0, 8, 31, 0, 31, 1, 0, 0]
    assert q.encode(torch.tensor(hues, dtype=torch.float32)).tolist() == [0, 0, 8, 31, 0, 31, 1, 0, 0]
    idx = np.arange(32)
    assert np.array_equal(q.encode(q.decode(idx)), idx)
    assert np.array_equal(q.encode(q.decode(idx) + 3.0), idx)  # whole turns do not matter


def test_circular_error_is_at_most_half_a_bin():
    q = HUE_QUANTIZER
    hues = np.random.default_rng(1).uniform(-2, 2, 1000)
    diff = np.abs(q.decode(q.encode(hues)) - (hues % 1.0))
    diff = np.minimum(diff, 1 - diff)  # distance on the circle
    assert diff.max() <= 0.5 / 32 + 1e-6


def test_decode_rejects_bad_indices():
    with pytest.raises(ColorShapeError, match=r"\[0, 31\]"):
        HUE_QUANTIZER.decode(np.array([32]))
    with pytest.raises(ColorShapeError, match="integers"):
        YCBCR_QUANTIZER.decode(np.array([1.0]))
    with pytest.raises(ColorShapeError, match="numpy array or a torch tensor"):
        YCBCR_QUANTIZER.encode([0.5])


def test_invalid_configuration():
    with pytest.raises(ValueError):
        UniformQuantizer(1.0, 1.0, 4)
    with pytest.raises(ValueError):
        CircularQuantizer(0)
    with pytest.raises(ValueError):
        PicLevels(bins=128)


def test_pic_levels_mapping():
    k = np.arange(256)
    assert PIC_HALF_WIDTH == pytest.approx(1 / 255)
    np.testing.assert_allclose(PIC_LEVELS.to_unit(k, dtype=np.float64), 2 * k / 255 - 1)
    np.testing.assert_allclose(PIC_LEVELS.decode(k), k - 128)
    assert np.array_equal(PIC_LEVELS.encode(PIC_LEVELS.decode(k)), k)
    assert np.array_equal(PIC_LEVELS.from_unit(PIC_LEVELS.to_unit(k)), k)
    assert PIC_LEVELS.encode(np.array([-500.0, -128.4, 0.49, 126.6, 500.0])).tolist() == [0, 0, 128, 255, 255]
    # grid spacing is twice the bin half width
    np.testing.assert_allclose(np.diff(PIC_LEVELS.to_unit(k, dtype=np.float64)), 2 * PIC_HALF_WIDTH)


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_ab_to_pic_and_back(kind):
    ab = np.arange(-128, 128, dtype=np.float64)  # a* = k - 128
    x_expected = 2 * (ab + 128) / 255 - 1
    src = torch.from_numpy(ab) if kind == "torch" else ab
    x = ab_to_pic(src)
    np.testing.assert_allclose(np.asarray(x), x_expected, atol=1e-12)
    np.testing.assert_allclose(np.asarray(pic_to_ab(x)), ab, atol=1e-9)
    off_grid = ab_to_pic(src + 0.3)  # rounded onto the grid first
    np.testing.assert_allclose(np.asarray(off_grid), x_expected, atol=1e-12)
    np.testing.assert_allclose(np.asarray(ab_to_pic(src + 0.3, quantize=False))[:-1], x_expected[:-1] + 0.3 / 127.5)
    assert float(ab_to_pic(src * 0 + 300.0).max()) == 1.0  # clipped


def test_pic_torch_levels_keep_device_and_dtype():
    ab = torch.tensor([[-128.0, 0.0], [12.0, 127.0]])
    levels = PIC_LEVELS.encode(ab)
    assert levels.dtype == torch.long and levels.tolist() == [[0, 128], [140, 255]]
    x = PIC_LEVELS.to_unit(levels)
    assert x.dtype == torch.float32
    np.testing.assert_allclose(x.numpy(), ab_to_pic(ab).numpy(), atol=1e-6)
