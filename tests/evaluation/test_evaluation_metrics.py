"""Known-answer tests for colorstudio.evaluation.metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.color import rgb2lab
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from colorstudio.evaluation import metrics as m


def smooth_rgb(seed: int, size: int = 48) -> np.ndarray:
    """A colorful, smooth uint8 image (gradients plus mild noise)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    phase = rng.uniform(0, 2 * np.pi, 3)
    base = np.stack([0.5 + 0.4 * np.sin(4 * x + 3 * y + p) for p in phase], axis=-1)
    return np.clip((base + rng.normal(0, 0.03, base.shape)) * 255, 0, 255).astype(np.uint8)


def solid(color: tuple[int, int, int], size: int = 16) -> np.ndarray:
    return np.broadcast_to(np.array(color, np.uint8), (size, size, 3)).copy()


# ------------------------------------------------------------------------------------- identical


def test_identical_images_give_perfect_scores():
    img = smooth_rgb(0)
    assert m.psnr(img, img) == m.PSNR_CAP_DB
    assert m.psnr(img, img, cap=None) == math.inf
    assert m.ssim(img, img) == pytest.approx(1.0)
    assert m.rmse_ab(img, img) == 0.0
    assert m.rmse_ab(img, img, space="lab") == 0.0
    assert m.ab_histogram_intersection(img, img) == pytest.approx(1.0)
    assert m.ms_ssim(img, img) == pytest.approx(1.0)
    assert m.colorfulness_ratio(img, img) == pytest.approx(1.0)


# ------------------------------------------------------------------------------------------ PSNR


def test_psnr_uniform_shift_of_ten_levels():
    gt = np.full((8, 8, 3), 100, np.uint8)
    pred = gt + np.uint8(10)
    assert m.psnr(gt, pred) == pytest.approx(20 * math.log10(255 / 10), abs=1e-12)


def test_psnr_matches_skimage_and_cap_applies():
    gt, pred = smooth_rgb(1), smooth_rgb(2)
    assert m.psnr(gt, pred) == pytest.approx(peak_signal_noise_ratio(gt, pred, data_range=255))
    nearly = gt.copy()
    nearly[0, 0, 0] ^= 1  # one level off in one of 6912 values: 86.5 dB
    assert m.psnr(nearly, gt, cap=80.0) == 80.0


def test_inputs_are_checked():
    img = smooth_rgb(0)
    with pytest.raises(TypeError):
        m.psnr(img.astype(np.float32), img)
    with pytest.raises(ValueError):
        m.psnr(img, img[:-1])
    with pytest.raises(ValueError):
        m.rmse_ab(img, img, space="yuv")
    with pytest.raises(ValueError):
        m.colorfulness(img[..., 0])


# ------------------------------------------------------------------------------------- SSIM family


