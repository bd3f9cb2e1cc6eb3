"""The shared PixelCNN core: causality (made.py style), no blind spot, incremental == full forward."""

from __future__ import annotations

import pytest
import torch

from colorstudio.errors import CancelledError
from colorstudio.models.pixelcnn import (
    DownRightShiftedConv2d,
    DownShiftedConv2d,
    GatedResidualBlock,
    PixelCNN,
    PixelCNNConfig,
    generate,
)

TINY = PixelCNNConfig(in_channels=2, cond_channels=3, out_channels=5, channels=8, blocks=3, dropout=0.2)


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)


def _core(config: PixelCNNConfig = TINY) -> PixelCNN:
    core = PixelCNN(config).double().eval()
    with torch.no_grad():  # bigger last layers than the near-identity init, so every path is clearly visible
        for block in [*core.u_blocks, *core.ul_blocks]:
            block.conv2.weight.mul_(5.0)
            block.conv2.bias.normal_()
    return core


def _input_gradients(core: PixelCNN, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    """|d out[pixel k] / d x[pixel m]| and |d out[pixel k] / d cond[pixel m]| summed over channels: (n, n)."""
    x = torch.randn(1, core.config.in_channels, h, w, dtype=torch.float64, requires_grad=True)
    cond = torch.randn(1, core.config.cond_channels, h, w, dtype=torch.float64, requires_grad=True)
    out = core(x, cond)
    n = h * w
    gx, gc = torch.zeros(n, n, dtype=torch.float64), torch.zeros(n, n, dtype=torch.float64)
    for k in range(n):
        i, j = divmod(k, w)
        dx, dc = torch.autograd.grad(out[0, :, i, j].sum(), (x, cond), retain_graph=True)
        gx[k] = dx[0].abs().sum(0).reshape(-1)
        gc[k] = dc[0].abs().sum(0).reshape(-1)
    return gx, gc


def test_shapes_any_size():
    core = PixelCNN(TINY).eval()
    for h, w in [(1, 1), (4, 7), (9, 3)]:
        out = core(torch.randn(2, 2, h, w), torch.randn(2, 3, h, w))
        assert out.shape == (2, 5, h, w)


def test_causal_and_no_blind_spot():
    """made.py check: out at pixel k depends on no input at pixels >= k, and on every earlier pixel
    (the 5x5 image lies inside the receptive field of 3 block pairs, so there is no blind spot)."""
    h = w = 5
    gx, gc = _input_gradients(_core(), h, w)
    n = h * w
    later_or_same = torch.triu(torch.ones(n, n, dtype=torch.bool))  # [k, m] with m >= k
    assert gx[later_or_same].abs().max() == 0.0
    earlier = ~later_or_same
    assert (gx[earlier] > 1e-12).all(), "an earlier pixel does not reach a later one (blind spot)"
    # the conditioning is not shifted: it reaches the pixel it belongs to
    assert (torch.diagonal(gc) > 1e-12).all()


def test_receptive_field_rows():
    core = _core(PixelCNNConfig(in_channels=1, cond_channels=0, out_channels=2, channels=4, blocks=1))
    h, w = 7, 3
    x = torch.randn(1, 1, h, w, dtype=torch.float64, requires_grad=True)
    out = core(x)
    (grad,) = torch.autograd.grad(out[0, :, h - 1, 1].sum(), x)
    rows_seen = (grad[0, 0].abs().sum(1) > 0).nonzero().flatten().tolist()
    assert rows_seen == list(range(h - 1 - core.config.receptive_rows, h))
    assert core.config.receptive_rows == 5


def test_shifted_convolutions_see_only_above_and_left():
    conv_v, conv_h = DownShiftedConv2d(1, 1, (2, 3)), DownRightShiftedConv2d(1, 1, (2, 2))
    x = torch.zeros(1, 1, 5, 5, requires_grad=True)
    for conv, allowed in [(conv_v, {(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)}), (conv_h, {(1, 1), (1, 2), (2, 1), (2, 2)})]:
        (grad,) = torch.autograd.grad(conv(x)[0, 0, 2, 2], x)
        assert {tuple(p) for p in grad[0, 0].nonzero().tolist()} == allowed


@pytest.mark.parametrize("h,w", [(5, 5), (4, 7), (1, 3), (6, 1)])
def test_incremental_equals_full_forward(h, w):
    core = PixelCNN(TINY).eval()  # float32: the state works in the core's dtype
    b = 3
    x, cond = torch.randn(b, 2, h, w), torch.randn(b, 3, h, w)
    with torch.no_grad():
        full = core(x, cond)  # dropout is off in eval mode
    state = core.start(cond)
    features = [state.features]
    while True:
        i, j = state.position
        nxt = state.step(x[:, :, i, j])
        if nxt is None:
            break
        features.append(nxt)
    incremental = torch.stack(features, dim=-1).reshape(b, 5, h, w)
    torch.testing.assert_close(incremental, full, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(state.inputs(), x)
    with pytest.raises(RuntimeError, match="finished"):
        state.step(x[:, :, 0, 0])


def test_incremental_unconditional_needs_shape():
    core = PixelCNN(PixelCNNConfig(in_channels=1, cond_channels=0, out_channels=2, channels=4, blocks=2)).eval()
    with pytest.raises(ValueError, match="shape"):
        core.start(None)
    x = torch.randn(2, 1, 3, 4)
    state = core.start(None, shape=(2, 3, 4))
    with torch.no_grad():
        full = core(x)
    got = []
    features = state.features
    while features is not None:
        got.append(features)
        i, j = state.position
        features = state.step(x[:, :, i, j])
    torch.testing.assert_close(torch.stack(got, -1).reshape(2, 2, 3, 4), full, atol=1e-5, rtol=1e-5)


def test_generate_fast_equals_naive():
    core = PixelCNN(TINY).eval()
    cond = torch.randn(2, 3, 4, 5)
    order = []

    def choose(features: torch.Tensor, i: int, j: int) -> torch.Tensor:
        order.append((i, j))
        return torch.tanh(features[:, :2])

    fast = generate(core, cond, choose, method="fast")
    fast_order, order[:] = list(order), []
    naive = generate(core, cond, choose, method="naive")
    assert fast_order == order == [(i, j) for i in range(4) for j in range(5)]
    torch.testing.assert_close(fast, naive, atol=1e-5, rtol=1e-5)
    assert fast.shape == (2, 2, 4, 5)


def test_generate_progress_cancel_and_errors():
    core = PixelCNN(TINY).eval()
    cond = torch.randn(1, 3, 3, 3)
    seen = []
    generate(core, cond, lambda f, i, j: f[:, :2], progress=lambda frac, msg: seen.append(frac))
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    for method in ("fast", "naive"):
        with pytest.raises(CancelledError):
            generate(core, cond, lambda f, i, j: f[:, :2], method=method, cancel=lambda: True)
    with pytest.raises(ValueError, match="method"):
        generate(core, cond, lambda f, i, j: f[:, :2], method="slow")
    with pytest.raises(ValueError, match="cond"):
        core(torch.randn(1, 2, 3, 3), None)
    with pytest.raises(ValueError, match="x of shape"):
        core(torch.randn(1, 3, 3, 3), cond)
    with pytest.raises(ValueError, match="x of shape"):
        core.start(cond).step(torch.randn(2, 2))


def test_config_round_trip_and_validation():
    assert PixelCNNConfig.from_dict(TINY.to_dict()) == TINY
    with pytest.raises(ValueError):
        PixelCNNConfig(blocks=0)
    with pytest.raises(ValueError):
        PixelCNNConfig(dropout=1.0)
    with pytest.raises(ValueError, match="unknown"):
        PixelCNNConfig.from_dict({"widht": 3})


def test_gated_block_accepts_any_convolution_factory():
    block = GatedResidualBlock(4, lambda i, o: torch.nn.Conv2d(i, o, 3, padding=1), cond_channels=2)
    x = torch.randn(1, 4, 6, 6)
    assert block(x, cond=torch.randn(1, 2, 6, 6)).shape == x.shape
