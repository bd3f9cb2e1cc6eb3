"""Long work as Qt-free jobs: validate the request up front, then ``run(request, progress, cancel)``.

A job holds no session state; its request is an immutable snapshot taken on the caller's thread and its
result is plain data handed back to the caller (the GUI wraps a job in a worker thread and applies the
result in a GUI-thread slot; the CLI and the tests call ``run`` directly). The same functions produce
the preview and the export, so what the user sees at 512 px is what they get at full resolution.

Shapes: ``lightness`` (H, W) L* in [0, 100]; ``ab`` (h, w, 2) Lab a*, b* at the model's working
resolution; ``rgb`` (H, W, 3) float32 sRGB in [0, 1].
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from colorstudio.engine.hints import rasterize_hints
from colorstudio.engine.histogram_edit import reference_histograms, uncertainty_map
from colorstudio.engine.limits import MAX_SEED
from colorstudio.engine.pipeline import (
    Cancel,
    Colorizer,
    EditSettings,
    HistogramPrediction,
    Progress,
    apply_edits,
    check_cancel,
    composite_with_edits,
    fit_working_size,
    resize_lightness,
)
from colorstudio.errors import ColorStudioError
from colorstudio.io import load_image, luminance, save_image, save_uncertainty_map

__all__ = [
    "ColorizerCache",
    "Edits",
    "ExportJob",
    "ExportRequest",
    "ExportSettings",
    "HueBias",
    "LoadedImage",
    "LoadedReference",
    "OpenImageJob",
    "OpenReferenceJob",
    "PredictJob",
    "PredictRequest",
    "PreviewJob",
    "PreviewRequest",
    "PreviewResult",
    "ReferenceSettings",
    "SampleResult",
    "edit_sample",
    "export_targets",
    "finish_rgb",
    "preview_size",
    "uncertainty_of",
]

PREVIEW_LONG_SIDE = 512
REFERENCE_LONG_SIDE = 256  # a palette needs no detail; small keeps histogram fitting fast
REFERENCE_METHODS = ("energy", "quantile")
EXPORT_FORMATS = ("png", "tiff")
FORMAT_SUFFIX = {"png": ".png", "tiff": ".tiff"}


def _report(progress: Progress | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(float(min(max(fraction, 0.0), 1.0)), message)


def preview_size(source_size: tuple[int, int], long_side: int = PREVIEW_LONG_SIDE) -> tuple[int, int]:
    """(w, h) of the interactive preview: the source scaled so its long side is at most ``long_side``."""
    return fit_working_size(source_size, long_side)


# --------------------------------------------------------------------------------------------------
# Settings (frozen: a session swaps whole values, which makes undo and change events trivial)


@dataclass(frozen=True)
class HueBias:
    """Bias toward the Lab hue ``angle_deg`` in [0, 360) (Larsson et al. 2016), not a rotation: uncertain
    pixels move toward it, confident ones barely; ``strength`` in [0, 1], 0 = off."""

    angle_deg: float = 0.0
    strength: float = 0.0

    @property
    def active(self) -> bool:
        return self.strength > 0.0

    def validate(self) -> None:
        if not 0.0 <= self.strength <= 10.0:
            raise ColorStudioError(f"hue-bias strength must be in [0, 10], got {self.strength}")
        if not math.isfinite(self.angle_deg):
            raise ColorStudioError(f"hue-bias angle must be a finite number of degrees, got {self.angle_deg}")


@dataclass(frozen=True)
class ReferenceSettings:
    """Reference colour transfer: image path (None = off), ``strength`` >= 0, ``method`` energy|quantile."""

    path: str | None = None
    sha256: str | None = None
    strength: float = 1.0
    method: str = "energy"

    @property
    def active(self) -> bool:
        return self.path is not None and self.strength > 0.0

    def validate(self) -> None:
        if self.method not in REFERENCE_METHODS:
            raise ColorStudioError(f"unknown reference method {self.method!r} (energy or quantile)")
        if not (math.isfinite(self.strength) and self.strength >= 0):  # NaN fails every comparison
            raise ColorStudioError(f"reference strength must be a finite number >= 0, got {self.strength}")


@dataclass(frozen=True)
class ExportSettings:
    """How results are written: ``fmt`` png|tiff, ``bit_depth`` 8|16, extra outputs."""

    fmt: str = "png"
    bit_depth: int = 8
    all_samples: bool = False
    uncertainty: bool = False

    def validate(self) -> None:
        if self.fmt not in EXPORT_FORMATS:
            raise ColorStudioError(f"unknown export format {self.fmt!r} (png or tiff)")
        if self.bit_depth not in (8, 16):
            raise ColorStudioError(f"bit depth must be 8 or 16, got {self.bit_depth}")


@dataclass(frozen=True)
class LoadedReference:
    """A reference image for colour transfer: small sRGB copy (h, w, 3) and its hue/chroma histograms."""

    path: Path
    sha256: str
    rgb: np.ndarray
    histograms: Any = None  # histogram_edit.reference_histograms(rgb), when that module is installed


@dataclass(frozen=True)
class Edits:
    """Everything applied after prediction, in the pipeline's order (see pipeline.EditSettings):
    reference (energy), hue bias, composite, reference (quantile)."""

    hue_bias: HueBias = HueBias()
    reference: ReferenceSettings = ReferenceSettings()
    reference_image: LoadedReference | None = None

    @property
    def settings(self) -> EditSettings:
        return EditSettings(
            hue_shift_deg=self.hue_bias.angle_deg, hue_strength=self.hue_bias.strength,
            reference_strength=self.reference.strength, reference_method=self.reference.method,
        )

    @property
    def active_reference(self) -> LoadedReference | None:
        """The loaded reference image when the reference is on, else None."""
        return self.reference_image if self.reference.path is not None else None

    @property
    def reference_on(self) -> bool:
        return self.active_reference is not None

    @property
    def needs_histograms(self) -> bool:
        return self.settings.needs_histograms(self.reference_on)

    @property
    def reference_histograms(self) -> Any:
        """The reference's (hue, chroma) target histograms for energy transfer, or None."""
        image = self.active_reference
        if image is None:
            return None
        if image.histograms is not None:
            return image.histograms

        return reference_histograms(image.rgb)


