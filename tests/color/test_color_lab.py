"""sRGB <-> XYZ <-> Lab <-> LCh: values vs scikit-image, round trips, numpy/torch, gradients, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import skimage.color as skc
import torch

from colorstudio.color import (
    AB_SCALE,
    L_CENTER,
    L_SCALE,
    ColorShapeError,
    denormalize_ab,
    denormalize_l,
    lab_to_lch,
    lab_to_rgb,
    lab_to_xyz,
    lch_to_lab,
    normalize_ab,
    normalize_l,
    rgb_to_lab,
    rgb_to_xyz,
    to_float,
    to_uint,
    xyz_to_lab,
    xyz_to_rgb,
)
from colorstudio.errors import ColorStudioError

# black, white, primaries, secondaries, near-grays, both sides of the sRGB knee (0.04045)
EDGE_COLORS = np.array(
    [
        [0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 0],
        [0.5, 0.5, 0.5], [0.5, 0.5, 0.5001], [0.2, 0.2001, 0.2], [0.04045, 0.04045, 0.04045],
        [0.0404, 0.0405, 0.001], [1e-4, 0, 0], [0.999, 1.0, 0.999],
    ]
)


def chw(x: np.ndarray) -> torch.Tensor:
    """(..., H, W, 3) numpy -> (..., 3, H, W) torch."""
    return torch.from_numpy(np.ascontiguousarray(x)).movedim(-1, -3)


def hwc(t: torch.Tensor) -> np.ndarray:
    return t.movedim(-3, -1).detach().numpy()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def dtype(request):
    return request.param


def tol(dtype) -> float:
    return 2e-4 if dtype == np.float32 else 1e-9


def test_smoke_shapes_and_dtypes(rng, dtype):
    rgb = rng.random((4, 5, 3)).astype(dtype)
    lab = rgb_to_lab(rgb)
    assert lab.shape == (4, 5, 3) and lab.dtype == dtype
    assert lab_to_rgb(lab).dtype == dtype
    batch = chw(rng.random((2, 4, 5, 3)).astype(dtype))
    lab_t = rgb_to_lab(batch)
    assert lab_t.shape == (2, 3, 4, 5) and lab_t.dtype == batch.dtype
    assert rgb_to_lab(rgb[0, 0]).shape == (3,)  # a single color works for numpy


@pytest.mark.parametrize("colors", ["random", "edge"])
def test_rgb_to_lab_matches_skimage(rng, dtype, colors):
    rgb = (rng.random((16, 16, 3)) if colors == "random" else EDGE_COLORS).astype(dtype)
    np.testing.assert_allclose(rgb_to_lab(rgb), skc.rgb2lab(rgb), atol=tol(dtype) * 10)


def test_known_lab_values():
    lab = rgb_to_lab(EDGE_COLORS[:3])
    np.testing.assert_allclose(lab[0], [0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(lab[1], [100, 0, 0], atol=0.01)  # D65 white (skimage's matrix: ~5e-3)
    np.testing.assert_allclose(lab[2], [53.24, 80.09, 67.20], atol=0.01)  # sRGB red


def test_lab_to_rgb_matches_skimage(rng, dtype):
    lab = np.stack(
        [rng.uniform(0, 100, 500), rng.uniform(-110, 110, 500), rng.uniform(-110, 110, 500)], axis=-1
    ).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # skimage warns about clipped Z < 0
        expected = skc.lab2rgb(lab)
    ours = lab_to_rgb(lab)
    np.testing.assert_allclose(ours, expected, atol=tol(dtype) * 10)
    assert ours.min() >= 0.0 and ours.max() <= 1.0


def test_lab_to_rgb_without_clip_leaves_gamut():
    lab = np.array([[50.0, 100.0, -100.0], [97.0, -80.0, 90.0]])
    raw = lab_to_rgb(lab, clip=False)
    assert raw.min() < 0.0 or raw.max() > 1.0
    np.testing.assert_allclose(np.clip(raw, 0, 1), lab_to_rgb(lab))


def test_xyz_matches_skimage(rng, dtype):
    rgb = rng.random((8, 8, 3)).astype(dtype)
    xyz = rgb_to_xyz(rgb)
    np.testing.assert_allclose(xyz, skc.rgb2xyz(rgb), atol=tol(dtype))
    np.testing.assert_allclose(xyz_to_lab(xyz), skc.xyz2lab(xyz), atol=tol(dtype) * 10)
    np.testing.assert_allclose(xyz_to_rgb(xyz), skc.xyz2rgb(xyz), atol=tol(dtype))
    lab = rgb_to_lab(rgb)
    np.testing.assert_allclose(lab_to_xyz(lab), skc.lab2xyz(lab), atol=tol(dtype))


def test_round_trip(rng, dtype):
    rgb = np.concatenate([rng.random((300, 3)), EDGE_COLORS]).astype(dtype)
    # IEC 61966-2-1's two pieces miss each other by 3e-8 at the knee, so exactly 0.04045 comes back
    # as 0.04044997 (skimage too); allow that even in float64.
    atol = max(tol(dtype), 5e-8)
    np.testing.assert_allclose(lab_to_rgb(rgb_to_lab(rgb)), rgb, atol=atol)
    t = chw(rgb.reshape(-1, 1, 3))
    np.testing.assert_allclose(hwc(lab_to_rgb(rgb_to_lab(t))), hwc(t), atol=atol)


def test_numpy_and_torch_agree(rng, dtype):
    rgb = rng.random((2, 6, 7, 3)).astype(dtype)
    lab = rgb_to_lab(rgb)
    lab_t = rgb_to_lab(chw(rgb))
    assert lab_t.dtype == (torch.float32 if dtype == np.float32 else torch.float64)
    np.testing.assert_allclose(hwc(lab_t), lab, atol=tol(dtype) * 10)
    np.testing.assert_allclose(hwc(lab_to_rgb(lab_t)), lab_to_rgb(lab), atol=tol(dtype))
    L, C, h = lab_to_lch(lab_t)
    np.testing.assert_allclose(np.stack([t.numpy() for t in (L, C, h)], -1), np.stack(lab_to_lch(lab), -1),
                               atol=tol(dtype) * 10)


def test_output_follows_input_device():
    # 'meta' tensors check that no constant is created on a fixed device without needing a GPU
    # (the first meta op costs ~2 s of torch imports, once).
    out = lab_to_rgb(rgb_to_lab(torch.empty(1, 3, 2, 2, device="meta")))
    assert out.device.type == "meta" and out.shape == (1, 3, 2, 2)


def test_gradcheck_rgb_to_lab_and_back():
    # values in [0.2, 0.8]: away from the sRGB (0.04045) and CIE (0.008856) knees
    g = torch.Generator().manual_seed(0)
    rgb = (0.2 + 0.6 * torch.rand(1, 3, 2, 2, generator=g, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(rgb_to_lab, (rgb,))
    lab = rgb_to_lab(rgb).detach().requires_grad_()
    assert torch.autograd.gradcheck(lambda x: lab_to_rgb(x, clip=False), (lab,))


def test_gradient_is_finite_at_black_and_gray():
    rgb = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64).view(3, 1, 1).expand(3, 2, 2).clone()
    rgb[:, 0, 0] = 0.0
    rgb.requires_grad_()
    rgb_to_lab(rgb).sum().backward()
    assert torch.isfinite(rgb.grad).all()


@pytest.mark.parametrize(
    "bad",
    [np.zeros((4, 4)), np.zeros((3, 4, 4)), torch.zeros(4, 4, 3), torch.zeros(3, 4), np.zeros((2, 4), np.uint8)],
    ids=["numpy-gray", "numpy-chw", "torch-hwc", "torch-2d", "numpy-uint8"],
)
def test_bad_input_raises(bad):
    for fn in (rgb_to_lab, lab_to_rgb, rgb_to_xyz, xyz_to_lab):
        with pytest.raises(ColorShapeError) as info:
            fn(bad)
        assert isinstance(info.value, ColorStudioError) and isinstance(info.value, ValueError)
        assert fn.__name__ in str(info.value)


def test_not_an_array_raises():
    with pytest.raises(ColorShapeError, match="numpy array or a torch tensor"):
        rgb_to_lab([[0.0, 0.0, 0.0]])


def test_normalization_constants_and_round_trip(rng):
    assert (L_CENTER, L_SCALE, AB_SCALE) == (50.0, 50.0, 110.0)
    L = np.array([0.0, 50.0, 100.0], np.float32)
    np.testing.assert_allclose(normalize_l(L), [-1, 0, 1])
    ab = torch.tensor([-110.0, 0.0, 55.0])
    np.testing.assert_allclose(normalize_ab(ab).numpy(), [-1.0, 0.0, 0.5])
    assert normalize_l(L).dtype == np.float32
    x = rng.uniform(-1, 1, 10)
    np.testing.assert_allclose(normalize_l(denormalize_l(x)), x)
    np.testing.assert_allclose(normalize_ab(denormalize_ab(x)), x)


def test_lch_matches_skimage_and_round_trips(rng, dtype):
    lab = rgb_to_lab(np.concatenate([rng.random((200, 3)), EDGE_COLORS]).astype(dtype))
    L, C, h = lab_to_lch(lab)
    ref = skc.lab2lch(lab)
    np.testing.assert_allclose(C, ref[..., 1], atol=tol(dtype))
    assert h.min() >= 0.0 and h.max() < 1.0
    coloured = C > 1e-3  # hue of near-grays is noise
    np.testing.assert_allclose(h[coloured] * 2 * np.pi, ref[coloured, 2], atol=tol(dtype) * 10)
    np.testing.assert_allclose(lch_to_lab(L, C, h), lab, atol=tol(dtype) * 10)
    Lt, Ct, ht = lab_to_lch(chw(lab.reshape(-1, 1, 3)))
    assert Lt.shape == (lab.shape[0], 1)
    np.testing.assert_allclose(hwc(lch_to_lab(Lt, Ct, ht)), lab.reshape(-1, 1, 3), atol=tol(dtype) * 10)


def test_lch_hue_in_turns():
    L, C, h = lab_to_lch(np.array([[50, 10, 0], [50, 0, 10], [50, -10, 0], [50, 0, -10], [50, 0, 0.0]]))
    np.testing.assert_allclose(h, [0, 0.25, 0.5, 0.75, 0])
    np.testing.assert_allclose(C, [10, 10, 10, 10, 0])
    _, _, tiny = lab_to_lch(np.array([50, 1.0, -1e-18], np.float32))
    assert 0.0 <= tiny < 1.0


def test_lch_gradient_is_finite_on_gray():
    lab = torch.tensor([[50.0, 0.0, 0.0], [50.0, 3.0, -4.0]], dtype=torch.float64).view(2, 3, 1, 1)
    lab.requires_grad_()
    L, C, h = lab_to_lch(lab)
    (L.sum() + C.sum() + h.sum()).backward()
    assert torch.isfinite(lab.grad).all()
    assert C.detach().ravel().tolist() == [0.0, 5.0]


def test_lch_to_lab_rejects_mismatched_planes():
    with pytest.raises(ColorShapeError):
        lch_to_lab(np.zeros(3), np.zeros(4), np.zeros(3))
    with pytest.raises(ColorShapeError):
        lch_to_lab(torch.zeros(2, 2), np.zeros((2, 2)), torch.zeros(2, 2))


def test_16_bit_path_round_trips_within_one_level(rng):
    levels = np.concatenate([rng.integers(0, 65536, (20000, 3)), (EDGE_COLORS * 65535).round()])
    img16 = levels.astype(np.uint16).reshape(-1, 1, 3)
    rgb = to_float(img16)
    assert rgb.dtype == np.float32
    back = to_uint(lab_to_rgb(rgb_to_lab(rgb)), 16)
    assert back.dtype == np.uint16
    assert np.abs(back.astype(np.int64) - img16).max() <= 1
    back_t = to_uint(lab_to_rgb(rgb_to_lab(chw(rgb))), 16)
    assert np.abs(hwc(back_t).astype(np.int64) - img16).max() <= 1
