"""PIC: Probabilistic Image Colorization (Royer, Kolesnikov, Lampert 2017).

Two networks (``shared/notes/methods.md``):

- an embedding network ``g(L, hints)``: gated residual blocks (non-causal 3x3, dilated at the end) and
  strided convolutions from the working resolution down to the chroma grid (1/4 of it, 1/2 for CIFAR);
- a PixelCNN++ decoder over the chroma grid (the shared core :mod:`colorstudio.models.pixelcnn`, no
  down/up-sampling) with ``g`` added as conditioning in every gated block; its output per cell is the
  parameter vector of a K-component discretized logistic mixture over (a, b) on 256 levels
  (:mod:`colorstudio.models.logistic_mixture`), whose means also depend on the subsampled L (and b on a).

Tensors: ``L_norm = (L* - 50) / 50`` (B, 1, H, W); hint channels (B, 3, H, W) = ``(a_norm * mask,
b_norm * mask, mask)`` with ``ab_norm = ab / 110`` (contracts.md), as for the histogram model. The chroma
the likelihood sees is PIC's grid value x = 2k/255 - 1 (:func:`colorstudio.color.ab_to_pic`) of the
cell's mean a*, b*, rounded to the 256 levels. Bits per dimension count the subsampled chroma grid only:
``bpd = NLL / (ln 2 * h' * w' * 2)`` (L is given, not modelled).
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from colorstudio.color import ab_to_pic, denormalize_ab
from colorstudio.models import logistic_mixture as lm
from colorstudio.models.blocks import pad_to_multiple
from colorstudio.models.hint_sim import hint_for_batch
from colorstudio.models.histogram import FrozenHistogramNetwork, HistogramConfig
from colorstudio.models.pixelcnn import (
    GENERATION_METHODS,
    GatedResidualBlock,
    PixelCNN,
    PixelCNNConfig,
    generate,
)

__all__ = [
    "FAMILY",
    "PIC",
    "PIC_CIFAR_CONFIG",
    "PIC_PHOTO_CONFIG",
    "EmbeddingNetwork",
    "HistogramEmbedding",
    "PICConfig",
    "bits_per_dim",
    "bits_per_dim_from_nll",
    "build_pic_model",
    "chroma_targets",
    "hint_grid",
    "sample_generators",
]

FAMILY = "pic"  # the family name its cards carry


@dataclass(frozen=True)
class PICConfig:
    """Architecture and training-time settings of a PIC model (stored in checkpoints and cards).

    ``chroma_stride``: working resolution / chroma grid (4; 2 for 32x32 CIFAR), a power of two.
    Embedding: a stem of ``embed_width`` channels, then one level per factor 2 (stride-2 convolution
    doubling the width); ``embed_blocks[i]`` gated blocks at level i (level 0 = working resolution, the
    last = chroma grid, where ``embed_dilations`` are cycled); a 1x1 to ``embed_channels``.
    Decoder: ``decoder_blocks`` PixelCNN++ block pairs of ``decoder_channels``; ``components`` logistics.
    ``dropout`` on the gated blocks' hidden layer while training (PIC: 0.5 on its large model).
    ``p_no_hints``: fraction of training images without simulated hints.
    ``histogram``: when set (a trained histogram network's ``HistogramConfig`` dict), that network, frozen,
    replaces the embedding's lower levels (:class:`HistogramEmbedding`); only the gated blocks on the chroma
    grid (``embed_blocks[-1]`` of width ``embed_width * 2**(levels - 1)``) are trained.
    """

    in_channels: int = 4
    chroma_stride: int = 4
    embed_width: int = 32
    embed_blocks: tuple[int, ...] = (1, 1, 2)
    embed_dilations: tuple[int, ...] = (1, 2)
    embed_channels: int = 64
    decoder_channels: int = 64
    decoder_blocks: int = 4
    components: int = 10
    dropout: float = 0.0
    p_no_hints: float = 0.5
    histogram: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        stride = self.chroma_stride
        if stride < 1 or stride & (stride - 1):
            raise ValueError(f"chroma_stride must be a power of two, got {stride}")
        levels = stride.bit_length()  # log2(stride) + 1
        if len(self.embed_blocks) != levels:
            raise ValueError(f"embed_blocks needs {levels} entries (one per resolution level), got {self.embed_blocks}")
        if self.in_channels not in (1, 4):
            raise ValueError(f"in_channels is 4 (L + hint channels) or 1 (L only), got {self.in_channels}")
        if self.histogram is not None and self.in_channels != self.histogram.get("in_channels", 4):
            raise ValueError("the histogram network and PIC must take the same input channels")

    @property
    def levels(self) -> int:
        """Resolution levels of the embedding network (log2 of the stride, plus one)."""
        return len(self.embed_blocks)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PICConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown PICConfig fields: {sorted(unknown)}")
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)


# Presets sized for a few CPU-hours of training (measurements in colorstudio/training/train_pic.py).
# CIFAR: 32 x 32 input, chroma 16 x 16 (paper: stride 2).
# Hints on a quarter of the training images only: the model exists for its bits/dim, measured without hints.
PIC_CIFAR_CONFIG = PICConfig(chroma_stride=2, embed_width=32, embed_blocks=(1, 2), embed_dilations=(1, 2),
                             embed_channels=64, decoder_channels=64, decoder_blocks=4, components=10,
                             p_no_hints=0.75)
# Photos: working resolution 128, chroma 32 x 32 (paper's ILSVRC 128 px model: stride 4).
PIC_PHOTO_CONFIG = PICConfig(chroma_stride=4, embed_width=16, embed_blocks=(0, 1, 3), embed_dilations=(1, 2, 4),
                             embed_channels=64, decoder_channels=64, decoder_blocks=4, components=10)


# ---------------------------------------------------------------------------------------------- data maps
def _cell_mean(x: torch.Tensor, stride: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, ceil(H/s), ceil(W/s)) cell means (edge cells padded by replication)."""
    if stride == 1:
        return x
    x, _ = pad_to_multiple(x, stride)
    return F.avg_pool2d(x, stride)


def chroma_targets(L_norm: torch.Tensor, ab_norm: torch.Tensor, stride: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The subsampled lightness and the chroma the decoder models.

    Args:
        L_norm: (B, 1, H, W) normalized lightness; ab_norm: (B, 2, H, W) normalized a*b* (ab / 110).
    Returns:
        L_sub (B, 1, h', w') cell means of L_norm in [-1, 1]; ab_grid (B, 2, h', w') PIC grid values of the
        cell means of a*, b* (rounded to the 256 levels), h' = ceil(H / stride).
    """

    return _cell_mean(L_norm, stride), ab_to_pic(denormalize_ab(_cell_mean(ab_norm, stride)))


def hint_grid(hint: torch.Tensor, stride: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Hint channels at the working resolution -> values and mask on the chroma grid.

    A cell is hinted when any of its pixels is; its value is the mean hint chroma of its hinted pixels.

    Args:
        hint: (B, 3, H, W) = (a_norm * mask, b_norm * mask, mask).
    Returns:
        ab_grid (B, 2, h', w') PIC grid values (0 where not hinted), mask (B, 1, h', w') bool.
    """

    mask = hint[:, 2:3]
    if stride > 1:
        # zero padding: padded pixels are never hinted
        pad_h, pad_w = (-hint.shape[-2]) % stride, (-hint.shape[-1]) % stride
        padded = F.pad(hint, (0, pad_w, 0, pad_h))
        sums = F.avg_pool2d(padded[:, :2] * padded[:, 2:3], stride)
        weight = F.avg_pool2d(padded[:, 2:3], stride)
    else:
        sums, weight = hint[:, :2] * mask, mask
    hinted = weight > 0
    ab = torch.where(hinted, ab_to_pic(denormalize_ab(sums / weight.clamp_min(1e-8))), torch.zeros_like(sums))
    return ab, hinted


def bits_per_dim_from_nll(nll_nats: float, grid_h: int, grid_w: int, images: int = 1) -> float:
    """bits/dim of a total NLL (nats) over ``images`` chroma grids of h' x w' cells (2 dims per cell)."""
    return lm.bits_per_dim(nll_nats, images * grid_h * grid_w * 2)


def sample_generators(n: int, seed: int) -> list[torch.Generator]:
    """CPU generators of samples 0..n-1: sample k is seeded ``seed + k``, so sample k of a batch equals
    sample 0 of a batch started at ``seed + k`` (the seed recorded with each output reproduces it alone)."""
    return [torch.Generator().manual_seed(int(seed) + k) for k in range(n)]


@contextlib.contextmanager
def _intra_op_threads(threads: int) -> Iterator[None]:
    """Run a block with ``threads`` torch intra-op threads, then restore the previous count."""
    before = torch.get_num_threads()
    if threads != before:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


# ---------------------------------------------------------------------------------------------- networks
def _same_conv(dilation: int) -> Callable[[int, int], nn.Conv2d]:
    """Non-causal 3x3 "same" convolution factory for the shared :class:`GatedResidualBlock`."""
    return functools.partial(nn.Conv2d, kernel_size=3, padding=dilation, dilation=dilation)


class EmbeddingNetwork(nn.Module):
    """``g(L, hints)``: (B, in_channels, H, W) -> (B, embed_channels, ceil(H/s), ceil(W/s)).

    PIC's embedding (paper table 1) scaled down: gated residual blocks (PixelCNN++ ``gated_resnet`` with
    ordinary 3x3 convolutions, so it sees the whole neighbourhood), stride-2 convolutions doubling the width,
    dilated blocks on the chroma grid for context. Any H, W (replicate padding to a multiple of s).
    """

    def __init__(self, cfg: PICConfig) -> None:
        super().__init__()
        self.stride = cfg.chroma_stride
        width = cfg.embed_width
        self.stem = nn.Conv2d(cfg.in_channels, width, 3, padding=1)
        levels: list[nn.Module] = []
        for level, n_blocks in enumerate(cfg.embed_blocks):
            layers: list[nn.Module] = []
            if level > 0:
                layers.append(nn.Conv2d(width, 2 * width, 3, stride=2, padding=1))
                width *= 2
            last = level == cfg.levels - 1
            for k in range(n_blocks):
                dilation = cfg.embed_dilations[k % len(cfg.embed_dilations)] if last else 1
                layers.append(GatedResidualBlock(width, _same_conv(dilation), dropout=cfg.dropout))
            levels.append(nn.Sequential(*layers))
        self.levels = nn.ModuleList(levels)
        self.out = nn.Conv2d(width, cfg.embed_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = (math.ceil(x.shape[-2] / self.stride), math.ceil(x.shape[-1] / self.stride))
        x, _ = pad_to_multiple(x, self.stride)
        h = self.stem(x)
        for level in self.levels:
            h = level(h)
        return self.out(F.elu(h))[..., : size[0], : size[1]]


class HistogramEmbedding(nn.Module):
    """``g(L, hints)`` on a trained histogram network: its frozen
    :meth:`~colorstudio.models.histogram.FrozenHistogramNetwork.grid_features` on the chroma grid, a 1x1,
    then trained dilated gated residual blocks (the top level of :class:`EmbeddingNetwork`) and the 1x1 out.
    Same shapes as :class:`EmbeddingNetwork`."""

    def __init__(self, cfg: PICConfig) -> None:
        super().__init__()

        self.stride = cfg.chroma_stride
        self.encoder = FrozenHistogramNetwork(HistogramConfig.from_dict(cfg.histogram or {}))
        width = cfg.embed_width * 2 ** (cfg.levels - 1)
        self.stem = nn.Conv2d(self.encoder.feature_channels, width, 1)
        self.blocks = nn.Sequential(*(
            GatedResidualBlock(width, _same_conv(cfg.embed_dilations[k % len(cfg.embed_dilations)]), dropout=cfg.dropout)
            for k in range(cfg.embed_blocks[-1])
        ))
        self.out = nn.Conv2d(width, cfg.embed_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        grid = (math.ceil(x.shape[-2] / self.stride), math.ceil(x.shape[-1] / self.stride))
        return self.out(F.elu(self.blocks(self.stem(self.encoder.grid_features(x, grid)))))


class PIC(nn.Module):
    """Embedding network + conditional PixelCNN++ decoder with a logistic-mixture output.

    ``forward(L_norm (B,1,H,W), ab_grid (B,2,h',w'), hint (B,3,H,W) | None) -> params (B, 8K, h', w')``.
    """

    def __init__(self, config: PICConfig = PICConfig()) -> None:
        super().__init__()
        self.config = cfg = config
        self.embedding = HistogramEmbedding(cfg) if cfg.histogram else EmbeddingNetwork(cfg)
        self.decoder = PixelCNN(PixelCNNConfig(
            in_channels=2, cond_channels=cfg.embed_channels, out_channels=lm.num_params(cfg.components),
            channels=cfg.decoder_channels, blocks=cfg.decoder_blocks, dropout=cfg.dropout,
        ))
        self.train_with_hints = cfg.in_channels == 4  # the trainer turns this off without the hint simulator

    @property
    def histogram_network(self) -> FrozenHistogramNetwork | None:
        """The frozen histogram network the embedding is built on (None for the embedding trained from
        scratch): its distributions rank the samples and give the instant draft (issue 14)."""
        return self.embedding.encoder if isinstance(self.embedding, HistogramEmbedding) else None

    # ------------------------------------------------------------------ network
    def make_input(self, L_norm: torch.Tensor, hint: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 1, H, W) L_norm (+ (B, 3, H, W) hint, zeros if None) -> the embedding's input."""
        if self.config.in_channels == 1:
            return L_norm
        if hint is None:
            hint = L_norm.new_zeros(L_norm.shape[0], 3, *L_norm.shape[-2:])
        return torch.cat([L_norm, hint], dim=1)

    def embed(self, L_norm: torch.Tensor, hint: torch.Tensor | None = None) -> torch.Tensor:
        """Conditioning map (B, embed_channels, h', w')."""
        return self.embedding(self.make_input(L_norm, hint))

    def forward(self, L_norm: torch.Tensor, ab_grid: torch.Tensor, hint: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(ab_grid, self.embed(L_norm, hint))

    def grid_size(self, height: int, width: int) -> tuple[int, int]:
        s = self.config.chroma_stride
        return math.ceil(height / s), math.ceil(width / s)

    # ------------------------------------------------------------------ likelihood
    def log_prob(self, L_norm: torch.Tensor, ab_norm: torch.Tensor, hint: torch.Tensor | None = None) -> torch.Tensor:
        """log p(chroma grid | L, hints) per image in nats: (B,). ``ab_norm`` (B, 2, H, W) at working resolution."""
        L_sub, ab_grid = chroma_targets(L_norm, ab_norm, self.config.chroma_stride)
        params = self(L_norm, ab_grid, hint)
        return lm.log_prob(params, L_sub, ab_grid).flatten(1).sum(1)


    def training_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss = NLL in nats per chroma dimension (``bpd * ln 2``; scale-free across grid sizes).

        ``batch``: ``"L"`` (B, 1, S, S), ``"ab"`` (B, 2, S, S) normalized; ``"hint"`` (B, 3, S, S) used if
        given, else simulated while training (when enabled), else none. Metrics: ``nll_nats`` (per image)
        and ``bpd`` (bits per dimension over the h' x w' x 2 chroma grid).
        """
        L_norm, ab = batch["L"], batch["ab"]
        simulate = self.training and self.train_with_hints and self.config.in_channels == 4
        hint = hint_for_batch(batch, simulate, self.config.p_no_hints)
        nll = -self.log_prob(L_norm, ab, hint)  # (B,)
        h, w = self.grid_size(*L_norm.shape[-2:])
        dims = h * w * 2
        loss = nll.mean() / dims
        nll_mean = float(nll.detach().mean())
        return loss, {"nll_nats": nll_mean, "bpd": nll_mean / (dims * math.log(2.0))}

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def sample(
        self,
        L_norm: torch.Tensor,
        hint: torch.Tensor | None = None,
        n: int = 1,
        seed: int = 0,
        temperature: float = 1.0,
        sampler: str = "fast",
        progress: Callable[[float, str], None] | None = None,
        cancel: Callable[[], bool] | None = None,
        truncation: lm.Truncation | None = None,
    ) -> torch.Tensor:
        """``n`` chroma samples for one image; sample k uses its own generator seeded ``seed + k``.

        Args:
            L_norm: (H, W), (1, H, W) or (1, 1, H, W) normalized lightness at the working resolution.
            hint: None or (3, H, W) / (1, 3, H, W) hint channels; hinted cells are clamped to the hint.
            temperature: multiplies the logistic scales and divides the mixture logits (0 = greedy).
            sampler: ``"fast"`` (incremental caches, O(h'w')) or ``"naive"`` (full decoder per cell).
            truncation: outlier removal (:class:`~colorstudio.models.logistic_mixture.Truncation`); None = none.
        Returns:
            (n, 2, h', w') PIC grid values in [-1, 1] (``pic_to_ab`` gives a*, b*).
        """
        if sampler not in GENERATION_METHODS:
            raise ValueError(f"unknown sampler {sampler!r}; expected one of {GENERATION_METHODS}")
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        L_norm = L_norm.reshape(1, 1, *L_norm.shape[-2:])
        if hint is not None:
            hint = hint.reshape(1, 3, *hint.shape[-2:]).to(L_norm)
        was_training = self.training
        self.eval()
        try:
            cond = self.embed(L_norm, hint).expand(n, -1, -1, -1)
            L_sub = _cell_mean(L_norm, self.config.chroma_stride).expand(n, -1, -1, -1)
            h, w = cond.shape[-2:]
            u = lm.draw_uniforms((n, h, w), sample_generators(n, seed), device=cond.device, dtype=cond.dtype)
            clamp_ab, clamp_mask = (None, None) if hint is None else hint_grid(hint, self.config.chroma_stride)
            hinted = set() if clamp_mask is None else {tuple(ij) for ij in clamp_mask[0, 0].nonzero().tolist()}

            # channel-last copies: one cheap index per cell in the loop below
            L_cells = L_sub.permute(2, 3, 0, 1).contiguous()  # (h', w', n, 1)
            u_cells = u.permute(2, 3, 0, 1).contiguous()  # (h', w', n, 3)

            def choose(features: torch.Tensor, i: int, j: int) -> torch.Tensor:  # (n, 8K) -> (n, 2)
                if (i, j) in hinted:
                    assert clamp_ab is not None  # hinted cells come from clamp_mask, made with clamp_ab
                    return clamp_ab[:, :, i, j].expand(n, 2)
                return lm.sample_from_uniforms(features, L_cells[i, j], u_cells[i, j], temperature, truncation)

            # The fast sampler's per-cell ops are tiny ((n, 2C) @ (2C, C) products): intra-op threads only
            # add wake-up latency (8 samples, 32 x 32 grid: 0.93 s on one thread, 2.3 s on two when the
            # cores are shared), so it runs on one; the naive sampler's full passes keep every thread.
            threads = 1 if sampler == "fast" else torch.get_num_threads()
            with _intra_op_threads(threads):
                return generate(self.decoder, cond, choose, method=sampler, progress=progress, cancel=cancel)
        finally:
            self.train(was_training)


# ---------------------------------------------------------------------------------------------- evaluation
@torch.no_grad()
def bits_per_dim(
    model: PIC,
    dataset: Sequence[dict[str, torch.Tensor]] | torch.utils.data.Dataset | torch.utils.data.DataLoader,
    *,
    batch_size: int = 64,
    limit: int | None = None,
    device: torch.device | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> dict[str, float]:
    """Bits per dimension of ``model`` on a dataset of ``{"L", "ab"}`` items (or a DataLoader of such batches;
    no hints), over the subsampled
    chroma grid: total NLL / (ln 2 * images * h' * w' * 2).

    Returns ``{"bpd", "nll_nats_per_image", "images", "dims_per_image"}``. Runs in eval mode (use the EMA
    weights, as the paper does) and restores the previous mode.
    """
    device = device or next(model.parameters()).device
    loader = dataset if isinstance(dataset, torch.utils.data.DataLoader) else \
        torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)  # type: ignore[arg-type]  # a Sequence is a map-style dataset
    total_nll, images, dims = 0.0, 0, 0
    total = len(loader.dataset) if hasattr(loader.dataset, "__len__") else None
    if limit is not None and total is not None:
        total = min(total, limit)
    was_training = model.training
    model.eval()
    try:
        for batch in loader:
            L, ab = batch["L"].to(device), batch["ab"].to(device)
            if limit is not None:
                L, ab = L[: limit - images], ab[: limit - images]
            if len(L) == 0:
                break
            total_nll += float(-model.log_prob(L, ab).sum())
            h, w = model.grid_size(*L.shape[-2:])
            images += len(L)
            dims = h * w * 2
            if progress is not None and total:
                progress(images / total, f"bits/dim: {images}/{total} images")
            if limit is not None and images >= limit:
                break
    finally:
        model.train(was_training)
    if images == 0:
        raise ValueError("bits_per_dim: the dataset is empty")
    return {
        "bpd": bits_per_dim_from_nll(total_nll, 1, dims // 2, images),
        "nll_nats_per_image": total_nll / images,
        "images": images,
        "dims_per_image": dims,
    }


# ---------------------------------------------------------------------------------------------- builder
def build_pic_model(config: dict[str, Any] | PICConfig | None = None) -> PIC:
    """Builder: an untrained PIC from a card's config dict (or a :class:`PICConfig`)."""
    if config is None:
        config = PICConfig()
    elif isinstance(config, dict):
        config = PICConfig.from_dict(config)
    return PIC(config)


