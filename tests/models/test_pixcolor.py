"""PixColor: samplers (fast == naive, seeds, temperature, hints), refinement, loss, colour, colorizer."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from colorstudio.color import (
    YCBCR_QUANTIZER,
    lab_to_rgb,
    normalize_ab,
    normalize_l,
    rgb_to_lab,
    rgb_to_ycbcr,
)
from colorstudio.errors import CancelledError, ColorStudioError
from colorstudio.models.blocks import upsample_to
from colorstudio.models.pixcolor import (
    PixColor,
    PixColorConfig,
    RefinementNet,
    build_pixcolor_model,
    chroma_of_rgb,
    chroma_to_ab,
    grid_size,
    hint_chroma_channels,
)

TINY = PixColorConfig(grid=6, grid_stride=4, cond_width=8, cond_channels=8, pixelcnn_channels=8, pixelcnn_blocks=2,
                      head_channels=8, refine_width=8, refine_blocks=1, dropout=0.0)
SIZE = TINY.working_short_side  # 24


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def model() -> PixColor:
    torch.manual_seed(1)
    net = PixColor(TINY).eval()
    with torch.no_grad():  # an untrained head is near uniform; sharper logits make the checks meaningful
        net.cr_head.weight.mul_(8.0)
        net.cb_head.weight.mul_(8.0)
    return net


def _lightness(h: int = SIZE, w: int = SIZE) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    return (0.6 * torch.sin(3 * xx) * torch.cos(2 * yy))[None, None]  # L_norm (1, 1, h, w)


def _photo_batch(b: int = 4, size: int = SIZE) -> dict[str, torch.Tensor]:
    """Smooth synthetic colour images (a learnable relation between position, L and chroma)."""
    gen = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    phase = torch.rand(b, 3, 1, 1, generator=gen) * 6
    rgb = 0.5 + 0.4 * torch.sin(phase + 3 * xx + 2 * yy * torch.arange(1, 4).view(1, 3, 1, 1))
    lab = rgb_to_lab(rgb)
    return {"L": normalize_l(lab[:, :1]), "ab": normalize_ab(lab[:, 1:]), "rgb": rgb}


# ---------------------------------------------------------------------------------------------- geometry
def test_grid_and_working_size():
    assert grid_size(112, 112) == (28, 28)
    assert grid_size(480, 640) == (28, 37)
    assert grid_size(640, 480) == (37, 28)
    assert grid_size(500, 4000) == (28, 112)  # capped at max_aspect
    net = PixColor(TINY)
    assert net.working_size((512, 512)) == (SIZE, SIZE)
    assert net.working_size((100, 50)) == (48, 24)
    assert net.working_size((100, 50), short_side=48) == (96, 48)


# ---------------------------------------------------------------------------------------------- colour
def test_chroma_to_ab_inverts_chroma_of_rgb():
    gen = torch.Generator().manual_seed(0)
    rgb = 0.15 + 0.7 * torch.rand(2, 3, 8, 8, generator=gen)
    lab = rgb_to_lab(rgb)
    ab = chroma_to_ab(lab[:, :1], chroma_of_rgb(rgb))
    assert (ab - lab[:, 1:]).abs().max() < 1.0  # a*b* units (one 8-bit sRGB step is ~0.4-1)
    ycc = rgb_to_ycbcr(rgb)
    torch.testing.assert_close(chroma_of_rgb(rgb), torch.stack([ycc[:, 2], ycc[:, 1]], 1))


# ---------------------------------------------------------------------------------------------- sampling
def test_fast_sampler_equals_naive(model):
    L = _lightness()
    fast = model.sample(L, n=3, seed=7, sampler="fast")
    naive = model.sample(L, n=3, seed=7, sampler="naive")
    assert torch.equal(fast.bins, naive.bins)
    torch.testing.assert_close(fast.ab, naive.ab)
    assert fast.bins.shape == (3, 2, 6, 6)
    assert fast.chroma.shape == (3, 2, SIZE, SIZE) and fast.ab.shape == (3, 2, SIZE, SIZE)
    assert fast.seeds == [7, 8, 9]


def test_seeds_are_deterministic_and_per_sample(model):
    L = _lightness()
    batch = model.sample_bins(L, n=4, seed=11)
    assert torch.equal(batch, model.sample_bins(L, n=4, seed=11))
    for k in range(4):  # the GUI regenerates sample k from its seed alone
        assert torch.equal(model.sample_bins(L, n=1, seed=11 + k)[0], batch[k])
    assert len({tuple(b.flatten().tolist()) for b in batch}) == 4  # distinct samples


def test_temperature(model):
    L = _lightness()
    cold = model.sample_bins(L, n=4, seed=0, temperature=1e-4)  # ~argmax: every seed gives the same grid
    assert all(torch.equal(cold[0], cold[k]) for k in range(1, 4))
    hot = model.sample_bins(L, n=4, seed=0, temperature=1.0)
    assert not all(torch.equal(hot[0], hot[k]) for k in range(1, 4))
    with pytest.raises(ValueError, match="temperature"):
        model.sample_bins(L, temperature=0.0)
    with pytest.raises(ValueError, match="sampler"):
        model.sample_bins(L, sampler="slow")


def test_hinted_cells_are_clamped_to_the_hint_chroma(model):
    L = torch.zeros(1, 1, SIZE, SIZE)  # L* = 50 everywhere
    a, b = 40.0, -30.0
    hint = torch.zeros(1, 3, SIZE, SIZE)
    hint[0, 0, 4:8, 8:12], hint[0, 1, 4:8, 8:12], hint[0, 2, 4:8, 8:12] = a / 110, b / 110, 1.0  # cell (1, 2)
    hint[0, 0, 17, 21], hint[0, 1, 17, 21], hint[0, 2, 17, 21] = a / 110, b / 110, 1.0  # one pixel of cell (4, 5)
    rgb = lab_to_rgb(np.array([50.0, a, b], np.float32))
    _, cb, cr = rgb_to_ycbcr(rgb)
    expected = YCBCR_QUANTIZER.encode(np.array([cr, cb])).tolist()
    for sampler in ("fast", "naive"):
        bins = model.sample_bins(L, hint, n=4, seed=3, sampler=sampler)
        for i, j in [(1, 2), (4, 5)]:
            assert bins[:, :, i, j].tolist() == [expected] * 4
    free = model.sample_bins(L, None, n=4, seed=3)
    assert free[:, :, 1, 2].tolist() != [expected] * 4


def test_sampling_reports_progress_and_cancels(model):
    L = _lightness()
    seen = []
    model.sample(L, n=1, progress=lambda f, m: seen.append(f))
    assert seen[-1] == 1.0 and seen == sorted(seen)
    with pytest.raises(CancelledError):
        model.sample(L, n=1, cancel=lambda: True)


# ---------------------------------------------------------------------------------------------- refinement
@pytest.mark.parametrize("h,w", [(24, 24), (17, 23), (5, 9), (40, 13)])
def test_refinement_any_size_in_same_size_out(h, w):
    net = RefinementNet(TINY).eval()
    up = torch.rand(2, 2, h, w)
    out = net(torch.rand(2, 1, h, w) * 2 - 1, up)
    assert out.shape == (2, 2, h, w)
    torch.testing.assert_close(out, up)  # zero-initialised last layer: an untrained net passes its input through


def test_refinement_tiles_match_a_single_pass():
    net = RefinementNet(TINY)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.2)
    net.eval()
    L, up = torch.rand(1, 1, 70, 90) * 2 - 1, torch.rand(1, 2, 70, 90)
    with torch.no_grad():
        whole = net(L, up)
        tiled = net.refine(L, up, tile=32, margin=48)
    torch.testing.assert_close(tiled, whole, atol=1e-5, rtol=1e-5)


def _hint_patch(size: int = SIZE, a: float = 40.0, b: float = -30.0) -> torch.Tensor:
    hint = torch.zeros(1, 3, size, size)
    hint[0, 0, 4:8, 8:12], hint[0, 1, 4:8, 8:12], hint[0, 2, 4:8, 8:12] = a / 110, b / 110, 1.0
    return hint


def test_refinement_hint_branch_starts_at_zero_and_tiles_with_its_hints():
    plain = PixColor(TINY).eval()
    hinted = PixColor(replace(TINY, refine_hints=True)).eval()
    missing = hinted.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing and all(k.startswith("refinement.hint_in.") for k in missing)
    L, hint = _lightness(), _hint_patch()
    torch.testing.assert_close(hinted.sample(L, hint, n=2, seed=5).chroma, plain.sample(L, hint, n=2, seed=5).chroma)

    net = hinted.refinement
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.2)
    L, up = torch.rand(1, 1, 70, 90) * 2 - 1, torch.rand(1, 2, 70, 90)
    channels = hint_chroma_channels(L, _hint_patch(90)[..., :70, :])
    with torch.no_grad():
        whole = net(L, up, channels)
        assert not torch.allclose(whole, net(L, up))  # the hints now reach the output
        torch.testing.assert_close(net.refine(L, up, channels, tile=32, margin=48), whole, atol=1e-5, rtol=1e-5)


def test_refinement_with_the_hints_paints_the_hinted_pixels_closer_than_without():
    batch = _photo_batch()
    # a small patch in a colour of its own, which the coarse grid chroma cannot carry
    own = torch.tensor([[0.9, 0.1, 0.2], [0.1, 0.8, 0.3], [0.2, 0.3, 0.9], [0.9, 0.8, 0.1]])
    batch["rgb"][..., 6:10, 6:10] = own[..., None, None]
    lab = rgb_to_lab(batch["rgb"])
    batch["L"], batch["ab"] = normalize_l(lab[:, :1]), normalize_ab(lab[:, 1:])
    hint = torch.zeros(4, 3, SIZE, SIZE)
    hint[:, :2, 6:10, 6:10] = batch["ab"][:, :, 6:10, 6:10]
    hint[:, 2, 6:10, 6:10] = 1.0
    batch["hint"] = hint
    chroma = chroma_of_rgb(batch["rgb"])

    def hinted_error_after_training(refine_hints: bool) -> float:
        torch.manual_seed(0)
        model = PixColor(replace(TINY, refine_hints=refine_hints))
        opt = torch.optim.Adam(model.refinement.parameters(), lr=1e-2)
        model.train()
        for _ in range(150):
            loss, _ = model.training_loss(batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
        low = model.centres[model.grid_bins(chroma, model.grid_size(SIZE, SIZE))]
        with torch.no_grad():
            out = model.refinement(batch["L"], upsample_to(low, (SIZE, SIZE)), model._refine_hint(batch["L"], hint))
        return float((out - chroma)[..., 6:10, 6:10].abs().mean())

    assert hinted_error_after_training(True) < 0.5 * hinted_error_after_training(False)


# ---------------------------------------------------------------------------------------------- training
def test_training_loss_is_finite_and_decreases():
    net = PixColor(TINY).train()
    batch = _photo_batch()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss, metrics = net.training_loss(batch, hints=False)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(np.isfinite(losses))
    assert set(metrics) == {"loss", "ce_nats", "bits_per_dim", "refine_l1"}
    assert np.mean(losses[-3:]) < 0.85 * np.mean(losses[:3])


def test_training_loss_with_simulated_and_given_hints():
    net = PixColor(TINY).train()
    batch = _photo_batch(2)
    loss, _ = net.training_loss({**batch, "seed": torch.tensor(5)})
    assert torch.isfinite(loss)
    loss, _ = net.training_loss({**batch, "hint": torch.zeros(2, 3, SIZE, SIZE)})
    assert torch.isfinite(loss)


def test_builder_from_card_config():
    net = build_pixcolor_model(TINY.to_dict())
    assert net.config == TINY
    with pytest.raises(ValueError, match="unknown"):
        build_pixcolor_model({"gird": 3})


# ---------------------------------------------------------------------------------------------- engine
def test_colorizer_from_registry(tmp_path, model):
    from colorstudio.engine.pixcolor_colorizer import PixColorColorizer
    from colorstudio.families import load_colorizer
    from colorstudio.models.registry import ModelCard, save_model

    save_model(model, ModelCard(name="pixcolor", family="pixcolor", config=TINY.to_dict(), working_resolution=SIZE),
               tmp_path / "pixcolor")
    colorizer = load_colorizer("pixcolor", torch.device("cpu"), tmp_path)
    assert isinstance(colorizer, PixColorColorizer) and colorizer.capabilities.samples
    w, h = colorizer.working_size((200, 100))
    assert (w, h) == (48, 24)
    lightness = np.linspace(20, 80, h * w, dtype=np.float32).reshape(h, w)
    hint_ab, hint_mask = np.zeros((2, h, w), np.float32), np.zeros((1, h, w), np.float32)
    pred = colorizer.predict(lightness, hint_ab, hint_mask, samples=2, seed=4)
    assert pred.seeds == [4, 5] and pred.work_size == (w, h)
    assert [ab.shape for ab in pred.ab_samples] == [(h, w, 2)] * 2
    assert all(ab.dtype == np.float32 and np.isfinite(ab).all() for ab in pred.ab_samples)
    naive = colorizer.predict(lightness, hint_ab, hint_mask, samples=2, seed=4, sampler="naive")
    for fast_ab, naive_ab in zip(pred.ab_samples, naive.ab_samples, strict=True):
        np.testing.assert_allclose(fast_ab, naive_ab, atol=1e-4)
    with pytest.raises(ColorStudioError, match="sampler"):
        colorizer.predict(lightness, hint_ab, hint_mask, sampler="slow")


# ---------------------------------------------------------------------------------------------- histogram conditioning
def _tiny_histogram_config():
    from colorstudio.models.histogram import HistogramConfig

    return HistogramConfig(width=4, stage_mults=(1, 2, 4), stage_blocks=(0, 1, 1), hypercolumn_channels=8, norm="group")


def _histogram_conditioned(**extra) -> PixColorConfig:
    return replace(TINY, conditioning="histogram", histogram=_tiny_histogram_config().to_dict(), adapt_width=8, **extra)


def test_histogram_conditioning_needs_the_histogram_config():
    with pytest.raises(ValueError, match="histogram"):
        replace(TINY, conditioning="histogram")
    with pytest.raises(ValueError, match="conditioning"):
        replace(TINY, conditioning="resnet")


def test_histogram_conditioning_trains_the_adaptation_only():
    from colorstudio.models.pixcolor import HistogramConditioning

    net = PixColor(_histogram_conditioned()).train()
    assert isinstance(net.conditioning, HistogramConditioning)
    assert not net.conditioning.encoder.training  # frozen part stays in eval mode under .train()
    frozen = {k: v.clone() for k, v in net.conditioning.encoder.state_dict().items()}
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=3e-3)
    losses = []
    for _ in range(20):
        loss, _ = net.training_loss(_photo_batch(), hints=False)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(p.grad is None for p in net.conditioning.encoder.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.conditioning.adapt.parameters())
    for k, v in net.conditioning.encoder.state_dict().items():
        torch.testing.assert_close(v, frozen[k])
    assert np.mean(losses[-3:]) < 0.95 * np.mean(losses[:3])


def test_histogram_conditioned_model_samples_and_round_trips_through_the_registry(tmp_path):
    from colorstudio.families import load_model
    from colorstudio.models.histogram import HistogramColorizer
    from colorstudio.models.registry import ModelCard, save_model
    from colorstudio.training.train_pixcolor import histogram_conditioned_config, load_histogram_encoder

    torch.manual_seed(3)
    hist = HistogramColorizer(_tiny_histogram_config())
    save_model(hist, ModelCard(name="h", family="histogram", config=hist.config.to_dict(), working_resolution=32),
               tmp_path / "h")
    config = histogram_conditioned_config(tmp_path / "h", TINY)
    assert config.conditioning == "histogram" and config.histogram == hist.config.to_dict()
    net = PixColor(replace(config, adapt_width=8)).eval()
    source = load_histogram_encoder(net, tmp_path / "h")
    assert source["name"] == "h" and len(source["weights_sha256"]) == 64
    for k, v in hist.state_dict().items():
        torch.testing.assert_close(net.conditioning.encoder.state_dict()[k], v)

    save_model(net, ModelCard(name="p", family="pixcolor", config=net.config.to_dict(), working_resolution=SIZE),
               tmp_path / "p")
    loaded, card = load_model(tmp_path / "p")
    assert loaded.config == net.config
    L = _lightness()
    a = net.sample_bins(L, n=2, seed=7)
    b = loaded.sample_bins(L, n=2, seed=7, sampler="naive")
    assert torch.equal(a, b)

    with pytest.raises(ColorStudioError, match="histogram"):
        histogram_conditioned_config(tmp_path / "p", TINY)


def test_warm_start_takes_a_models_weights_but_the_new_histogram_copy(tmp_path):
    from colorstudio.models.histogram import HistogramColorizer
    from colorstudio.models.registry import ModelCard, save_model
    from colorstudio.training.family import warm_start
    from colorstudio.training.train_pixcolor import FROZEN_ENCODER_PREFIX, histogram_conditioned_config, load_histogram_encoder

    for name, seed in (("old", 1), ("new", 2)):
        torch.manual_seed(seed)
        hist = HistogramColorizer(_tiny_histogram_config())
        save_model(hist, ModelCard(name=name, family="histogram", config=hist.config.to_dict(), working_resolution=32),
                   tmp_path / name)
    config = replace(histogram_conditioned_config(tmp_path / "old", TINY), adapt_width=8)
    torch.manual_seed(3)
    trained = PixColor(config)
    load_histogram_encoder(trained, tmp_path / "old")
    save_model(trained, ModelCard(name="p", family="pixcolor", config=config.to_dict(), working_resolution=SIZE),
               tmp_path / "p")

    torch.manual_seed(4)
    fresh = PixColor(config)
    load_histogram_encoder(fresh, tmp_path / "new")
    new_encoder = {k: v.clone() for k, v in fresh.state_dict().items() if k.startswith(FROZEN_ENCODER_PREFIX)}
    source = warm_start(fresh, tmp_path / "p", keep_prefixes=(FROZEN_ENCODER_PREFIX,))
    assert source["name"] == "p" and len(source["weights_sha256"]) == 64
    for k, v in fresh.state_dict().items():
        expected = new_encoder[k] if k.startswith(FROZEN_ENCODER_PREFIX) else trained.state_dict()[k]
        torch.testing.assert_close(v, expected)
    assert any(not torch.equal(v, trained.state_dict()[k]) for k, v in new_encoder.items())

    with_branch = PixColor(replace(config, refine_hints=True))  # a new zero-initialized branch may be added
    warm_start(with_branch, tmp_path / "p", keep_prefixes=(FROZEN_ENCODER_PREFIX,))
    torch.testing.assert_close(with_branch.state_dict()["cr_head.weight"], trained.state_dict()["cr_head.weight"])
    with torch.no_grad():
        with_branch.refinement.hint_in.weight.fill_(0.1)  # but not one that already computes something
    with pytest.raises(ColorStudioError, match="1 missing"):
        warm_start(with_branch, tmp_path / "p", keep_prefixes=(FROZEN_ENCODER_PREFIX,))

    # a newer histogram network with more features: only the adapter's input layer starts afresh
    from colorstudio.training.train_pixcolor import ADAPTER_INPUT_PREFIX

    wide_hist = HistogramColorizer(replace(_tiny_histogram_config(), hypercolumn_channels=12))
    save_model(wide_hist, ModelCard(name="wide", family="histogram", config=wide_hist.config.to_dict(),
                                    working_resolution=32), tmp_path / "wide")
    on_wide = PixColor(replace(histogram_conditioned_config(tmp_path / "wide", TINY), adapt_width=8))
    with pytest.raises(ColorStudioError, match="architecture differs"):
        warm_start(on_wide, tmp_path / "p", keep_prefixes=(FROZEN_ENCODER_PREFIX,))
    source = warm_start(on_wide, tmp_path / "p", keep_prefixes=(FROZEN_ENCODER_PREFIX,),
                        fresh_on_resize=(ADAPTER_INPUT_PREFIX,))
    assert source["fresh"] == [f"{ADAPTER_INPUT_PREFIX}0.weight"]
    torch.testing.assert_close(on_wide.state_dict()["pixelcnn." + next(k for k in on_wide.pixelcnn.state_dict())],
                               trained.state_dict()["pixelcnn." + next(k for k in on_wide.pixelcnn.state_dict())])

    wider = PixColor(replace(config, adapt_width=12))
    with pytest.raises(ColorStudioError, match="architecture differs"):
        warm_start(wider, tmp_path / "p", keep_prefixes=(FROZEN_ENCODER_PREFIX,))
    with pytest.raises(ColorStudioError, match="PixColor"):
        warm_start(fresh, tmp_path / "old")
