"""PixColor (Guadarrama et al. 2017): a conditional PixelCNN over low-resolution YCbCr chroma, then a
refinement network to full (working) resolution.

Pipeline for one image at the working resolution ``(H, W)`` (short side ``grid * grid_stride`` = 112 by
default; the model's input is normalized as everywhere in the project, ``L_norm = (L* - 50) / 50`` and
hint channels ``(a_norm * mask, b_norm * mask, mask)`` with ``ab_norm = ab / 110``):

1. **Conditioning / adaptation network** (:class:`ConditioningNet`): ``(B, 4, H, W) -> (B, C_cond, gh, gw)``
   on the chroma grid, ``gh x gw`` = 28 on the short side, the other side proportional.
2. **Conditional PixelCNN** (:class:`colorstudio.models.pixelcnn.PixelCNN`) over the grid's chroma,
   Cr and Cb each quantized into 32 bins (:data:`colorstudio.color.YCBCR_QUANTIZER`); raster order over
   cells, Cr before Cb within a cell: ``p = prod_i p(Cr_i | <i, x) p(Cb_i | Cr_i, <i, x)``. The head turns
   the core's features ``f`` into ``Cr logits = W_cr elu(f)`` and ``Cb logits = W_cb elu(f + E[Cr])``.
   Trained with cross-entropy under teacher forcing.
3. **Refinement network** (:class:`RefinementNet`): ``L_norm`` + the bilinearly upsampled grid chroma ->
   chroma at ``(H, W)``; trained on ground-truth grid chroma (bin centres, like a sample), L1 loss,
   bilinear upsampling in its decoder, fully convolutional (tiles for very large inputs).

Chroma tensors in this module are ordered **(Cr, Cb)** (the sampling order), each in [0, 1] with 0.5 =
no chroma (JPEG full range, :mod:`colorstudio.color.ycbcr`). :func:`chroma_to_ab` turns them into Lab
a*b* for a given L*.

Sampling (:meth:`PixColor.sample`): N samples in one batch; sample ``k`` draws its random numbers from its
own generator seeded with ``seed + k``, so sample ``k`` of ``(n, seed)`` equals sample 0 of
``(1, seed + k)`` (the GUI stores seeds, not pixels). Grid cells covered by a hint are clamped to the
hint's chroma instead of being sampled (hints also enter the conditioning network).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from colorstudio.color import (
    AB_SCALE,
    YCBCR_QUANTIZER,
    denormalize_l,
    lab_to_rgb,
    rgb_to_lab,
    rgb_to_ycbcr,
    ycbcr_to_rgb,
)
from colorstudio.errors import CancelledError
from colorstudio.models.blocks import (
    ConvNormAct,
    ResidualBlock,
    crop_to,
    downsample,
    pad_to_multiple,
    upsample_to,
)
from colorstudio.models.hint_sim import hint_for_batch
from colorstudio.models.histogram import FrozenHistogramNetwork, HistogramConfig
from colorstudio.models.pixelcnn import (
    GENERATION_METHODS,
    PixelCNN,
    PixelCNNConfig,
    generate,
)

__all__ = [
    "FAMILY",
    "CHROMA_SCALE",
    "SAMPLERS",
    "CONDITIONINGS",
    "HISTOGRAM_CONDITIONING",
    "OWN_CONDITIONING",
    "ConditioningNet",
    "HistogramConditioning",
    "PixColor",
    "PixColorConfig",
    "PixColorSamples",
    "RefinementNet",
    "build_pixcolor_model",
    "chroma_of_rgb",
    "chroma_to_ab",
    "grid_size",
]

FAMILY = "pixcolor"  # the family name its cards carry
SAMPLERS = GENERATION_METHODS  # ("fast", "naive")
OWN_CONDITIONING, HISTOGRAM_CONDITIONING = CONDITIONINGS = ("own", "histogram")  # the config values cards store
# Network scale of chroma: (c - 0.5) * 4; photo chroma mostly lies in 0.5 +- 0.15, so inputs are ~ +-0.6.
CHROMA_SCALE = 4.0


@dataclass(frozen=True)
class PixColorConfig:
    """Architecture and loss settings; stored in checkpoints and model cards (``to_dict``)."""

    grid: int = 28  # chroma grid cells on the image's short side
    grid_stride: int = 4  # working pixels per grid cell: the working short side is grid * grid_stride
    max_aspect: float = 4.0  # the grid's long side is at most max_aspect * grid (very long panoramas)
    bins: int = 32
    in_channels: int = 4  # L_norm + (a_norm * mask, b_norm * mask, mask)
    cond_width: int = 32  # conditioning net: widths w, 2w, 4w at 1/2, 1/4, 1/8
    cond_channels: int = 64
    pixelcnn_channels: int = 48
    pixelcnn_blocks: int = 5
    head_channels: int = 64
    dropout: float = 0.1
    refine_width: int = 16  # refinement net: widths w, 2w, 4w at 1, 1/2, 1/4
    refine_blocks: int = 2
    cond_norm: str = "group"  # image-level statistics are fine where the whole image is seen at once
    refine_norm: str = "batch"  # local at inference, so tiles of a large image agree with the whole
    act: str = "relu"
    p_no_hints: float = 0.5  # fraction of training images without simulated hints
    refine_weight: float = 1.0  # weight of the refinement L1 (in CHROMA_SCALE units) against the CE (nats)
    # the refinement net also sees the hints' own chroma at full resolution, so every sample keeps the
    # hinted colours exactly where they were placed (its branch starts at zero: an older model's behaviour)
    refine_hints: bool = False
    # "own": ConditioningNet trained from scratch; "histogram": a trained histogram network (frozen, its
    # HistogramConfig dict in `histogram`) + a trained adaptation net, as the paper adapts a pretrained
    # ResNet-101. The frozen weights are part of this model's weights, so the model stands alone.
    conditioning: str = "own"
    histogram: dict[str, Any] | None = None
    adapt_width: int = 128

    def __post_init__(self) -> None:
        if self.conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning must be one of {CONDITIONINGS}, got {self.conditioning!r}")
        if self.conditioning == HISTOGRAM_CONDITIONING and not self.histogram:
            raise ValueError("conditioning='histogram' needs the histogram network's config (histogram=...)")
        if not 0.0 <= self.p_no_hints <= 1.0:
            raise ValueError(f"p_no_hints must be in [0, 1], got {self.p_no_hints}")

    @property
    def working_short_side(self) -> int:
        return self.grid * self.grid_stride

    def pixelcnn_config(self) -> PixelCNNConfig:
        return PixelCNNConfig(in_channels=2, cond_channels=self.cond_channels, out_channels=self.head_channels,
                              channels=self.pixelcnn_channels, blocks=self.pixelcnn_blocks, dropout=self.dropout)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PixColorConfig:
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown PixColorConfig fields: {sorted(unknown)}")
        return cls(**data)


def grid_size(height: int, width: int, grid: int = 28, max_aspect: float = 4.0) -> tuple[int, int]:
    """(gh, gw) of the chroma grid for an (height, width) image: ``grid`` cells on the short side."""
    short, long = min(height, width), max(height, width)
    cells = min(max(grid, round(grid * long / short)), math.ceil(grid * max_aspect))
    return (grid, cells) if height <= width else (cells, grid)


# ------------------------------------------------------------------------------------------ colour
def chroma_of_rgb(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB (B, 3, H, W) in [0, 1] -> (Cr, Cb) (B, 2, H, W) in [0, 1] (JPEG full range)."""
    ycc = rgb_to_ycbcr(rgb)
    return torch.stack([ycc[:, 2], ycc[:, 1]], dim=1)


