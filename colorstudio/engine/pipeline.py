"""The headless colorization pipeline shared by the CLI, the GUI and the evaluation.

Data flows one way: source image -> full-resolution L* -> working-resolution L* (+ hint channels) ->
model prediction (chroma samples, optionally per-pixel hue/chroma histograms) -> edits (hue bias,
reference) -> chroma composited with the ORIGINAL full-resolution L* -> export.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import cv2
import numpy as np
import torch

from colorstudio.engine import histogram_edit as he
from colorstudio.engine.composite import composite
from colorstudio.engine.hints import rasterize_hints
from colorstudio.engine.histogram_edit import (
    PAPER_DECODING,
    Decoding,
    quantile_match_transfer,
    reference_histograms,
    uncertainty_map,
)
from colorstudio.engine.limits import MAX_SAMPLES, MAX_SEED
from colorstudio.errors import CancelledError, ColorStudioError
from colorstudio.io.maps import upsample_map

__all__ = [
    "MAX_SAMPLES",
    "MAX_SEED",
    "Progress",
    "Cancel",
    "HistogramPrediction",
    "Prediction",
    "Capabilities",
    "Colorizer",
    "ColorizeRequest",
    "ColorizeResult",
    "EditSettings",
    "EditWarmStart",
    "EditedChroma",
    "apply_edits",
    "composite_with_edits",
    "NetworkColorizer",
    "single_sample_message",
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
    """Per-cell distributions of the histogram model: hue and chroma, each (K, h, w) summing to 1 over K,
    and the decoding its card chose (every edit decodes the same way)."""

    hue: np.ndarray
    chroma: np.ndarray
    decoding: Decoding = PAPER_DECODING


@dataclass
class Prediction:
    """What a colorizer returns at its working resolution."""

    ab_samples: list[np.ndarray]  # each (h, w, 2) Lab a*, b*
    seeds: list[int]
    work_size: tuple[int, int]  # (w, h) of the L the model saw
    histograms: HistogramPrediction | None = None


@dataclass(frozen=True)
class Capabilities:
    """What a family's colorizer can do; the CLI and the GUI read this instead of knowing families.

    ``samples``: different samples per seed, so seeds, N and the temperature apply (else one deterministic
    prediction). ``histograms``: per-cell hue/chroma distributions, which the uncertainty map, hue bias,
    energy-minimization reference transfer and suggested colours work on. ``hints``: honours colour hints.
    ``likelihood``: exact bits/dim (``colorizer.bits_per_dim(dataset)``).
    """

    samples: bool = False
    histograms: bool = False
    hints: bool = True
    likelihood: bool = False

    @property
    def uncertainty(self) -> bool:
        return self.histograms

    @property
    def hue_bias(self) -> bool:
        return self.histograms

    @property
    def reference_methods(self) -> tuple[str, ...]:
        """The reference-transfer methods this model can use, its default first."""
        return ("energy", "quantile") if self.histograms else ("quantile",)


class Colorizer(Protocol):
    """A trained model ready to predict; each family's colorizer class builds one (see colorstudio.families)."""

    name: str
    card: dict
    capabilities: Capabilities

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
        sampler: str = "fast",
        progress: Progress | None = None,
        cancel: Cancel | None = None,
    ) -> Prediction: ...


def single_sample_message(model: str) -> str:
    """Why a model without samples refuses N > 1 (one wording for every front end)."""
    return (f"model {model!r} gives one colorization per image; for several samples use a model that draws "
            "them (see `colorstudio models`)")


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


class NetworkColorizer:
    """What the colorizers wrapping one trained network share: its name, card and device, and a working
    size whose long side is the card's ``working_resolution`` (else ``default_long_side``), rounded to
    ``working_multiple`` (a chroma grid's stride)."""

    capabilities = Capabilities()
    default_long_side = 256
    working_multiple = 1

    def __init__(self, name: str, network: torch.nn.Module, card: dict, device: torch.device) -> None:
        self.name = name
        self.network = network.eval()
        self.card = card
        self.device = device
        self.long_side = int(card.get("working_resolution") or self.default_long_side)

    def working_size(self, source_size: tuple[int, int]) -> tuple[int, int]:
        return fit_working_size(source_size, self.long_side, multiple=self.working_multiple)


