"""The headless colorization pipeline shared by the CLI, the GUI and the evaluation.

One request type (:class:`ColorizeRequest`, each field validated there) and one path: the CLI's
``colorize`` (:func:`colorize_source`) and the GUI's session (``jobs.PredictJob``, ``PreviewJob``,
``ExportJob``) all predict with :func:`predict_samples` and edit and composite with :func:`render`.

Data flows one way: source image -> full-resolution L* -> working-resolution L* (+ hint channels) ->
model prediction (chroma samples, optionally per-pixel hue/chroma histograms) -> edits (hue bias,
reference) -> chroma composited with the ORIGINAL full-resolution L* -> export.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

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
    "ORDERS",
    "REFERENCE_METHODS",
    "SAMPLERS",
    "Progress",
    "Cancel",
    "HistogramPrediction",
    "Prediction",
    "Capabilities",
    "Colorizer",
    "DraftColorizer",
    "NetworkColorizer",
    "HueBias",
    "ReferenceSettings",
    "ColorizeRequest",
    "LoadedReference",
    "Edits",
    "SampleResult",
    "ColorizeResult",
    "EditWarmStart",
    "EditedChroma",
    "Rendered",
    "apply_edits",
    "check_cancel",
    "report_progress",
    "colorize_source",
    "composite_with_edits",
    "edit_sample",
    "fit_working_size",
    "predict_draft",
    "predict_full_resolution",
    "predict_samples",
    "rank_samples",
    "render",
    "resize_hint_channels",
    "resize_lightness",
    "single_sample_message",
    "uncertainty_of",
]

Progress = Callable[[float, str], None]
Cancel = Callable[[], bool]


def check_cancel(cancel: Cancel | None) -> None:
    if cancel is not None and cancel():
        raise CancelledError()


def report_progress(progress: Progress | None, fraction: float, message: str) -> None:
    """Call ``progress`` (when there is one) with ``fraction`` clamped to [0, 1]."""
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
    scores: list[float] | None = None  # per sample, higher = more plausible (models with Capabilities.ranked)


@dataclass(frozen=True)
class Capabilities:
    """What a family's colorizer can do; the CLI and the GUI read this instead of knowing families.

    ``samples``: different samples per seed, so seeds, N and the temperature apply (else one deterministic
    prediction). ``histograms``: per-cell hue/chroma distributions, which the uncertainty map, hue bias,
    energy-minimization reference transfer and suggested colours work on. ``hints``: honours colour hints.
    ``likelihood``: exact bits/dim (``colorizer.bits_per_dim(dataset)``). ``ranked``: each sample comes
    with a plausibility score, and samples are shown and written best first. ``draft``: an instant
    colorization (:class:`DraftColorizer`) to show while the samples are drawn. ``truncation``: the
    sampler takes ``predict(..., truncation=t, min_weight=w)``, outlier removal
    (:attr:`ColorizeRequest.truncation`, :attr:`ColorizeRequest.min_weight`).
    A colorizer instance may declare less than its family (a sampler without a histogram network can
    neither rank nor draft).
    """

    samples: bool = False
    histograms: bool = False
    hints: bool = True
    likelihood: bool = False
    ranked: bool = False
    draft: bool = False
    truncation: bool = False

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


@runtime_checkable
class DraftColorizer(Protocol):
    """A colorizer with a fast first guess (``Capabilities.draft``): one a*b* map for the same inputs as
    :meth:`Colorizer.predict`, shown until the samples arrive."""

    def draft(self, lightness: np.ndarray, hint_ab: np.ndarray, hint_mask: np.ndarray) -> Prediction: ...


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


# --------------------------------------------------------------------------------------------------
# The request: everything that determines a result, each field validated here and nowhere else
# (written as "not (good)" so that NaN, which fails every comparison, is refused too)

REFERENCE_METHODS = ("energy", "quantile")
SAMPLERS = ("fast", "naive")
# "plausibility": samples of a ranking model best first (_s0 = best); "seed": in seed order
ORDERS = ("plausibility", "seed")


@dataclass(frozen=True)
class HueBias:
    """Bias toward the Lab hue ``angle_deg`` (Larsson et al. 2016), not a rotation: uncertain pixels move
    toward it, confident ones barely; ``strength`` in [0, 10], 0 = off. The CLI's ``--hue-shift DEG
    --hue-strength X`` and the GUI's dial and slider are both this."""

    angle_deg: float = 0.0
    strength: float = 0.0

    def __post_init__(self) -> None:
        self.validate()

    @property
    def active(self) -> bool:
        return self.strength > 0.0

    def validate(self) -> None:
        if not math.isfinite(self.angle_deg):
            raise ColorStudioError(f"the hue-bias angle (--hue-shift) must be a finite number of degrees, "
                                   f"got {self.angle_deg}")
        if not 0.0 <= self.strength <= 10.0:
            raise ColorStudioError(f"the hue-bias strength (--hue-strength) must be in [0, 10], got {self.strength}")