# --------------------------------------------------------------------------------------------------
# Edits: shared by preview and export, and with the CLI (pipeline.apply_edits)


def edit_sample(sample: SampleResult, edits: Edits, warm: Any = None) -> tuple[np.ndarray, Any]:
    """The sample's chroma (h, w, 2) after the histogram edits, and the warm start for the next call.

    ``warm=None`` solves cold (export, reopened sessions); a preview passes the previous preview's
    ``warm`` so that a dragged strength slider re-solves in one Newton step.
    """
    ab, new_warm = apply_edits([sample.ab], sample.histograms, edits.settings, edits.reference_histograms, warm)
    return ab[0], new_warm


def finish_rgb(
    lightness: np.ndarray, ab: np.ndarray, edits: Edits, *, cancel: Cancel | None = None
) -> np.ndarray:
    """Composite chroma (h, w, 2) with ``lightness`` (H, W) into sRGB (H, W, 3), then quantile transfer."""
    image = edits.active_reference
    reference_rgb = None if image is None else image.rgb
    return composite_with_edits(lightness, ab, edits.settings, reference_rgb, cancel=cancel)


def uncertainty_of(histograms: HistogramPrediction | None) -> np.ndarray | None:
    """(h, w) uncertainty in [0, 1] (entropy of hue x chroma), or None for models without histograms."""
    if histograms is None:
        return None

    return np.asarray(uncertainty_map(histograms.hue, histograms.chroma), np.float32)


# --------------------------------------------------------------------------------------------------
# Model loading


class ColorizerCache:
    """Loads each (model, device) once with ``loader`` (a catalog's, or a test's fake); thread-safe, so workers
    can load while the GUI keeps running."""

    def __init__(self, loader: Callable[[str, torch.device], Colorizer]) -> None:
        self._loader = loader
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], Colorizer] = {}

    def get(self, name: str, device: torch.device) -> Colorizer:
        key = (name, str(device))
        with self._lock:
            if key not in self._cache:
                self._cache[key] = self._loader(name, device)
            return self._cache[key]

    def cached(self, name: str, device: torch.device) -> Colorizer | None:
        with self._lock:
            return self._cache.get((name, str(device)))


# --------------------------------------------------------------------------------------------------
# Opening files


@dataclass(frozen=True)
class LoadedImage:
    """A source opened for editing: the SourceImage, its full-resolution L* (H, W), preview L* (h', w')."""

    source: Any  # colorstudio.io.SourceImage
    lightness: np.ndarray
    preview_lightness: np.ndarray

    @property
    def size(self) -> tuple[int, int]:
        return self.source.size


class OpenImageJob:
    """Read an image file and compute its luminance (full and preview resolution)."""

    name = "open image"

    def validate(self, path: Path) -> None:
        if not Path(path).exists():
            raise ColorStudioError("no such file", path)

    def run(self, path: Path, progress: Progress | None = None, cancel: Cancel | None = None) -> LoadedImage:
        self.validate(path)
        _report(progress, 0.0, f"reading {Path(path).name}")
        source = load_image(Path(path))
        check_cancel(cancel)
        lightness = np.asarray(luminance(source), np.float32)
        preview = resize_lightness(lightness, preview_size(source.size))
        _report(progress, 1.0, "opened")
        return LoadedImage(source=source, lightness=lightness, preview_lightness=preview)


