"""Shared autoregressive core: a conditional PixelCNN and its fast incremental generator.

Used by the two sampling families (PixColor over YCbCr bins, PIC over a logistic mixture). The core is
generic: it maps inputs ``x (B, C_in, h, w)`` and conditioning ``cond (B, C_cond, h, w)`` to features
``(B, C_out, h, w)``; how a family turns the features at one pixel into a distribution and a sample is
the family's business (see :func:`generate`).

Architecture (PixelCNN++, Salimans et al. 2017, ``openai/pixel-cnn/pixel_cnn_pp``; no down/up-sampling,
as in PIC's decoder): two streams without a blind spot,

- ``u`` (vertical): down-shifted 2x3 convolutions, so ``u[i, j]`` sees only rows ``< i``;
- ``ul`` (horizontal): down-right-shifted 2x2 convolutions plus ``u`` through a 1x1, so ``ul[i, j]`` sees
  rows ``< i`` and the pixels left of ``j`` in row ``i``, i.e. every pixel before ``(i, j)`` in raster
  order that lies in the receptive field (which grows by one row up and one column each side per
  convolution).

Each of ``blocks`` block pairs is a gated residual block (PixelCNN++ ``gated_resnet``)::

    c = conv(concat_elu(x)) [+ nin(concat_elu(u)) for ul] + conv1x1(cond)
    c = dropout(concat_elu(c));  a, b = conv(c).chunk(2);  x = x + a * sigmoid(b)

and the output is ``conv1x1(elu(ul))``. A constant-one channel is appended to the input (as in
PixelCNN++) so the network can tell zero padding at the image border from a zero input.

Causality: ``out[..., i, j]`` depends on ``x`` only at pixels ``< (i, j)`` in raster order, and on
``cond`` anywhere (``cond`` is never shifted; it is known before generation starts).

Fast generation (Ramachandran et al. 2017, "Fast generation for convolutional autoregressive models",
``PrajitR/fast-pixel-cnn``): :class:`IncrementalPixelCNN` keeps every layer's activations in caches and,
when a pixel is generated, computes only what changed: the vertical stack once per row (its rows only
depend on rows above) and the horizontal stack once per pixel (a 2x2 window of cached activations per
layer). The work per image is O(h w) instead of the naive O((h w)^2); the features equal the full forward
pass's to float precision.

Example (a family's sampler)::

    core = PixelCNN(PixelCNNConfig(in_channels=2, cond_channels=64, out_channels=64))
    def choose(features, i, j):          # (B, C_out) at pixel (i, j) -> (B, C_in) input of that pixel
        return my_sample(features)
    x = generate(core.eval(), cond, choose, method="fast")   # (B, C_in, h, w)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, Self, cast

import torch
import torch.nn.functional as F
from torch import nn

from colorstudio.errors import CancelledError

__all__ = [
    "GENERATION_METHODS",
    "DownRightShiftedConv2d",
    "DownShiftedConv2d",
    "GatedResidualBlock",
    "IncrementalPixelCNN",
    "PixelCNN",
    "PixelCNNConfig",
    "concat_elu",
    "down_shift",
    "generate",
    "right_shift",
]

GENERATION_METHODS = ("fast", "naive")
ChooseFn = Callable[[torch.Tensor, int, int], torch.Tensor]


@dataclass(frozen=True)
class PixelCNNConfig:
    """Architecture of a conditional PixelCNN core (stored in model cards via :meth:`to_dict`).

    ``in_channels``: channels of the autoregressive input per pixel (e.g. 2 for two chroma values);
    ``cond_channels``: channels of the conditioning map (0 = unconditional); ``out_channels``: feature
    channels handed to the family's head; ``channels``: width of both streams; ``blocks``: number of
    (vertical, horizontal) gated residual block pairs; ``dropout``: on the gated blocks' hidden layer
    during training (PIC uses 0.5).
    """

    in_channels: int = 2
    cond_channels: int = 0
    out_channels: int = 64
    channels: int = 64
    blocks: int = 8
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if min(self.in_channels, self.out_channels, self.channels, self.blocks) < 1 or self.cond_channels < 0:
            raise ValueError(f"invalid PixelCNNConfig {self}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def receptive_rows(self) -> int:
        """Rows above a pixel that can influence it: 2 from the input convolution, 1 per vertical-stack
        convolution, and 1 more as the last horizontal 2x2 convolution reads the row above."""
        return 3 + 2 * self.blocks

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PixelCNNConfig:
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown PixelCNNConfig fields: {sorted(unknown)}")
        return cls(**data)


def concat_elu(x: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """``elu(concat(x, -x))``: keeps both signs' information (PixelCNN++); doubles ``dim``."""
    return F.elu(torch.cat([x, -x], dim=dim))


