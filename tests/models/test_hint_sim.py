import numpy as np
import pytest
import torch

from colorstudio.color import normalize_ab, rgb_to_lab
from colorstudio.engine.hints import rasterize_hints, sweep_hint_points
from colorstudio.models import hint_sim
from colorstudio.models.hint_sim import (
    simulate_training_hints,
    simulate_training_hints_torch,
    sweep_hints,
)


def _random_ab(h: int = 24, w: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.8, 0.8, (2, h, w)).astype(np.float32)


def test_training_count_is_geometric_with_mean_seven():
    rng = np.random.default_rng(0)
    corners = [hint_sim._training_corners(rng, 64, 64, 1 / 8, 9) for _ in range(4000)]
    counts = np.array([len(c) for c in corners])
    assert abs(counts.mean() - 7.0) < 0.5  # std of the mean ~ 0.12
    assert abs((counts == 0).mean() - 1 / 8) < 0.03
    sizes = np.array([s for c in corners for _, _, s in c])
    assert sizes.min() == 1 and sizes.max() == 9 and abs(sizes.mean() - 5.0) < 0.1
    tops = np.array([t + s / 2 for c in corners for t, _, s in c])
    assert abs(tops.mean() - 32.0) < 0.5  # patches centred on the image centre


def test_training_patch_holds_its_gt_mean():
    ab = _random_ab()
    checked = 0
    for seed in range(10):
        corners = hint_sim._training_corners(np.random.default_rng(seed), 24, 32, 1 / 8, 9)
        hint_ab, mask = simulate_training_hints(ab, np.random.default_rng(seed))
        assert set(np.unique(mask)) <= {0.0, 1.0}
        assert np.all(hint_ab[:, mask[0] == 0] == 0)
        if not corners:
            assert not mask.any()
            continue
        top, left, size = corners[-1]  # the last patch is painted on top of the others
        patch = (slice(None), slice(top, top + size), slice(left, left + size))
        expected = np.broadcast_to(ab[patch].mean((1, 2))[:, None, None], hint_ab[patch].shape)
        np.testing.assert_allclose(hint_ab[patch], expected, atol=1e-6)
        assert np.all(mask[patch] == 1)
        checked += 1
    assert checked >= 5


def test_training_hints_are_seeded():
    ab = _random_ab()
    first = simulate_training_hints(ab, np.random.default_rng(7))
    again = simulate_training_hints(ab, np.random.default_rng(7))
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])


def test_torch_counts_and_coverage_match_numpy():
    counts = hint_sim._geometric_counts(20000, torch.Generator().manual_seed(0), 1 / 8).numpy()
    assert abs(counts.mean() - 7.0) < 0.25 and abs((counts == 0).mean() - 1 / 8) < 0.015
    ab = np.zeros((2, 32, 32), np.float32)
    rng = np.random.default_rng(0)
    coverage_np = np.mean([simulate_training_hints(ab, rng)[1].mean() for _ in range(2000)])
    out = simulate_training_hints_torch(torch.zeros(2000, 2, 32, 32), torch.Generator().manual_seed(0))
    coverage_torch = out[:, 2].mean().item()
    assert abs(coverage_np - coverage_torch) < 0.1 * coverage_np


def test_torch_values_are_patch_means_of_their_own_image():
    batch, h, w = 6, 16, 16
    ab = torch.from_numpy(np.random.default_rng(1).uniform(-1, 1, (batch, 2, h, w)).astype(np.float32))
    out = simulate_training_hints_torch(ab, torch.Generator().manual_seed(5), p=0.3)
    assert out.shape == (batch, 3, h, w) and out.dtype == torch.float32
    mask = out[:, 2]
    assert set(mask.unique().tolist()) <= {0.0, 1.0} and mask.sum() > 0
    assert torch.all(out[:, :2][mask[:, None].expand(-1, 2, -1, -1) == 0] == 0)
    # Every hinted value must be the mean of some P x P patch (P in 1..9) of its image containing the pixel.
    for b, y, x in mask.nonzero().tolist():
        value = out[b, :2, y, x].numpy()
        candidates = []
        for size in range(1, 10):
            for top in range(max(0, y - size + 1), min(y, h - size) + 1):
                for left in range(max(0, x - size + 1), min(x, w - size) + 1):
                    candidates.append(ab[b, :, top : top + size, left : left + size].mean((1, 2)).numpy())
        assert np.abs(np.array(candidates) - value).max(axis=1).min() < 1e-5