class OpenReferenceJob:
    """Read a reference image, shrink it and (with the histogram editing module) compute its histograms."""

    name = "open reference"

    def validate(self, path: Path) -> None:
        if not Path(path).exists():
            raise ColorStudioError("no such file", path)

    def run(self, path: Path, progress: Progress | None = None, cancel: Cancel | None = None) -> LoadedReference:
        import cv2


        self.validate(path)
        source = load_image(Path(path))
        w, h = fit_working_size(source.size, REFERENCE_LONG_SIDE)
        rgb = source.rgb if (w, h) == source.size else cv2.resize(source.rgb, (w, h), interpolation=cv2.INTER_AREA)
        rgb = np.clip(rgb, 0.0, 1.0).astype(np.float32)
        check_cancel(cancel)

        histograms = reference_histograms(rgb)
        return LoadedReference(path=Path(path), sha256=source.sha256, rgb=rgb, histograms=histograms)


# --------------------------------------------------------------------------------------------------
# Prediction


@dataclass(frozen=True)
class SampleResult:
    """One prediction: chroma (h, w, 2) at the working size (w, h), its seed, histograms if any."""

    seed: int
    ab: np.ndarray
    work_size: tuple[int, int]
    histograms: HistogramPrediction | None = None
    model: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class PredictRequest:
    """Snapshot for :class:`PredictJob`: ``lightness`` (H, W) full resolution, hints in source pixels."""

    model: str
    device: torch.device
    lightness: np.ndarray
    hints: tuple = ()
    seeds: tuple[int, ...] = (0,)
    temperature: float = 1.0
    revision: int = 0


class PredictJob:
    """Run a colorizer once per seed, so samples can be shown as they arrive.

    Sample k of a request depends only on (model, image, hints, seed_k, temperature): predicting one
    seed alone gives the same chroma as predicting it among others, which is what lets a session file
    store seeds instead of pixels.
    """

    name = "colorize"

    def __init__(self, colorizers: ColorizerCache) -> None:
        self.colorizers = colorizers

    def validate(self, request: PredictRequest) -> None:
        if request.lightness is None or request.lightness.ndim != 2:
            raise ColorStudioError("open an image before colorizing")
        if not request.seeds:
            raise ColorStudioError("nothing to colorize: the number of samples must be at least 1")
        if not (math.isfinite(request.temperature) and request.temperature > 0):
            raise ColorStudioError(f"temperature must be a positive finite number, got {request.temperature}")
        if not all(0 <= seed <= MAX_SEED for seed in request.seeds):
            raise ColorStudioError(f"seeds must be integers from 0 to {MAX_SEED}")

    def run(
        self,
        request: PredictRequest,
        progress: Progress | None = None,
        cancel: Cancel | None = None,
        on_sample: Callable[[SampleResult], None] | None = None,
    ) -> list[SampleResult]:

        self.validate(request)
        _report(progress, 0.0, f"loading model {request.model}")
        colorizer = self.colorizers.get(request.model, request.device)
        check_cancel(cancel)
        height, width = request.lightness.shape
        work_w, work_h = colorizer.working_size((width, height))
        work_size = (work_w, work_h)
        lightness_work = resize_lightness(request.lightness, work_size)
        hint_ab, hint_mask = rasterize_hints(list(request.hints), source_size=(width, height), work_size=work_size)
        results: list[SampleResult] = []
        count = len(request.seeds)
        for index, seed in enumerate(request.seeds):
            check_cancel(cancel)

            def sample_progress(fraction: float, message: str, _i: int = index) -> None:
                _report(progress, (_i + fraction) / count, f"sample {_i + 1}/{count}: {message}")

            started = time.perf_counter()
            pred = colorizer.predict(
                lightness_work, hint_ab, hint_mask, samples=1, seed=int(seed),
                temperature=request.temperature, progress=sample_progress, cancel=cancel,
            )
            sample = SampleResult(
                seed=int(pred.seeds[0]) if pred.seeds else int(seed),
                ab=np.asarray(pred.ab_samples[0], np.float32),
                work_size=(pred.work_size[0], pred.work_size[1]),
                histograms=pred.histograms,
                model=request.model,
                seconds=time.perf_counter() - started,
            )
            results.append(sample)
            if on_sample is not None:
                on_sample(sample)
        _report(progress, 1.0, "colorized")
        return results


# --------------------------------------------------------------------------------------------------
# Preview


@dataclass(frozen=True)
class PreviewRequest:
    """Snapshot for :class:`PreviewJob`: preview L* (h', w'), the chosen sample, the edits."""

    lightness: np.ndarray
    sample: SampleResult
    edits: Edits = Edits()
    warm: Any = None
    revision: int = 0