@dataclass(frozen=True)
class ColorizeRequest:
    """Everything that determines a result; the same request gives the same bytes."""

    model: str = ""  # the model's name, as listed by `colorstudio models`
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
        # Written as "not (good)" so that NaN, which fails every comparison, is refused too.
        if isinstance(self.samples, bool) or not isinstance(self.samples, int) or not 1 <= self.samples <= MAX_SAMPLES:
            raise ColorStudioError(f"--samples must be an integer from 1 to {MAX_SAMPLES}, got {self.samples}")
        last_seed = MAX_SEED - self.samples + 1
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= last_seed:
            raise ColorStudioError(f"--seed must be an integer from 0 to {last_seed}, got {self.seed}")
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise ColorStudioError(f"--temperature must be a positive finite number, got {self.temperature}")
        if self.reference_method not in ("energy", "quantile"):
            raise ColorStudioError(f"unknown reference method {self.reference_method!r} (energy or quantile)")
        if not 0.0 <= self.hue_strength <= 10.0:
            raise ColorStudioError(f"--hue-strength must be in [0, 10], got {self.hue_strength}")
        if self.hue_shift_deg is not None and not math.isfinite(self.hue_shift_deg):
            raise ColorStudioError(f"--hue-shift must be a finite angle in degrees, got {self.hue_shift_deg}")
        if not (math.isfinite(self.reference_strength) and self.reference_strength >= 0):
            raise ColorStudioError(f"--reference-strength must be a finite number >= 0, got {self.reference_strength}")
        if self.sampler not in ("fast", "naive"):
            raise ColorStudioError(f"unknown sampler {self.sampler!r} (fast or naive)")

    @property
    def edit_settings(self) -> EditSettings:
        return EditSettings(
            hue_shift_deg=self.hue_shift_deg, hue_strength=self.hue_strength,
            reference_strength=self.reference_strength, reference_method=self.reference_method,
        )


@dataclass
class ColorizeResult:
    rgb_samples: list[np.ndarray]  # each (H, W, 3) float32 sRGB in [0, 1] at full source resolution
    seeds: list[int]
    uncertainty: np.ndarray | None  # (H, W) in [0, 1], histogram models only
    prediction: Prediction
    edited_ab: list[np.ndarray] = field(default_factory=list)  # (h, w, 2) after hue/reference edits


# --------------------------------------------------------------------------------------------------
# Edits: the one path shared by the CLI (colorize_source), the GUI preview and the GUI export (jobs.py)


@dataclass(frozen=True)
class EditSettings:
    """The colour edits applied after prediction, in this order (Larsson et al. 2016):

    1. energy-minimization reference transfer (eq. 6) with ``lambda = reference_strength`` >= 0, on the
       hue/chroma histograms (``reference_method == "energy"``; histogram models only);
    2. hue bias toward ``hue_shift_deg`` (Lab hue, degrees; None = off) with ``hue_strength`` in [0, 10];
    3. decode to a*b*, composite with the full-resolution L*;
    4. quantile-matching reference transfer (sec. 3.4) with ``min(reference_strength, 1)`` on the
       composited sRGB (``reference_method == "quantile"``; any model).

    A strength of 0 turns its edit off. :class:`ColorizeRequest` and ``jobs.Edits`` both turn into this.
    """

    hue_shift_deg: float | None = None
    hue_strength: float = 1.0
    reference_strength: float = 1.0
    reference_method: str = "energy"

    @property
    def hue_active(self) -> bool:
        return self.hue_shift_deg is not None and self.hue_strength > 0.0

    def energy_active(self, has_reference: bool) -> bool:
        return has_reference and self.reference_method == "energy" and self.reference_strength > 0.0

    def quantile_active(self, has_reference: bool) -> bool:
        return has_reference and self.reference_method == "quantile" and self.reference_strength > 0.0

    def needs_histograms(self, has_reference: bool) -> bool:
        return self.hue_active or self.energy_active(has_reference)