@dataclass(frozen=True)
class ReferenceSettings:
    """Reference colour transfer: image ``path`` (None = off) and its ``sha256``, ``strength`` >= 0
    (lambda of Larsson et al. eq. 6 for ``energy``, a blend, capped at 1, for ``quantile``), ``method``."""

    path: str | None = None
    sha256: str | None = None
    strength: float = 1.0
    method: str = "energy"

    def __post_init__(self) -> None:
        self.validate()

    @property
    def active(self) -> bool:
        return self.path is not None and self.strength > 0.0

    def validate(self) -> None:
        if self.method not in REFERENCE_METHODS:
            raise ColorStudioError(f"unknown reference method (--reference-method) {self.method!r} (energy or quantile)")
        if not (math.isfinite(self.strength) and self.strength >= 0):
            raise ColorStudioError(f"the reference strength (--reference-strength) must be a finite number >= 0, "
                                   f"got {self.strength}")


@dataclass(frozen=True)
class ColorizeRequest:
    """What the GUI's session and the CLI both ask of :func:`colorize_source` / :func:`predict_samples`;
    the same request gives the same bytes.

    ``samples`` seeds from ``seed`` (``seed + k`` for sample k), ``temperature`` and ``sampler`` for the
    models that draw samples, ``hints`` in source pixels, the ``hue_bias`` and ``reference`` edits.
    ``order``: ``"plausibility"`` puts the samples of a ranking model best first (each keeps its seed),
    ``"seed"`` keeps seed order. ``truncation`` and ``min_weight``, for the logistic-mixture samplers
    (``Capabilities.truncation``): each logistic is sampled within its central quantiles [t, 1 - t], t in
    [0, 0.5), and mixture components lighter than ``min_weight`` in [0, 1) are dropped; None = the model
    card's choice.
    """

    model: str = ""  # the model's name, as listed by `colorstudio models`
    samples: int = 1
    seed: int = 0
    temperature: float = 1.0
    sampler: str = "fast"
    order: str = "plausibility"
    truncation: float | None = None
    min_weight: float | None = None
    hints: tuple = ()  # tuple[Hint, ...]
    hue_bias: HueBias = HueBias()
    reference: ReferenceSettings = ReferenceSettings()
    device: str = "auto"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if isinstance(self.samples, bool) or not isinstance(self.samples, int) or not 1 <= self.samples <= MAX_SAMPLES:
            raise ColorStudioError(f"the number of samples (--samples) must be an integer from 1 to {MAX_SAMPLES}, "
                                   f"got {self.samples}")
        self.check_seed(self.seed, self.samples)
        self.check_temperature(self.temperature)
        if self.sampler not in SAMPLERS:
            raise ColorStudioError(f"unknown sampler (--sampler) {self.sampler!r} (fast or naive)")
        if self.order not in ORDERS:
            raise ColorStudioError(f"unknown sample order (--order) {self.order!r} ({' or '.join(ORDERS)})")
        for value, what, top in ((self.truncation, "the truncation (--truncation)", 0.5),
                                 (self.min_weight, "the component weight floor (--min-weight)", 1.0)):
            if value is not None and (isinstance(value, bool) or not (isinstance(value, (int, float))
                                                                      and 0.0 <= value < top)):
                raise ColorStudioError(f"{what} must be a number from 0 to below {top:g}, got {value}")

    @staticmethod
    def check_seed(seed: int, samples: int = 1) -> int:
        """``seed`` if it and the ``samples - 1`` seeds after it are valid seeds, else ColorStudioError."""
        last_seed = MAX_SEED - samples + 1
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= last_seed:
            raise ColorStudioError(f"the seed (--seed) must be an integer from 0 to {last_seed}, got {seed}")
        return seed

    @staticmethod
    def check_temperature(temperature: float) -> float:
        """``temperature`` as a float, or ColorStudioError: the one check, which the session's setter uses too."""
        if isinstance(temperature, bool) or not (math.isfinite(temperature) and temperature > 0):
            raise ColorStudioError(f"the temperature (--temperature) must be a positive finite number, got {temperature}")
        return float(temperature)

    @property
    def seeds(self) -> list[int]:
        return [self.seed + k for k in range(self.samples)]

    def edits(self, reference_image: LoadedReference | None = None) -> Edits:
        """The request's edits, with its reference image loaded (:class:`colorstudio.engine.jobs.OpenReferenceJob`)."""
        return Edits(hue_bias=self.hue_bias, reference=self.reference, reference_image=reference_image)


