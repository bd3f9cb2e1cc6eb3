"""The headless colorization pipeline shared by the CLI, the GUI and the evaluation.

Data flows one way: source image -> full-resolution L* -> working-resolution L* (+ hint channels) ->
model prediction (chroma samples, optionally per-pixel hue/chroma histograms) -> edits (hue bias,
reference) -> chroma composited with the ORIGINAL full-resolution L* -> export.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol, Sequence

import cv2
import numpy as np
import torch

from colorstudio.errors import CancelledError, ColorStudioError

__all__ = [
    "Progress",
    "Cancel",
    "HistogramPrediction",
    "Prediction",
    "Colorizer",
    "ColorizeRequest",
    "ColorizeResult",
    "PropagationColorizer",
    "register_colorizer_factory",
    "available_model_names",
    "load_colorizer",
    "fit_working_size",
    "resize_lightness",
    "colorize_source",
    "check_cancel",
    "resize_hint_channels",
    "predict_full_resolution",
]

Progress = Callable[[float, str], None]
Cancel = Callable[[], bool]


def check_cancel(cancel: Cancel | None) -> None:
    if cancel is not None and cancel():
        raise CancelledError()


def _report(progress: Progress | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(float(min(max(fraction, 0.0), 1.0)), message)


@dataclass
class HistogramPrediction:
    """Per-cell distributions of the histogram model: hue and chroma, each (K, h, w) summing to 1 over K."""

    hue: np.ndarray
    chroma: np.ndarray


@dataclass
class Prediction:
    """What a colorizer returns at its working resolution."""

    ab_samples: list[np.ndarray]  # each (h, w, 2) Lab a*, b*
    seeds: list[int]
    work_size: tuple[int, int]  # (w, h) of the L the model saw
    histograms: HistogramPrediction | None = None


class Colorizer(Protocol):
    """One per model family; built by :func:`load_colorizer`."""

    name: str
    card: dict
    supports_samples: bool

    def working_size(self, source_size: tuple[int, int]) -> tuple[int, int]: ...

    def predict(
        self,
        lightness: np.ndarray,
        hint_ab: np.ndarray,
        hint_mask: np.ndarray,
        *,
        samples: int = 1,
        seed: int = 0,
        temperature: float = 1.0,
        progress: Progress | None = None,
        cancel: Cancel | None = None,
    ) -> Prediction: ...


def fit_working_size(source_size: tuple[int, int], long_side: int, multiple: int = 1) -> tuple[int, int]:
    """Scale (w, h) so the long side is at most ``long_side`` (never upscaled), rounded to ``multiple``."""
    w, h = source_size
    scale = min(1.0, long_side / max(w, h))
    return (max(multiple, round(w * scale / multiple) * multiple), max(multiple, round(h * scale / multiple) * multiple))


def resize_lightness(lightness: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an (H, W) L* map to (w, h); area averaging when shrinking avoids aliasing."""
    if (lightness.shape[1], lightness.shape[0]) == tuple(size):
        return lightness.astype(np.float32, copy=False)
    shrinking = size[0] < lightness.shape[1]
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(lightness.astype(np.float32), size, interpolation=interp)


class PropagationColorizer:
    """Levin et al. 2004 hint propagation: no learning; without hints it returns the gray image."""

    name = "propagation"
    card = {
        "name": "propagation",
        "family": "propagation",
        "description": "Non-learned baseline: spreads hint colours to pixels of similar luminance "
        "(Levin, Lischinski, Weiss 2004). Without hints the result is gray.",
    }
    supports_samples = False

    def __init__(self, long_side: int = 256) -> None:
        self.long_side = long_side

    def working_size(self, source_size: tuple[int, int]) -> tuple[int, int]:
        return fit_working_size(source_size, self.long_side)

    def predict(self, lightness, hint_ab, hint_mask, *, samples=1, seed=0, temperature=1.0, progress=None, cancel=None):
        from colorstudio.color import denormalize_ab
        from colorstudio.models.propagation import propagate_hints

        check_cancel(cancel)
        _report(progress, 0.0, "propagating hints")
        ab = propagate_hints(lightness, denormalize_ab(hint_ab), hint_mask)
        _report(progress, 1.0, "propagated")
        h, w = lightness.shape
        return Prediction(ab_samples=[ab], seeds=[seed], work_size=(w, h))


# family name -> factory(model_name, device, models_dir) -> Colorizer
ColorizerFactory = Callable[[str, torch.device, "Path | None"], Colorizer]
_FACTORIES: dict[str, ColorizerFactory] = {}