@dataclass(frozen=True)
class EditWarmStart:
    """Solver state that :func:`apply_edits` hands back for the next call on the same prediction.

    Valid for one (histograms, reference) pair: ``histograms`` is matched by identity (a new prediction
    is a new object), the reference by its histogram values. Any other pair starts cold.
    """

    histograms: HistogramPrediction
    reference: tuple[np.ndarray, np.ndarray]  # (hue, chroma) target histograms, each (K,)
    transfer: Any  # histogram_edit.ReferenceTransfer built on ``histograms`` and ``reference``
    solution: Any  # histogram_edit.TransferSolution of the last call

    def matches(self, histograms: HistogramPrediction, reference: tuple[np.ndarray, np.ndarray]) -> bool:
        return self.histograms is histograms and all(
            mine is theirs or np.array_equal(mine, theirs) for mine, theirs in zip(self.reference, reference, strict=True)
        )


class EditedChroma(NamedTuple):
    """What :func:`apply_edits` returns: a*b* samples and the warm start for the next call (or None)."""

    ab_samples: list[np.ndarray]  # each (h, w, 2) float32
    warm: EditWarmStart | None


def apply_edits(
    ab_samples: Sequence[np.ndarray],
    histograms: HistogramPrediction | None,
    settings: EditSettings,
    reference: tuple[np.ndarray, np.ndarray] | None = None,
    warm: EditWarmStart | None = None,
) -> EditedChroma:
    """Steps 1-2 of :class:`EditSettings` on one prediction, then decode: the chroma to composite.

    Args:
        ab_samples: the prediction's own a*b* samples, each (h, w, 2); returned unchanged (as float32)
            when no histogram edit is active.
        histograms: the prediction's hue/chroma distributions (K, h, w) (histogram models), else None.
        settings: which edits, how strong.
        reference: the reference image's (hue, chroma) histograms, each (K,) (e.g.
            ``histogram_edit.reference_histograms(rgb)``), or None for no reference.
        warm: the ``warm`` of the previous call (a slider drag), or None for a cold solve from b = 0.

    Returns:
        ``EditedChroma(ab_samples, warm)``. With a histogram edit active: one (h, w, 2) float32 a*b*
        decoded from the edited distributions (a histogram model predicts one distribution, not samples).
        ``warm`` is this call's solver state, or the one passed in when this call solved nothing (e.g.
        the strength slider at 0), so a drag through 0 keeps it.

    Warm and cold agree: eq. 6 is solved by damped Newton to a decrement below 1e-7 either way, so a
    warm-started preview and a cold solve land on the same minimum; the decoded a*b* differ by float
    noise (at most 0.012 a*b* units on the benchmark inputs, against ~0.4 for one 8-bit sRGB step;
    tests/engine/test_apply_edits.py bounds it at 0.05). Exports, the CLI and reopened sessions pass no
    ``warm`` and so always solve cold: they are reproducible, and match the preview to that tolerance.
    """
    ab_samples = [np.asarray(ab, dtype=np.float32) for ab in ab_samples]
    has_reference = reference is not None
    if not settings.needs_histograms(has_reference):
        return EditedChroma(ab_samples, warm)
    if histograms is None:
        raise ColorStudioError(
            "hue shift and energy-minimization reference transfer need a model that predicts colour "
            "histograms (e.g. 'histogram'); use the quantile reference method with this model"
        )

    new_warm = warm
    if reference is not None and settings.energy_active(has_reference):
        target = (np.asarray(reference[0]), np.asarray(reference[1]))
        if warm is not None and warm.matches(histograms, target):
            transfer, start = warm.transfer, warm.solution
        else:
            transfer, start = he.ReferenceTransfer(histograms.hue, histograms.chroma, target), None  # b = 0
        if not settings.hue_active:
            # The slider's fast path: decode straight from the biased distributions.
            ab, solution = transfer.apply_ab(settings.reference_strength, start, histograms.decoding)
            return EditedChroma([ab], EditWarmStart(histograms, target, transfer, solution))
        hue, chroma, solution = transfer.apply(settings.reference_strength, start)
        new_warm = EditWarmStart(histograms, target, transfer, solution)
    else:
        hue, chroma = histograms.hue, histograms.chroma
    if settings.hue_active and settings.hue_shift_deg is not None:
        hue = he.hue_bias(hue, settings.hue_shift_deg, settings.hue_strength)
    ab = he.decode_ab(hue, chroma, decoding=histograms.decoding)
    return EditedChroma([np.asarray(ab, dtype=np.float32)], new_warm)


