"""cGAN colorizer (Isola et al. 2017 style): a U-Net generator L (+ hints) -> ab and a PatchGAN critic.

The generator gives one vivid colorization; the critic, which judges (L, ab) patches, pushes it away
from the washed-out average an L1 loss alone converges to. Loss (pix2pix): ``l1_weight * |G(x) - ab|``
plus the non-saturating adversarial term, with the critic trained on real and generated pairs.

Both networks are trained by one optimizer step (the shared loop's contract): the generator's
adversarial term is computed through a copy of the critic's parameters detached from the graph, and the
critic's own loss sees the generated ab detached, so each network gets only its own gradients.

With ``histogram`` set, a trained histogram network (frozen; its weights are stored in this model's
file) feeds its 1/4-resolution features into the U-Net, as PixColor and PIC build on it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from colorstudio.models.blocks import ConvNormAct, ResidualBlock, crop_to, downsample, make_norm, pad_to_multiple, upsample_to
from colorstudio.models.hint_sim import hint_for_batch
from colorstudio.models.histogram import FrozenHistogramNetwork, HistogramConfig, expected_ab_norm

__all__ = ["FAMILY", "GANConfig", "UNetGenerator", "PatchDiscriminator", "CGANColorizer"]

FAMILY = "gan"  # the family name its cards carry
HISTOGRAM_LEVEL = 2  # the U-Net level at 1/4 resolution, where the histogram network's features enter


@dataclass(frozen=True)
class GANConfig:
    """Architecture and loss settings; stored in checkpoints and model cards (``to_dict``)."""

    in_channels: int = 4  # L_norm + (a_norm * mask, b_norm * mask, mask)
    # generator widths w * min(2^k, max_mult) at 1/2^k; 16: ~2.2 GFLOPs per 112 px image with the histogram network
    width: int = 16
    levels: int = 4
    max_mult: int = 8
    norm: str = "group"
    act: str = "relu"
    disc_width: int = 32
    disc_layers: int = 3  # stride-2 layers: a 70 x 70 receptive field for 3, as in pix2pix
    l1_weight: float = 100.0
    adv_weight: float = 1.0
    p_no_hints: float = 0.5
    histogram: dict[str, Any] | None = None  # a frozen histogram network's HistogramConfig dict, or None
    # with a histogram network: the generator adds a correction to the network's expected a*b* (which
    # already carries the hints over their objects) instead of drawing every colour itself
    histogram_residual: bool = False

    def __post_init__(self) -> None:
        if self.levels < 1 or self.width < 1 or self.disc_layers < 1:
            raise ValueError(
                f"levels, width and disc_layers must be positive, got {self.levels}, {self.width}, {self.disc_layers}")
        if self.histogram_residual and not self.histogram:
            raise ValueError("histogram_residual needs a histogram network")
        if self.histogram and self.levels < HISTOGRAM_LEVEL:
            raise ValueError(f"histogram features enter at 1/4 resolution: need levels >= {HISTOGRAM_LEVEL}")

    def channels(self, level: int) -> int:
        return self.width * min(2**level, self.max_mult)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GANConfig:
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown GANConfig fields: {sorted(unknown)}")
        return cls(**data)


class UNetGenerator(nn.Module):
    """``forward(x (B, in, H, W), extra (B, C, ceil(H/4), ceil(W/4)) | None) -> ab_norm (B, 2, H, W)`` in
    (-1, 1). Skip connections at every level, bilinear upsampling (no checkerboard), any H, W."""

    def __init__(self, cfg: GANConfig, extra_channels: int = 0) -> None:
        super().__init__()
        c, norm, act = cfg.channels, cfg.norm, cfg.act
        self.multiple = 2**cfg.levels
        self.enc = nn.ModuleList([nn.Sequential(ConvNormAct(cfg.in_channels, c(0), 3, norm=norm, act=act),
                                                ConvNormAct(c(0), c(0), 3, norm=norm, act=act))])
        for k in range(1, cfg.levels + 1):
            self.enc.append(nn.Sequential(downsample(c(k - 1), c(k), norm, act), ResidualBlock(c(k), norm=norm, act=act)))
        self.inject = ConvNormAct(extra_channels, c(HISTOGRAM_LEVEL), 1, norm=norm, act=act) if extra_channels else None
        self.dec = nn.ModuleList([ConvNormAct(c(k + 1) + c(k), c(k), 3, norm=norm, act=act) for k in range(cfg.levels)])
        self.head = nn.Conv2d(c(0), 2, 3, padding=1)
        if cfg.histogram_residual:  # start as the histogram network's own colours
            nn.init.zeros_(self.head.weight)
            assert self.head.bias is not None
            nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        x, size = pad_to_multiple(x, self.multiple)
        skips = []
        for k, stage in enumerate(self.enc):
            x = stage(x)
            if k == HISTOGRAM_LEVEL and self.inject is not None and extra is not None:
                x = x + self.inject(F.pad(extra, (0, x.shape[-1] - extra.shape[-1], 0, x.shape[-2] - extra.shape[-2]),
                                          mode="replicate"))
            skips.append(x)
        for k in reversed(range(len(self.dec))):
            x = self.dec[k](torch.cat([upsample_to(x, tuple(skips[k].shape[-2:])), skips[k]], dim=1))
        return torch.tanh(crop_to(self.head(x), size))


class PatchDiscriminator(nn.Module):
    """PatchGAN critic: ``forward(L_norm (B, 1, H, W), ab_norm (B, 2, H, W)) -> logits (B, 1, h, w)``, one
    real/generated judgement per overlapping patch."""

    def __init__(self, cfg: GANConfig) -> None:
        super().__init__()
        w = cfg.disc_width
        layers: list[nn.Module] = [nn.Conv2d(3, w, 4, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True)]
        channels = w
        for k in range(1, cfg.disc_layers + 1):
            out = w * min(2**k, 8)
            stride = 2 if k < cfg.disc_layers else 1
            layers += [nn.Conv2d(channels, out, 4, stride=stride, padding=1, bias=False), make_norm(cfg.norm, out),
                       nn.LeakyReLU(0.2, inplace=True)]
            channels = out
        layers.append(nn.Conv2d(channels, 1, 4, stride=1, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, L_norm: torch.Tensor, ab_norm: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([L_norm, ab_norm], dim=1))


class CGANColorizer(nn.Module):
    """Generator + critic; ``forward(L_norm, hint) -> ab_norm`` is the generator alone (inference)."""

    def __init__(self, config: GANConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or GANConfig()
        self.encoder = None
        extra = 0
        if cfg.histogram:
            self.encoder = FrozenHistogramNetwork(HistogramConfig.from_dict(cfg.histogram))
            if self.encoder.config.in_channels != cfg.in_channels:
                raise ValueError(
                    f"histogram network takes {self.encoder.config.in_channels} channels, the cGAN {cfg.in_channels}")
            extra = self.encoder.feature_channels
        self.generator = UNetGenerator(cfg, extra)
        self.discriminator = PatchDiscriminator(cfg)
        self.train_with_hints = True

    @staticmethod
    def make_input(L_norm: torch.Tensor, hint: torch.Tensor | None = None) -> torch.Tensor:
        if hint is None:
            hint = L_norm.new_zeros(L_norm.shape[0], 3, *L_norm.shape[-2:])
        return torch.cat([L_norm, hint], dim=1)

    def forward(self, L_norm: torch.Tensor, hint: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 1, H, W) normalized L (+ (B, 3, H, W) hint channels) -> (B, 2, H, W) normalized ab."""
        x = self.make_input(L_norm, hint)
        extra = None
        if self.encoder is None:
            return self.generator(x, extra)
        grid = (-(-x.shape[-2] // 4), -(-x.shape[-1] // 4))
        extra = self.encoder.grid_features(x, grid)
        out = self.generator(x, extra)
        if not self.config.histogram_residual:
            return out
        base = expected_ab_norm(*self.encoder.split_distributions(extra))
        base = F.interpolate(base, size=tuple(x.shape[-2:]), mode="bilinear", align_corners=False)
        return (base + out).clamp(-1.0, 1.0)

    def _critic_without_grad(self, L_norm: torch.Tensor, ab_norm: torch.Tensor) -> torch.Tensor:
        """The critic's logits with its parameters detached: gradients reach ``ab_norm`` only."""
        params = {name: p.detach() for name, p in self.discriminator.named_parameters()}
        return torch.func.functional_call(self.discriminator, params, (L_norm, ab_norm))

    def training_loss(self, batch: dict[str, torch.Tensor], hints: bool = True) -> tuple[torch.Tensor, dict[str, float]]:
        """Generator loss (L1 + adversarial) + critic loss, each reaching only its own network.

        ``batch``: ``"L"`` (B, 1, S, S), ``"ab"`` (B, 2, S, S) normalized; ``"hint"`` used if given, else
        simulated while training (when enabled), else none.
        """
        L_norm, ab = batch["L"], batch["ab"]
        hint = hint_for_batch(batch, hints and self.training and self.train_with_hints, self.config.p_no_hints)
        fake = self(L_norm, hint)
        l1 = (fake - ab).abs().mean()
        fooled = self._critic_without_grad(L_norm, fake)
        adv = F.binary_cross_entropy_with_logits(fooled, torch.ones_like(fooled))
        real_logits = self.discriminator(L_norm, ab)
        fake_logits = self.discriminator(L_norm, fake.detach())
        critic = 0.5 * (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                        + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
        loss = self.config.l1_weight * l1 + self.config.adv_weight * adv + critic
        with torch.no_grad():
            accuracy = 0.5 * ((real_logits > 0).float().mean() + (fake_logits < 0).float().mean())
        metrics = {"loss": float(loss.detach()), "l1": float(l1.detach()), "adv": float(adv.detach()),
                   "critic": float(critic.detach()), "critic_accuracy": float(accuracy)}
        return loss, metrics


def build_gan_model(config: dict[str, Any]) -> CGANColorizer:
    return CGANColorizer(GANConfig.from_dict(config))
