"""The plausibility of a sample under the histogram network's distributions (issue 14: best first)."""

from __future__ import annotations

import math

import pytest
import torch

from colorstudio.color import CHROMA_QUANTIZER, HUE_QUANTIZER
from colorstudio.models.histogram import smoothing_matrix
from colorstudio.models.plausibility import HINT_SCALE, hint_agreement, histogram_log_likelihood, plausibility

K = 32
SMOOTH_HUE, SMOOTH_CHROMA = smoothing_matrix(K, 1.0, circular=True), smoothing_matrix(K, 1.0, circular=False)


def _peaked(hue_turns: float, chroma: float, h: int = 2, w: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """(1, K, h, w) distributions with most mass on the bins of one colour (hue in turns, Lab chroma)."""
    hue = torch.full((1, K, h, w), 0.1 / K)
    chroma_p = torch.full((1, K, h, w), 0.1 / K)
    hue[:, int(HUE_QUANTIZER.encode(torch.tensor(hue_turns)))] += 0.9
    chroma_p[:, int(CHROMA_QUANTIZER.encode(torch.tensor(chroma)))] += 0.9
    return hue, chroma_p


def _flat_ab(a: float, b: float, n: int = 1, size: tuple[int, int] = (8, 12)) -> torch.Tensor:
    """(n, 2, H, W) normalized a*b* of one colour."""
    return torch.tensor([a, b]).reshape(1, 2, 1, 1).expand(n, 2, *size) / 110.0


def test_the_predicted_colour_is_more_plausible_than_another() -> None:
    hue, chroma = _peaked(0.25, 40.0)  # hue 90 degrees: +b*, yellowish, chroma 40
    L = torch.zeros(1, 1, 8, 12)
    likely = torch.cat([_flat_ab(0.0, 40.0), _flat_ab(0.0, -40.0), _flat_ab(0.0, 5.0)])  # right, opposite hue, grayish
    scores = histogram_log_likelihood(hue, chroma, L, likely, SMOOTH_HUE, SMOOTH_CHROMA)
    assert scores.shape == (3,) and (scores <= 0).all()
    assert scores[0] > scores[1] and scores[0] > scores[2]
    # per cell, not per image: a larger photo of the same colour scores the same
    bigger = histogram_log_likelihood(*_peaked(0.25, 40.0, 4, 6), torch.zeros(1, 1, 16, 24),
                                      _flat_ab(0.0, 40.0, size=(16, 24)), SMOOTH_HUE, SMOOTH_CHROMA)
    assert float(bigger[0]) == pytest.approx(float(scores[0]), rel=1e-5)


def test_the_hue_of_a_gray_sample_does_not_count() -> None:
    """Hue is weighted by chroma: two near-gray samples of opposite hue score (almost) the same."""
    hue, chroma = _peaked(0.25, 1.0)
    ab = torch.cat([_flat_ab(0.0, 0.5), _flat_ab(0.0, -0.5)])
    scores = histogram_log_likelihood(hue, chroma, torch.zeros(1, 1, 8, 12), ab, SMOOTH_HUE, SMOOTH_CHROMA)
    assert abs(float(scores[0] - scores[1])) < 0.05


def test_hint_agreement_is_zero_without_or_on_the_hints_and_costs_one_nat_at_the_scale() -> None:
    ab = _flat_ab(20.0, 10.0, n=2)
    assert torch.equal(hint_agreement(ab, None), torch.zeros(2))
    hint = torch.zeros(1, 3, 8, 12)
    assert torch.equal(hint_agreement(ab, hint), torch.zeros(2))  # an empty mask is no hint
    hint[:, 2, 2:4, 3:5] = 1.0
    hint[:, 0, 2:4, 3:5], hint[:, 1, 2:4, 3:5] = 20.0 / 110, (10.0 + HINT_SCALE) / 110
    off = hint_agreement(ab, hint)
    assert off.shape == (2,) and torch.allclose(off, torch.full((2,), -1.0), atol=1e-5)
    hint[:, 1, 2:4, 3:5] = 10.0 / 110
    assert torch.allclose(hint_agreement(ab, hint), torch.zeros(2), atol=1e-6)


def test_plausibility_adds_the_two_terms() -> None:
    hue, chroma = _peaked(0.1, 30.0)
    L, ab = torch.zeros(1, 1, 8, 12), _flat_ab(15.0, 10.0, n=2)
    hint = torch.zeros(1, 3, 8, 12)
    hint[:, 2, 0, 0], hint[:, 0, 0, 0] = 1.0, 0.5
    total = plausibility(hue, chroma, L, ab, hint, SMOOTH_HUE, SMOOTH_CHROMA)
    parts = histogram_log_likelihood(hue, chroma, L, ab, SMOOTH_HUE, SMOOTH_CHROMA) + hint_agreement(ab, hint)
    assert torch.allclose(total, parts) and all(math.isfinite(float(v)) for v in total)


def test_shapes_are_checked() -> None:
    hue, chroma = _peaked(0.1, 30.0)
    with pytest.raises(ValueError, match="grid"):
        histogram_log_likelihood(hue, chroma, torch.zeros(1, 1, 16, 16), _flat_ab(1, 1, size=(16, 16)),
                                 SMOOTH_HUE, SMOOTH_CHROMA)
    with pytest.raises(ValueError, match="N, 2"):
        histogram_log_likelihood(hue, chroma, torch.zeros(1, 1, 8, 12), torch.zeros(1, 3, 8, 12),
                                 SMOOTH_HUE, SMOOTH_CHROMA)