def down_shift(x: torch.Tensor) -> torch.Tensor:
    """(..., h, w): move everything one row down; row 0 becomes zeros."""
    return F.pad(x, (0, 0, 1, 0))[..., :-1, :]


def right_shift(x: torch.Tensor) -> torch.Tensor:
    """(..., h, w): move everything one column right; column 0 becomes zeros."""
    return F.pad(x, (1, 0, 0, 0))[..., :, :-1]


class DownShiftedConv2d(nn.Conv2d):
    """Convolution whose output ``(i, j)`` sees input rows ``i-kh+1 .. i`` and columns ``j-(kw-1)/2 ..
    j+(kw-1)/2`` (``kw`` odd): zero padding on top and both sides, none below. Same size out."""

    def __init__(self, in_ch: int, out_ch: int, kernel: tuple[int, int] = (2, 3)) -> None:
        if kernel[1] % 2 != 1:
            raise ValueError(f"DownShiftedConv2d needs an odd kernel width, got {kernel}")
        super().__init__(in_ch, out_ch, kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kh, kw = self.kernel_size
        return super().forward(F.pad(x, ((kw - 1) // 2, (kw - 1) // 2, kh - 1, 0)))


class DownRightShiftedConv2d(nn.Conv2d):
    """Convolution whose output ``(i, j)`` sees input rows ``i-kh+1 .. i`` and columns ``j-kw+1 .. j``:
    zero padding on top and left only. Same size out."""

    def __init__(self, in_ch: int, out_ch: int, kernel: tuple[int, int] = (2, 2)) -> None:
        super().__init__(in_ch, out_ch, kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kh, kw = self.kernel_size
        return super().forward(F.pad(x, (kw - 1, 0, kh - 1, 0)))


class GatedResidualBlock(nn.Module):
    """PixelCNN++ ``gated_resnet`` with an optional auxiliary stream and a conditioning map.

    ``forward(x (B, C, h, w), aux (B, C_aux, h, w) | None, cond (B, C_cond, h, w) | None) -> (B, C, h, w)``.
    ``conv(in_ch, out_ch) -> nn.Conv2d`` makes the block's two convolutions: a causal class here
    (:class:`DownShiftedConv2d`, :class:`DownRightShiftedConv2d`), or any "same"-size convolution factory
    for non-causal uses (PIC's embedding network).
    """

    def __init__(self, channels: int, conv: Callable[[int, int], nn.Conv2d], aux_channels: int = 0, cond_channels: int = 0,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.conv1 = conv(2 * channels, channels)
        self.aux = nn.Conv2d(2 * aux_channels, channels, 1) if aux_channels else None
        self.cond = nn.Conv2d(cond_channels, channels, 1, bias=False) if cond_channels else None
        self.dropout = nn.Dropout(dropout)
        self.conv2 = conv(2 * channels, 2 * channels)
        # Smaller last layer: the block starts near the identity (deep stacks train stably) while every
        # path still carries gradient from the first step (a zero init would hide the far context).
        assert self.conv2.bias is not None, "conv() must make convolutions with a bias"
        with torch.no_grad():
            self.conv2.weight.mul_(0.1)
            self.conv2.bias.zero_()

    def forward(self, x: torch.Tensor, aux: torch.Tensor | None = None, cond: torch.Tensor | None = None) -> torch.Tensor:
        c = self.conv1(concat_elu(x))
        if self.aux is not None:
            assert aux is not None, "a block built with aux_channels needs aux"
            c = c + self.aux(concat_elu(aux))
        if self.cond is not None:
            c = c + self.cond(cond)
        a, b = self.conv2(self.dropout(concat_elu(c))).chunk(2, dim=1)
        return x + a * torch.sigmoid(b)


class PixelCNN(nn.Module):
    """Conditional PixelCNN core: ``forward(x (B, C_in, h, w), cond (B, C_cond, h, w) | None) -> (B, C_out, h, w)``.

    ``out[..., i, j]`` depends on ``x`` at pixels strictly before ``(i, j)`` in raster order only. Any h, w.
    :meth:`start` begins fast incremental generation (eval mode; dropout is never applied there).
    """

    def __init__(self, config: PixelCNNConfig = PixelCNNConfig()) -> None:
        super().__init__()
        self.config = cfg = config
        c, c_in = cfg.channels, cfg.in_channels + 1  # + the constant-one channel
        self.u_in = DownShiftedConv2d(c_in, c, (2, 3))
        self.ul_in_v = DownShiftedConv2d(c_in, c, (1, 3))
        self.ul_in_h = DownRightShiftedConv2d(c_in, c, (2, 1))
        self.u_blocks = nn.ModuleList(
            GatedResidualBlock(c, DownShiftedConv2d, 0, cfg.cond_channels, cfg.dropout) for _ in range(cfg.blocks)
        )
        self.ul_blocks = nn.ModuleList(
            GatedResidualBlock(c, DownRightShiftedConv2d, c, cfg.cond_channels, cfg.dropout) for _ in range(cfg.blocks)
        )
        self.out = nn.Conv2d(c, cfg.out_channels, 1)

    def _check(self, x: torch.Tensor | None, cond: torch.Tensor | None) -> None:
        cfg = self.config
        if x is not None and (x.ndim != 4 or x.shape[1] != cfg.in_channels):
            raise ValueError(f"expected x of shape (B, {cfg.in_channels}, h, w), got {tuple(x.shape)}")
        if cfg.cond_channels and (cond is None or cond.ndim != 4 or cond.shape[1] != cfg.cond_channels):
            got = None if cond is None else tuple(cond.shape)
            raise ValueError(f"expected cond of shape (B, {cfg.cond_channels}, h, w), got {got}")
        if x is not None and cond is not None and (cond.shape[0] != x.shape[0] or cond.shape[-2:] != x.shape[-2:]):
            raise ValueError(f"cond {tuple(cond.shape)} does not match x {tuple(x.shape)} in batch or size")

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        self._check(x, cond)
        cond = cond if self.config.cond_channels else None
        x = torch.cat([x, x.new_ones(x.shape[0], 1, *x.shape[-2:])], dim=1)  # (B, C_in + 1, h, w)
        u = down_shift(self.u_in(x))  # rows < i
        ul = down_shift(self.ul_in_v(x)) + right_shift(self.ul_in_h(x))  # rows < i, or row i left of j
        for u_block, ul_block in zip(self.u_blocks, self.ul_blocks, strict=True):
            u = u_block(u, cond=cond)
            ul = ul_block(ul, aux=u, cond=cond)
        return self.out(F.elu(ul))  # (B, C_out, h, w)

    def start(self, cond: torch.Tensor | None = None, *, shape: tuple[int, int, int] | None = None,
              threads: int | None = None) -> IncrementalPixelCNN:
        """Begin fast generation: see :class:`IncrementalPixelCNN`. ``shape = (B, h, w)`` when unconditional;
        ``threads``: torch intra-op threads while generating, restored after (None = leave them alone)."""
        return IncrementalPixelCNN(self, cond, shape=shape, threads=threads)


def _kernel_row(conv: nn.Conv2d, row: int) -> torch.Tensor:
    """One kernel row of a (O, I, kh, kw) weight as a (kw * I, O) matrix, matching a channel-last strip of
    ``kw`` pixels flattened as (kw, I)."""
    w = conv.weight.detach()[:, :, row]  # (O, I, kw)
    return w.permute(2, 1, 0).reshape(-1, w.shape[0]).contiguous()


def _strip_conv(strip: torch.Tensor, weight: torch.Tensor, kw: int) -> torch.Tensor:
    """A valid 1 x kw convolution along a channel-last row: (B, w + kw - 1, C) -> (B, w, O)."""
    b, _, c = strip.shape
    windows = strip.unfold(1, kw, 1).transpose(-1, -2).reshape(b, -1, kw * c)  # (B, w, kw * C)
    return windows @ weight


class IncrementalPixelCNN:
    """Fast raster-order generation with a :class:`PixelCNN` (Ramachandran et al. 2017).

    Use :meth:`PixelCNN.start`::

        state = core.start(cond)                 # cond (B, C_cond, h, w), computed once
        features = state.features                # (B, C_out) at pixel (0, 0)
        while features is not None:
            i, j = state.position
            x_ij = choose(features, i, j)        # (B, C_in): the family samples pixel (i, j)
            features = state.step(x_ij)          # features at the next pixel (None after the last)

    Caches hold, per layer, ``concat_elu`` of the stream outputs and hidden activations of the previous and
    the current row (channel-last, zero-padded like the convolutions; every kernel is two rows high), and
    the inputs of every row. When a row starts, everything that depends only on
    rows above is computed for the whole row at once: the vertical stack, and the upper kernel row of
    every horizontal-stack convolution (plus the 1x1 terms from ``u`` and ``cond``). A step then only
    multiplies the lower kernel row, a strip of two cached pixels per layer. Returns the same features as
    ``core(x, cond)[..., i, j]`` for the inputs given so far (dropout is not applied: generation is
    inference). The core's weights are read when the state is created.

    ``threads``: torch's (process-wide) intra-op thread count while generating, restored after the last
    pixel or by :meth:`close` / leaving a ``with core.start(...) as state:`` block; None leaves it alone.
    :func:`generate` uses 1 on the CPU.
    """

    def __init__(self, core: PixelCNN, cond: torch.Tensor | None = None, *, shape: tuple[int, int, int] | None = None,
                 threads: int | None = None) -> None:
        cfg = core.config
        core._check(None, cond)
        if cond is not None and cfg.cond_channels:
            batch, _, height, width = cond.shape
        elif shape is not None:
            batch, height, width = shape
        else:
            raise ValueError("an unconditional core needs shape=(B, h, w)")
        p = next(core.parameters())
        opts: dict[str, Any] = {"device": p.device, "dtype": p.dtype}
        self.core, self.shape = core, (batch, height, width)
        self.position: tuple[int, int] = (0, 0)
        self._done = False
        c, n = cfg.channels, cfg.blocks

        with torch.inference_mode():
            def project(block: GatedResidualBlock) -> torch.Tensor | None:  # (B, h, w, C) or None
                if block.cond is None or cond is None:
                    return None
                return block.cond(cond.to(**opts)).permute(0, 2, 3, 1).contiguous()

            def bias(conv: nn.Conv2d) -> torch.Tensor:
                assert conv.bias is not None  # every convolution of the core has one
                return conv.bias.detach()

            # ModuleList yields nn.Module to a type checker; these hold GatedResidualBlocks only
            u_blocks = cast(Sequence[GatedResidualBlock], core.u_blocks)
            ul_blocks = cast(Sequence[GatedResidualBlock], core.ul_blocks)
            self._cond_u = [project(b) for b in u_blocks]
            self._cond_ul = [project(b) for b in ul_blocks]
            # Vertical stack: both kernel rows, as matrices for a (2, kw, C) window.
            self._u_in = (_kernel_row(core.u_in, 0), _kernel_row(core.u_in, 1), bias(core.u_in))
            self._ul_in_v = (_kernel_row(core.ul_in_v, 0), bias(core.ul_in_v))
            self._ul_in_h = (_kernel_row(core.ul_in_h, 0), _kernel_row(core.ul_in_h, 1), bias(core.ul_in_h))
            self._u1 = [(_kernel_row(b.conv1, 0), _kernel_row(b.conv1, 1), bias(b.conv1)) for b in u_blocks]
            self._u2 = [(_kernel_row(b.conv2, 0), _kernel_row(b.conv2, 1), bias(b.conv2)) for b in u_blocks]
            # Horizontal stack: upper rows used per row, lower rows per pixel.
            self._l1 = [(_kernel_row(b.conv1, 0), _kernel_row(b.conv1, 1), bias(b.conv1)) for b in ul_blocks]
            self._l2 = [(_kernel_row(b.conv2, 0), _kernel_row(b.conv2, 1), bias(b.conv2)) for b in ul_blocks]
            ul_aux = [cast(nn.Conv2d, b.aux) for b in ul_blocks]  # built with aux_channels: never None
            self._aux = [(_kernel_row(conv, 0), bias(conv)) for conv in ul_aux]
            self._out = (_kernel_row(core.out, 0), bias(core.out))

            # Caches (channel-last). The input keeps every row (it is the result); padded 1 row on top and
            # 1 column on each side (the widest kernels).
            c_in = cfg.in_channels + 1
            self._x = torch.zeros(batch, height + 1, width + 2, c_in, **opts)
            self._x[:, 1:, 1:-1, -1] = 1.0  # the constant channel; never read before its pixel is reached
            # Layer caches keep two rows, [previous, current] (every kernel is 2 rows high), which keeps
            # them small enough to stay in the CPU cache. Vertical stack: padded 1 column on each side.
            self._u = [torch.zeros(batch, 2, width + 2, 2 * c, **opts) for _ in range(n + 1)]
            self._uh = [torch.zeros(batch, 2, width + 2, 2 * c, **opts) for _ in range(n)]
            # Horizontal stack: padded 1 column on the left (2x2 down-right kernels).
            self._ul = [torch.zeros(batch, 2, width + 1, 2 * c, **opts) for _ in range(n + 1)]
            self._ulh = [torch.zeros(batch, 2, width + 1, 2 * c, **opts) for _ in range(n)]
            # Per-row terms of the current row: ul_0, and each block's two convolutions (B, w, C / 2C).
            self._row_ul0 = torch.zeros(batch, width, c, **opts)
            self._row_h1: list[torch.Tensor] = []
            self._row_h2: list[torch.Tensor] = []
            # Per-pixel work is ~100 tiny ops: CPU threads only add synchronization to them (2-4x slower at
            # 2 threads, 10x and worse when other processes compete for the cores). Switching the count per
            # row costs more than the row work gains, so generation runs at ``threads`` throughout.
            self._saved_threads, self._threads = torch.get_num_threads(), threads
            self._set_threads(threads)
            self._start_row(0)
            self._features: torch.Tensor | None = self._pixel(0, 0)

    @property
    def features(self) -> torch.Tensor | None:
        """(B, C_out) features at :attr:`position` (None once every pixel was stepped)."""
        return self._features

    def _set_threads(self, threads: int | None) -> None:
        if self._threads and threads and torch.get_num_threads() != threads:
            torch.set_num_threads(threads)

    def close(self) -> None:
        """Restore torch's thread count when ``threads`` was given (done automatically after the last pixel;
        call it, or use the state as a context manager, when stopping early)."""
        self._set_threads(self._saved_threads)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def inputs(self) -> torch.Tensor:
        """(B, C_in, h, w) the inputs given so far (zeros where none yet)."""
        return self._x[:, 1:, 1:-1, :-1].permute(0, 3, 1, 2).clone()

    # ----------------------------------------------------------------------------------------- rows
    def _start_row(self, i: int) -> None:
        """Everything of row ``i`` that depends only on rows < i. Layer caches: index 0 = row i - 1,
        index 1 = row i; input cache row r holds image row r - 1."""
        core, (batch, _, width) = self.core, self.shape
        c = core.config.channels
        if i > 0:
            for cache in (*self._u, *self._uh, *self._ul, *self._ulh):
                cache[:, 0] = cache[:, 1]
        if i == 0:
            u = self._x.new_zeros(batch, width, c)  # down_shift: row 0 of u is exactly zero (no bias)
            ul0 = self._x.new_zeros(batch, width, c)
        else:
            # u_0 = down_shift(conv_2x3(x)): input rows i-2, i-1 (input cache rows i-1, i)
            top, bottom, b = self._u_in
            u = _strip_conv(self._x[:, i - 1], top, 3) + _strip_conv(self._x[:, i], bottom, 3) + b
            # down_shift(conv_1x3(x)): input row i-1
            ul0 = _strip_conv(self._x[:, i], self._ul_in_v[0], 3) + self._ul_in_v[1]
        # right_shift(conv_2x1(x)) at column j is the conv at j-1; its upper row is x(i-1, j-1) = input
        # cache (i, j). Column 0 is the shift's zero padding, bias included.
        top, _, b = self._ul_in_h
        ul0 = ul0 + _strip_conv(self._x[:, i, :width], top, 1) + b
        ul0[:, 0] -= b
        self._row_ul0 = ul0
        self._u[0][:, 1, 1:-1] = concat_elu(u, dim=-1)
        self._row_h1, self._row_h2 = [], []
        for k in range(core.config.blocks):
            top, bottom, b = self._u1[k]
            hidden = _strip_conv(self._u[k][:, 0], top, 3) + _strip_conv(self._u[k][:, 1], bottom, 3) + b
            cond_u = self._cond_u[k]
            if cond_u is not None:
                hidden = hidden + cond_u[:, i]
            self._uh[k][:, 1, 1:-1] = concat_elu(hidden, dim=-1)
            top, bottom, b = self._u2[k]
            gate = _strip_conv(self._uh[k][:, 0], top, 3) + _strip_conv(self._uh[k][:, 1], bottom, 3) + b
            a, g = gate.chunk(2, dim=-1)
            u = u + a * torch.sigmoid(g)
            u_ce = concat_elu(u, dim=-1)
            self._u[k + 1][:, 1, 1:-1] = u_ce
            # horizontal block k: 1x1 terms and the upper kernel rows (over row i - 1)
            aux_w, aux_b = self._aux[k]
            top1, _, b1 = self._l1[k]
            h1 = u_ce @ aux_w + aux_b + b1 + _strip_conv(self._ul[k][:, 0], top1, 2)
            cond_ul = self._cond_ul[k]
            if cond_ul is not None:
                h1 = h1 + cond_ul[:, i]
            top2, _, b2 = self._l2[k]
            self._row_h1.append(h1)
            self._row_h2.append(_strip_conv(self._ulh[k][:, 0], top2, 2) + b2)

    # --------------------------------------------------------------------------------------- pixels
    def _pixel(self, i: int, j: int) -> torch.Tensor:
        """Horizontal stack at pixel (i, j): the lower kernel rows over pixels (i, j-1), (i, j)."""
        batch = self.shape[0]
        ul = self._row_ul0[:, j]
        if j > 0:
            ul = torch.addmm(ul, self._x[:, i + 1, j], self._ul_in_h[1])
        slot = self._ul[0][:, 1, j + 1]
        torch.cat([ul, -ul], dim=-1, out=slot)
        F.elu(slot, inplace=True)
        for k in range(len(self._l1)):
            window = self._ul[k][:, 1, j : j + 2].reshape(batch, -1)  # a view: pixels (i, j-1), (i, j)
            hidden = torch.addmm(self._row_h1[k][:, j], window, self._l1[k][1])
            slot = self._ulh[k][:, 1, j + 1]
            torch.cat([hidden, -hidden], dim=-1, out=slot)
            F.elu(slot, inplace=True)
            window = self._ulh[k][:, 1, j : j + 2].reshape(batch, -1)
            a, g = torch.addmm(self._row_h2[k][:, j], window, self._l2[k][1]).chunk(2, dim=-1)
            ul = torch.addcmul(ul, a, torch.sigmoid(g))
            slot = self._ul[k + 1][:, 1, j + 1]
            torch.cat([ul, -ul], dim=-1, out=slot)
            F.elu(slot, inplace=True)
        return torch.addmm(self._out[1], F.elu(ul), self._out[0])

    def step(self, x: torch.Tensor) -> torch.Tensor | None:
        """Record the input ``x (B, C_in)`` of the current pixel, move to the next pixel and return its
        features (B, C_out); None after the last pixel."""
        if self._done:
            raise RuntimeError("generation already finished")
        batch, height, width = self.shape
        if x.shape != (batch, self.core.config.in_channels):
            raise ValueError(f"expected x of shape ({batch}, {self.core.config.in_channels}), got {tuple(x.shape)}")
        i, j = self.position
        with torch.inference_mode():
            self._x[:, i + 1, j + 1, :-1] = x
            j += 1
            if j == width:
                i, j = i + 1, 0
                if i == height:
                    self._done, self._features = True, None
                    self.close()
                    return None
                self._start_row(i)
            self.position = (i, j)
            self._features = self._pixel(i, j)
        return self._features


def generate(
    core: PixelCNN,
    cond: torch.Tensor | None,
    choose: ChooseFn,
    *,
    shape: tuple[int, int, int] | None = None,
    method: str = "fast",
    progress: Callable[[float, str], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> torch.Tensor:
    """Generate inputs pixel by pixel in raster order; returns ``x (B, C_in, h, w)``.

    ``choose(features (B, C_out), i, j) -> (B, C_in)`` turns the core's features at pixel ``(i, j)`` into
    that pixel's input (the family samples from its distribution there, and may record what it sampled).
    ``method="fast"`` uses :class:`IncrementalPixelCNN` (O(h w)); ``"naive"`` runs the full core once per
    pixel (O((h w)^2)), the reference the fast path is tested against. Both call ``choose`` in the same
    order with the same features (to float precision), so a ``choose`` whose randomness depends only on
    ``(i, j)`` gives the same samples either way. ``progress(fraction, message)`` and ``cancel()`` are
    checked once per row (cancel raises :class:`CancelledError`). Put the core in eval mode first.
    """
    if method not in GENERATION_METHODS:
        raise ValueError(f"unknown generation method {method!r}; expected one of {GENERATION_METHODS}")
    if cond is not None and core.config.cond_channels:
        batch, _, height, width = cond.shape
    elif shape is not None:
        batch, height, width = shape
    else:
        raise ValueError("an unconditional core needs shape=(B, h, w)")

    def row_started(i: int) -> None:
        if cancel is not None and cancel():
            raise CancelledError()
        if progress is not None:
            progress(i / height, f"sampling row {i + 1}/{height} ({method})")

    with torch.no_grad():
        if method == "fast":
            on_cpu = next(core.parameters()).device.type == "cpu"
            with core.start(cond, shape=(batch, height, width), threads=1 if on_cpu else None) as state:
                features = state.features
                while features is not None:
                    i, j = state.position
                    if j == 0:
                        row_started(i)
                    features = state.step(choose(features, i, j))
                x = state.inputs()
        else:
            p = next(core.parameters())
            x = torch.zeros(batch, core.config.in_channels, height, width, device=p.device, dtype=p.dtype)
            for i in range(height):
                row_started(i)
                for j in range(width):
                    features = core(x, cond)[:, :, i, j]
                    x[:, :, i, j] = choose(features, i, j)
    if progress is not None:
        progress(1.0, "sampled")
    return x
