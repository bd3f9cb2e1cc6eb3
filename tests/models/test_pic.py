"""PIC: embedding + PixelCNN++ decoder + logistic mixture; causality, sampling, hints, bits/dim, training."""

from __future__ import annotations

import math

import pytest
import torch

from colorstudio.color import ab_to_pic, normalize_ab
from colorstudio.families import load_model
from colorstudio.models import logistic_mixture as lm
from colorstudio.models.pic import (
    PIC,
    PICConfig,
    bits_per_dim,
    bits_per_dim_from_nll,
    build_pic_model,
    chroma_targets,
    hint_grid,
)
from colorstudio.models.registry import ModelCard, save_model

TINY = PICConfig(chroma_stride=2, embed_width=8, embed_blocks=(1, 1), embed_channels=8, decoder_channels=8,
                 decoder_blocks=2, components=3)


pytestmark = pytest.mark.usefixtures("one_thread")


def _model(seed: int = 0, config: PICConfig = TINY) -> PIC:
    torch.manual_seed(seed)
    return PIC(config).eval()


def _lightness(size: int = 16, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(1, 1, size, size, generator=gen) * 2 - 1


def test_config_round_trip_and_validation() -> None:
    assert PICConfig.from_dict(TINY.to_dict()) == TINY
    with pytest.raises(ValueError):
        PICConfig(chroma_stride=3)
    with pytest.raises(ValueError):
        PICConfig(chroma_stride=4, embed_blocks=(1, 1))  # needs 3 levels
    with pytest.raises(ValueError):
        PICConfig.from_dict({**TINY.to_dict(), "bogus": 1})


def test_shapes_for_odd_sizes() -> None:
    model = _model(config=PICConfig(chroma_stride=4, embed_width=8, embed_blocks=(0, 1, 1), embed_channels=8,
                                    decoder_channels=8, decoder_blocks=1, components=2))
    L = torch.zeros(2, 1, 18, 13)
    assert model.embed(L).shape == (2, 8, 5, 4)
    params = model(L, torch.zeros(2, 2, 5, 4))
    assert params.shape == (2, lm.num_params(2), 5, 4)
    assert model.sample(L[0, 0], n=2, seed=0).shape == (2, 2, 5, 4)


def test_decoder_is_causal_through_the_whole_model() -> None:
    """made.py-style: the mixture parameters of cell k (embedding + decoder) have zero gradient with respect
    to the chroma of cell k itself and of every later cell in raster order, and depend on earlier cells."""
    torch.manual_seed(1)
    model = PIC(TINY).double().eval()
    h = w = 5
    L = torch.rand(1, 1, 2 * h, 2 * w, dtype=torch.float64) * 2 - 1
    ab = (torch.randint(0, 256, (1, 2, h, w)).double() * 2 / 255 - 1).requires_grad_(True)
    params = model(L, ab)  # (1, 8K, h, w)
    for k in range(h * w):
        i, j = divmod(k, w)
        (grad,) = torch.autograd.grad(params[0, :, i, j].square().sum(), ab, retain_graph=True)
        flat = grad[0].reshape(2, -1)  # (2, h*w) in raster order
        assert flat[:, k:].abs().max() == 0, f"cell {k} sees itself or later cells"
        if k > 0:
            assert flat[:, :k].abs().max() > 0, f"cell {k} ignores earlier cells"


def test_fast_and_naive_sampling_agree_with_hints() -> None:
    model = _model(2)
    L = _lightness(12, 3)
    hint = torch.zeros(1, 3, 12, 12)
    hint[:, 0, 2:4, 6:8], hint[:, 1, 2:4, 6:8], hint[:, 2, 2:4, 6:8] = 0.3, -0.2, 1.0
    fast = model.sample(L, hint, n=3, seed=11, sampler="fast")
    naive = model.sample(L, hint, n=3, seed=11, sampler="naive")
    assert torch.equal(fast, naive)
    with pytest.raises(ValueError):
        model.sample(L, n=1, sampler="bogus")


def test_fast_and_naive_sampling_agree_with_truncation_and_it_changes_the_samples() -> None:
    model = _model(2)
    L = _lightness(12, 5)
    outliers = lm.Truncation(tail=0.1, min_weight=0.3)
    fast = model.sample(L, n=3, seed=4, sampler="fast", truncation=outliers)
    assert torch.equal(fast, model.sample(L, n=3, seed=4, sampler="naive", truncation=outliers))
    assert not torch.equal(fast, model.sample(L, n=3, seed=4, sampler="fast"))


def test_seeds_are_deterministic_and_per_sample() -> None:
    model = _model(3)
    L = _lightness(16, 4)
    batch = model.sample(L, n=3, seed=20)
    assert torch.equal(batch, model.sample(L, n=3, seed=20))
    for k in range(3):
        assert torch.equal(batch[k], model.sample(L, n=1, seed=20 + k)[0])
    assert not torch.equal(batch[0], batch[1])
    assert torch.allclose(batch, torch.round((batch + 1) * 127.5) / 127.5 - 1, atol=1e-6)  # on the 256 levels


def test_sampling_reports_progress_and_can_be_cancelled() -> None:
    from colorstudio.errors import CancelledError

    model = _model(8)
    L = _lightness(8, 9)
    fractions: list[float] = []
    model.sample(L, n=1, progress=lambda f, m: fractions.append(f))
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    with pytest.raises(CancelledError):
        model.sample(L, n=1, cancel=lambda: True)
    model.train()
    with pytest.raises(CancelledError):
        model.sample(L, n=1, cancel=lambda: True)
    assert model.training


def test_zero_temperature_ignores_the_seed() -> None:
    model = _model(4)
    L = _lightness(8, 5)
    assert torch.equal(model.sample(L, n=1, seed=0, temperature=0.0), model.sample(L, n=1, seed=99, temperature=0.0))


def test_hint_grid_and_clamping() -> None:
    hint = torch.zeros(1, 3, 8, 8)
    hint[0, :2, 0, 1] = torch.tensor([0.5, -0.25])  # one pixel hinted in cell (0, 0)
    hint[:, 2, 0, 1] = 1.0
    hint[:, :2, 5:7, 5:7] = torch.tensor([-0.4, 0.2])[:, None, None]  # a patch over 4 cells
    hint[:, 2, 5:7, 5:7] = 1.0
    values, mask = hint_grid(hint, 2)
    assert values.shape == (1, 2, 4, 4) and mask.dtype == torch.bool
    assert mask[0, 0].nonzero().tolist() == [[0, 0], [2, 2], [2, 3], [3, 2], [3, 3]]
    expected = ab_to_pic(torch.tensor([0.5, -0.25]) * 110)
    assert torch.allclose(values[0, :, 0, 0], expected)

    model = _model(5)
    L = _lightness(8, 6)
    samples = model.sample(L, hint, n=4, seed=1)
    for i, j in mask[0, 0].nonzero().tolist():
        assert torch.equal(samples[:, :, i, j], values[:, :, i, j].expand(4, 2))
    # hints also reach the network (conditioning input)
    assert not torch.equal(model.embed(L, hint), model.embed(L))


def test_bits_per_dim_formula() -> None:
    assert bits_per_dim_from_nll(512 * math.log(2), 16, 16) == pytest.approx(1.0)
    assert bits_per_dim_from_nll(3 * 512 * math.log(2) * 2.5, 16, 16, images=3) == pytest.approx(2.5)
    model = _model(6)
    gen = torch.Generator().manual_seed(0)
    data = [{"L": torch.rand(1, 12, 12, generator=gen) * 2 - 1, "ab": torch.randn(2, 12, 12, generator=gen) * 0.2}
            for _ in range(5)]
    report = bits_per_dim(model, data, batch_size=2)
    L = torch.stack([d["L"] for d in data])
    ab = torch.stack([d["ab"] for d in data])
    with torch.no_grad():
        nll = -model.log_prob(L, ab).sum()
    assert report["images"] == 5 and report["dims_per_image"] == 6 * 6 * 2
    assert report["bpd"] == pytest.approx(float(nll) / (5 * 72 * math.log(2)), rel=1e-5)
    # the training metric uses the same definition; the loss is that in nats
    loss, metrics = model.training_loss({"L": L, "ab": ab})
    assert metrics["bpd"] == pytest.approx(report["bpd"], rel=1e-5)
    assert float(loss.detach()) == pytest.approx(metrics["bpd"] * math.log(2), rel=1e-5)


def test_chroma_targets_are_cell_means_on_the_grid() -> None:
    L = torch.linspace(-1, 1, 16).reshape(1, 1, 4, 4)
    ab = normalize_ab(torch.full((1, 2, 4, 4), 10.0))
    ab[:, 0, :2, :2] = normalize_ab(torch.tensor(30.0))
    L_sub, grid = chroma_targets(L, ab, 2)
    assert L_sub.shape == (1, 1, 2, 2) and torch.allclose(L_sub[0, 0, 0, 0], L[0, 0, :2, :2].mean())
    assert torch.allclose(grid[0, 0, 0, 0], ab_to_pic(torch.tensor(30.0)))
    assert torch.allclose(grid[0, 1, 1, 1], ab_to_pic(torch.tensor(10.0)))


def test_registry_round_trip(tmp_path) -> None:
    model = _model(7)
    save_model(model, ModelCard(name="tiny-pic", family="pic", config=TINY.to_dict(), working_resolution=16),
               tmp_path / "tiny-pic")
    loaded, card = load_model("tiny-pic", "cpu", tmp_path)
    assert isinstance(loaded, PIC) and card.family == "pic"
    L = _lightness(8, 8)
    assert torch.equal(loaded.sample(L, n=2, seed=3), model.sample(L, n=2, seed=3))
    assert isinstance(build_pic_model(None), PIC)


def test_training_loss_decreases_on_tiny_synthetic_data() -> None:
    """30 Adam steps on smooth chroma that depends on L: finite loss, clearly decreasing."""
    torch.manual_seed(0)
    model = PIC(TINY).train()
    gen = torch.Generator().manual_seed(1)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 12), torch.linspace(-1, 1, 12), indexing="ij")
    phase = torch.rand(8, 1, 1, 1, generator=gen) * 2
    L = torch.sin(2 * xx + phase) * 0.8
    ab = torch.cat([0.3 * L, -0.2 * torch.cos(3 * yy + phase)], dim=1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for step in range(30):
        loss, metrics = model.training_loss({"L": L, "ab": ab, "seed": torch.tensor(step)})
        assert torch.isfinite(loss) and math.isfinite(metrics["bpd"])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5, losses


def test_engine_colorizer_samples_seeds_and_hints(tmp_path, monkeypatch) -> None:
    from colorstudio.engine.pipeline import ColorizeRequest, colorize_source
    from colorstudio.families import load_colorizer

    save_model(_model(9), ModelCard(name="tiny-pic", family="pic", config=TINY.to_dict(), working_resolution=16),
               tmp_path / "tiny-pic")
    monkeypatch.setenv("COLORSTUDIO_MODELS", str(tmp_path))
    colorizer = load_colorizer("tiny-pic", torch.device("cpu"))
    assert colorizer.capabilities.samples and colorizer.working_size((40, 30)) == (16, 12)
    lightness = torch.linspace(0, 100, 12 * 16).reshape(12, 16).numpy()
    no_ab, no_mask = torch.zeros(2, 12, 16).numpy(), torch.zeros(1, 12, 16).numpy()
    pred = colorizer.predict(lightness, no_ab, no_mask, samples=3, seed=4)
    assert pred.seeds == [4, 5, 6] and pred.work_size == (16, 12)
    assert all(ab.shape == (12, 16, 2) for ab in pred.ab_samples)
    again = colorizer.predict(lightness, no_ab, no_mask, samples=1, seed=5, sampler="naive")
    assert (again.ab_samples[0] == pred.ab_samples[1]).all()

    hint_ab, mask = no_ab.copy(), no_mask.copy()
    hint_ab[:, 4:6, 8:10] = normalize_ab(torch.tensor([40.0, -30.0])).numpy()[:, None, None]
    mask[:, 4:6, 8:10] = 1.0
    grids = colorizer.sample_grid(lightness, hint_ab, mask, samples=2, seed=0)  # (2, 6, 8, 2) a*, b*
    assert grids.shape == (2, 6, 8, 2)
    assert (abs(grids[:, 2, 4] - [40.0, -30.0]) < 1e-3).all()

    result = colorize_source(torch.full((30, 40), 55.0).numpy(), colorizer, ColorizeRequest(model="tiny-pic", samples=2, seed=1))
    assert len(result.rgb_samples) == 2 and result.rgb_samples[0].shape == (30, 40, 3)


def _histogram_embedded_config() -> PICConfig:
    from colorstudio.models.histogram import HistogramConfig

    hist = HistogramConfig(width=4, stage_mults=(1, 2, 4), stage_blocks=(0, 1, 1), hypercolumn_channels=8, norm="group")
    return PICConfig(chroma_stride=4, embed_width=4, embed_blocks=(0, 1, 2), embed_channels=8, decoder_channels=8,
                     decoder_blocks=1, components=2, histogram=hist.to_dict())


def test_histogram_embedding_is_frozen_trains_on_top_and_round_trips(tmp_path) -> None:
    from colorstudio.models.pic import HistogramEmbedding

    config = _histogram_embedded_config()
    assert PICConfig.from_dict(config.to_dict()) == config
    model = _model(4, config).train()
    assert isinstance(model.embedding, HistogramEmbedding) and not model.embedding.encoder.training
    L = torch.rand(2, 1, 18, 13) * 2 - 1
    assert model.embed(L).shape == (2, 8, 5, 4)
    loss, _ = model.training_loss({"L": L[:, :, :16, :12], "ab": torch.rand(2, 2, 16, 12) * 0.4 - 0.2,
                                   "seed": torch.tensor(0)})
    loss.backward()
    assert all(p.grad is None for p in model.embedding.encoder.parameters())
    assert model.embedding.blocks[0].conv1.weight.grad.abs().sum() > 0

    model.eval()
    save_model(model, ModelCard(name="hist-pic", family="pic", config=config.to_dict(), working_resolution=16),
               tmp_path / "hist-pic")
    loaded, _ = load_model("hist-pic", "cpu", tmp_path)
    L = _lightness(16, 2)
    assert torch.equal(loaded.sample(L, n=2, seed=5), model.sample(L, n=2, seed=5, sampler="naive"))


def test_bench_times_the_installed_model_else_an_untrained_one(tmp_path, monkeypatch) -> None:
    from colorstudio.bench import pic_bench_colorizer as _bench_colorizer

    monkeypatch.setenv("COLORSTUDIO_MODELS", str(tmp_path))
    assert _bench_colorizer("tiny-pic").name == "pic-untrained"  # nothing installed yet
    save_model(_model(9), ModelCard(name="tiny-pic", family="pic", config=TINY.to_dict(), working_resolution=16),
               tmp_path / "tiny-pic")
    installed = _bench_colorizer("tiny-pic")
    assert installed.name == "tiny-pic" and installed.network.config == TINY
