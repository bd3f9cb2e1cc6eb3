"""cGAN colorizer: any image size, each network trained only by its own loss, hints, histogram features,
registry and engine round trip."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from colorstudio.families import load_model
from colorstudio.models.gan import CGANColorizer, GANConfig
from colorstudio.models.histogram import HistogramColorizer, HistogramConfig
from colorstudio.models.registry import ModelCard, save_model

TINY = GANConfig(width=4, levels=3, max_mult=4, disc_width=4, disc_layers=2)
TINY_HISTOGRAM = HistogramConfig(width=4, stage_mults=(1, 2, 4), stage_blocks=(0, 1, 1), hypercolumn_channels=8, norm="group")


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)


def _batch(size: int = 32, n: int = 2) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    L = torch.rand(n, 1, size, size, generator=gen) * 2 - 1
    return {"L": L, "ab": torch.stack([0.3 * L[:, 0], -0.2 * L[:, 0]], dim=1), "hint": torch.zeros(n, 3, size, size)}


def _grads(module: torch.nn.Module) -> list[torch.Tensor | None]:
    return [p.grad for p in module.parameters()]


@pytest.mark.parametrize("shape", [(32, 32), (37, 50), (9, 130)])
def test_generator_keeps_any_size_and_stays_in_range(shape):
    net = CGANColorizer(TINY).eval()
    ab = net(torch.rand(1, 1, *shape) * 2 - 1)
    assert ab.shape == (1, 2, *shape) and ab.abs().max() < 1


def test_the_generators_adversarial_term_leaves_the_critic_untouched():
    net = CGANColorizer(TINY).train()
    batch = _batch()
    fake = net(batch["L"], batch["hint"])
    net._critic_without_grad(batch["L"], fake).mean().backward()
    assert all(g is None for g in _grads(net.discriminator))
    assert sum(float(g.abs().sum()) for g in _grads(net.generator) if g is not None) > 0


def test_the_critics_loss_leaves_the_generator_untouched():
    net = CGANColorizer(replace(TINY, l1_weight=0.0, adv_weight=0.0)).train()
    loss, metrics = net.training_loss(_batch())
    loss.backward()
    assert loss.item() == pytest.approx(metrics["critic"])
    assert all(g is None or g.abs().sum() == 0 for g in _grads(net.generator))
    assert all(g is not None for g in _grads(net.discriminator))


def test_a_few_steps_lower_the_l1_and_the_critic_learns():
    net = CGANColorizer(TINY).train()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3, betas=(0.5, 0.999))
    batch = _batch()
    history = []
    for _ in range(40):
        loss, metrics = net.training_loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(metrics)
    assert np.mean([m["l1"] for m in history[-5:]]) < 0.7 * np.mean([m["l1"] for m in history[:5]])
    assert all(np.isfinite(m["loss"]) for m in history)


def test_hints_change_the_colorization_where_they_are():
    net = CGANColorizer(TINY).train()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    batch = _batch()
    for _ in range(5):  # a few steps so the hint channels carry weight
        loss, _ = net.training_loss({**batch, "hint": torch.ones_like(batch["hint"]) * 0.5})
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    hint = torch.zeros(1, 3, 32, 32)
    hint[:, :2, 8:14, 8:14], hint[:, 2, 8:14, 8:14] = 0.5, 1.0
    with torch.no_grad():
        plain, hinted = net(batch["L"][:1]), net(batch["L"][:1], hint)
    assert (hinted - plain).abs().max() > 1e-4


def test_histogram_features_enter_frozen_and_round_trip(tmp_path):
    histogram = HistogramColorizer(TINY_HISTOGRAM)
    config = replace(TINY, histogram=TINY_HISTOGRAM.to_dict())
    net = CGANColorizer(config)
    net.encoder.load_state_dict(histogram.state_dict())
    loss, _ = net.train().training_loss(_batch())
    loss.backward()
    assert all(p.grad is None for p in net.encoder.parameters())
    assert net.generator.inject is not None and net.generator.inject[0].weight.grad is not None

    save_model(net, ModelCard(name="gan-tiny", family="gan", config=config.to_dict(), working_resolution=40),
               tmp_path / "gan-tiny")
    loaded, card = load_model(tmp_path / "gan-tiny")
    L = torch.rand(1, 1, 40, 28) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(loaded(L), net.eval()(L))

    from colorstudio.families import load_colorizer

    colorizer = load_colorizer("gan-tiny", torch.device("cpu"), tmp_path)
    assert colorizer.working_size((400, 280)) == (40, 28)
    lightness = np.linspace(10, 90, 40 * 28, dtype=np.float32).reshape(28, 40)
    prediction = colorizer.predict(lightness, np.zeros((2, 28, 40), np.float32), np.zeros((1, 28, 40), np.float32))
    assert len(prediction.ab_samples) == 1 and prediction.ab_samples[0].shape == (28, 40, 2)
    with torch.no_grad():
        expected = 110.0 * net(torch.from_numpy((lightness - 50) / 50)[None, None])[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(prediction.ab_samples[0], expected, atol=1e-4)
    with pytest.raises(Exception, match="one colorization"):
        colorizer.predict(lightness, np.zeros((2, 28, 40), np.float32), np.zeros((1, 28, 40), np.float32), samples=2)


def test_config_rejects_what_cannot_be_built():
    with pytest.raises(ValueError, match="unknown GANConfig"):
        GANConfig.from_dict({"width": 4, "depth": 3})
    with pytest.raises(ValueError, match="levels >= 2"):
        GANConfig(levels=1, histogram=TINY_HISTOGRAM.to_dict())


def test_histogram_residual_starts_from_the_histogram_networks_expected_colours():
    from colorstudio.models.histogram import expected_ab_norm

    config = replace(TINY, histogram=TINY_HISTOGRAM.to_dict(), histogram_residual=True)
    net = CGANColorizer(config).eval()
    L = torch.rand(1, 1, 24, 20) * 2 - 1
    with torch.no_grad():
        hue, chroma = net.encoder.predict_distributions(L)
        base = torch.nn.functional.interpolate(expected_ab_norm(hue, chroma), size=(24, 20), mode="bilinear")
        torch.testing.assert_close(net(L), base.clamp(-1, 1))
    loss, _ = net.train().training_loss(_batch())
    loss.backward()
    assert net.generator.head.weight.grad is not None and net.generator.head.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="histogram_residual"):
        GANConfig(histogram_residual=True)
