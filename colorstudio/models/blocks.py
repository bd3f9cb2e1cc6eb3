"""Small convolution blocks shared by the network families.

Every block is a plain ``nn.Module`` (or ``nn.Sequential``) with channel-first tensors ``(B, C, H, W)``.
Normalization is chosen by name so one architecture can be trained with BatchNorm on a large batch
(GPU) or GroupNorm on a small CPU batch without code changes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "NORMS",
    "ACTIVATIONS",
    "make_norm",
    "make_activation",
    "ConvNormAct",
    "ResidualBlock",
    "downsample",
    "upsample_to",
    "pad_to_multiple",
    "crop_to",
]

NORMS = ("batch", "group", "none")
ACTIVATIONS = ("relu", "silu", "gelu", "leaky_relu")


def make_norm(kind: str, channels: int, groups: int = 8) -> nn.Module:
    """A normalization layer by name: ``batch``, ``group`` (``groups`` groups, fewer when C is small) or ``none``."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        # The largest divisor of C that does not exceed `groups` keeps GroupNorm valid for any width.
        g = max(d for d in range(1, min(groups, channels) + 1) if channels % d == 0)
        return nn.GroupNorm(g, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; expected one of {NORMS}")


def make_activation(kind: str) -> nn.Module:
    """An activation by name (``relu``, ``silu``, ``gelu``, ``leaky_relu`` with slope 0.2)."""
    if kind == "relu":
        return nn.ReLU(inplace=True)
    if kind == "silu":
        return nn.SiLU(inplace=True)
    if kind == "gelu":
        return nn.GELU()
    if kind == "leaky_relu":
        return nn.LeakyReLU(0.2, inplace=True)
    raise ValueError(f"unknown activation {kind!r}; expected one of {ACTIVATIONS}")


class ConvNormAct(nn.Sequential):
    """Conv2d -> norm -> activation, "same" padding for odd kernels (also when dilated).

    Output size is ``ceil(H / stride)`` x ``ceil(W / stride)`` for even H, W.
    The conv has no bias when a norm follows it (the norm's shift makes it redundant).
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int = 3,
        stride: int = 1,
        dilation: int = 1,
        norm: str = "batch",
        act: str | None = "relu",
        groups: int = 1,
    ) -> None:
        padding = dilation * (kernel - 1) // 2
        layers: list[nn.Module] = [
            nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=padding, dilation=dilation,
                      groups=groups, bias=norm == "none")
        ]
        if norm != "none":
            layers.append(make_norm(norm, out_ch))
        if act is not None:
            layers.append(make_activation(act))
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    """Two 3x3 ConvNormAct with an identity (or 1x1 projection) skip; ``out = act(x + f(x))``.

    ``dilation`` widens the receptive field without lowering resolution (used in the deep low-res
    stages, as in DeepLab / Larsson's dilated fc layers). The last norm's scale starts at zero
    ("zero-init residual", Goyal et al. 2017) so a deep stack starts as the identity and trains stably.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int | None = None,
        dilation: int = 1,
        norm: str = "batch",
        act: str = "relu",
    ) -> None:
        super().__init__()
        out_ch = in_ch if out_ch is None else out_ch
        self.body = nn.Sequential(
            ConvNormAct(in_ch, out_ch, 3, dilation=dilation, norm=norm, act=act),
            ConvNormAct(out_ch, out_ch, 3, dilation=dilation, norm=norm, act=None),
        )
        self.skip = nn.Identity() if in_ch == out_ch else nn.Conv2d(in_ch, out_ch, 1, bias=False)
        self.act = make_activation(act)
        if norm != "none":
            last_norm = cast(ConvNormAct, self.body[-1])[1]  # the second ConvNormAct's norm
            if isinstance(last_norm, (nn.BatchNorm2d, nn.GroupNorm)):  # make_norm's kinds besides "none"
                nn.init.zeros_(last_norm.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, C', H, W)
        return self.act(self.skip(x) + self.body(x))


def downsample(in_ch: int, out_ch: int, norm: str = "batch", act: str = "relu") -> ConvNormAct:
    """A strided 3x3 ConvNormAct halving H and W (learned downsampling, cheaper than conv + pool)."""
    return ConvNormAct(in_ch, out_ch, 3, stride=2, norm=norm, act=act)


def upsample_to(x: torch.Tensor, size: Sequence[int], mode: str = "bilinear") -> torch.Tensor:
    """Resize (B, C, h, w) to (B, C, *size); bilinear with ``align_corners=False`` (pixel-centre aligned)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if mode == "nearest":
        return F.interpolate(x, size=size, mode="nearest")
    return F.interpolate(x, size=size, mode=mode, align_corners=False)


def pad_to_multiple(x: torch.Tensor, multiple: int, mode: str = "replicate") -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad (B, C, H, W) at the bottom/right so H and W are multiples of ``multiple``.

    Returns the padded tensor and the original (H, W) for :func:`crop_to`. Replicate padding avoids
    the artificial dark border that zero padding would put into an L channel.
    """
    h, w = x.shape[-2:]
    ph = (math.ceil(h / multiple) * multiple) - h
    pw = (math.ceil(w / multiple) * multiple) - w
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


def crop_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Crop (B, C, H, W) to the top-left (B, C, *size)."""
    return x[..., : size[0], : size[1]]