@dataclass(frozen=True)
class LoadedReference:
    """A reference image for colour transfer: small sRGB copy (h, w, 3) and its hue/chroma histograms."""

    path: Path
    sha256: str
    rgb: np.ndarray
    histograms: Any = None  # histogram_edit.reference_histograms(rgb)


@dataclass(frozen=True)
class Edits:
    """The colour edits applied after prediction, in this order (Larsson et al. 2016):

    1. energy-minimization reference transfer (eq. 6) with ``lambda = reference.strength`` >= 0, on the
       hue/chroma histograms (``reference.method == "energy"``; models that predict histograms);
    2. the hue bias, on the hue histograms;
    3. decode to a*b*, composite with the L* (preview or full resolution);
    4. quantile-matching reference transfer (sec. 3.4) with ``min(reference.strength, 1)`` on the
       composited sRGB (``reference.method == "quantile"``; any model).

    A strength of 0 turns its edit off; the reference is on when ``reference.path`` is set and its image
    ``reference_image`` is loaded.
    """

    hue_bias: HueBias = HueBias()
    reference: ReferenceSettings = ReferenceSettings()
    reference_image: LoadedReference | None = None

    @property
    def active_reference(self) -> LoadedReference | None:
        """The loaded reference image when the reference is on, else None."""
        return self.reference_image if self.reference.path is not None else None

    @property
    def reference_on(self) -> bool:
        return self.active_reference is not None

    @property
    def hue_active(self) -> bool:
        return self.hue_bias.active

    @property
    def energy_active(self) -> bool:
        return self.reference_on and self.reference.method == "energy" and self.reference.strength > 0.0

    @property
    def quantile_active(self) -> bool:
        return self.reference_on and self.reference.method == "quantile" and self.reference.strength > 0.0

    @property
    def needs_histograms(self) -> bool:
        return self.hue_active or self.energy_active

    @property
    def reference_histograms(self) -> Any:
        """The reference's (hue, chroma) target histograms for energy transfer, or None."""
        image = self.active_reference
        if image is None:
            return None
        return image.histograms if image.histograms is not None else reference_histograms(image.rgb)

    def fitted(self, histograms: bool) -> Edits:
        """These edits as a prediction with (or without) ``histograms`` can take them: without, no hue bias
        and quantile matching for an energy reference (the settings are kept for a model that has them)."""
        if histograms:
            return self
        reference = self.reference
        if reference.method == "energy":
            reference = replace(reference, method="quantile", strength=min(reference.strength, 1.0))
        return replace(self, hue_bias=replace(self.hue_bias, strength=0.0), reference=reference)


@dataclass(frozen=True)
class SampleResult:
    """One prediction: chroma (h, w, 2) at the working size (w, h), its seed, histograms if any.

    ``score``: its plausibility (ranking models; higher = more plausible), a function of the sample and
    its inputs alone, so it travels with the seed. ``draft``: the conditioner's instant colorization
    (:func:`predict_draft`), shown until the samples arrive; not a sample of any seed.
    """

    seed: int
    ab: np.ndarray
    work_size: tuple[int, int]
    histograms: HistogramPrediction | None = None
    model: str = ""
    seconds: float = 0.0
    score: float | None = None
    draft: bool = False


