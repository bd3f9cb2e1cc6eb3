"""Larsson et al. 2016 style histogram colorizer: per-cell hue and chroma distributions from hypercolumns.

Input ``(B, 4, H, W)``: normalized lightness ``L_norm = (L* - 50) / 50`` and three hint channels
``(a_norm * mask, b_norm * mask, mask)`` with ``ab_norm = ab / 110`` (contracts.md). Output: two sets of
32-way logits, hue and chroma, at 1/4 of the input resolution ``(B, 32, ceil(H/4), ceil(W/4))``.

Colour coordinates differ from the paper on purpose. Larsson et al. predict hue/chroma of the HSL
bicone (HSV hue, chroma = max - min of RGB) and keep the gray value. Here hue and chroma are the polar
coordinates of Lab a*b* (``hue = atan2(b*, a*)`` in turns, ``chroma = sqrt(a*^2 + b*^2)``), so the
network only predicts chromaticity while L* passes through untouched: the output's luminance equals the
input's exactly (DESIGN.md), and hue and chroma are perceptually more uniform than in the bicone, whose
chroma range depends on the gray value.

The hypercolumn is the dense low-resolution equivalent of the paper's sparse sampling: features of
several encoder depths are brought to 1/4 resolution and concatenated, then the 1x1 ``h_fc1``. Because
bilinear upsampling and a 1x1 convolution are both linear, ``h_fc1(concat(up(f_1), ..., up(f_n)))`` is
computed as ``sum_i up(W_i f_i)``: each projection runs at its source's own (lower) resolution, which is
the same function for a fraction of the FLOPs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from colorstudio.color import AB_SCALE, denormalize_ab, denormalize_l, lab_to_lch
from colorstudio.color.quantize import CHROMA_QUANTIZER, HUE_QUANTIZER
from colorstudio.models.blocks import ConvNormAct, ResidualBlock, crop_to, downsample, make_activation, make_norm, pad_to_multiple
from colorstudio.models.decoding import FADING_THRESHOLD, PAPER_DECODING, Decoding, decode_ab as decode_one_image
from colorstudio.models.encoder import HEAD_CH, LITE0_BLOCKS, LITE0_TAPS, STEM_CH, EfficientNetLite, gray_input
from colorstudio.models.hint_sim import hint_for_batch

FAMILY = "histogram"  # the family name its cards carry; the installed model of that name is what others build on
ENCODERS = ("none", "efficientnet_lite0")
HINT_POOLINGS = ("mixture", "product")

__all__ = [
    "FAMILY",
    "HistogramConfig",
    "FrozenHistogramNetwork",
    "HistogramColorizer",
    "build_histogram_model",
    "decode_ab",
    "histogram_targets",
    "smoothing_matrix",
    "FADING_THRESHOLD",
]


@dataclass(frozen=True)
class HistogramConfig:
    """Architecture and loss settings. Stored in checkpoints and model cards (``asdict``)."""

    in_channels: int = 4
    bins: int = 32
    width: int = 32  # channels of the 1/2-resolution stem; stage i has width * stage_mults[i]
    stage_mults: tuple[int, ...] = (1, 2, 4, 8)  # stages at 1/2, 1/4, 1/8, 1/16 of the input
    stage_blocks: tuple[int, ...] = (0, 1, 2, 3)  # residual blocks per stage
    deep_dilations: tuple[int, ...] = (1, 2, 4)  # dilations of the deepest stage's blocks (cycled)
    global_context: bool = True  # image-wide mean of the deepest features as one more hypercolumn source
    hypercolumn_channels: int = 256  # width of h_fc1
    norm: str = "batch"
    act: str = "relu"
    # loss (paper: KL(target || prediction); hue term weighted by 5 x GT chroma in [0, 1])
    hue_weight: float = 5.0
    target_sigma_bins: float = 1.0  # Gaussian smoothing of the targets across neighbouring bins
    p_no_hints: float = 0.5  # fraction of training images that get no simulated hints
    # "none": the trunk above, trained from scratch; "efficientnet_lite0": the ImageNet-trained encoder
    # (colorstudio.models.encoder) replaces it, and width/stage_* are unused
    encoder: str = "none"
    encoder_lr_scale: float = 0.1  # the encoder's learning rate relative to the rest (0 = frozen)
    # partly frozen: the stem and the first N of the encoder's 16 blocks keep their ImageNet weights and
    # statistics while the later ones fine-tune at encoder_lr_scale (5: frozen up to stride 8)
    encoder_frozen_blocks: int = 0
    hint_branch_channels: int = 32  # encoder trunk: the hint branch injected into the encoder at 1/4 and 1/8
    head_blocks: int = 0  # residual blocks after h_fc1, at 1/4 resolution
    hint_stem: bool = False  # encoder trunk: hints also added to the stem's output, so every block sees them
    # > 0: every cell attends to the hinted cells (query/key width) and mixes their colour histograms
    # into its own, so one hint reaches its whole object (see HintAttention); 0 = off
    hint_attention_dim: int = 0
    # how an attended hint enters a cell's distributions: "mixture" (1 - w) p + w q, or "product",
    # p^(1 - w) q^w renormalized, under which a disagreeing hint sharpens its neighbours instead of tearing them
    hint_pooling: str = "mixture"
    # encoder trunk: also the encoder's ImageNet head (1x1 to 1280 channels at 1/32, what its classifier
    # reads) as one more hypercolumn source and image-wide context, as Larsson et al. take VGG's fc7
    encoder_head: bool = False

    @property
    def total_stride(self) -> int:
        return 32 if self.encoder != "none" else 2 ** len(self.stage_mults)

    @property
    def output_stride(self) -> int:
        return 4

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HistogramConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown HistogramConfig fields: {sorted(unknown)}")
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)


def smoothing_matrix(bins: int, sigma: float, circular: bool) -> torch.Tensor:
    """(K, K) row-stochastic Gaussian smoothing across bins; row k spreads a unit mass at bin k.

    Circular for hue (bins wrap), truncated and renormalized for chroma (no mass leaks past the ends).
    ``sigma <= 0`` gives the identity.
    """
    if sigma <= 0:
        return torch.eye(bins)
    k = torch.arange(bins, dtype=torch.float64)
    d = k[:, None] - k[None, :]
    if circular:
        d = torch.remainder(d + bins / 2, bins) - bins / 2
    m = torch.exp(-0.5 * (d / sigma) ** 2)
    return (m / m.sum(dim=1, keepdim=True)).float()


def _quantizers():
    return HUE_QUANTIZER, CHROMA_QUANTIZER


def histogram_targets(
    L_norm: torch.Tensor,
    ab_norm: torch.Tensor,
    hue_smooth: torch.Tensor,
    chroma_smooth: torch.Tensor,
    cell: int = 4,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ground-truth distributions per output cell.

    Args:
        L_norm: (B, 1, S, S) normalized lightness; ab_norm: (B, 2, S, S) normalized a*b*.
        hue_smooth, chroma_smooth: (K, K) matrices from :func:`smoothing_matrix`.
        cell: pixels per output cell along each side (the output stride).
    Returns:
        hue_target (B, K, s, s), chroma_target (B, K, s, s), each summing to 1 over K, with
        s = ceil(S / cell); and hue_weight_base (B, 1, s, s): the cell's mean chroma in [0, 1].
        The hue histogram of a cell weights each pixel by its chroma: summing the paper's per-pixel
        loss ``chroma_n * KL(hue_n || p)`` over the cell's pixels equals ``mean chroma * KL(that
        weighted histogram || p)`` up to a constant, and gray pixels (undefined hue) count for nothing.
    """

    hue_q, chroma_q = _quantizers()
    lab = torch.cat([denormalize_l(L_norm), denormalize_ab(ab_norm)], dim=1)
    _, chroma, hue = lab_to_lch(lab)  # each (B, S, S); chroma in a*b* units, hue in turns [0, 1)
    k = hue_q.bins
    lo, hi = float(chroma_q.lo), float(chroma_q.hi)
    chroma01 = ((chroma - lo) / (hi - lo)).clamp(0, 1)  # (B, S, S)
    ones = torch.ones_like(chroma01)
    count = _cell_histogram(torch.zeros_like(chroma01, dtype=torch.long), ones, 1, cell)  # (B, 1, s, s) pixels per cell
    chroma_hist = _cell_histogram(chroma_q.encode(chroma), ones, k, cell) / count
    hue_mass = _cell_histogram(hue_q.encode(hue), chroma01, k, cell)
    total_chroma = hue_mass.sum(dim=1, keepdim=True)
    mean_chroma = total_chroma / count
    # cells without any chroma get a uniform hue target; their weight is ~0 anyway
    hue_hist = torch.where(total_chroma > 1e-6, hue_mass / total_chroma.clamp_min(1e-6), torch.full_like(hue_mass, 1.0 / k))
    hue_t = torch.einsum("bkhw,kj->bjhw", hue_hist, hue_smooth.to(hue_hist))
    chroma_t = torch.einsum("bkhw,kj->bjhw", chroma_hist, chroma_smooth.to(chroma_hist))
    return hue_t, chroma_t, mean_chroma