def register_colorizer_factory(family: str, factory: ColorizerFactory) -> None:
    """Model families register how to wrap their trained network as a :class:`Colorizer`."""
    _FACTORIES[family] = factory


def _import_families() -> None:
    # Importing a family module registers its network builder and colorizer factory.
    import importlib

    for module in ("colorstudio.engine.histogram_colorizer",):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def available_model_names(models_dir: Path | None = None) -> list[str]:
    """Installed trained models (from the registry) plus the always-available baseline."""
    from colorstudio.models.registry import list_models

    names = [card.name for card in list_models(models_dir)]
    return names + [PropagationColorizer.name]


def load_colorizer(name: str, device: torch.device, models_dir: Path | None = None) -> Colorizer:
    """Build the colorizer for a model name found in ``models/`` (or the baseline ``propagation``)."""
    if name == PropagationColorizer.name:
        return PropagationColorizer()
    from colorstudio.models.registry import list_models

    _import_families()
    cards = {card.name: card for card in list_models(models_dir)}
    if name not in cards:
        known = ", ".join(sorted([*cards, PropagationColorizer.name]))
        raise ColorStudioError(f"unknown model {name!r}; installed models: {known}")
    family = cards[name].family
    if family not in _FACTORIES:
        raise ColorStudioError(f"model {name!r} has family {family!r}, which this version cannot run")
    return _FACTORIES[family](name, device, models_dir)


@dataclass(frozen=True)
class ColorizeRequest:
    """Everything that determines a result; the same request gives the same bytes."""

    model: str = "histogram"
    samples: int = 1
    seed: int = 0
    temperature: float = 1.0
    hints: tuple = ()  # tuple[Hint, ...]
    reference_path: Path | None = None
    reference_strength: float = 1.0
    reference_method: str = "energy"  # "energy" (histogram models) or "quantile" (any model)
    hue_shift_deg: float | None = None
    hue_strength: float = 1.0
    device: str = "auto"
    sampler: str = "fast"

    def validate(self) -> None:
        if self.samples < 1:
            raise ColorStudioError(f"--samples must be at least 1, got {self.samples}")
        if self.temperature <= 0:
            raise ColorStudioError(f"--temperature must be positive, got {self.temperature}")
        if self.reference_method not in ("energy", "quantile"):
            raise ColorStudioError(f"unknown reference method {self.reference_method!r} (energy or quantile)")
        if not 0.0 <= self.hue_strength <= 10.0:
            raise ColorStudioError(f"--hue-strength must be in [0, 10], got {self.hue_strength}")
        if self.reference_strength < 0:
            raise ColorStudioError(f"--reference-strength must be >= 0, got {self.reference_strength}")
        if self.sampler not in ("fast", "naive"):
            raise ColorStudioError(f"unknown sampler {self.sampler!r} (fast or naive)")


@dataclass
class ColorizeResult:
    rgb_samples: list[np.ndarray]  # each (H, W, 3) float32 sRGB in [0, 1] at full source resolution
    seeds: list[int]
    uncertainty: np.ndarray | None  # (H, W) in [0, 1], histogram models only
    prediction: Prediction
    edited_ab: list[np.ndarray] = field(default_factory=list)  # (h, w, 2) after hue/reference edits


def _edit_histograms(pred: Prediction, request: ColorizeRequest, reference_rgb: np.ndarray | None) -> list[np.ndarray]:
    """Apply hue bias and energy-minimization reference transfer to the histograms, then decode."""
    from colorstudio.engine import histogram_edit as he

    hue, chroma = pred.histograms.hue, pred.histograms.chroma
    if reference_rgb is not None and request.reference_method == "energy":
        ref_hists = he.reference_histograms(reference_rgb)
        hue, chroma = he.transfer_to_reference(hue, chroma, ref_hists, strength=request.reference_strength)[:2]
    if request.hue_shift_deg is not None:
        hue = he.hue_bias(hue, request.hue_shift_deg, request.hue_strength)
    return [he.decode_ab(hue, chroma)]