def test_ssim_matches_skimage_wang_settings():
    gt, pred = smooth_rgb(3), smooth_rgb(4)
    expected = structural_similarity(
        gt, pred, data_range=255, channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert m.ssim(gt, pred) == pytest.approx(expected)
    assert -1.0 <= m.ssim(gt, pred) < 1.0


def test_internal_ssim_matches_skimage_per_channel():
    gt, pred = smooth_rgb(5)[..., 1].astype(np.float64), smooth_rgb(6)[..., 1].astype(np.float64)
    ours, _ = m._ssim_and_cs(gt, pred)
    expected = structural_similarity(
        gt, pred, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert ours == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize(("side", "scales"), [(256, 5), (176, 5), (64, 3), (32, 2), (21, 1), (11, 1)])
def test_ms_ssim_scale_count(side, scales):
    assert m.ms_scales(side, side + 7) == scales


def test_ms_ssim_single_scale_equals_ssim_and_too_small_raises():
    a, b = smooth_rgb(7, size=16), smooth_rgb(8, size=16)
    per_channel = [max(m.ssim(a[..., c], b[..., c]), 0.0) for c in range(3)]
    assert m.ms_ssim(a, b) == pytest.approx(np.mean(per_channel))
    with pytest.raises(ValueError):
        m.ms_ssim(a[:10], b[:10])


def test_ms_ssim_orders_by_damage_and_is_symmetric():
    rng = np.random.default_rng(0)
    a = smooth_rgb(9, size=64)
    light = np.clip(a + rng.normal(0, 5, a.shape), 0, 255).astype(np.uint8)
    heavy = np.clip(a + rng.normal(0, 40, a.shape), 0, 255).astype(np.uint8)
    assert 1.0 > m.ms_ssim(a, light) > m.ms_ssim(a, heavy) >= 0.0
    assert m.ms_ssim(a, heavy) == pytest.approx(m.ms_ssim(heavy, a))
    gray = a[..., 0]
    assert m.ms_ssim(gray, gray) == pytest.approx(1.0)


def test_mean_pairwise_ms_ssim():
    a, b = smooth_rgb(10, 32), smooth_rgb(11, 32)
    assert m.mean_pairwise_ms_ssim([a, a, a]) == pytest.approx(1.0)
    expected = (1.0 + 2 * m.ms_ssim(a, b)) / 3  # pairs (a,a), (a,b), (a,b)
    assert m.mean_pairwise_ms_ssim([a, a, b]) == pytest.approx(expected)
    with pytest.raises(ValueError):
        m.mean_pairwise_ms_ssim([a])


# ------------------------------------------------------------------------------------------ chroma


def test_rmse_ab_alphabeta_known_value():
    red, gray = solid((255, 0, 0)), solid((85, 85, 85))
    mean_gray = 1 / 3 + 1e-4  # Deshpande: (R+G+B)/3 plus eps
    alpha, beta = -0.5 / mean_gray, 1.0 / mean_gray
    assert m.rmse_ab(red, gray) == pytest.approx(math.sqrt((alpha**2 + beta**2) / 2))


def test_rmse_ab_lab_matches_skimage():
    gt, pred = smooth_rgb(12), smooth_rgb(13)
    ab_gt, ab_pred = rgb2lab(gt)[..., 1:], rgb2lab(pred)[..., 1:]
    expected = np.sqrt(np.mean((ab_gt - ab_pred) ** 2)) / 110.0
    assert m.rmse_ab(gt, pred, space="lab") == pytest.approx(expected, rel=1e-5)


def test_colorfulness_hand_computed():
    # Left half pure red, right half black: rg in {255, 0}, yb in {127.5, 0}; means and (population)
    # standard deviations are half of those: M = 1.3 * hypot(127.5, 63.75).
    img = np.zeros((4, 8, 3), np.uint8)
    img[:, :4, 0] = 255
    assert m.colorfulness(img) == pytest.approx(1.3 * math.hypot(127.5, 63.75))
    assert m.colorfulness(solid((120, 120, 120))) == 0.0


def test_colorfulness_ratio_of_gray_truth_is_nan():
    gray = solid((90, 90, 90))
    assert math.isnan(m.colorfulness_ratio(gray, solid((200, 10, 10))))
    assert m.colorfulness_ratio(solid((200, 10, 10)), gray) == 0.0


def test_histogram_intersection_of_disjoint_colors_is_zero():
    red, green = solid((255, 0, 0)), solid((0, 255, 0))
    assert m.ab_histogram_intersection(red, green) == pytest.approx(0.0)
    half = red.copy()
    half[:8] = green[:8]
    assert m.ab_histogram_intersection(red, half) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        m.ab_histogram_intersection(red, green, bins=0)


# ------------------------------------------------------------------------------------- likelihood


def test_bits_per_dim():
    n = 512
    assert m.bits_per_dim(n * math.log(2), n) == pytest.approx(1.0)
    assert m.bits_per_dim(0.0, 3) == 0.0
    with pytest.raises(ValueError):
        m.bits_per_dim(1.0, 0)


def test_score_outputs_equals_the_single_metrics():
    gt, first, second = smooth_rgb(20, 32), smooth_rgb(21, 32), smooth_rgb(22, 32)
    scores = m.score_outputs(gt, [first, second], gt_lab=rgb2lab(gt))
    assert scores == pytest.approx(
        {
            "psnr": m.psnr(gt, first),
            "ssim": m.ssim(gt, first),
            "rmse_ab": m.rmse_ab(gt, first),
            "rmse_ab_lab": m.rmse_ab(gt, first, space="lab"),
            "colorfulness_ratio": m.colorfulness_ratio(gt, first),
            "hist_intersection": m.ab_histogram_intersection(gt, first),
            "psnr_best": max(m.psnr(gt, first), m.psnr(gt, second)),
            "psnr_samples_mean": (m.psnr(gt, first) + m.psnr(gt, second)) / 2,
            "psnr_worst": min(m.psnr(gt, first), m.psnr(gt, second)),
            "diversity_ms_ssim": m.ms_ssim(first, second),
            "psnr_mean": m.sample_mean_and_spread_skill(gt, [first, second])[0],
            "spread_skill": m.sample_mean_and_spread_skill(gt, [first, second])[1],
        },
        rel=1e-6,
    )
    assert set(m.score_outputs(gt, [first])) == {
        "psnr", "ssim", "rmse_ab", "rmse_ab_lab", "colorfulness_ratio", "hist_intersection"
    }
    with pytest.raises(ValueError):
        m.score_outputs(gt, [])


def _draws(rng, centre, sigma, n, shape=(64, 64, 3)):
    return [np.clip(np.rint(centre + rng.normal(0, sigma, shape)), 0, 255).astype(np.uint8) for _ in range(n)]


def test_spread_skill_is_one_for_a_calibrated_sampler_and_small_for_an_overconfident_one():
    rng = np.random.default_rng(0)
    centre = rng.uniform(80, 170, (64, 64, 3))  # the posterior mean; truth and samples scatter around it
    (gt,) = _draws(rng, centre, 12.0, 1)
    _, calibrated = m.sample_mean_and_spread_skill(gt, _draws(rng, centre, 12.0, 8))
    _, overconfident = m.sample_mean_and_spread_skill(gt, _draws(rng, centre, 3.0, 8))
    assert calibrated == pytest.approx(1.0, abs=0.05)
    assert overconfident == pytest.approx(0.25, abs=0.05)


def test_sample_mean_psnr_scores_the_rounded_mean_image():
    gt = smooth_rgb(30, 32)
    low, high = gt.astype(np.int16) - 6, gt.astype(np.int16) + 6
    samples = [np.clip(low, 0, 255).astype(np.uint8), np.clip(high, 0, 255).astype(np.uint8)]
    psnr_mean, _ = m.sample_mean_and_spread_skill(gt, samples)
    expected = np.rint((samples[0].astype(float) + samples[1]) / 2).astype(np.uint8)
    assert psnr_mean == pytest.approx(m.psnr(gt, expected))
    assert psnr_mean > max(m.psnr(gt, s) for s in samples)  # errors of opposite sign cancel in the mean
    with pytest.raises(ValueError, match="at least 2"):
        m.sample_mean_and_spread_skill(gt, samples[:1])