@dataclass(frozen=True)
class PreviewResult:
    """Preview sRGB (h', w', 3), edited chroma (h, w, 2), uncertainty (h, w) or None."""

    rgb: np.ndarray
    ab: np.ndarray
    uncertainty: np.ndarray | None
    seed: int
    revision: int
    seconds: float
    warm: Any = None


class PreviewJob:
    """Apply the edits to the chosen sample and composite at preview resolution."""

    name = "preview"

    def validate(self, request: PreviewRequest) -> None:
        request.edits.hue_bias.validate()
        request.edits.reference.validate()

    def run(self, request: PreviewRequest, progress: Progress | None = None, cancel: Cancel | None = None) -> PreviewResult:
        self.validate(request)
        started = time.perf_counter()
        ab, warm = edit_sample(request.sample, request.edits, request.warm)
        check_cancel(cancel)
        rgb = finish_rgb(request.lightness, ab, request.edits, cancel=cancel)
        return PreviewResult(
            rgb=rgb, ab=ab, uncertainty=uncertainty_of(request.sample.histograms), seed=request.sample.seed,
            revision=request.revision, seconds=time.perf_counter() - started, warm=warm,
        )


# --------------------------------------------------------------------------------------------------
# Export


@dataclass(frozen=True)
class ExportRequest:
    """Snapshot for :class:`ExportJob`. ``samples[chosen]`` is the result; ``target`` its file."""

    target: Path
    source_path: Path
    lightness: np.ndarray
    samples: tuple[SampleResult, ...]
    chosen: int
    edits: Edits = Edits()
    settings: ExportSettings = ExportSettings()
    icc_profile: bytes | None = None


def export_targets(target: Path, settings: ExportSettings, seeds: Sequence[int]) -> list[Path]:
    """The result at ``target``; with all samples, ``<stem>_s<k>`` for every sample besides it."""
    target = Path(target)
    suffix = FORMAT_SUFFIX[settings.fmt]
    allowed = (".png",) if settings.fmt == "png" else (".tif", ".tiff")
    if target.suffix.lower() not in allowed:
        target = target.with_suffix(suffix)
    if not settings.all_samples:
        return [target]
    return [target] + [target.with_name(f"{target.stem}_s{k}{target.suffix}") for k in range(len(seeds))]


class ExportJob:
    """Composite at full resolution with the original L* and write PNG/TIFF (never over the source)."""

    name = "export"

    def validate(self, request: ExportRequest) -> None:
        request.settings.validate()
        if not request.samples or not 0 <= request.chosen < len(request.samples):
            raise ColorStudioError("nothing to export yet: colorize the image first")
        if any(s is None for s in request.samples):
            raise ColorStudioError("samples are still being computed; export when they have arrived")
        targets = export_targets(request.target, request.settings, [s.seed for s in request.samples])
        source = Path(request.source_path).resolve()
        for target in targets:
            if Path(target).resolve() == source:
                raise ColorStudioError("refusing to overwrite the source image; choose another file name", target)
            if not Path(target).parent.is_dir():
                raise ColorStudioError("the folder does not exist", Path(target).parent)

    def run(self, request: ExportRequest, progress: Progress | None = None, cancel: Cancel | None = None) -> list[Path]:
        self.validate(request)
        settings = request.settings
        targets = export_targets(request.target, settings, [s.seed for s in request.samples])
        jobs: list[tuple[Path, SampleResult]] = [(targets[0], request.samples[request.chosen])]
        if settings.all_samples:
            jobs += list(zip(targets[1:], request.samples, strict=True))
        written: list[Path] = []
        steps = len(jobs) + int(settings.uncertainty)
        for index, (target, sample) in enumerate(jobs):
            _report(progress, index / steps, f"compositing {target.name} at full resolution")
            ab, _ = edit_sample(sample, request.edits)
            rgb = finish_rgb(request.lightness, ab, request.edits, cancel=cancel)
            check_cancel(cancel)
            _report(progress, (index + 0.7) / steps, f"writing {target.name}")
            written.append(Path(save_image(
                target, rgb, bit_depth=settings.bit_depth, fmt=settings.fmt, icc_profile=request.icc_profile,
                source_path=request.source_path, cancel=cancel,
            )))
        if settings.uncertainty:
            chosen = request.samples[request.chosen]
            if chosen.histograms is None:
                raise ColorStudioError(f"model {chosen.model!r} gives no uncertainty map; use the histogram model")
            height, width = request.lightness.shape
            target = targets[0].with_name(f"{targets[0].stem}.uncertainty.png")
            # As the GUI overlay shows it (stretched, same colour map), the range as the PNG's legend.
            uncertainty = uncertainty_of(chosen.histograms)
            assert uncertainty is not None  # the histograms are there
            path, _ = save_uncertainty_map(target, uncertainty, (width, height),
                                           source_path=request.source_path)
            written.append(Path(path))
        _report(progress, 1.0, f"exported {len(written)} file(s)")
        return written