def test_torch_hints_are_seeded_and_generator_driven():
    ab = torch.from_numpy(_random_ab()[None].repeat(4, 0))
    one = simulate_training_hints_torch(ab, torch.Generator().manual_seed(11))
    two = simulate_training_hints_torch(ab, torch.Generator().manual_seed(11))
    other = simulate_training_hints_torch(ab, torch.Generator().manual_seed(12))
    assert torch.equal(one, two) and not torch.equal(one, other)
    with pytest.raises(ValueError):
        simulate_training_hints_torch(ab[:, :1], torch.Generator())


def test_sweep_places_exact_patches_with_gt_means():
    ab = _random_ab(64, 48)
    hint_ab, mask = sweep_hints(ab, 5, seed=3)
    corners = hint_sim.sweep_corners(64, 48, 5, 3, 6)
    assert len(corners) == 5 and all(size == 6 for _, _, size in corners)
    covered = np.zeros((64, 48), bool)
    for top, left, _ in corners:
        covered[top : top + 6, left : left + 6] = True
    np.testing.assert_array_equal(mask[0] == 1, covered)
    top, left, _ = corners[-1]
    np.testing.assert_allclose(hint_ab[:, top + 2, left + 3], ab[:, top : top + 6, left : left + 6].mean((1, 2)), atol=1e-6)
    empty_ab, empty_mask = sweep_hints(ab, 0, seed=3)
    assert not empty_ab.any() and not empty_mask.any()


def test_sweep_is_reproducible_in_any_order():
    images = [_random_ab(32, 32, seed=i) for i in range(4)]
    forward = [sweep_hints(img, 10, seed=i) for i, img in enumerate(images)]
    backward = [sweep_hints(images[i], 10, seed=i) for i in reversed(range(4))][::-1]
    for (a1, m1), (a2, m2) in zip(forward, backward, strict=True):
        np.testing.assert_array_equal(a1, a2)
        np.testing.assert_array_equal(m1, m2)
    assert not np.array_equal(forward[0][1], forward[1][1])  # different images, different points
    assert not np.array_equal(sweep_hints(images[0], 2, seed=0)[1], sweep_hints(images[0], 3, seed=0)[1])


def test_sweep_hint_points_match_the_sweep():
    y, x = np.mgrid[0:40, 0:56]
    rgb = np.stack([x * 4, y * 5, 255 - x * 3], -1).astype(np.uint8)
    lab = rgb_to_lab(rgb.astype(np.float64) / 255.0)
    ab_norm = normalize_ab(lab[..., 1:].transpose(2, 0, 1))
    points = sweep_hint_points(rgb, 6, seed=9)
    _, mask = sweep_hints(ab_norm, 6, seed=9)
    corners = hint_sim.sweep_corners(40, 56, 6, 9, 6)
    assert len(points) == 6
    for hint, (top, left, size) in zip(points, corners, strict=True):
        assert (hint.x, hint.y, hint.radius) == (left + 3.0, top + 3.0, 3.0)
        assert mask[0, int(hint.y), int(hint.x)] == 1
        mean_ab = lab[top : top + size, left : left + size, 1:].reshape(-1, 2).mean(0)
        np.testing.assert_allclose(hint.ab(), mean_ab, atol=1.5)  # 8-bit hex rounding only
    # Written to a hints file and rasterized at the source size, every point marks its patch centre.
    _, raster_mask = rasterize_hints(points, source_size=(56, 40), work_size=(56, 40))
    assert all(raster_mask[0, top + 3, left + 3] == 1 for top, left, _ in corners)


def test_sweep_hint_points_keep_chroma_the_patch_lightness_cannot_hold():
    rgb = np.zeros((12, 12, 3), np.uint8)
    rgb[...] = (255, 255, 0)  # saturated yellow: its chroma only fits near L* 97
    lab = rgb_to_lab(rgb[:1, :1].astype(np.float64) / 255.0)[0, 0]
    hint = sweep_hint_points(rgb, 1, seed=0)[0]
    np.testing.assert_allclose(hint.ab(), lab[1:], atol=1.5)
