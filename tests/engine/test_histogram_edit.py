"""Editing on hue/chroma distributions: decoding, uncertainty, eq. 6 solver, transfers, hue bias, picker."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from colorstudio.color import lab_to_rgb, lch_to_lab, rgb_to_lab
from colorstudio.color.quantize import CHROMA_MAX, CHROMA_QUANTIZER, HUE_QUANTIZER
from colorstudio.engine import histogram_edit as he
from colorstudio.errors import ColorStudioError

K = 32


def one_hot(index: int, shape: tuple[int, int] = (3, 4), bins: int = K) -> np.ndarray:
    probs = np.zeros((bins, *shape), dtype=np.float32)
    probs[index] = 1.0
    return probs


def von_mises_hue(mean_turns: np.ndarray, kappa: np.ndarray) -> np.ndarray:
    """(K, h, w) hue distributions peaked at ``mean_turns`` (h, w) with concentration ``kappa`` (h, w)."""
    centres = HUE_QUANTIZER.centres[:, None, None]
    logits = kappa[None] * np.cos(2 * math.pi * (centres - mean_turns[None]))
    probs = np.exp(logits - logits.max(axis=0))
    return (probs / probs.sum(axis=0)).astype(np.float32)


def gaussian_chroma(mean: np.ndarray, sigma: float) -> np.ndarray:
    centres = CHROMA_QUANTIZER.centres[:, None, None]
    probs = np.exp(-0.5 * ((centres - mean[None]) / sigma) ** 2)
    return (probs / probs.sum(axis=0)).astype(np.float32)


def random_probs(rng: np.random.Generator, shape: tuple[int, ...], alpha: float = 0.5) -> np.ndarray:
    return rng.dirichlet(np.full(shape[0], alpha), size=shape[1:]).transpose(2, 0, 1)


def ab_of_hue(hue_turns: float, chroma: float) -> np.ndarray:
    return chroma * np.array([math.cos(2 * math.pi * hue_turns), math.sin(2 * math.pi * hue_turns)])


# -- decoding -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("hue_bin", "chroma_bin"), [(0, 0), (5, 10), (31, 31), (16, 3)])
def test_decode_one_hot_gives_bin_centres(hue_bin: int, chroma_bin: int) -> None:
    ab = he.decode_ab(one_hot(hue_bin), one_hot(chroma_bin))
    assert ab.shape == (3, 4, 2) and ab.dtype == np.float32
    expected = ab_of_hue(HUE_QUANTIZER.centres[hue_bin], CHROMA_QUANTIZER.centres[chroma_bin])
    np.testing.assert_allclose(ab, np.broadcast_to(expected, ab.shape), atol=1e-4)


def test_decode_uniform_hue_fades_to_gray_and_uniform_chroma_median_is_half_range() -> None:
    uniform = np.full((K, 2, 2), 1.0 / K, dtype=np.float32)
    np.testing.assert_allclose(he.decode_ab(uniform, uniform), 0.0, atol=1e-4)
    np.testing.assert_allclose(he.median_chroma(uniform), CHROMA_MAX / 2, rtol=1e-5)
    _, length = he.circular_mean_hue(uniform)
    np.testing.assert_allclose(length, 0.0, atol=1e-6)


def test_decode_fading_factor_and_interpolated_median() -> None:
    hue = np.zeros((K, 1, 1))
    hue[2], hue[18] = 0.5075, 0.4925  # opposite bins: |z| = 0.015, half the fading threshold -> half chroma
    chroma = np.zeros((K, 1, 1))
    chroma[10], chroma[11] = 0.25, 0.75  # median inside bin 11 at 1/3 of its width
    ab = he.decode_ab(hue, chroma)[0, 0]
    width = CHROMA_MAX / K
    expected_c = (11 + 1 / 3) * width * 0.5
    np.testing.assert_allclose(np.hypot(*ab), expected_c, rtol=1e-4)
    np.testing.assert_allclose(math.atan2(ab[1], ab[0]) / (2 * math.pi) % 1, HUE_QUANTIZER.centres[2], atol=1e-6)


def test_decode_mean_mode_is_expected_ab() -> None:
    rng = np.random.default_rng(3)
    hue, chroma = random_probs(rng, (K, 5, 4), 0.3), random_probs(rng, (K, 5, 4), 0.3)
    angles = 2 * math.pi * HUE_QUANTIZER.centres[:, None, None]
    z = np.stack([(hue * np.cos(angles)).sum(axis=0), (hue * np.sin(angles)).sum(axis=0)], axis=-1)
    expected_chroma = (chroma * CHROMA_QUANTIZER.centres[:, None, None]).sum(axis=0)
    np.testing.assert_allclose(he.decode_ab(hue, chroma, mode="mean"), expected_chroma[..., None] * z, atol=1e-4)
    assert np.allclose(he.decode_ab(hue, chroma), he.decode_ab(hue, chroma, mode="median"))  # the default
    with pytest.raises(ValueError, match="mode"):
        he.decode_ab(hue, chroma, mode="mode")


def test_decode_matches_the_network_module() -> None:
    """``models.histogram.decode_ab`` adapts this decoding to batched, channel-first torch tensors."""
    from colorstudio.models import histogram

    assert histogram.FADING_THRESHOLD == he.FADING_THRESHOLD
    rng = np.random.default_rng(1)
    hue, chroma = random_probs(rng, (K, 9, 7), 0.3), random_probs(rng, (K, 9, 7), 0.3)
    theirs = np.moveaxis(np.asarray(histogram.decode_ab(hue, chroma)), 0, -1)
    np.testing.assert_allclose(he.decode_ab(hue, chroma), theirs, atol=1e-4)
    batch_hue = torch.from_numpy(np.stack([hue, np.roll(hue, 5, axis=0)])).float()
    batch_chroma = torch.from_numpy(np.stack([chroma, np.roll(chroma, 3, axis=0)])).float()
    for mode in ("median", "mean"):
        batched = histogram.decode_ab(batch_hue, batch_chroma, mode=mode)
        assert batched.shape == (2, 2, 9, 7) and batched.dtype == torch.float32
        for i in range(2):
            np.testing.assert_allclose(batched[i].permute(1, 2, 0).numpy(),
                                       he.decode_ab(batch_hue[i], batch_chroma[i], mode=mode), atol=1e-4)


def test_decode_accepts_torch_and_rejects_bad_input() -> None:
    rng = np.random.default_rng(2)
    hue, chroma = random_probs(rng, (K, 4, 5)), random_probs(rng, (K, 4, 5))
    np.testing.assert_allclose(he.decode_ab(torch.from_numpy(hue), torch.from_numpy(chroma)),
                               he.decode_ab(hue, chroma), atol=1e-5)
    with pytest.raises(ColorStudioError, match="shape"):
        he.decode_ab(hue[0], chroma)
    with pytest.raises(ColorStudioError, match="different grids"):
        he.decode_ab(hue, chroma[:, :3])
    with pytest.raises(ColorStudioError, match="non-negative"):
        he.decode_ab(-hue, chroma)


# -- uncertainty ----------------------------------------------------------------------------------------


def test_uncertainty_high_for_flat_hue_low_for_peaked() -> None:
    flat_hue = np.full((K, 1, 1), 1.0 / K)
    peaked_hue = one_hot(7, (1, 1))
    chroma = gaussian_chroma(np.full((1, 1), 0.8 * CHROMA_MAX), 3.0)
    flat = he.uncertainty_map(flat_hue, chroma)[0, 0]
    peaked = he.uncertainty_map(peaked_hue, chroma)[0, 0]
    assert flat > 0.75 and peaked < 0.01
    # A flat hue at zero chroma is not an uncertain colour: gray is gray whatever the hue.
    gray = he.uncertainty_map(flat_hue, one_hot(0, (1, 1)))[0, 0]
    assert gray < 0.05


def test_uncertainty_range_and_full_res() -> None:
    rng = np.random.default_rng(3)
    u = he.uncertainty_map(random_probs(rng, (K, 6, 8)), random_probs(rng, (K, 6, 8)))
    assert u.shape == (6, 8) and u.dtype == np.float32 and u.min() >= 0 and u.max() <= 1
    full = he.uncertainty_full_res(u, (40, 30))
    assert full.shape == (30, 40) and full.min() >= 0 and full.max() <= 1
    assert full.min() >= u.min() - 1e-6 and full.max() <= u.max() + 1e-6  # bilinear: no overshoot
    with pytest.raises(ColorStudioError):
        he.uncertainty_full_res(u, (0, 10))


# -- energy minimization --------------------------------------------------------------------------------


def test_derivatives_match_finite_differences() -> None:
    rng = np.random.default_rng(4)
    bins = 8
    solver = he.BiasSolver(random_probs(rng, (bins, 5, 6)), pixel_weights=rng.random((5, 6)))
    target, bias, lam = rng.dirichlet(np.ones(bins)), rng.normal(size=bins), 2.0
    energy, grad, hessian = solver.derivatives(bias, target, lam)
    assert energy == pytest.approx(solver.energy(bias, target, lam)[0], rel=1e-12)
    eye, h = np.eye(bins), 1e-6
    num_grad = [(solver.energy(bias + h * e, target, lam)[0] - solver.energy(bias - h * e, target, lam)[0]) / (2 * h)
                for e in eye]
    num_hess = [(solver.derivatives(bias + h * e, target, lam)[1] - solver.derivatives(bias - h * e, target, lam)[1]) / (2 * h)
                for e in eye]
    np.testing.assert_allclose(grad, num_grad, atol=1e-8)
    np.testing.assert_allclose(hessian, np.array(num_hess), atol=1e-7)


def test_zero_strength_leaves_distributions_unchanged() -> None:
    rng = np.random.default_rng(5)
    probs = random_probs(rng, (K, 8, 8)).astype(np.float32)
    solver = he.BiasSolver(probs)
    solution = solver.solve(rng.dirichlet(np.ones(K)), 0.0)
    np.testing.assert_array_equal(solution.bias, 0.0)
    assert solution.kl == 0.0
    np.testing.assert_allclose(solver.apply(), probs, atol=1e-6)


def test_large_strength_brings_mean_posterior_to_target() -> None:
    rng = np.random.default_rng(6)
    probs = random_probs(rng, (K, 12, 12), 1.0)
    target = rng.dirichlet(np.full(K, 2.0))
    solver = he.BiasSolver(probs)
    solution = solver.solve(target, 1000.0)
    assert solution.converged
    assert solution.chi2 < 0.01 * solution.chi2_start
    mean = solver.apply().reshape(K, -1).mean(axis=1)
    assert he.chi_square(mean, target) < 0.01 * solution.chi2_start
    # Moderate strength: a compromise, chi2 between the two.
    moderate = he.BiasSolver(probs).solve(target, 1.0)
    assert solution.chi2 < moderate.chi2 < moderate.chi2_start


def test_warm_start_needs_fewer_iterations() -> None:
    rng = np.random.default_rng(7)
    probs = random_probs(rng, (K, 16, 16), 0.7)
    target = rng.dirichlet(np.full(K, 2.0))
    solver = he.BiasSolver(probs)
    solver.solve(target, 5.0)
    warm = solver.solve(target, 5.5)  # next slider position, starts from the last b
    cold = he.BiasSolver(probs).solve(target, 5.5)
    assert warm.converged and cold.converged
    assert warm.iterations < cold.iterations
    np.testing.assert_allclose(warm.bias, cold.bias, atol=2e-3)


def test_solver_subsamples_large_grids_without_changing_the_answer() -> None:
    rng = np.random.default_rng(8)
    base = random_probs(rng, (K, 8, 8), 0.5)
    probs = base.repeat(8, axis=1).repeat(8, axis=2)  # 64 x 64 smooth grid
    target = rng.dirichlet(np.full(K, 2.0))
    exact = he.BiasSolver(probs, max_cells=None).solve(target, 3.0)
    fast = he.BiasSolver(probs, max_cells=1024).solve(target, 3.0)
    np.testing.assert_allclose(fast.bias, exact.bias, atol=1e-6)


# -- reference transfer ---------------------------------------------------------------------------------


def synthetic_scene() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """GT: left half hue 0.1, right half hue 0.6 (chroma 30). Prediction: right half wrongly leans to 0.1.

    Returns (gt rgb (H, W, 3), gt ab (H, W, 2), hue probs, chroma probs) on a 16 x 16 grid.
    """
    h, w = 16, 16
    hue_gt = np.where(np.arange(w)[None, :] < w // 2, 0.1, 0.6) * np.ones((h, 1))
    lab = np.asarray(lch_to_lab(np.full((h, w), 60.0), np.full((h, w), 30.0), hue_gt))
    rgb = lab_to_rgb(lab.astype(np.float32))
    gt_ab = rgb_to_lab(rgb)[..., 1:]
    bins = HUE_QUANTIZER.encode(np.array([0.1, 0.6]))
    hue = np.zeros((K, h, w))
    left = np.arange(w) < w // 2
    hue[bins[0]][:, left], hue[bins[1]][:, left] = 0.9, 0.1  # confident, right
    hue[bins[0]][:, ~left], hue[bins[1]][:, ~left] = 0.6, 0.4  # uncertain, wrong
    hue = 0.98 * hue + 0.02 / K
    chroma = gaussian_chroma(np.full((h, w), 15.0), 6.0)  # too gray
    return rgb, gt_ab, hue, chroma


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum((a - b) ** 2, axis=-1))))


def test_reference_histograms_weights_hue_by_chroma() -> None:
    rgb, _, _, _ = synthetic_scene()
    gray = np.full((16, 8, 3), 0.5, dtype=np.float32)
    hists = he.reference_histograms(np.concatenate([rgb, gray], axis=1))
    assert hists.hue.shape == hists.chroma.shape == (K,)
    assert hists.hue.sum() == pytest.approx(1.0) and hists.chroma.sum() == pytest.approx(1.0)
    bins = HUE_QUANTIZER.encode(np.array([0.1, 0.6]))
    assert hists.hue[bins].sum() > 0.95  # the gray third votes for no hue ...
    assert hists.chroma[0] == pytest.approx(1 / 3, abs=0.01)  # ... but for chroma 0
    uint8 = he.reference_histograms((rgb * 255).round().astype(np.uint8))
    np.testing.assert_allclose(uint8.hue, he.reference_histograms(rgb).hue, atol=0.02)
    flat = he.reference_histograms(gray)
    np.testing.assert_allclose(flat.hue, 1.0 / K)


def test_transfer_to_ground_truth_histograms_lowers_ab_error() -> None:
    rgb, gt_ab, hue, chroma = synthetic_scene()
    before = rmse(he.decode_ab(hue, chroma), gt_ab)
    result = he.transfer_to_reference(hue, chroma, he.reference_histograms(rgb), strength=5.0)
    hue_new, chroma_new, solution = result
    assert hue_new.shape == chroma_new.shape == (K, 16, 16)
    after = rmse(he.decode_ab(hue_new, chroma_new), gt_ab)
    assert after < 0.5 * before
    assert solution.hue.chi2 < 0.5 * solution.hue.chi2_start
    # Warm-started again at a nearby strength: same answer as a cold solve, in fewer iterations.
    again = he.transfer_to_reference(hue, chroma, he.reference_histograms(rgb), strength=5.5, warm_start=solution)
    cold = he.transfer_to_reference(hue, chroma, he.reference_histograms(rgb), strength=5.5)
    assert again.solution.hue.iterations <= cold.solution.hue.iterations
    np.testing.assert_allclose(again.hue_probs, cold.hue_probs, atol=1e-3)


def test_reference_transfer_session_matches_function_and_decodes() -> None:
    rgb, _, hue, chroma = synthetic_scene()
    hists = he.reference_histograms(rgb)
    session = he.ReferenceTransfer(hue, chroma, hists)
    ab, _ = session.apply_ab(2.0)
    expected = he.transfer_to_reference(hue, chroma, hists, strength=2.0)
    np.testing.assert_allclose(ab, he.decode_ab(expected.hue_probs, expected.chroma_probs), atol=1e-3)
    with pytest.raises(ColorStudioError, match="bins"):
        he.ReferenceTransfer(hue, chroma, (hists.hue[:10], hists.chroma))


# -- hue bias -------------------------------------------------------------------------------------------


def test_hue_rotation_moves_uncertain_pixels_more_than_confident_ones() -> None:
    h, w = 8, 8
    hue_turns = np.full((h, w), 0.1)
    kappa = np.where(np.arange(w)[None, :] < w // 2, 20.0, 0.3) * np.ones((h, 1))  # left confident, right flat
    hue = von_mises_hue(hue_turns, kappa)
    chroma = gaussian_chroma(np.full((h, w), 40.0), 3.0)
    uncertainty = he.uncertainty_map(hue, chroma)
    confident, uncertain = kappa > 1, kappa < 1
    assert uncertainty[uncertain].min() > 2 * uncertainty[confident].max()
    before = he.decode_ab(hue, chroma)
    after = he.decode_ab(he.hue_bias(hue, 36.0 + 180.0, strength=1.0), chroma)  # 180 degrees away
    change = np.linalg.norm(after - before, axis=-1)
    assert change[uncertain].mean() > 40.0  # follows the bias: most of the way to the opposite hue
    assert change[confident].mean() < 2.0
    assert change[uncertain].mean() > 10 * change[confident].mean()


def test_hue_bias_zero_strength_is_identity_and_bump_peaks_at_angle() -> None:
    rng = np.random.default_rng(9)
    hue = random_probs(rng, (K, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(he.hue_bias(hue, 123.0, 0.0), hue, atol=1e-6)
    bump = he.hue_bump(90.0)
    assert bump.max() <= 1.0 and HUE_QUANTIZER.centres[np.argmax(bump)] == pytest.approx(0.25, abs=1 / K)
    with pytest.raises(ColorStudioError):
        he.hue_bias(hue, 10.0, -1.0)


def test_hue_rotation_by_energy_pulls_the_mean_histogram_around() -> None:
    h, w = 8, 8
    hue = von_mises_hue(np.full((h, w), 0.1), np.full((h, w), 1.0))
    chroma = gaussian_chroma(np.full((h, w), 40.0), 3.0)
    target = he.rotated_mean_hue(hue, 90.0)
    np.testing.assert_allclose(target, np.roll(hue.reshape(K, -1).mean(axis=1), 8), atol=1e-6)
    rotated, solution = he.hue_rotation_by_energy(hue, chroma, 90.0, strength=20.0)
    assert solution.chi2 < 0.2 * solution.chi2_start
    angle, _ = he.circular_mean_hue(rotated)
    assert np.allclose(angle, 0.35, atol=0.03)  # 0.1 turn + a quarter turn


# -- quantile matching ----------------------------------------------------------------------------------


def ratio_quantiles(rgb: np.ndarray) -> np.ndarray:
    ratios = rgb / np.maximum(rgb.mean(axis=-1, keepdims=True), 1e-4)
    return np.quantile(ratios.reshape(-1, 3), np.linspace(0.1, 0.9, 9), axis=0)


def test_quantile_matching_keeps_lightness_and_moves_quantiles() -> None:
    import cv2
    from skimage import data

    colorized = cv2.resize(data.astronaut(), (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    reference = cv2.resize(data.coffee(), (80, 60), interpolation=cv2.INTER_AREA)  # uint8 is fine
    out = he.quantile_match_transfer(colorized, reference, strength=1.0)
    assert out.shape == colorized.shape and out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
    d_l = np.abs(rgb_to_lab(out)[..., 0] - rgb_to_lab(colorized)[..., 0])
    assert d_l.mean() < 0.5
    target = ratio_quantiles(reference.astype(np.float32) / 255)
    before = np.abs(ratio_quantiles(colorized) - target).mean()
    after = np.abs(ratio_quantiles(out) - target).mean()
    assert after < 0.5 * before
    half = he.quantile_match_transfer(colorized, reference, strength=0.5)
    assert after < np.abs(ratio_quantiles(half) - target).mean() < before
    np.testing.assert_allclose(he.quantile_match_transfer(colorized, reference, 0.0), colorized, atol=1e-6)
    with pytest.raises(ColorStudioError):
        he.quantile_match_transfer(colorized, reference, 1.5)


# -- suggested colours ----------------------------------------------------------------------------------


def hex_hue(code: str) -> float:
    rgb = np.array([int(code[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.float32) / 255
    lab = rgb_to_lab(rgb[None, None])[0, 0]
    return math.atan2(lab[2], lab[1]) / (2 * math.pi) % 1.0


def circular_gap(a: float, b: float) -> float:
    return abs((a - b + 0.5) % 1.0 - 0.5)


def test_suggested_colors_returns_both_modes_of_a_bimodal_hue() -> None:
    h, w = 3, 3
    peaks = von_mises_hue(np.full((h, w), 0.1), np.full((h, w), 15.0)), von_mises_hue(np.full((h, w), 0.6), np.full((h, w), 15.0))
    hue = 0.65 * peaks[0] + 0.35 * peaks[1]
    chroma = gaussian_chroma(np.full((h, w), 35.0), 3.0)
    colors = he.suggested_colors(hue, chroma, 1, 2, 60.0, k=5)
    assert len(colors) == 2
    (first, w1), (second, w2) = colors
    assert all(len(c) == 7 and c.startswith("#") for c, _ in colors)
    assert w1 == pytest.approx(0.65, abs=0.03) and w2 == pytest.approx(0.35, abs=0.03)
    assert circular_gap(hex_hue(first), 0.1) < 0.03 and circular_gap(hex_hue(second), 0.6) < 0.03
    lightness = rgb_to_lab(np.array([[[int(first[i : i + 2], 16) / 255 for i in (1, 3, 5)]]], dtype=np.float32))[0, 0, 0]
    assert lightness == pytest.approx(60.0, abs=1.0)
    assert len(he.suggested_colors(hue, chroma, 1, 2, 60.0, k=1)) == 1


def test_suggested_colors_gray_cell_and_errors() -> None:
    hue = np.full((K, 2, 2), 1.0 / K)
    colors = he.suggested_colors(hue, one_hot(0, (2, 2)), 0, 0, 50.0)
    assert 1 <= len(colors) <= 5 and sum(w for _, w in colors) <= 1.0 + 1e-9
    with pytest.raises(ColorStudioError, match="outside"):
        he.suggested_colors(hue, hue, 5, 0, 50.0)
    with pytest.raises(ColorStudioError, match="L\\*"):
        he.suggested_colors(hue, hue, 0, 0, 150.0)