def composite_with_edits(
    lightness: np.ndarray,
    ab: np.ndarray,
    settings: EditSettings,
    reference_rgb: np.ndarray | None = None,
    *,
    cancel: Cancel | None = None,
) -> np.ndarray:
    """Steps 3-4 of :class:`EditSettings`: chroma (h, w, 2) onto L* (H, W) -> sRGB (H, W, 3) float32 in [0, 1]."""

    rgb = composite(lightness, ab, cancel=cancel)
    if settings.quantile_active(reference_rgb is not None):
        rgb = quantile_match_transfer(rgb, reference_rgb, min(settings.reference_strength, 1.0))
    return rgb


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
        temperature=request.temperature, sampler=request.sampler, progress=predict_progress, cancel=cancel,
    )
    # Asked for at all (even at strength 0): a model without histograms is refused up front.
    asks_histograms = request.hue_shift_deg is not None or (reference_rgb is not None and request.reference_method == "energy")
    if asks_histograms and pred.histograms is None:
        what = "hue shift" if request.hue_shift_deg is not None else "energy-minimization reference transfer"
        raise ColorStudioError(
            f"{what} needs a model that predicts colour histograms (e.g. 'histogram'); "
            f"model {colorizer.name!r} does not (use --reference with the quantile method instead)"
        )
    settings = request.edit_settings
    reference_hists = None
    if settings.energy_active(reference_rgb is not None):
        reference_hists = reference_histograms(reference_rgb)
    ab_list = apply_edits(pred.ab_samples, pred.histograms, settings, reference_hists).ab_samples

    rgb_samples = []
    for index, ab in enumerate(ab_list):
        check_cancel(cancel)
        _report(progress, 0.6 + 0.35 * index / len(ab_list), f"compositing sample {index + 1}/{len(ab_list)}")
        rgb_samples.append(composite_with_edits(lightness_full, ab, settings, reference_rgb, cancel=cancel))

    uncertainty = None
    if pred.histograms is not None:
        # Bicubic: the histogram grid is coarse (e.g. 32x32), and bilinear shows its cells as facets.
        uncertainty = upsample_map(uncertainty_map(pred.histograms.hue, pred.histograms.chroma), (width, height))
    _report(progress, 1.0, "done")
    seeds = pred.seeds if len(pred.seeds) == len(rgb_samples) else pred.seeds[: len(rgb_samples)]
    return ColorizeResult(rgb_samples=rgb_samples, seeds=seeds, uncertainty=uncertainty, prediction=pred, edited_ab=ab_list)


def resize_hint_channels(hint_ab: np.ndarray, hint_mask: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Bring full-resolution hint channels (2,H,W)/(1,H,W) to (w, h): a cell is hinted if any of its
    pixels is, with the mean chroma of its hinted pixels."""
    mask: np.ndarray = hint_mask.reshape(hint_mask.shape[-2:]).astype(np.float32)
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
    sampler: str = "fast",
) -> list[np.ndarray]:
    """Colorize from arrays (evaluation path): L* (H,W) and full-resolution hint channels -> sRGB samples."""

    request = ColorizeRequest(model=colorizer.name, samples=samples, seed=seed, temperature=temperature,
                              reference_strength=reference_strength, reference_method=reference_method,
                              sampler=sampler)
    return colorize_source(lightness_full, colorizer, request, reference_rgb=reference_rgb,
                           hint_channels=(hint_ab, hint_mask)).rgb_samples


def sample_suffixes(count: int) -> Sequence[str]:
    """File-name suffixes for N samples: none for one, ``_s0 ... _s{N-1}`` for several (DESIGN.md)."""
    return [""] if count == 1 else [f"_s{i}" for i in range(count)]