@dataclass
class ColorizeResult:
    """What :func:`colorize_source` gives: the samples and, per sample, its edited chroma and sRGB."""

    samples: list[SampleResult]
    edited_ab: list[np.ndarray]  # each (h, w, 2) after the histogram edits
    rgb_samples: list[np.ndarray]  # each (H, W, 3) float32 sRGB in [0, 1] at full source resolution
    uncertainty_grid: np.ndarray | None  # (h, w) in [0, 1] on the model's grid; models with histograms only

    @property
    def seeds(self) -> list[int]:
        return [sample.seed for sample in self.samples]

    @property
    def uncertainty(self) -> np.ndarray | None:
        """(H, W) in [0, 1] at full resolution (bicubic: the grid is coarse, and bilinear shows its cells)."""
        if self.uncertainty_grid is None:
            return None
        height, width = self.rgb_samples[0].shape[:2]
        return upsample_map(self.uncertainty_grid, (width, height))


# --------------------------------------------------------------------------------------------------
# The one prediction path: CLI (colorize_source), GUI (jobs.PredictJob, PreviewJob, ExportJob), evaluation


def predict_samples(
    colorizer: Colorizer,
    lightness_full: np.ndarray,
    request: ColorizeRequest,
    seeds: Sequence[int] | None = None,
    *,
    hint_channels: tuple[np.ndarray, np.ndarray] | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    on_sample: Callable[[SampleResult], None] | None = None,
) -> list[SampleResult]:
    """The model's samples for an L* image (H, W): working size, L* resized to it, hints rasterized to it,
    then one prediction per seed (``request.seeds`` unless ``seeds`` are given).

    Hints come from ``request.hints``, or already rasterized at full resolution as ``hint_channels``
    (normalized ab (2, H, W), mask (1, H, W)), as the evaluation sweep makes them. Sample k depends only on
    (model, image, hints, seed k, temperature): consecutive seeds are drawn in one batch unless each sample
    is wanted as it arrives (``on_sample``), and both give the same chroma.
    """
    seeds = request.seeds if seeds is None else [int(seed) for seed in seeds]
    if len(seeds) > 1 and not colorizer.capabilities.samples:
        raise ColorStudioError(single_sample_message(colorizer.name))
    lightness_work, hint_ab, hint_mask = _working_inputs(colorizer, lightness_full, request, hint_channels)
    options = _sampler_options(colorizer, request)
    consecutive = all(b == a + 1 for a, b in zip(seeds, seeds[1:], strict=False))
    groups = [seeds] if on_sample is None and consecutive else [[seed] for seed in seeds]
    results: list[SampleResult] = []
    for group in groups:
        check_cancel(cancel)
        done = len(results)

        def group_progress(fraction: float, message: str, _done: int = done, _n: int = len(group)) -> None:
            report_progress(progress, (_done + fraction * _n) / len(seeds), f"sample {_done + 1}/{len(seeds)}: {message}")

        started = time.perf_counter()
        pred = colorizer.predict(lightness_work, hint_ab, hint_mask, samples=len(group), seed=group[0],
                                 temperature=request.temperature, sampler=request.sampler,
                                 progress=group_progress, cancel=cancel, **options)
        seconds = (time.perf_counter() - started) / len(group)
        for index, ab in enumerate(pred.ab_samples[: len(group)]):
            score = pred.scores[index] if pred.scores is not None and index < len(pred.scores) else None
            sample = SampleResult(seed=int(pred.seeds[index]) if index < len(pred.seeds) else group[index],
                                  ab=np.asarray(ab, np.float32), work_size=(pred.work_size[0], pred.work_size[1]),
                                  histograms=pred.histograms, model=request.model or colorizer.name, seconds=seconds,
                                  score=score)
            results.append(sample)
            if on_sample is not None:
                on_sample(sample)
    return results


