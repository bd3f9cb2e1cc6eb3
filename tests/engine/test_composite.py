import cv2
import numpy as np
import pytest
import skimage.color
import skimage.data

from colorstudio.color import rgb_to_lab, to_float, to_uint
from colorstudio.engine.composite import composite, lab_to_srgb_keep_lightness, upsample_ab
from colorstudio.errors import CancelledError


def _smooth_image(h: int = 72, w: int = 104) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    rgb = np.stack([0.5 + 0.4 * np.sin(3 * x + 1), 0.5 + 0.4 * np.cos(2 * y + 3 * x), 0.3 + 0.6 * y * x], -1)
    return rgb.astype(np.float32)


def _photo() -> np.ndarray:
    return skimage.data.chelsea().astype(np.float32) / 255.0  # (300, 451, 3)


def _downscale_ab(lab: np.ndarray, factor: int = 4) -> np.ndarray:
    h, w = lab.shape[:2]
    return cv2.resize(np.ascontiguousarray(lab[..., 1:]), (w // factor, h // factor), interpolation=cv2.INTER_AREA)


def _lightness_error(rgb: np.ndarray, L: np.ndarray) -> float:
    return float(np.abs(rgb_to_lab(rgb)[..., 0] - L).mean())


@pytest.mark.parametrize("make", [_smooth_image, _photo], ids=["smooth", "chelsea"])
def test_round_trip_keeps_lightness_and_colour(make):
    rgb = make()
    lab = rgb_to_lab(rgb)
    out = composite(lab[..., 0], _downscale_ab(lab))
    assert out.shape == rgb.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    # Contract bar is 0.5 mean |dL*|; the correction is exact up to float error and rounding.
    assert _lightness_error(out, lab[..., 0]) < 1e-3
    assert _lightness_error(to_float(to_uint(out, 8)), lab[..., 0]) < 0.15
    assert _lightness_error(to_float(to_uint(out, 16)), lab[..., 0]) < 1e-2
    delta_e = np.linalg.norm(rgb_to_lab(out) - lab, axis=-1).mean()
    assert delta_e < 3.0


def test_saturated_chroma_keeps_lightness():
    """Chroma far outside the gamut (as a model may predict) is desaturated, never allowed to move L*."""
    lab = rgb_to_lab(_photo())
    out = composite(lab[..., 0], 2.5 * _downscale_ab(lab))
    assert _lightness_error(out, lab[..., 0]) < 1e-3
    assert _lightness_error(to_float(to_uint(out, 8)), lab[..., 0]) < 0.15


def test_in_gamut_colours_match_skimage():
    rgb = _smooth_image()
    lab = skimage.color.rgb2lab(rgb)
    out = lab_to_srgb_keep_lightness(lab[..., 0], lab[..., 1:])
    np.testing.assert_allclose(out, skimage.color.lab2rgb(lab), atol=1e-4)


def test_white_and_black_lose_chroma():
    L = np.array([[0.0, 100.0], [100.0, 0.0]], dtype=np.float32)
    ab = np.full((2, 2, 2), 60.0, dtype=np.float32)
    out = lab_to_srgb_keep_lightness(L, ab)
    np.testing.assert_allclose(out[0, 0], 0.0, atol=1e-6)
    np.testing.assert_allclose(out[0, 1], 1.0, atol=1e-5)


def test_out_of_gamut_keeps_lightness_and_hue_direction():
    L = np.linspace(5, 95, 19, dtype=np.float32)
    ab = np.tile(np.array([[120.0, -90.0]], dtype=np.float32), (19, 1))
    out = lab_to_srgb_keep_lightness(L, ab)
    lab_out = rgb_to_lab(out)
    np.testing.assert_allclose(lab_out[:, 0], L, atol=1e-3)
    assert np.all(lab_out[:, 1] > 5) and np.all(lab_out[:, 2] < -5)  # still magenta-blue, just less of it


def test_tiles_equal_untiled():
    lab = rgb_to_lab(_smooth_image(37, 53))
    ab_low = 1.7 * _downscale_ab(lab, 3)
    whole = composite(lab[..., 0], ab_low, tile=10_000, workers=1)
    for rows, workers in [(1, 1), (3, 1), (8, 1), (3, 3), (5, 2)]:
        np.testing.assert_array_equal(composite(lab[..., 0], ab_low, tile=rows, workers=workers), whole)


def test_edge_preserved_better_than_bilinear():
    h, w, edge = 48, 64, 29  # the edge falls inside a low-resolution cell
    L = np.where(np.arange(w) < edge, 35.0, 70.0).astype(np.float32)[None].repeat(h, 0)
    ab_true = np.where((np.arange(w) < edge)[..., None], [40.0, 25.0], [-30.0, -35.0]).astype(np.float32)
    ab_true = np.broadcast_to(ab_true, (h, w, 2))
    ab_low = cv2.resize(np.ascontiguousarray(ab_true), (w // 4, h // 4), interpolation=cv2.INTER_AREA)
    guided = upsample_ab(L, ab_low)
    bilinear = cv2.resize(ab_low, (w, h), interpolation=cv2.INTER_LINEAR)
    err_guided = np.abs(guided - ab_true).mean()
    err_bilinear = np.abs(bilinear - ab_true).mean()
    assert err_guided < 0.25 * err_bilinear
    # Right beside the edge each side keeps its own colour (the step is 70 in a*), bilinear blends them.
    for column in (edge - 1, edge):
        assert np.abs(guided[:, column] - ab_true[:, column]).max() < 8.0
        assert np.abs(bilinear[:, column] - ab_true[:, column]).max() > 20.0


def test_upsample_reproduces_constant_and_full_size_chroma():
    L = np.random.default_rng(0).uniform(0, 100, (40, 30)).astype(np.float32)
    constant = np.full((10, 8, 2), [12.0, -7.0], dtype=np.float32)
    np.testing.assert_allclose(upsample_ab(L, constant), np.broadcast_to(constant[0, 0], (40, 30, 2)), atol=1e-4)
    full = np.random.default_rng(1).normal(0, 20, (40, 30, 2)).astype(np.float32)
    np.testing.assert_array_equal(upsample_ab(L, full), full)


def test_progress_and_cancel():
    lab = rgb_to_lab(_smooth_image(40, 20))
    fractions = []
    composite(lab[..., 0], _downscale_ab(lab), tile=8, progress=lambda f, m: fractions.append(f))
    assert fractions == sorted(fractions) and len(fractions) == 5 and fractions[-1] == 1.0
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 2

    for workers in (1, 2):
        calls.clear()
        with pytest.raises(CancelledError):
            composite(lab[..., 0], _downscale_ab(lab), tile=8, workers=workers, cancel=cancel)
        assert len(calls) == 3


@pytest.mark.parametrize(
    "L_shape, ab_shape", [((10,), (5, 5, 2)), ((10, 10), (5, 5)), ((10, 10), (5, 5, 3)), ((0, 10), (5, 5, 2))]
)
def test_bad_shapes_raise(L_shape, ab_shape):
    with pytest.raises(ValueError):
        composite(np.zeros(L_shape, np.float32), np.zeros(ab_shape, np.float32))
