"""Histogram colorizer (Larsson et al. 2016): shapes, heads, loss, hint wiring, decoding."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from colorstudio.color import CHROMA_QUANTIZER, HUE_QUANTIZER, lch_to_lab, normalize_ab, normalize_l
from colorstudio.models.histogram import (
    HistogramColorizer,
    HistogramConfig,
    build_histogram_model,
    decode_ab,
    histogram_targets,
    smoothing_matrix,
)

TINY = HistogramConfig(width=4, stage_mults=(1, 2, 4), stage_blocks=(0, 1, 1), hypercolumn_channels=16, norm="group")
K = TINY.bins


@pytest.fixture(autouse=True)
def _threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(previous)


def _synthetic_batch(b: int = 4, size: int = 16, seed: int = 0) -> dict[str, torch.Tensor]:
    """Images whose colour is a function of lightness (learnable): dark = blue, bright = orange."""
    g = torch.Generator().manual_seed(seed)
    L = torch.rand(b, 1, size, size, generator=g) * 80 + 10
    hue = torch.where(L > 50, torch.full_like(L, 0.15), torch.full_like(L, 0.7))
    lab = lch_to_lab(L[:, 0], torch.full_like(L[:, 0], 40.0), hue[:, 0])
    return {"L": normalize_l(lab[:, :1]), "ab": normalize_ab(lab[:, 1:])}


@pytest.mark.parametrize("size", [(1, 1), (7, 13), (31, 17), (64, 48), (33, 65)])
def test_any_size_gives_quarter_resolution(size):
    model = HistogramColorizer(TINY).eval()
    hue, chroma = model(torch.randn(2, 4, *size))
    expected = (2, K, math.ceil(size[0] / 4), math.ceil(size[1] / 4))
    assert hue.shape == expected and chroma.shape == expected
    assert torch.isfinite(hue).all() and torch.isfinite(chroma).all()


def test_rejects_wrong_channel_count():
    with pytest.raises(ValueError, match="expected"):
        HistogramColorizer(TINY)(torch.randn(1, 3, 16, 16))


def test_predict_distributions_sum_to_one():
    model = HistogramColorizer(TINY).eval()
    with torch.no_grad():
        hue, chroma = model.predict_distributions(torch.rand(2, 1, 20, 28) * 2 - 1)
    assert hue.shape == (2, K, 5, 7)
    torch.testing.assert_close(hue.sum(1), torch.ones(2, 5, 7))
    torch.testing.assert_close(chroma.sum(1), torch.ones(2, 5, 7))
    assert (hue >= 0).all() and (chroma >= 0).all()


def test_config_round_trip_and_builder():
    data = TINY.to_dict()
    assert HistogramConfig.from_dict(data) == TINY
    model = build_histogram_model(data)
    assert isinstance(model, HistogramColorizer) and model.config == TINY
    with pytest.raises(ValueError, match="unknown"):
        HistogramConfig.from_dict({**data, "nonsense": 1})


def test_registered_with_registry(tmp_path):
    from colorstudio.families import families, load_model
    from colorstudio.models.registry import ModelCard, save_model

    assert "histogram" in [family.name for family in families()]
    model = HistogramColorizer(TINY)
    save_model(model, ModelCard(name="tiny", family="histogram", config=TINY.to_dict()), tmp_path / "tiny")
    loaded, card = load_model("tiny", "cpu", models_dir=tmp_path)
    assert isinstance(loaded, HistogramColorizer) and loaded.config == TINY and card.family == "histogram"


def test_smoothing_matrix_rows_are_distributions():
    for circular in (True, False):
        m = smoothing_matrix(K, 1.0, circular)
        torch.testing.assert_close(m.sum(1), torch.ones(K))
        assert m[0, 1] > m[0, 5]
    circ = smoothing_matrix(K, 1.0, True)
    assert circ[0, K - 1] == pytest.approx(circ[0, 1].item())  # hue wraps around
    assert smoothing_matrix(K, 1.0, False)[0, K - 1] < 1e-6  # chroma does not
    torch.testing.assert_close(smoothing_matrix(K, 0.0, True), torch.eye(K))


def test_targets_are_cell_histograms():
    batch = _synthetic_batch(2, 8)
    hue_t, chroma_t, chroma01 = histogram_targets(batch["L"], batch["ab"], torch.eye(K), torch.eye(K), cell=4)
    assert hue_t.shape == chroma_t.shape == (2, K, 2, 2) and chroma01.shape == (2, 1, 2, 2)
    torch.testing.assert_close(hue_t.sum(1), torch.ones(2, 2, 2))
    torch.testing.assert_close(chroma_t.sum(1), torch.ones(2, 2, 2))
    # every pixel has chroma 40 -> one chroma bin, and mean chroma 40 / CHROMA_MAX
    assert (chroma_t.argmax(1) == int(CHROMA_QUANTIZER.encode(np.array([40.0]))[0])).all()
    torch.testing.assert_close(chroma01, torch.full_like(chroma01, 40.0 / CHROMA_QUANTIZER.hi))
    # hue mass only in the two hue bins used
    used = {int(HUE_QUANTIZER.encode(np.array([h]))[0]) for h in (0.15, 0.7)}
    assert set(torch.nonzero(hue_t.sum((0, 2, 3)) > 0).flatten().tolist()) <= used


def test_gray_cells_get_uniform_hue_and_zero_weight():
    L = torch.zeros(1, 1, 8, 8)
    hue_t, chroma_t, chroma01 = histogram_targets(L, torch.zeros(1, 2, 8, 8), torch.eye(K), torch.eye(K))
    torch.testing.assert_close(hue_t, torch.full_like(hue_t, 1 / K))
    assert chroma01.abs().max() == 0
    assert (chroma_t[:, 0] == 1).all()


def test_loss_finite_and_decreases():
    model = HistogramColorizer(TINY)
    model.train()
    batch = _synthetic_batch(8, 16)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss, metrics = model.training_loss(batch, hints=False)
        assert torch.isfinite(loss) and set(metrics) >= {"loss", "kl_chroma", "kl_hue_weighted"}
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:3])


def test_training_loss_with_simulated_hints_and_seed():
    model = HistogramColorizer(TINY).train()
    batch = {**_synthetic_batch(4, 16), "seed": torch.tensor(123)}
    loss, _ = model.training_loss(batch)
    assert torch.isfinite(loss)
    loss.backward()
    assert model.stages[0][0][0].weight.grad is not None


def test_hint_channels_reach_the_output():
    model = HistogramColorizer(TINY).eval()
    L = torch.rand(1, 1, 32, 32) * 2 - 1
    hint = torch.zeros(1, 3, 32, 32, requires_grad=True)
    hue, chroma = model.predict_distributions(L, hint)
    (hue[0, 3, 4, 4] + chroma[0, 5, 4, 4]).backward()
    grad = hint.grad
    assert grad[:, 0].abs().sum() > 0 and grad[:, 1].abs().sum() > 0 and grad[:, 2].abs().sum() > 0


def test_decode_one_hot_returns_bin_colour():
    hue = torch.zeros(1, K, 2, 3)
    chroma = torch.zeros(1, K, 2, 3)
    hue[:, 5] = 1
    chroma[:, 10] = 1
    ab = decode_ab(hue, chroma)
    c, h = CHROMA_QUANTIZER.centres[10], HUE_QUANTIZER.centres[5]
    expected = torch.tensor([c * math.cos(2 * math.pi * h), c * math.sin(2 * math.pi * h)], dtype=torch.float32)
    assert ab.shape == (1, 2, 2, 3)
    torch.testing.assert_close(ab[0, :, 1, 2], expected, rtol=1e-5, atol=1e-4)


def test_decode_chroma_median_and_uniform_hue_fades_to_gray():
    chroma = torch.zeros(K, 1, 1)
    chroma[2], chroma[20] = 0.3, 0.7  # median falls in bin 20
    hue = torch.full((K, 1, 1), 1 / K)
    ab = decode_ab(hue, chroma)  # unbatched (K, h, w) works too
    assert ab.shape == (2, 1, 1)
    assert ab.abs().max() < 1e-3  # |z| ~ 0 -> fading ~ 0
    hue_one = torch.zeros(K, 1, 1)
    hue_one[0] = 1
    radius = torch.linalg.vector_norm(decode_ab(hue_one, chroma), dim=0)
    lo, hi = CHROMA_QUANTIZER.centres[20] - CHROMA_QUANTIZER.width / 2, CHROMA_QUANTIZER.centres[20] + CHROMA_QUANTIZER.width / 2
    assert lo <= radius.item() <= hi


def test_decode_numpy_in_numpy_out():
    hue = np.full((K, 2, 2), 1 / K, np.float32)
    hue[:, 0, 0] = 0
    hue[7, 0, 0] = 1
    chroma = np.zeros((K, 2, 2), np.float32)
    chroma[4] = 1
    ab = decode_ab(hue, chroma)
    assert isinstance(ab, np.ndarray) and ab.shape == (2, 2, 2) and ab.dtype == np.float32
    assert np.hypot(*ab[:, 0, 0]) == pytest.approx(CHROMA_QUANTIZER.centres[4], rel=1e-4)
    with pytest.raises(ValueError):
        decode_ab(hue, chroma[:-1])


def test_decode_mean_mode_is_expected_ab():
    hue = torch.zeros(K, 1, 1)
    hue[0], hue[K // 2] = 0.75, 0.25  # opposite hues: |z| = 0.5
    chroma = torch.zeros(K, 1, 1)
    chroma[3], chroma[9] = 0.5, 0.5
    ab = decode_ab(hue, chroma, mode="mean")
    expected_chroma = 0.5 * (CHROMA_QUANTIZER.centres[3] + CHROMA_QUANTIZER.centres[9])
    assert torch.linalg.vector_norm(ab[:, 0, 0]).item() == pytest.approx(0.5 * expected_chroma, rel=1e-4)
    with pytest.raises(ValueError, match="mode"):
        decode_ab(hue, chroma, mode="mode")


ATTENTION = replace(TINY, hint_attention_dim=8)
POOLINGS = pytest.mark.parametrize("pooling", ["mixture", "product"])


def _one_hint(size: int, row: int, col: int, ab: tuple[float, float], patch: int = 4) -> torch.Tensor:
    """(1, 3, size, size) hint channels: one patch of normalized ``ab`` with its mask."""
    hint = torch.zeros(1, 3, size, size)
    hint[0, 0, row:row + patch, col:col + patch] = ab[0]
    hint[0, 1, row:row + patch, col:col + patch] = ab[1]
    hint[0, 2, row:row + patch, col:col + patch] = 1.0
    return hint


@POOLINGS
def test_hint_attention_leaves_an_unhinted_image_exactly_as_the_network_predicts(pooling):
    net = HistogramColorizer(replace(ATTENTION, hint_pooling=pooling)).eval()
    L = torch.rand(2, 1, 32, 32) * 2 - 1
    hint = torch.cat([torch.zeros(1, 3, 32, 32), _one_hint(32, 8, 8, (0.4, 0.1))])
    with torch.no_grad():
        plain = [t.softmax(dim=1) for t in net(net.make_input(L))]
        mixed = [t.softmax(dim=1) for t in net(net.make_input(L, hint))]
    for p, m in zip(plain, mixed, strict=True):
        torch.testing.assert_close(m[0], p[0], atol=1e-6, rtol=0)  # the unhinted image of the batch
        assert (m[1] - p[1]).abs().max() > 1e-3  # the hinted one changed


@POOLINGS
def test_hint_attention_puts_the_hints_colour_on_its_cell(pooling):
    net = HistogramColorizer(replace(ATTENTION, hint_pooling=pooling)).eval()
    L = torch.zeros(1, 1, 32, 32)
    ab = (0.5, 0.2)
    with torch.no_grad():
        hue, chroma = net.predict_distributions(L, _one_hint(32, 12, 16, ab))
    decoded = decode_ab(hue, chroma, mode="mean")[0, :, 3, 4]  # the hinted 4x4 cell
    unhinted = decode_ab(*net.predict_distributions(L), mode="mean")[0, :, 3, 4]
    target = torch.tensor(ab) * 110
    assert (decoded - target).norm() < 0.5 * (unhinted - target).norm()


@POOLINGS
def test_hint_attention_learns_to_spread_a_hint(pooling):
    """A few steps on images of one random colour each, one hint per image: the loss falls far below
    the hint-free loss, which can only learn the colours' spread."""
    net = HistogramColorizer(replace(ATTENTION, hint_pooling=pooling))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)

    def batch() -> dict[str, torch.Tensor]:
        ab = (torch.rand(8, 2, 1, 1, generator=g) - 0.5).expand(8, 2, 16, 16).contiguous()
        hint = torch.cat([_one_hint(16, 6, 6, (float(a[0, 0, 0]), float(a[1, 0, 0]))) for a in ab])
        return {"L": torch.zeros(8, 1, 16, 16), "ab": ab, "hint": hint}

    for _ in range(40):
        loss, _ = net.training_loss(batch())
        opt.zero_grad()
        loss.backward()
        opt.step()
    test = batch()
    with torch.no_grad():  # training mode: the loss of the training distributions
        hinted, _ = net.training_loss(test)
        unhinted, _ = net.training_loss({**test, "hint": torch.zeros_like(test["hint"])})
    assert float(hinted) < 0.5 * float(unhinted)


