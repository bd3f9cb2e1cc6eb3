"""Discretized logistic mixture over (a, b): normalization, edge cases, gradients, sampling vs pmf."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from colorstudio.color import PicLevels, ab_to_pic
from colorstudio.models import logistic_mixture as lm

K = 10


def _params(gen: torch.Generator, *, log_s: float | None = None, mean_shift: float = 0.0, spread: float = 1.0) -> torch.Tensor:
    """(8K,) random raw parameters; optionally every log scale fixed and the means shifted."""
    p = torch.randn(lm.num_params(K), generator=gen, dtype=torch.float64) * spread
    blocks = list(p.chunk(lm.PARAMS_PER_COMPONENT))
    blocks[1] = blocks[1] + mean_shift
    blocks[2] = blocks[2] + mean_shift
    if log_s is not None:
        blocks[3] = torch.full_like(blocks[3], log_s)
        blocks[4] = torch.full_like(blocks[4], log_s)
    return torch.cat(blocks)


CASES = {
    "random": {},
    "tiny_scales": {"log_s": -9.0},  # below the clamp: every logistic in one bin
    "small_scales": {"log_s": -5.0},
    "huge_scales": {"log_s": 12.0},  # nearly all mass in the two open edge bins
    "means_far_outside": {"mean_shift": 6.0, "spread": 3.0},
    "means_far_below": {"mean_shift": -40.0},
    "wild": {"spread": 8.0},
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("case", list(CASES))
def test_pmf_over_all_levels_sums_to_one(case: str, dtype: torch.dtype) -> None:
    gen = torch.Generator().manual_seed(hash(case) % 1000)
    for L in (-1.0, 0.3, 1.0):
        pmf = lm.pmf_grid(_params(gen, **CASES[case]).to(dtype), torch.tensor(L, dtype=dtype))
        assert pmf.shape == (256, 256)
        assert torch.isfinite(pmf).all() and (pmf >= 0).all()
        assert abs(float(pmf.double().sum()) - 1.0) < 1e-4


def test_log_prob_shapes_and_range() -> None:
    gen = torch.Generator().manual_seed(0)
    params = torch.randn(3, lm.num_params(K), 5, 7, generator=gen)
    L = torch.rand(3, 1, 5, 7, generator=gen) * 2 - 1
    ab = ab_to_pic(torch.randint(-128, 128, (3, 2, 5, 7), generator=gen).float())
    lp = lm.log_prob(params, L, ab)
    assert lp.shape == (3, 5, 7)
    assert (lp <= 0).all()
    assert torch.allclose(lm.log_prob(params, L[:, 0], ab), lp)  # L without its channel axis
    assert torch.isclose(lm.nll(params, L, ab), -lp.sum((1, 2)).mean())
    with pytest.raises(ValueError):
        lm.log_prob(params[:, :-1], L, ab)


def test_single_logistic_matches_closed_form() -> None:
    """One dominant component, no coefficients: P(bin) = sigmoid((x+1/255-mu)/s) - sigmoid((x-1/255-mu)/s)."""
    mu_a, mu_b, log_s = 0.2, -0.3, math.log(0.05)
    blocks = torch.zeros(lm.PARAMS_PER_COMPONENT, K, dtype=torch.float64)
    blocks[0, 0] = 100.0  # component 0 takes all weight
    blocks[1], blocks[2], blocks[3], blocks[4] = mu_a, mu_b, log_s, log_s
    pmf = lm.pmf_grid(blocks.reshape(-1), torch.tensor(0.7, dtype=torch.float64))
    x = torch.arange(256, dtype=torch.float64) * 2 / 255 - 1
    s = math.exp(log_s)

    def marginal(mu: float) -> torch.Tensor:
        upper = torch.where(x > 1 - 1e-6, torch.ones_like(x), torch.sigmoid((x + 1 / 255 - mu) / s))
        lower = torch.where(x < -1 + 1e-6, torch.zeros_like(x), torch.sigmoid((x - 1 / 255 - mu) / s))
        return upper - lower

    expected = marginal(mu_a)[:, None] * marginal(mu_b)[None, :]
    assert torch.allclose(pmf, expected, atol=1e-12)


def test_lightness_and_a_shift_the_means() -> None:
    """mu_a' = mu_a + c0 L and mu_b' = mu_b + c1 L + c2 a: the mode moves accordingly."""
    blocks = torch.zeros(lm.PARAMS_PER_COMPONENT, K, dtype=torch.float64)
    blocks[0, 0] = 100.0
    blocks[3], blocks[4] = -6.0, -6.0
    blocks[5, 0] = math.atanh(0.5)  # c0 = 0.5
    blocks[7, 0] = math.atanh(-0.25)  # c2 = -0.25
    pmf = lm.pmf_grid(blocks.reshape(-1), torch.tensor(0.8, dtype=torch.float64))
    a_level, b_level = np.unravel_index(int(pmf.argmax()), pmf.shape)
    a = a_level * 2 / 255 - 1
    assert abs(a - 0.4) <= 1 / 255 + 1e-9
    assert abs((b_level * 2 / 255 - 1) - (-0.25 * a)) <= 1 / 255 + 1e-9


def test_gradients_finite_for_extreme_parameters() -> None:
    gen = torch.Generator().manual_seed(1)
    params = torch.randn(4, lm.num_params(K), 6, 6, generator=gen) * 20
    params[0] = -50.0  # tiny scales (clamped), means far below
    params[1] = 50.0  # huge scales (clamped), means far above
    params.requires_grad_(True)
    L = torch.rand(4, 1, 6, 6, generator=gen) * 2 - 1
    levels = torch.randint(0, 256, (4, 2, 6, 6), generator=gen)
    levels[:, :, 0] = 0  # first and last bins
    levels[:, :, 1] = 255
    ab = PicLevels().to_unit(levels)
    loss = lm.nll(params, L, ab)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(params.grad).all()


def _one_pixel_params(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    p = torch.randn(lm.num_params(K), generator=gen) * 0.5
    blocks = list(p.chunk(lm.PARAMS_PER_COMPONENT))
    blocks[3] = blocks[3] * 0.5 - 2.0  # scales ~ 0.05..0.3: spread over many levels
    blocks[4] = blocks[4] * 0.5 - 2.0
    return torch.cat(blocks), torch.tensor(0.2)


def test_samples_follow_the_pmf() -> None:
    """Chi-square of 100 000 samples of one pixel against its pmf on an 8x8-level coarse grid."""
    params, L = _one_pixel_params(3)
    n = 100_000
    draws = lm.sample(params.reshape(1, -1, 1, 1).expand(n, -1, 1, 1), L.expand(n, 1, 1),
                      torch.Generator().manual_seed(5))
    assert draws.shape == (n, 2, 1, 1)
    levels = PicLevels().from_unit(draws[:, :, 0, 0])
    assert torch.allclose(PicLevels().to_unit(levels), draws[:, :, 0, 0], atol=1e-6)  # on the grid
    coarse = (levels // 8).numpy()
    observed = np.zeros((32, 32))
    np.add.at(observed, (coarse[:, 0], coarse[:, 1]), 1)
    expected = lm.pmf_grid(params.double(), L.double()).reshape(32, 8, 32, 8).sum((1, 3)).numpy() * n
    keep = expected >= 5
    assert observed[~keep].sum() <= 5 * max(1, (~keep).sum()) + 50
    chi2 = float(((observed[keep] - expected[keep]) ** 2 / expected[keep]).sum())
    dof = int(keep.sum()) - 1
    assert chi2 < dof + 5 * math.sqrt(2 * dof), (chi2, dof)


def test_zero_temperature_gives_the_mode_of_the_main_component() -> None:
    blocks = torch.zeros(lm.PARAMS_PER_COMPONENT, K)
    blocks[0] = torch.linspace(-2, 2, K)  # last component most probable
    blocks[1, -1], blocks[2, -1] = 0.31, -0.52
    blocks[3], blocks[4] = -4.0, -4.0
    params = blocks.reshape(1, -1, 1, 1)
    L = torch.zeros(1, 1, 1, 1)
    greedy = lm.sample(params, L, torch.Generator().manual_seed(0), temperature=0.0)
    assert torch.allclose(greedy[0, :, 0, 0], ab_to_pic(torch.tensor([0.31, -0.52]) * 127.5 - 0.5), atol=1.01 / 255)
    cold = lm.sample(params.expand(200, -1, 1, 1), L.expand(200, 1, 1, 1), torch.Generator().manual_seed(1), temperature=1e-3)
    assert torch.allclose(cold, greedy.expand_as(cold), atol=2.01 / 255)  # no spread at a tiny temperature
    with pytest.raises(ValueError):
        lm.sample(params, L, None, temperature=-1.0)


def test_temperature_narrows_the_spread() -> None:
    params, L = _one_pixel_params(4)
    n = 20_000
    spreads = []
    for t in (1.0, 0.5):
        s = lm.sample(params.reshape(1, -1, 1, 1).expand(n, -1, 1, 1), L.expand(n, 1, 1), torch.Generator().manual_seed(2), t)
        spreads.append(float(s.std(0).mean()))
    assert spreads[1] < spreads[0]


def test_per_row_generators_make_rows_independent_of_the_batch() -> None:
    gen = torch.Generator().manual_seed(7)
    params = torch.randn(3, lm.num_params(K), 4, 4, generator=gen)
    L = torch.zeros(3, 1, 4, 4)
    batch = lm.sample(params, L, [torch.Generator().manual_seed(s) for s in (10, 11, 12)])
    alone = lm.sample(params[2:], L[2:], [torch.Generator().manual_seed(12)])
    assert torch.equal(batch[2:], alone)
    with pytest.raises(ValueError):
        lm.draw_uniforms((3, 4, 4), [torch.Generator()])


# ---------------------------------------------------------------------------------------------- truncation
def _single_logistic(mean: float, log_s: float, components: int = 1) -> torch.Tensor:
    """(8K, 1, 1) parameters: component 0 carries the mass (the others, if any, have logits -inf-ish)."""
    blocks = torch.zeros(lm.PARAMS_PER_COMPONENT, components)
    blocks[0, 1:] = -30.0
    blocks[1, 0], blocks[2, 0] = mean, mean
    blocks[3], blocks[4] = log_s, log_s
    return blocks.reshape(-1, 1, 1)


def test_truncation_off_is_the_full_mixture() -> None:
    gen = torch.Generator().manual_seed(3)
    params = torch.randn(4, lm.num_params(K), 3, 3, generator=gen)
    L = torch.zeros(4, 1, 3, 3)
    u = lm.draw_uniforms((4, 3, 3), torch.Generator().manual_seed(4))
    full = lm.sample_from_uniforms(params, L, u, 0.7)
    assert torch.equal(lm.sample_from_uniforms(params, L, u, 0.7, lm.Truncation()), full)
    assert not lm.Truncation().active and lm.Truncation(tail=0.01).active


def test_tail_truncation_keeps_each_logistic_inside_its_central_quantiles() -> None:
    """With tail t, no draw lies beyond mean +- s * logit(1 - t) (plus half a bin of rounding), while the
    untruncated draws of the same noise do; the draws inside that range are unchanged in order."""
    mean, log_s, tail, n = 0.1, -2.5, 0.05, 20_000
    params = _single_logistic(mean, log_s)[None].expand(n, -1, 1, 1)
    L = torch.zeros(n, 1, 1, 1)
    u = lm.draw_uniforms((n, 1, 1), torch.Generator().manual_seed(0))
    full = lm.sample_from_uniforms(params, L, u)[:, 0, 0, 0]
    cut = lm.sample_from_uniforms(params, L, u, truncation=lm.Truncation(tail=tail))[:, 0, 0, 0]
    bound = math.exp(log_s) * math.log((1 - tail) / tail) + lm.HALF_BIN + 1e-6
    assert (cut - mean).abs().max() <= bound < (full - mean).abs().max()
    order = torch.argsort(u[:, 1, 0, 0])
    assert (cut[order].diff() >= 0).all()  # a monotone map of the same noise: diversity is kept, reordered nowhere
    assert cut.std() < full.std()


def test_component_floor_drops_light_components_and_keeps_the_heaviest() -> None:
    blocks = torch.zeros(lm.PARAMS_PER_COMPONENT, 3)
    blocks[0] = torch.log(torch.tensor([0.9, 0.08, 0.02]))
    blocks[1] = torch.tensor([-0.6, 0.0, 0.6])  # the components sit far apart in a
    blocks[3], blocks[4] = -6.0, -6.0
    n = 5_000
    params = blocks.reshape(1, -1, 1, 1).expand(n, -1, 1, 1)
    L = torch.zeros(n, 1, 1, 1)
    u = lm.draw_uniforms((n, 1, 1), torch.Generator().manual_seed(1))

    def a_values(truncation: lm.Truncation) -> torch.Tensor:
        return lm.sample_from_uniforms(params, L, u, truncation=truncation)[:, 0, 0, 0]

    assert (a_values(lm.Truncation()) > 0.3).any()  # the 2 % component is drawn without a floor
    floored = a_values(lm.Truncation(min_weight=0.05))
    assert not (floored > 0.3).any() and (floored.abs() < 0.1).any()  # 8 % stays, 2 % is gone
    only = a_values(lm.Truncation(min_weight=0.95))  # above every weight: the heaviest still stays
    assert (only + 0.6).abs().max() < 0.05


@pytest.mark.parametrize("bad", [{"tail": 0.5}, {"tail": -0.01}, {"tail": math.nan}, {"min_weight": 1.0},
                                 {"min_weight": -0.1}])
def test_truncation_settings_are_checked(bad: dict) -> None:
    with pytest.raises(ValueError):
        lm.Truncation(**bad)