def _working_inputs(colorizer: Colorizer, lightness_full: np.ndarray, request: ColorizeRequest,
                    hint_channels: tuple[np.ndarray, np.ndarray] | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """L* (h, w) at the colorizer's working size and the hints rasterized to it ((2, h, w), (1, h, w)):
    from ``request.hints`` in source pixels, or from full-resolution ``hint_channels``."""
    height, width = lightness_full.shape
    work_size = colorizer.working_size((width, height))
    lightness_work = resize_lightness(lightness_full, work_size)
    if hint_channels is None:
        hint_ab, hint_mask = rasterize_hints(list(request.hints), source_size=(width, height), work_size=work_size)
    else:
        hint_ab, hint_mask = resize_hint_channels(*hint_channels, work_size)
    return lightness_work, hint_ab, hint_mask


def _sampler_options(colorizer: Colorizer, request: ColorizeRequest) -> dict[str, Any]:
    """The request's settings that only some samplers take (their capabilities say which)."""
    if colorizer.capabilities.truncation:
        return {"truncation": request.truncation, "min_weight": request.min_weight}
    if request.truncation is not None or request.min_weight is not None:
        raise ColorStudioError(f"model {colorizer.name!r} has no truncation settings (--truncation, --min-weight); "
                               "they are settings of logistic-mixture samplers (see `colorstudio models`)")
    return {}


def rank_samples(samples: Sequence[SampleResult]) -> list[SampleResult]:
    """``samples`` best first: by score, higher first, seed order among equals; unchanged when any sample
    has no score (a model that does not rank)."""
    if any(sample.score is None for sample in samples):
        return list(samples)
    return sorted(samples, key=lambda sample: (-float(sample.score or 0.0), sample.seed))


def predict_draft(colorizer: Colorizer, lightness_full: np.ndarray, request: ColorizeRequest) -> SampleResult | None:
    """The colorizer's instant draft for an L* image (H, W) and ``request.hints`` (``Capabilities.draft``),
    at the working size the samples will have; None for a colorizer without one."""
    if not colorizer.capabilities.draft or not isinstance(colorizer, DraftColorizer):
        return None
    lightness_work, hint_ab, hint_mask = _working_inputs(colorizer, lightness_full, request)
    started = time.perf_counter()
    pred = colorizer.draft(lightness_work, hint_ab, hint_mask)
    return SampleResult(seed=request.seed, ab=np.asarray(pred.ab_samples[0], np.float32), work_size=pred.work_size,
                        model=request.model or colorizer.name, seconds=time.perf_counter() - started, draft=True)


class EditWarmStart(NamedTuple):
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
    edits: Edits,
    warm: EditWarmStart | None = None,
) -> EditedChroma:
    """Steps 1-2 of :class:`Edits` on one prediction, then decode: the chroma to composite.

    Args:
        ab_samples: the prediction's own a*b* samples, each (h, w, 2); returned unchanged (as float32)
            when no histogram edit is active.
        histograms: the prediction's hue/chroma distributions (K, h, w) (histogram models), else None.
        edits: which edits, how strong, and the reference image.
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
    if not edits.needs_histograms:
        return EditedChroma(ab_samples, warm)
    if histograms is None:
        raise ColorStudioError(
            "hue bias and energy-minimization reference transfer need a model that predicts colour histograms "
            "(see `colorstudio models`); use the quantile reference method with this model"
        )
    new_warm = warm
    reference = edits.reference_histograms
    if reference is not None and edits.energy_active:
        target = (np.asarray(reference[0]), np.asarray(reference[1]))
        if warm is not None and warm.matches(histograms, target):
            transfer, start = warm.transfer, warm.solution
        else:
            transfer, start = he.ReferenceTransfer(histograms.hue, histograms.chroma, target), None  # b = 0
        if not edits.hue_active:
            # The slider's fast path: decode straight from the biased distributions.
            ab, solution = transfer.apply_ab(edits.reference.strength, start, histograms.decoding)
            return EditedChroma([ab], EditWarmStart(histograms, target, transfer, solution))
        hue, chroma, solution = transfer.apply(edits.reference.strength, start)
        new_warm = EditWarmStart(histograms, target, transfer, solution)
    else:
        hue, chroma = histograms.hue, histograms.chroma
    if edits.hue_active:
        hue = he.hue_bias(hue, edits.hue_bias.angle_deg, edits.hue_bias.strength)
    ab = he.decode_ab(hue, chroma, decoding=histograms.decoding)
    return EditedChroma([np.asarray(ab, dtype=np.float32)], new_warm)


def edit_sample(sample: SampleResult, edits: Edits, warm: EditWarmStart | None = None
                ) -> tuple[np.ndarray, EditWarmStart | None]:
    """The sample's chroma (h, w, 2) after the histogram edits, and the warm start for the next call.

    ``warm=None`` solves cold (export, the CLI, reopened sessions); a preview passes the previous
    preview's ``warm`` so that a dragged strength slider re-solves in one Newton step.
    """
    ab, new_warm = apply_edits([sample.ab], sample.histograms, edits, warm)
    return ab[0], new_warm


def composite_with_edits(lightness: np.ndarray, ab: np.ndarray, edits: Edits, *, cancel: Cancel | None = None
                         ) -> np.ndarray:
    """Steps 3-4 of :class:`Edits`: chroma (h, w, 2) onto L* (H, W) -> sRGB (H, W, 3) float32 in [0, 1]."""
    rgb = composite(lightness, ab, cancel=cancel)
    image = edits.active_reference
    if image is not None and edits.quantile_active:
        rgb = quantile_match_transfer(rgb, image.rgb, min(edits.reference.strength, 1.0))
    return rgb


class Rendered(NamedTuple):
    """What :func:`render` returns: sRGB (H, W, 3), the edited chroma (h, w, 2), the warm start."""

    rgb: np.ndarray
    ab: np.ndarray
    warm: EditWarmStart | None


def render(lightness: np.ndarray, sample: SampleResult, edits: Edits, *, warm: EditWarmStart | None = None,
           cancel: Cancel | None = None) -> Rendered:
    """One sample with its edits onto ``lightness`` (the preview's or the full-resolution L*)."""
    ab, new_warm = edit_sample(sample, edits, warm)
    check_cancel(cancel)
    return Rendered(composite_with_edits(lightness, ab, edits, cancel=cancel), ab, new_warm)


def uncertainty_of(histograms: HistogramPrediction | None) -> np.ndarray | None:
    """(h, w) uncertainty in [0, 1] (entropy of hue x chroma), or None for models without histograms."""
    if histograms is None:
        return None
    return np.asarray(uncertainty_map(histograms.hue, histograms.chroma), np.float32)


def colorize_source(
    lightness_full: np.ndarray,
    colorizer: Colorizer,
    request: ColorizeRequest,
    *,
    reference: LoadedReference | None = None,
    hint_channels: tuple[np.ndarray, np.ndarray] | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> ColorizeResult:
    """Colorize one image given its full-resolution L* (H, W): :func:`predict_samples`, then :func:`render`
    each sample at full resolution, as the GUI's export does. ``reference`` is the request's reference
    image, loaded (:class:`colorstudio.engine.jobs.OpenReferenceJob`)."""
    edits = request.edits(reference)
    if edits.needs_histograms and not colorizer.capabilities.histograms:
        raise ColorStudioError(
            f"model {colorizer.name!r} predicts no colour histograms, which hue bias and energy-minimization "
            "reference transfer need; use the quantile reference method with it")

    def predict_progress(fraction: float, message: str) -> None:
        report_progress(progress, 0.6 * fraction, message)

    samples = predict_samples(colorizer, lightness_full, request, hint_channels=hint_channels,
                              progress=predict_progress, cancel=cancel)
    if request.order == "plausibility":
        samples = rank_samples(samples)
    edited, rgb_samples = [], []
    for index, sample in enumerate(samples):
        report_progress(progress, 0.6 + 0.35 * index / len(samples), f"compositing sample {index + 1}/{len(samples)}")
        rendered = render(lightness_full, sample, edits, cancel=cancel)
        edited.append(rendered.ab)
        rgb_samples.append(rendered.rgb)
    report_progress(progress, 1.0, "done")
    return ColorizeResult(samples=samples, edited_ab=edited, rgb_samples=rgb_samples,
                          uncertainty_grid=uncertainty_of(samples[0].histograms))


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
    order: str = "plausibility",
    truncation: float | None = None,
    min_weight: float | None = None,
) -> list[np.ndarray]:
    """Colorize from arrays (evaluation path): L* (H,W) and full-resolution hint channels -> sRGB samples
    (in ``order``, as ``colorize`` writes them); ``reference_rgb`` is used as given (the evaluation's ground
    truth as its own reference)."""
    reference = None
    if reference_rgb is not None:
        reference = LoadedReference(path=Path("reference"), sha256="", rgb=reference_rgb,
                                    histograms=reference_histograms(reference_rgb))
    request = ColorizeRequest(
        model=colorizer.name, samples=samples, seed=seed, temperature=temperature, sampler=sampler, order=order,
        truncation=truncation, min_weight=min_weight,
        reference=ReferenceSettings(path=None if reference is None else str(reference.path),
                                    strength=reference_strength, method=reference_method))
    return colorize_source(lightness_full, colorizer, request, reference=reference,
                           hint_channels=(hint_ab, hint_mask)).rgb_samples


def sample_suffixes(count: int) -> Sequence[str]:
    """File-name suffixes for N samples: none for one, ``_s0 ... _s{N-1}`` for several (DESIGN.md)."""
    return [""] if count == 1 else [f"_s{i}" for i in range(count)]