def _entropy(p: torch.Tensor) -> torch.Tensor:
    return -(p * p.clamp_min(1e-12).log()).sum(dim=1)


def test_product_pooling_makes_a_disagreeing_cell_more_certain_where_a_mixture_tears_it():
    from colorstudio.models.histogram import _mix, _product

    bins = torch.arange(K, dtype=torch.float32)
    network = torch.softmax(-0.5 * ((bins - 5) / 3) ** 2, dim=0).view(1, K, 1, 1)  # broad, as a network's
    hint = torch.softmax(-0.5 * (bins - 13) ** 2, dim=0).view(1, K, 1, 1)  # one smoothed bin, 8 bins away
    w = torch.full((1, 1, 1, 1), 0.5)
    mixture, product = _mix(network, hint, w), _product(network, hint, w)
    torch.testing.assert_close(product.sum(dim=1), torch.ones(1, 1, 1))
    assert _entropy(mixture) > _entropy(network)  # two peaks: the mixture is torn between them
    assert _entropy(product) < _entropy(network) - 0.5
    torch.testing.assert_close(_product(network, hint, torch.zeros_like(w)), network, atol=1e-6, rtol=0)
    torch.testing.assert_close(_product(network, hint, torch.ones_like(w)), hint, atol=1e-6, rtol=0)


def test_unknown_hint_pooling_is_refused():
    with pytest.raises(ValueError, match="hint pooling"):
        HistogramColorizer(replace(ATTENTION, hint_pooling="average"))