def _gray_value(L: torch.Tensor) -> torch.Tensor:
    """L* (B, 1, H, W) -> the sRGB value (B, 1, H, W) of the gray with that L* (= its Y')."""
    zeros = torch.zeros_like(L)
    return lab_to_rgb(torch.cat([L, zeros, zeros], dim=1), clip=True)[:, :1]


def chroma_to_ab(L: torch.Tensor, chroma: torch.Tensor, iterations: int = 2) -> torch.Tensor:
    """Lab a*b* (B, 2, H, W) of the colour with lightness ``L*`` (B or 1, 1, H, W) and (Cr, Cb) ``chroma``.

    YCbCr's Y' is gamma-encoded luma, not L*, so Y' is solved for: start from the gray value with that L*
    and correct it ``iterations`` times by the L* error (mapped through the gray axis). Out of gamut
    colours are clipped to sRGB; the compositor's lightness correction restores the exact L* anyway.
    """
    L = L.expand(chroma.shape[0], 1, *chroma.shape[-2:])
    target = _gray_value(L)
    y = target
    for step in range(iterations + 1):
        ycc = torch.cat([y, chroma[:, 1:2], chroma[:, 0:1]], dim=1)  # (Y', Cb, Cr)
        lab = rgb_to_lab(ycbcr_to_rgb(ycc, clip=True))
        if step == iterations:
            break
        y = (y + target - _gray_value(lab[:, :1])).clamp(0.0, 1.0)
    return lab[:, 1:]