def colorize_source(
    lightness_full: np.ndarray,
    colorizer: Colorizer,
    request: ColorizeRequest,
    *,
    reference_rgb: np.ndarray | None = None,
    hint_channels: tuple[np.ndarray, np.ndarray] | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> ColorizeResult:
    """Colorize one image given its full-resolution L* (H, W); returns full-resolution sRGB samples.

    Hints come from ``request.hints``, or already rasterized at full resolution as ``hint_channels``
    (normalized ab (2,H,W), mask (1,H,W)), as the evaluation sweep makes them."""
    from colorstudio.engine.composite import composite
    from colorstudio.engine.hints import rasterize_hints

    request.validate()
    height, width = lightness_full.shape
    work_size = colorizer.working_size((width, height))
    lightness_work = resize_lightness(lightness_full, work_size)
    if hint_channels is None:
        hint_ab, hint_mask = rasterize_hints(list(request.hints), source_size=(width, height), work_size=work_size)
    else:
        hint_ab, hint_mask = resize_hint_channels(*hint_channels, work_size)
    check_cancel(cancel)

    def predict_progress(fraction: float, message: str) -> None:
        _report(progress, 0.6 * fraction, message)

    pred = colorizer.predict(
        lightness_work, hint_ab, hint_mask, samples=request.samples, seed=request.seed,
        temperature=request.temperature, progress=predict_progress, cancel=cancel,
    )
    needs_histograms = request.hue_shift_deg is not None or (reference_rgb is not None and request.reference_method == "energy")
    if needs_histograms and pred.histograms is None:
        what = "hue shift" if request.hue_shift_deg is not None else "energy-minimization reference transfer"
        raise ColorStudioError(
            f"{what} needs a model that predicts colour histograms (e.g. 'histogram'); "
            f"model {colorizer.name!r} does not (use --reference with the quantile method instead)"
        )
    ab_list = _edit_histograms(pred, request, reference_rgb) if needs_histograms else list(pred.ab_samples)

    rgb_samples = []
    for index, ab in enumerate(ab_list):
        check_cancel(cancel)
        _report(progress, 0.6 + 0.35 * index / len(ab_list), f"compositing sample {index + 1}/{len(ab_list)}")
        rgb = composite(lightness_full, ab, cancel=cancel)
        if reference_rgb is not None and request.reference_method == "quantile":
            from colorstudio.engine.histogram_edit import quantile_match_transfer

            rgb = quantile_match_transfer(rgb, reference_rgb, min(request.reference_strength, 1.0))
        rgb_samples.append(rgb)

    uncertainty = None
    if pred.histograms is not None:
        from colorstudio.engine.histogram_edit import uncertainty_full_res, uncertainty_map

        uncertainty = uncertainty_full_res(uncertainty_map(pred.histograms.hue, pred.histograms.chroma), (width, height))
    _report(progress, 1.0, "done")
    seeds = pred.seeds if len(pred.seeds) == len(rgb_samples) else pred.seeds[: len(rgb_samples)]
    return ColorizeResult(rgb_samples=rgb_samples, seeds=seeds, uncertainty=uncertainty, prediction=pred, edited_ab=ab_list)


def resize_hint_channels(hint_ab: np.ndarray, hint_mask: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Bring full-resolution hint channels (2,H,W)/(1,H,W) to (w, h): a cell is hinted if any of its
    pixels is, with the mean chroma of its hinted pixels."""
    mask = hint_mask.reshape(hint_mask.shape[-2:]).astype(np.float32)
    if (mask.shape[1], mask.shape[0]) == tuple(size):
        return hint_ab.astype(np.float32), mask[None]
    weight = cv2.resize(mask, size, interpolation=cv2.INTER_AREA)
    sums = np.stack([cv2.resize(c.astype(np.float32) * mask, size, interpolation=cv2.INTER_AREA) for c in hint_ab])
    hinted = weight > 0
    ab = np.where(hinted[None], sums / np.maximum(weight, 1e-8)[None], 0.0).astype(np.float32)
    return ab, hinted[None].astype(np.float32)


def predict_full_resolution(
    lightness_full: np.ndarray,
    hint_ab: np.ndarray,
    hint_mask: np.ndarray,
    colorizer: Colorizer,
    *,
    samples: int = 1,
    seed: int = 0,
    temperature: float = 1.0,
    reference_rgb: np.ndarray | None = None,
    reference_strength: float = 1.0,
    reference_method: str = "energy",
) -> list[np.ndarray]:
    """Colorize from arrays (evaluation path): L* (H,W) and full-resolution hint channels -> sRGB samples."""

    request = ColorizeRequest(model=colorizer.name, samples=samples, seed=seed, temperature=temperature,
                              reference_strength=reference_strength, reference_method=reference_method)
    return colorize_source(lightness_full, colorizer, request, reference_rgb=reference_rgb,
                           hint_channels=(hint_ab, hint_mask)).rgb_samples


def sample_suffixes(count: int) -> Sequence[str]:
    """File-name suffixes for N samples: none for one, ``_s0 ... _s{N-1}`` for several (DESIGN.md)."""
    return [""] if count == 1 else [f"_s{i}" for i in range(count)]