def _cell_histogram(index: torch.Tensor, weight: torch.Tensor, bins: int, cell: int) -> torch.Tensor:
    """Sum of ``weight`` per (bin, cell): index, weight (B, S1, S2) -> (B, bins, ceil(S1/cell), ceil(S2/cell)).

    A scatter-add over pixels: O(pixels) instead of building a (B, bins, S1, S2) one-hot tensor.
    """
    b, s1, s2 = index.shape
    h, w = -(-s1 // cell), -(-s2 // cell)
    dev = index.device
    cy = (torch.arange(s1, device=dev) // cell).view(1, s1, 1)
    cx = (torch.arange(s2, device=dev) // cell).view(1, 1, s2)
    batch = torch.arange(b, device=dev).view(b, 1, 1)
    flat = ((batch * bins + index.long()) * h + cy) * w + cx
    out = torch.zeros(b * bins * h * w, dtype=weight.dtype, device=dev)
    out.index_add_(0, flat.reshape(-1), weight.reshape(-1))
    return out.view(b, bins, h, w)


def _kl(target: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Per-cell KL(target || softmax(logits)) over dim 1: (B, K, h, w) -> (B, h, w), in nats."""
    log_p = F.log_softmax(logits, dim=1)
    return (torch.xlogy(target, target) - target * log_p).sum(dim=1)


class _HypercolumnFC1(nn.Module):
    """``h_fc1``: a 1x1 layer over the concatenated hypercolumn, computed per source (see module doc).

    ``head_global_channels`` > 0 adds a second image-wide context (the encoder head's mean); it and the
    head's own source start at zero, so a model warm-started without them begins where it stood."""

    def __init__(self, source_channels: list[int], global_channels: int, out_ch: int, norm: str, act: str,
                 head_global_channels: int = 0) -> None:
        super().__init__()
        self.proj = nn.ModuleList(nn.Conv2d(c, out_ch, 1, bias=False) for c in source_channels)
        self.global_proj = nn.Linear(global_channels, out_ch, bias=False) if global_channels else None
        self.head_global_proj = None
        if head_global_channels:
            self.head_global_proj = nn.Linear(head_global_channels, out_ch, bias=False)
            nn.init.zeros_(self.head_global_proj.weight)
            last = self.proj[-1]
            assert isinstance(last, nn.Conv2d)
            nn.init.zeros_(last.weight)
        self.norm = make_norm(norm, out_ch)
        self.act = make_activation(act)

    def forward(self, sources: list[torch.Tensor], global_feat: torch.Tensor | None, size: tuple[int, int],
                head_global: torch.Tensor | None = None) -> torch.Tensor:
        out = None
        for proj, feat in zip(self.proj, sources):
            y = proj(feat)
            if tuple(y.shape[-2:]) != size:
                y = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
            out = y if out is None else out + y
        if self.global_proj is not None and global_feat is not None:
            out = out + self.global_proj(global_feat)[:, :, None, None]
        if self.head_global_proj is not None and head_global is not None:
            out = out + self.head_global_proj(head_global)[:, :, None, None]
        return self.act(self.norm(out))


class HintAttention(nn.Module):
    """Carries each hint over its object: every cell attends to the hinted cells and mixes their colours in.

    A hinted cell (any hinted pixel in its 4x4 pixels) is a key with the mean hint a*b* of its pixels,
    encoded as hue and chroma histograms the way the targets are. Each cell's query meets the keys
    (scaled dot product of hypercolumn projections, minus a learned penalty on squared distance in units
    of the image's short side, plus the log of the cell's hinted fraction) and a per-cell "no hint" sink.
    The attention-weighted hint histograms are mixed into the network's own distributions with weight
    ``(1 - sink share) * gate``, so with no hints the output is exactly the network's, and a hint decides
    the colour of every cell whose features match it. Finally each hinted cell takes the hint's own bins.
    Returns log-probabilities, which are valid logits.
    """

    def __init__(self, channels: int, dim: int, pooling: str = "mixture") -> None:
        super().__init__()
        if pooling not in HINT_POOLINGS:
            raise ValueError(f"unknown hint pooling {pooling!r}; expected one of {HINT_POOLINGS}")
        self.dim = dim
        self.pool = _mix if pooling == "mixture" else _product
        self.query = nn.Conv2d(channels, dim, 1)
        self.key = nn.Conv2d(channels, dim, 1)
        self.sink = nn.Conv2d(channels, 1, 1)
        self.gate = nn.Conv2d(channels, 1, 1)
        assert self.gate.bias is not None
        nn.init.constant_(self.gate.bias, 2.0)  # trust an attended hint from the start
        self.distance_scale = nn.Parameter(torch.tensor(math.log(math.expm1(16.0))))  # softplus -> 16

    def forward(self, h: torch.Tensor, hint: torch.Tensor, hue_logits: torch.Tensor, chroma_logits: torch.Tensor,
                hue_smooth: torch.Tensor, chroma_smooth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, _, gh, gw = h.shape
        stride = hint.shape[-1] // gw
        frac = F.avg_pool2d(hint[:, 2:3], stride).flatten(1)  # (B, N) hinted fraction of each cell
        n_keys = int((frac > 0).sum(dim=1).max()) if frac.numel() else 0
        if n_keys == 0:
            return hue_logits, chroma_logits
        order = torch.argsort((frac > 0).to(h.dtype), dim=1, descending=True, stable=True)[:, :n_keys]  # (B, M)
        key_frac = frac.gather(1, order)
        ab_sum = F.avg_pool2d(hint[:, :2], stride).flatten(2)  # (B, 2, N)
        key_ab = ab_sum.gather(2, order[:, None].expand(-1, 2, -1)) / key_frac.clamp_min(1e-6)[:, None]
        key_hue, key_chroma = _ab_histograms(key_ab, hue_smooth, chroma_smooth)  # (B, M, K) each
        q = self.query(h).flatten(2).transpose(1, 2)  # (B, N, d)
        k = self.key(h).flatten(2).gather(2, order[:, None].expand(-1, self.dim, -1))  # (B, d, M)
        rows = torch.arange(gh, device=h.device, dtype=h.dtype).repeat_interleave(gw)
        cols = torch.arange(gw, device=h.device, dtype=h.dtype).repeat(gh)
        pos = torch.stack([rows, cols], dim=1) / min(gh, gw)  # (N, 2)
        key_pos = pos[order]  # (B, M, 2)
        dist2 = (pos[None, :, None, :] - key_pos[:, None, :, :]).pow(2).sum(-1)  # (B, N, M)
        logits = q @ k / math.sqrt(self.dim) - F.softplus(self.distance_scale) * dist2
        logits = logits + torch.where(key_frac > 0, key_frac.clamp_min(1e-6).log(), torch.full_like(key_frac, -1e4))[:, None]
        sink = self.sink(h).flatten(2).transpose(1, 2)  # (B, N, 1)
        attn = torch.cat([sink, logits], dim=2).softmax(dim=2)
        hinted = 1.0 - attn[..., 0]  # (B, N)
        weights = attn[..., 1:] / hinted.clamp_min(1e-6)[..., None]
        mix = (hinted * torch.sigmoid(self.gate(h).flatten(1))).view(b, 1, gh, gw)
        hue = self.pool(hue_logits.softmax(dim=1), (weights @ key_hue).transpose(1, 2).view(b, -1, gh, gw), mix)
        chroma = self.pool(chroma_logits.softmax(dim=1), (weights @ key_chroma).transpose(1, 2).view(b, -1, gh, gw), mix)
        # A hinted cell is the user's colour (PixColor clamps hinted cells too): one bin each, so the
        # cell under a hint is certain whatever the network thought of it.
        # (While training, smoothed like the targets: a one-hot cell would cost log(1e-8) on every
        # neighbouring bin of the target.)
        exact = torch.eye(hue.shape[1], device=h.device)
        own_hue, own_chroma = _ab_histograms(ab_sum / frac.clamp_min(1e-6)[:, None],
                                             hue_smooth if self.training else exact,
                                             chroma_smooth if self.training else exact)
        covered = (frac > 0).to(h.dtype).view(b, 1, gh, gw)
        hue = _mix(hue, own_hue.transpose(1, 2).view(b, -1, gh, gw), covered)
        chroma = _mix(chroma, own_chroma.transpose(1, 2).view(b, -1, gh, gw), covered)
        return hue.clamp_min(1e-8).log(), chroma.clamp_min(1e-8).log()


def _ab_histograms(ab_norm: torch.Tensor, hue_smooth: torch.Tensor, chroma_smooth: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 2, M) normalized a*b* -> hue and chroma histograms (B, M, K), one-hot bins smoothed like the targets."""
    hue_q, chroma_q = _quantizers()
    ab = denormalize_ab(ab_norm)
    chroma = ab.pow(2).sum(dim=1).sqrt()
    hue = torch.remainder(torch.atan2(ab[:, 1], ab[:, 0]) / (2 * math.pi), 1.0)
    hue_hist = F.one_hot(hue_q.encode(hue).long(), hue_q.bins).to(ab.dtype) @ hue_smooth.to(ab.dtype)
    chroma_hist = F.one_hot(chroma_q.encode(chroma).long(), chroma_q.bins).to(ab.dtype) @ chroma_smooth.to(ab.dtype)
    return hue_hist, chroma_hist


def _mix(probs: torch.Tensor, other: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """(1 - w) probs + w other: distributions over dim 1, w (B, 1, h, w) in [0, 1]."""
    return (1.0 - weight) * probs + weight * other


def _product(probs: torch.Tensor, other: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """probs^(1 - w) other^w renormalized (a product of experts): where the two disagree, one peak
    between or beside them rather than a mixture's two. The floor keeps a far tail from vetoing a colour."""
    log = (1.0 - weight) * probs.clamp_min(1e-8).log() + weight * other.clamp_min(1e-8).log()
    return log.softmax(dim=1)


class HistogramColorizer(nn.Module):
    """Fully convolutional hypercolumn network with 32-way hue and chroma heads (Larsson et al. 2016).

    ``forward(x (B, 4, H, W)) -> (hue_logits, chroma_logits)`` each (B, K, ceil(H/4), ceil(W/4)).
    Any H, W: the input is padded (replicate) to a multiple of the total stride and the output cropped.
    """

    hue_smooth: torch.Tensor  # buffers, registered in __init__
    chroma_smooth: torch.Tensor

    def __init__(self, config: HistogramConfig = HistogramConfig()) -> None:
        super().__init__()
        cfg = self.config = config
        if cfg.encoder not in ENCODERS:
            raise ValueError(f"unknown encoder {cfg.encoder!r}; expected one of {ENCODERS}")
        if not 0 <= cfg.encoder_frozen_blocks <= len(LITE0_BLOCKS):
            raise ValueError(f"encoder_frozen_blocks must be 0 to {len(LITE0_BLOCKS)}, got {cfg.encoder_frozen_blocks}")
        if cfg.encoder != "none":
            source_channels, global_channels = self._build_encoder_trunk(cfg)
        else:
            source_channels, global_channels = self._build_scratch_trunk(cfg)
        head_global = HEAD_CH if self.uses_encoder_head else 0
        self.h_fc1 = _HypercolumnFC1(source_channels, global_channels, cfg.hypercolumn_channels, cfg.norm, cfg.act,
                                     head_global)
        self.head = nn.Sequential(*(ResidualBlock(cfg.hypercolumn_channels, dilation=1 + j % 2, norm=cfg.norm, act=cfg.act)
                                    for j in range(cfg.head_blocks)))
        self.hue_head = nn.Conv2d(cfg.hypercolumn_channels, cfg.bins, 1)
        self.chroma_head = nn.Conv2d(cfg.hypercolumn_channels, cfg.bins, 1)
        self.register_buffer("hue_smooth", smoothing_matrix(cfg.bins, cfg.target_sigma_bins, circular=True), persistent=False)
        self.register_buffer("chroma_smooth", smoothing_matrix(cfg.bins, cfg.target_sigma_bins, circular=False), persistent=False)
        self.hint_attention = (HintAttention(cfg.hypercolumn_channels, cfg.hint_attention_dim, cfg.hint_pooling)
                               if cfg.hint_attention_dim > 0 else None)
        self.train_with_hints = True  # False: training_loss simulates no hints (a hint-free ablation)
        for module in self.frozen_encoder_parts():
            module.requires_grad_(False)

    @property
    def uses_encoder_head(self) -> bool:
        """The encoder's ImageNet head is the last hypercolumn source and a second image-wide context."""
        return self.config.encoder != "none" and self.config.encoder_head

    @property
    def encoder_frozen(self) -> bool:
        """A learning-rate scale of 0 freezes the pretrained encoder: no gradients, and its batch-norm
        statistics stay the ImageNet ones (eval mode), so its features are exactly the pretrained ones."""
        return self.config.encoder != "none" and self.config.encoder_lr_scale == 0

    def frozen_encoder_parts(self) -> list[nn.Module]:
        """The parts of the encoder that keep their ImageNet weights and statistics: all of it when frozen,
        the stem and the first ``encoder_frozen_blocks`` blocks when partly frozen, else none."""
        if self.config.encoder == "none":
            return []
        if self.encoder_frozen:
            return [self.encoder]
        n = self.config.encoder_frozen_blocks
        return [self.encoder._conv_stem, self.encoder._bn0, *self.encoder._blocks[:n]] if n > 0 else []

    def train(self, mode: bool = True) -> HistogramColorizer:
        super().train(mode)
        for module in self.frozen_encoder_parts():
            module.eval()
        return self

    def _build_scratch_trunk(self, cfg: HistogramConfig) -> tuple[list[int], int]:
        if len(cfg.stage_mults) != len(cfg.stage_blocks) or len(cfg.stage_mults) < 2:
            raise ValueError("stage_mults and stage_blocks need the same length (>= 2)")
        stages = []
        in_ch = cfg.in_channels
        last = len(cfg.stage_mults) - 1
        for i, (mult, n_blocks) in enumerate(zip(cfg.stage_mults, cfg.stage_blocks)):
            ch = cfg.width * mult
            layers: list[nn.Module] = [downsample(in_ch, ch, cfg.norm, cfg.act)]
            if i == 0:
                layers.append(ConvNormAct(ch, ch, 3, norm=cfg.norm, act=cfg.act))
            for j in range(n_blocks):
                dil = cfg.deep_dilations[j % len(cfg.deep_dilations)] if i == last else 1
                layers.append(ResidualBlock(ch, dilation=dil, norm=cfg.norm, act=cfg.act))
            stages.append(nn.Sequential(*layers))
            in_ch = ch
        self.stages = nn.ModuleList(stages)
        # hypercolumn sources: the (pooled) input itself, then every stage's output
        source_channels = [cfg.in_channels] + [cfg.width * m for m in cfg.stage_mults]
        return source_channels, (cfg.width * cfg.stage_mults[-1] if cfg.global_context else 0)

    def _build_encoder_trunk(self, cfg: HistogramConfig) -> tuple[list[int], int]:
        """The ImageNet encoder sees the gray photo; hints enter through their own small branch, added to
        the encoder's features at 1/4 and 1/8 through zero-initialized projections, so that training starts
        from the pretrained features unchanged and the deeper blocks learn to carry a hint over its object."""
        self.encoder = EfficientNetLite(head=cfg.encoder_head)
        taps = self.encoder.tap_channels  # strides 2, 4, 8, 16, 32 (and the head's 1280 channels at 32)
        global_channels = taps[len(LITE0_TAPS) - 1] if cfg.global_context else 0  # the last block's, not the head's
        c = cfg.hint_branch_channels
        if c == 0:  # hints reach the model only through the pooled input (and the hint attention)
            return [cfg.in_channels] + taps, global_channels
        self.hint_branch4 = nn.Sequential(ConvNormAct(cfg.in_channels, c, 3, norm="none", act=cfg.act),
                                          ConvNormAct(c, c, 3, dilation=2, norm="none", act=cfg.act))
        self.hint_branch8 = ConvNormAct(c, 2 * c, 3, stride=2, norm="none", act=cfg.act)
        self.hint_inject4 = nn.Conv2d(c, taps[1], 1)
        self.hint_inject8 = nn.Conv2d(2 * c, taps[2], 1)
        injections = [self.hint_inject4, self.hint_inject8]
        if cfg.hint_stem:
            self.hint_inject2 = nn.Conv2d(cfg.in_channels, STEM_CH, 3, padding=1)
            injections.append(self.hint_inject2)
        for conv in injections:
            assert conv.bias is not None
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)
        return [cfg.in_channels, c] + taps, global_channels

    def lr_scale(self, name: str) -> float:
        """Learning-rate multiplier of a parameter (by name): the pretrained encoder learns slower."""
        return self.config.encoder_lr_scale if name.startswith("encoder.") else 1.0

    def _encoder_sources(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, 4, H, W) padded input -> hypercolumn sources: pooled input, hint branch, encoder taps."""
        pooled = F.avg_pool2d(x, 4)  # (B, 4, H/4, W/4)
        enc = self.encoder
        if self.config.hint_branch_channels == 0:
            return [pooled] + enc(gray_input(x[:, :1]))
        h4 = self.hint_branch4(pooled)
        h8 = self.hint_branch8(h4)
        injections = {LITE0_TAPS[1]: self.hint_inject4(h4), LITE0_TAPS[2]: self.hint_inject8(h8)}
        feat = F.relu6(enc._bn0(enc._conv_stem(gray_input(x[:, :1]))))
        if self.config.hint_stem:
            feat = feat + self.hint_inject2(F.avg_pool2d(x, 2))
        taps = []
        for i, block in enumerate(enc._blocks):
            feat = block(feat)
            if i in injections:
                feat = feat + injections[i]
            if i in LITE0_TAPS:
                taps.append(feat)
        return [pooled, h4] + enc.add_head(taps)

    # ------------------------------------------------------------------ network
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, hue, chroma = self.features(x)
        return hue, chroma

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(hypercolumn h_fc1 (B, C_h, h, w), hue_logits, chroma_logits)``, all at ``ceil(H/4) x ceil(W/4)``.

        The hypercolumn is what other families (PixColor's conditioning) reuse of a trained network.
        """
        if x.ndim != 4 or x.shape[1] != self.config.in_channels:
            raise ValueError(f"expected (B, {self.config.in_channels}, H, W), got {tuple(x.shape)}")
        stride = self.config.output_stride
        out_size = (math.ceil(x.shape[-2] / stride), math.ceil(x.shape[-1] / stride))
        x, _ = pad_to_multiple(x, self.config.total_stride)
        cell = (x.shape[-2] // stride, x.shape[-1] // stride)
        if self.config.encoder != "none":
            sources = self._encoder_sources(x)
        else:
            sources = [F.avg_pool2d(x, stride)]  # (B, 4, H/4, W/4): direct path for hints and local L
            feat = x
            for stage in self.stages:
                feat = stage(feat)
                sources.append(feat)
        with_head = self.uses_encoder_head
        deepest = sources[-2] if with_head else sources[-1]  # the global context stays the last block's mean
        global_feat = deepest.mean(dim=(-2, -1)) if self.config.global_context else None
        head_global = sources[-1].mean(dim=(-2, -1)) if with_head else None
        h = self.head(self.h_fc1(sources, global_feat, cell, head_global))
        hue, chroma = self.hue_head(h), self.chroma_head(h)
        if self.hint_attention is not None:
            hue, chroma = self.hint_attention(h, x[:, 1:4], hue, chroma, self.hue_smooth, self.chroma_smooth)
        return crop_to(h, out_size), crop_to(hue, out_size), crop_to(chroma, out_size)

    @staticmethod
    def make_input(L_norm: torch.Tensor, hint: torch.Tensor | None = None) -> torch.Tensor:
        """Stack (B, 1, H, W) L_norm and (B, 3, H, W) hint (ab_norm * mask, mask) into the 4-channel input."""
        if hint is None:
            hint = L_norm.new_zeros(L_norm.shape[0], 3, *L_norm.shape[-2:])
        return torch.cat([L_norm, hint], dim=1)

    def predict_distributions(self, L_norm: torch.Tensor, hint: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Softmax hue and chroma distributions (B, K, ceil(H/4), ceil(W/4)), each summing to 1 over K.

        Runs in whatever mode/grad context the caller set (use ``model.eval()`` and ``torch.no_grad()``).
        """
        hue, chroma = self(self.make_input(L_norm, hint))
        return hue.softmax(dim=1), chroma.softmax(dim=1)

    # ------------------------------------------------------------------ training

    def training_loss(self, batch: dict[str, torch.Tensor], hints: bool = True) -> tuple[torch.Tensor, dict[str, float]]:
        """Paper loss: KL(chroma target || p_chroma) + hue_weight * chroma * KL(hue target || p_hue).

        ``batch``: ``"L"`` (B, 1, S, S) and ``"ab"`` (B, 2, S, S) normalized; an optional ``"hint"``
        (B, 3, S, S) is used as given, else hints are simulated when ``hints`` is true (and the hint
        simulator is importable), else none. Returns the scalar loss and float metrics.
        """
        L_norm, ab = batch["L"], batch["ab"]
        hint = hint_for_batch(batch, hints and self.training and self.train_with_hints, self.config.p_no_hints)
        hue_logits, chroma_logits = self(self.make_input(L_norm, hint))
        with torch.no_grad():
            hue_t, chroma_t, chroma01 = histogram_targets(L_norm, ab, self.hue_smooth, self.chroma_smooth, self.config.output_stride)
        kl_chroma = _kl(chroma_t, chroma_logits).mean()
        kl_hue_weighted = (self.config.hue_weight * chroma01[:, 0] * _kl(hue_t, hue_logits)).mean()
        loss = kl_chroma + kl_hue_weighted
        metrics = {
            "loss": float(loss.detach()),
            "kl_chroma": float(kl_chroma.detach()),
            "kl_hue_weighted": float(kl_hue_weighted.detach()),
        }
        return loss, metrics


class FrozenHistogramNetwork(HistogramColorizer):
    """A trained histogram network as a fixed feature extractor for the sampling families (PixColor's
    conditioning, PIC's embedding), as the papers build on pretrained networks. No gradients, always in
    eval mode; its weights stay in the owner's state dict, so the owner's weights file stands alone."""

    def __init__(self, config: HistogramConfig) -> None:
        super().__init__(config)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> FrozenHistogramNetwork:
        super().train(False)
        return self

    @property
    def feature_channels(self) -> int:
        cfg = self.config
        return cfg.hypercolumn_channels + 2 * cfg.bins + cfg.in_channels

    def split_distributions(self, grid_features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The hue and chroma distributions inside a :meth:`grid_features` tensor."""
        start, k = self.config.hypercolumn_channels, self.config.bins
        return grid_features[:, start:start + k], grid_features[:, start + k:start + 2 * k]

    def grid_features(self, x: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """(B, in, H, W) input -> (B, feature_channels, gh, gw): the hypercolumn, the hue and chroma
        distributions (resized to the grid when it is not 1/4 of the input) and the input's cell means
        (a direct path for hints)."""
        with torch.no_grad():
            h, hue, chroma = self.features(x)
            feats = torch.cat([h, hue.softmax(dim=1), chroma.softmax(dim=1)], dim=1)
            if tuple(feats.shape[-2:]) != tuple(grid):
                feats = F.interpolate(feats, size=grid, mode="bilinear", align_corners=False, antialias=True)
            return torch.cat([feats, F.adaptive_avg_pool2d(x, grid)], dim=1)


def expected_ab_norm(hue_probs: torch.Tensor, chroma_probs: torch.Tensor) -> torch.Tensor:
    """E[C] * E[exp(i hue)] of (B, K, h, w) distributions as normalized a*b* (B, 2, h, w): the torch,
    differentiable twin of the ``mean`` decoding (hue and chroma taken as independent)."""
    hue_q, chroma_q = _quantizers()
    angles = torch.tensor(hue_q.centres, dtype=hue_probs.dtype, device=hue_probs.device) * (2 * math.pi)
    centres = torch.tensor(chroma_q.centres, dtype=chroma_probs.dtype, device=chroma_probs.device)
    mean_c = torch.einsum("bkhw,k->bhw", chroma_probs, centres) / AB_SCALE
    cos = torch.einsum("bkhw,k->bhw", hue_probs, angles.cos())
    sin = torch.einsum("bkhw,k->bhw", hue_probs, angles.sin())
    return torch.stack([mean_c * cos, mean_c * sin], dim=1)


def build_histogram_model(config: dict[str, Any] | HistogramConfig | None = None) -> HistogramColorizer:
    """Registry builder: a fresh (untrained) model from a config dict (as stored in a card) or dataclass."""
    if config is None:
        config = HistogramConfig()
    elif isinstance(config, dict):
        config = HistogramConfig.from_dict(config)
    return HistogramColorizer(config)


def decode_ab(hue_probs, chroma_probs, decoding: Decoding = PAPER_DECODING, mode: str = "median"):
    """Point estimate of a*b* from per-cell hue and chroma distributions, for batches of network outputs.

    The math lives in :func:`colorstudio.models.decoding.decode_ab` (one image, numpy, channels
    last); this adapter runs it per image and restores the layout, kind, dtype and device of the input.
    ``mode="median"`` (Larsson et al. sec. 3.2, the default): median chroma (``decoding.chroma_quantile``),
    circular-mean hue, chromatic fading ``min(|z| / decoding.fading_threshold, 1)``. ``mode="mean"``: the expected a*b* ``E[C] * z`` (least
    squared error, so the best PSNR; less vivid). Not differentiable: evaluation and inference only.

    Args:
        hue_probs, chroma_probs: (..., K, h, w) torch tensors or numpy arrays summing to 1 over K.
    Returns:
        ab: (..., 2, h, w) Lab a*, b* (NOT normalized), same kind (torch/numpy) and float dtype as input.
    """
    as_numpy = isinstance(hue_probs, np.ndarray)
    hue_p = torch.as_tensor(hue_probs)
    chroma_p = torch.as_tensor(chroma_probs).to(hue_p)
    if hue_p.shape != chroma_p.shape or hue_p.ndim < 3:
        raise ValueError(f"need matching (..., K, h, w) distributions, got {tuple(hue_p.shape)} and {tuple(chroma_p.shape)}")
    *batch, k, h, w = hue_p.shape
    hue_np = hue_p.detach().cpu().double().numpy().reshape(-1, k, h, w)
    chroma_np = chroma_p.detach().cpu().double().numpy().reshape(-1, k, h, w)
    ab: np.ndarray | torch.Tensor
    ab = np.stack([decode_one_image(hp, cp, mode=mode, decoding=decoding)
                   for hp, cp in zip(hue_np, chroma_np)])  # (N, h, w, 2)
    ab = torch.from_numpy(np.moveaxis(ab, -1, -3).reshape(*batch, 2, h, w)).to(dtype=hue_p.dtype, device=hue_p.device)
    return ab.numpy() if as_numpy else ab