def _hint_chroma(L_norm: torch.Tensor, hint: torch.Tensor) -> torch.Tensor:
    """(Cr, Cb) (B, 2, H, W) of the hint colours with the image's lightness (DESIGN.md: the luminance
    always comes from the image)."""

    lab = torch.cat([denormalize_l(L_norm), hint[:, :2] * AB_SCALE], dim=1)
    return chroma_of_rgb(lab_to_rgb(lab, clip=True))


def hint_chroma_channels(L_norm: torch.Tensor, hint: torch.Tensor) -> torch.Tensor:
    """The refinement net's hint input (B, 3, H, W): the hints' (Cr, Cb) offsets from neutral at network
    scale where hinted (zero elsewhere), and the mask."""
    mask = hint[:, 2:3]
    return torch.cat([(_hint_chroma(L_norm, hint) - 0.5) * CHROMA_SCALE * mask, mask], dim=1)


# ------------------------------------------------------------------------------------------ networks
class ConditioningNet(nn.Module):
    """L + hint channels at the working resolution -> conditioning features on the chroma grid.

    ``forward(x (B, 4, H, W), grid (gh, gw)) -> (B, C_cond, gh, gw)``. Stages at 1/2, 1/4 and 1/8
    (dilated residual blocks and an image-wide mean for global context), fused at 1/4 with the input's
    own cell averages (a direct path for hints), resized to the grid when it isn't exactly 1/4.
    """

    def __init__(self, cfg: PixColorConfig) -> None:
        super().__init__()
        w, norm, act = cfg.cond_width, cfg.cond_norm, cfg.act
        self.stem = nn.Sequential(ConvNormAct(cfg.in_channels, w, 3, stride=2, norm=norm, act=act),
                                  ConvNormAct(w, w, 3, norm=norm, act=act))
        self.mid = nn.Sequential(downsample(w, 2 * w, norm, act), ResidualBlock(2 * w, norm=norm, act=act))
        self.deep = nn.Sequential(downsample(2 * w, 4 * w, norm, act),
                                  *(ResidualBlock(4 * w, dilation=d, norm=norm, act=act) for d in (1, 2, 4)))
        self.global_proj = nn.Linear(4 * w, 4 * w)
        self.fuse = nn.Sequential(ConvNormAct(6 * w + cfg.in_channels, cfg.cond_channels, 1, norm=norm, act=act),
                                  nn.Conv2d(cfg.cond_channels, cfg.cond_channels, 1))

    def forward(self, x: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        size = (math.ceil(x.shape[-2] / 4), math.ceil(x.shape[-1] / 4))
        padded, _ = pad_to_multiple(x, 8)
        s4 = self.mid(self.stem(padded))  # (B, 2w, H/4, W/4)
        s8 = self.deep(s4)  # (B, 4w, H/8, W/8)
        s8 = s8 + self.global_proj(s8.mean(dim=(-2, -1)))[:, :, None, None]
        feats = crop_to(torch.cat([s4, upsample_to(s8, tuple(s4.shape[-2:]))], dim=1), size)
        if tuple(feats.shape[-2:]) != tuple(grid):
            feats = F.interpolate(feats, size=grid, mode="bilinear", align_corners=False, antialias=True)
        return self.fuse(torch.cat([feats, F.adaptive_avg_pool2d(x, grid)], dim=1))


class HistogramConditioning(nn.Module):
    """Conditioning from a trained histogram network (frozen) through a trained adaptation net.

    ``forward(x (B, 4, H, W), grid (gh, gw)) -> (B, C_cond, gh, gw)``: the histogram network's
    :meth:`~colorstudio.models.histogram.FrozenHistogramNetwork.grid_features` through 1x1 + dilated
    residual blocks.
    """

    def __init__(self, cfg: PixColorConfig) -> None:
        super().__init__()

        self.encoder = FrozenHistogramNetwork(HistogramConfig.from_dict(cfg.histogram or {}))
        if self.encoder.config.in_channels != cfg.in_channels:
            raise ValueError(f"histogram network takes {self.encoder.config.in_channels} channels, PixColor {cfg.in_channels}")
        w, norm, act = cfg.adapt_width, cfg.cond_norm, cfg.act
        self.adapt = nn.Sequential(ConvNormAct(self.encoder.feature_channels, w, 1, norm=norm, act=act),
                                   *(ResidualBlock(w, dilation=d, norm=norm, act=act) for d in (1, 2)),
                                   nn.Conv2d(w, cfg.cond_channels, 1))

    def forward(self, x: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        return self.adapt(self.encoder.grid_features(x, grid))


class RefinementNet(nn.Module):
    """Full-resolution chroma from L and low-resolution chroma (PixColor's refinement network).

    ``forward(L_norm (B, 1, H, W), chroma_up (B, 2, H, W), hint (B, 3, H, W) | None) -> chroma (B, 2, H, W)``,
    (Cr, Cb) in [0, 1]; ``chroma_up`` is the grid chroma bilinearly upsampled to (H, W); ``hint`` is
    :func:`hint_chroma_channels` (used with ``refine_hints``). A small U-Net (1, 1/2, 1/4, bilinear
    upsampling in the decoder) predicts a correction of ``chroma_up``; the last layer starts at zero, so
    an untrained net returns its input. Any H, W (replicate-padded to a multiple of 4).
    """

    def __init__(self, cfg: PixColorConfig) -> None:
        super().__init__()
        w, norm, act = cfg.refine_width, cfg.refine_norm, cfg.act
        self.enc0 = nn.Sequential(ConvNormAct(3, w, 3, norm=norm, act=act), ConvNormAct(w, w, 3, norm=norm, act=act))
        self.enc1 = nn.Sequential(downsample(w, 2 * w, norm, act), ResidualBlock(2 * w, norm=norm, act=act))
        self.enc2 = nn.Sequential(downsample(2 * w, 4 * w, norm, act),
                                  *(ResidualBlock(4 * w, dilation=2 ** k, norm=norm, act=act) for k in range(cfg.refine_blocks)))
        self.dec1 = ConvNormAct(6 * w, 2 * w, 3, norm=norm, act=act)
        self.dec0 = ConvNormAct(3 * w, w, 3, norm=norm, act=act)
        self.head = nn.Conv2d(w, 2, 3, padding=1)
        self.hint_in = nn.Conv2d(3, w, 3, padding=1) if cfg.refine_hints else None
        for layer in (self.head, self.hint_in):
            if layer is not None:
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(cast(torch.Tensor, layer.bias))

    def forward(self, L_norm: torch.Tensor, chroma_up: torch.Tensor, hint: torch.Tensor | None = None) -> torch.Tensor:
        x, size = pad_to_multiple(torch.cat([L_norm, (chroma_up - 0.5) * CHROMA_SCALE], dim=1), 4)
        e0 = self.enc0(x)
        if self.hint_in is not None and hint is not None:
            e0 = e0 + self.hint_in(pad_to_multiple(hint, 4)[0])
        e1 = self.enc1(e0)
        e2 = self.enc2(e1)
        d1 = self.dec1(torch.cat([upsample_to(e2, tuple(e1.shape[-2:])), e1], dim=1))
        d0 = self.dec0(torch.cat([upsample_to(d1, tuple(e0.shape[-2:])), e0], dim=1))
        return chroma_up + crop_to(self.head(d0), size) / CHROMA_SCALE

    def refine(self, L_norm: torch.Tensor, chroma_up: torch.Tensor, hint: torch.Tensor | None = None,
               tile: int = 1024, margin: int = 64) -> torch.Tensor:
        """:meth:`forward` in overlapping tiles of ``tile`` pixels (plus ``margin`` of context on each side)
        when the input is larger, bounding memory for very large images. In eval mode (BatchNorm uses its
        running statistics) the tiles agree with a single pass to float precision when ``margin`` covers
        the receptive field."""
        height, width = L_norm.shape[-2:]
        if height <= tile and width <= tile:
            return self(L_norm, chroma_up, hint)
        out = torch.empty_like(chroma_up)
        for top in range(0, height, tile):
            for left in range(0, width, tile):
                # context starts on a multiple of 4 so the strided layers see the same pixel phases
                y0, x0 = max(0, top - margin) // 4 * 4, max(0, left - margin) // 4 * 4
                y1, x1 = min(height, top + tile + margin), min(width, left + tile + margin)
                part = self(L_norm[..., y0:y1, x0:x1], chroma_up[..., y0:y1, x0:x1],
                            None if hint is None else hint[..., y0:y1, x0:x1])
                bottom, right = min(height, top + tile), min(width, left + tile)
                out[..., top:bottom, left:right] = part[..., top - y0 : bottom - y0, left - x0 : right - x0]
        return out


@dataclass
class PixColorSamples:
    """What :meth:`PixColor.sample` returns for one image (all tensors on the model's device).

    ``bins`` (N, 2, gh, gw) long: sampled (Cr, Cb) bins; ``chroma`` (N, 2, H, W) refined (Cr, Cb) in [0, 1];
    ``ab`` (N, 2, H, W) Lab a*, b* (not normalized) for the input L*; ``seeds``: the seed of each sample.
    """

    bins: torch.Tensor
    chroma: torch.Tensor
    ab: torch.Tensor
    seeds: list[int]


def _draw(logits: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Inverse-CDF sampling: (N, K) logits and (N,) uniforms in [0, 1) -> (N,) bin indices.

    Using given uniforms (rather than torch.multinomial) keeps each sample's random stream its own and
    makes the fast and naive samplers draw identical bins from (float-)identical logits.
    """
    cdf = torch.softmax(logits.double(), dim=-1).cumsum_(dim=-1)
    # the first bin whose cdf reaches u; the clamp catches a total that rounds below u
    return torch.searchsorted(cdf, u[:, None]).squeeze_(1).clamp_(max=logits.shape[-1] - 1)


class PixColor(nn.Module):
    """The PixColor network family: conditioning net + conditional PixelCNN with a (Cr, Cb) head +
    refinement net. See the module docstring; :meth:`training_loss` for the shared training loop,
    :meth:`sample` for inference."""

    centres: torch.Tensor  # buffers, registered in __init__
    input_table: torch.Tensor

    def __init__(self, config: PixColorConfig = PixColorConfig()) -> None:
        super().__init__()
        self.config = cfg = config
        if YCBCR_QUANTIZER.bins != cfg.bins:
            raise ValueError(f"bins must be {YCBCR_QUANTIZER.bins} (YCBCR_QUANTIZER), got {cfg.bins}")
        self.conditioning = HistogramConditioning(cfg) if cfg.conditioning == HISTOGRAM_CONDITIONING else ConditioningNet(cfg)
        self.pixelcnn = PixelCNN(cfg.pixelcnn_config())
        self.cr_head = nn.Linear(cfg.head_channels, cfg.bins)
        self.cr_embed = nn.Embedding(cfg.bins, cfg.head_channels)
        self.cb_head = nn.Linear(cfg.head_channels, cfg.bins)
        self.refinement = RefinementNet(cfg)
        centres = torch.tensor(YCBCR_QUANTIZER.centres.tolist(), dtype=torch.float32)
        self.register_buffer("centres", centres, persistent=False)
        self.register_buffer("input_table", (centres - 0.5) * CHROMA_SCALE, persistent=False)
        self.train_with_hints = True  # the trainer turns this off when the hint simulator is unavailable

    @property
    def histogram_network(self) -> FrozenHistogramNetwork | None:
        """The frozen histogram network of the ``histogram`` conditioning (None for ``own``): its
        distributions rank the samples and give the instant draft (issue 14)."""
        return self.conditioning.encoder if isinstance(self.conditioning, HistogramConditioning) else None

    # ------------------------------------------------------------------ geometry
    def grid_size(self, height: int, width: int) -> tuple[int, int]:
        """(gh, gw) of the chroma grid for a working image of (height, width)."""
        return grid_size(height, width, self.config.grid, self.config.max_aspect)

    def working_size(self, source_size: tuple[int, int], short_side: int | None = None) -> tuple[int, int]:
        """(w, h) working size for a (W, H) source: a whole number of grid cells, ``short_side`` (default
        ``grid * grid_stride``) on the short side. Small sources are upscaled (the grid is fixed)."""
        width, height = source_size
        gh, gw = self.grid_size(height, width)
        stride = (short_side or self.config.working_short_side) / self.config.grid
        return max(1, round(gw * stride)), max(1, round(gh * stride))

    # ------------------------------------------------------------------ pieces
    @staticmethod
    def make_input(L_norm: torch.Tensor, hint: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 1, H, W) L_norm + (B, 3, H, W) hint (a_norm * mask, b_norm * mask, mask) -> (B, 4, H, W)."""
        if hint is None:
            hint = L_norm.new_zeros(L_norm.shape[0], 3, *L_norm.shape[-2:])
        return torch.cat([L_norm, hint], dim=1)

    def condition(self, L_norm: torch.Tensor, hint: torch.Tensor | None, grid: tuple[int, int]) -> torch.Tensor:
        """(B, C_cond, gh, gw) conditioning features."""
        return self.conditioning(self.make_input(L_norm, hint), grid)

    def grid_bins(self, chroma: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """(B, 2, H, W) chroma -> (B, 2, gh, gw) bins of the cell means (area average)."""
        return YCBCR_QUANTIZER.encode(F.adaptive_avg_pool2d(chroma, grid))

    def bins_to_input(self, bins: torch.Tensor) -> torch.Tensor:
        """Bins (B, 2, ...) -> the PixelCNN's input, bin centres at network scale (B, 2, ...)."""
        return self.input_table[bins]

    def cr_logits(self, features: torch.Tensor) -> torch.Tensor:
        """Features (N, C_head) -> Cr logits (N, bins)."""
        return self.cr_head(F.elu(features))

    def cb_logits(self, features: torch.Tensor, cr: torch.Tensor) -> torch.Tensor:
        """Features (N, C_head) and the cell's Cr bins (N,) -> Cb logits (N, bins)."""
        return self.cb_head(F.elu(features + self.cr_embed(cr)))

    def hint_cells(self, L_norm: torch.Tensor, hint: torch.Tensor | None,
                   grid: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Grid cells covered by a hint: ``(bins (1, 2, gh, gw) long, hinted (gh, gw) bool)``; a cell with
        any hinted pixel takes the bins of the mean (Cr, Cb) of its hinted pixels."""
        gh, gw = grid
        if hint is None:
            return L_norm.new_zeros(1, 2, gh, gw, dtype=torch.long), torch.zeros(gh, gw, dtype=torch.bool)
        mask = hint[:1, 2:3]
        weight = F.adaptive_avg_pool2d(mask, grid)
        mean = F.adaptive_avg_pool2d(_hint_chroma(L_norm[:1], hint[:1]) * mask, grid) / weight.clamp_min(1e-12)
        return YCBCR_QUANTIZER.encode(mean), (weight[0, 0] > 0).cpu()

    # ------------------------------------------------------------------ training

    def training_loss(self, batch: dict[str, torch.Tensor], hints: bool = True) -> tuple[torch.Tensor, dict[str, float]]:
        """Teacher-forced cross-entropy of the grid's (Cr, Cb) bins + ``refine_weight`` x refinement L1.

        ``batch``: ``"L"`` (B, 1, S, S) and ``"ab"`` (B, 2, S, S) normalized, ``"rgb"`` (B, 3, S, S) in
        [0, 1]; optional ``"hint"`` (B, 3, S, S) used as given, else simulated when ``hints``. The
        refinement net learns from the ground-truth grid chroma (bin centres), not from samples.
        Metrics: ``ce_nats`` and ``bits_per_dim`` per grid value, ``refine_l1`` in chroma units [0, 1].
        """
        L_norm, rgb = batch["L"], batch["rgb"]
        hint = hint_for_batch(batch, hints and self.training and self.train_with_hints, self.config.p_no_hints)
        grid = self.grid_size(*L_norm.shape[-2:])
        chroma = chroma_of_rgb(rgb)  # (B, 2, S, S)
        bins = self.grid_bins(chroma, grid)  # (B, 2, gh, gw)
        features = self.pixelcnn(self.bins_to_input(bins), self.condition(L_norm, hint, grid))
        features = features.permute(0, 2, 3, 1).reshape(-1, self.config.head_channels)  # (B*gh*gw, C)
        cr, cb = bins[:, 0].reshape(-1), bins[:, 1].reshape(-1)
        ce = 0.5 * (F.cross_entropy(self.cr_logits(features), cr) + F.cross_entropy(self.cb_logits(features, cr), cb))
        low = self.centres[bins]  # (B, 2, gh, gw): what a perfect sample would be
        refined = self.refinement(L_norm, upsample_to(low, tuple(L_norm.shape[-2:])), self._refine_hint(L_norm, hint))
        l1 = (refined - chroma).abs().mean()
        loss = ce + self.config.refine_weight * CHROMA_SCALE * l1
        metrics = {
            "loss": float(loss.detach()),
            "ce_nats": float(ce.detach()),
            "bits_per_dim": float(ce.detach()) / math.log(2.0),
            "refine_l1": float(l1.detach()),
        }
        return loss, metrics

    # ------------------------------------------------------------------ sampling
    @staticmethod
    def sample_uniforms(seeds: list[int], cells: int) -> torch.Tensor:
        """(N, cells, 2) float64 uniforms, row k from its own generator seeded with ``seeds[k]``."""
        rows = []
        for seed in seeds:
            gen = torch.Generator(device="cpu")
            gen.manual_seed(int(seed))
            rows.append(torch.rand(cells, 2, generator=gen, dtype=torch.float64))
        return torch.stack(rows)

    @torch.no_grad()
    def sample_bins(
        self,
        L_norm: torch.Tensor,
        hint: torch.Tensor | None = None,
        *,
        n: int = 1,
        seed: int = 0,
        temperature: float = 1.0,
        sampler: str = "fast",
        progress: Callable[[float, str], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> torch.Tensor:
        """Sample ``n`` grids of (Cr, Cb) bins (n, 2, gh, gw) for one image ``L_norm (1, 1, H, W)`` with
        optional ``hint (1, 3, H, W)``. Sample k uses seed ``seed + k``; ``temperature`` divides the
        logits; hinted cells are clamped to the hint's bins. ``sampler`` is ``"fast"`` or ``"naive"``
        (same samples, different cost). The model should be in eval mode."""
        if sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {sampler!r}; expected one of {SAMPLERS}")
        if n < 1 or temperature <= 0:
            raise ValueError(f"need n >= 1 and temperature > 0, got n={n}, temperature={temperature}")
        if L_norm.ndim != 4 or L_norm.shape[:2] != (1, 1):
            raise ValueError(f"expected L_norm of shape (1, 1, H, W), got {tuple(L_norm.shape)}")
        grid = self.grid_size(*L_norm.shape[-2:])
        gh, gw = grid
        cond = self.condition(L_norm, hint, grid).expand(n, -1, -1, -1)
        hint_bins, hinted = self.hint_cells(L_norm, hint, grid)
        hinted_cells = hinted.tolist()
        uniforms = self.sample_uniforms([seed + k for k in range(n)], gh * gw)
        uniforms = uniforms.permute(1, 2, 0).contiguous().to(L_norm.device)  # (cells, 2, n)
        cells: list[torch.Tensor] = []  # (n, 2) per grid cell, raster order
        inv_t = 1.0 / float(temperature)

        def choose(features: torch.Tensor, i: int, j: int) -> torch.Tensor:
            if hinted_cells[i][j]:
                cell = hint_bins[0, :, i, j][None].expand(n, 2)
            else:
                u = uniforms[i * gw + j]
                cr = _draw(self.cr_logits(features) * inv_t, u[0])
                cb = _draw(self.cb_logits(features, cr) * inv_t, u[1])
                cell = torch.stack([cr, cb], dim=1)
            cells.append(cell)
            return self.bins_to_input(cell)

        generate(self.pixelcnn, cond, choose, method=sampler, progress=progress, cancel=cancel)
        return torch.stack(cells, dim=-1).reshape(n, 2, gh, gw)

    def _refine_hint(self, L_norm: torch.Tensor, hint: torch.Tensor | None) -> torch.Tensor | None:
        if not self.config.refine_hints or hint is None:
            return None
        return hint_chroma_channels(L_norm, hint)

    @torch.no_grad()
    def refine(self, L_norm: torch.Tensor, bins: torch.Tensor, hint: torch.Tensor | None = None,
               tile: int = 1024) -> torch.Tensor:
        """Grid bins (N, 2, gh, gw) -> refined (Cr, Cb) chroma (N, 2, H, W) at L_norm's (H, W); ``hint``
        (1, 3, H, W) reaches the refinement net when the model was built with ``refine_hints``."""
        n = bins.shape[0]
        low = self.centres[bins]
        up = upsample_to(low, tuple(L_norm.shape[-2:]))
        refine_hint = self._refine_hint(L_norm, hint)
        return self.refinement.refine(L_norm.expand(n, -1, -1, -1), up,
                                      None if refine_hint is None else refine_hint.expand(n, -1, -1, -1),
                                      tile=tile).clamp_(0.0, 1.0)

    @torch.no_grad()
    def sample(
        self,
        L_norm: torch.Tensor,
        hint: torch.Tensor | None = None,
        *,
        n: int = 1,
        seed: int = 0,
        temperature: float = 1.0,
        sampler: str = "fast",
        progress: Callable[[float, str], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> PixColorSamples:
        """``n`` colorizations of one image: sampled grid bins, refined chroma and Lab a*b* at (H, W).

        ``L_norm`` (1, 1, H, W), ``hint`` (1, 3, H, W) or None; see :meth:`sample_bins` for the rest.
        ``progress`` runs 0..0.9 while sampling and reaches 1 after refinement.
        """

        def sampling_progress(fraction: float, message: str) -> None:
            if progress is not None:
                progress(0.9 * fraction, message)

        bins = self.sample_bins(L_norm, hint, n=n, seed=seed, temperature=temperature, sampler=sampler,
                                progress=sampling_progress, cancel=cancel)
        if cancel is not None and cancel():
            raise CancelledError()
        chroma = self.refine(L_norm, bins, hint)
        ab = chroma_to_ab(denormalize_l(L_norm), chroma)
        if progress is not None:
            progress(1.0, "refined")
        return PixColorSamples(bins=bins, chroma=chroma, ab=ab, seeds=[seed + k for k in range(n)])


def build_pixcolor_model(config: dict[str, Any] | PixColorConfig | None = None) -> PixColor:
    """Builder: an untrained PixColor from a config dict (as stored in a card) or dataclass."""
    if config is None:
        config = PixColorConfig()
    elif isinstance(config, dict):
        config = PixColorConfig.from_dict(config)
    return PixColor(config)
