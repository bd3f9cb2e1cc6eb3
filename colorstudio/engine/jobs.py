"""Long work as Qt-free jobs: validate the request up front, then ``run(request, progress, cancel)``.

A job holds no session state; its request is an immutable snapshot taken on the caller's thread and its
result is plain data handed back to the caller (the GUI wraps a job in a worker thread and applies the
result in a GUI-thread slot; the CLI and the tests call ``run`` directly). The same functions produce
the preview and the export, so what the user sees at 512 px is what they get at full resolution.

Shapes: ``lightness`` (H, W) L* in [0, 100]; ``ab`` (h, w, 2) Lab a*, b* at the model's working
resolution; ``rgb`` (H, W, 3) float32 sRGB in [0, 1].
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from colorstudio.engine.histogram_edit import reference_histograms
from colorstudio.engine.pipeline import (  # the request's types, re-exported: the GUI's jobs speak them
    Cancel,
    Colorizer,
    ColorizeRequest,
    Edits,
    HueBias,
    LoadedReference,
    Progress,
    ReferenceSettings,
    SampleResult,
    check_cancel,
    edit_sample,
    fit_working_size,
    predict_draft,
    predict_samples,
    render,
    report_progress,
    resize_lightness,
    uncertainty_of,
)
from colorstudio.errors import ColorStudioError
from colorstudio.io import load_image, luminance, save_image, save_uncertainty_map

__all__ = [
    "ColorizerCache",
    "DraftJob",
    "DraftRequest",
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
    "preview_size",
    "uncertainty_of",
]

PREVIEW_LONG_SIDE = 512
REFERENCE_LONG_SIDE = 256  # a palette needs no detail; small keeps histogram fitting fast
EXPORT_FORMATS = ("png", "tiff")
FORMAT_SUFFIX = {"png": ".png", "tiff": ".tiff"}


def preview_size(source_size: tuple[int, int], long_side: int = PREVIEW_LONG_SIDE) -> tuple[int, int]:
    """(w, h) of the interactive preview: the source scaled so its long side is at most ``long_side``."""
    return fit_working_size(source_size, long_side)


# --------------------------------------------------------------------------------------------------
# Settings (frozen: a session swaps whole values, which makes undo and change events trivial)


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
        report_progress(progress, 0.0, f"reading {Path(path).name}")
        source = load_image(Path(path))
        check_cancel(cancel)
        lightness = np.asarray(luminance(source), np.float32)
        preview = resize_lightness(lightness, preview_size(source.size))
        report_progress(progress, 1.0, "opened")
        return LoadedImage(source=source, lightness=lightness, preview_lightness=preview)


class OpenReferenceJob:
    """Read a reference image, shrink it and (with the histogram editing module) compute its histograms."""

    name = "open reference"

    def validate(self, path: Path) -> None:
        if not Path(path).exists():
            raise ColorStudioError("no such file", path)

    def run(self, path: Path, progress: Progress | None = None, cancel: Cancel | None = None) -> LoadedReference:
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
class PredictRequest:
    """Snapshot for :class:`PredictJob`: the session's :class:`ColorizeRequest` (model, temperature, sampler,
    hints in source pixels, edits), the seeds to draw, ``lightness`` (H, W) at full resolution."""

    request: ColorizeRequest
    device: torch.device
    lightness: np.ndarray
    seeds: tuple[int, ...] = (0,)
    revision: int = 0

    @property
    def model(self) -> str:
        return self.request.model


class PredictJob:
    """Run a colorizer once per seed (:func:`colorstudio.engine.pipeline.predict_samples`, the CLI's path
    too), so samples can be shown as they arrive.

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
        for seed in request.seeds:
            ColorizeRequest.check_seed(seed)

    def run(
        self,
        request: PredictRequest,
        progress: Progress | None = None,
        cancel: Cancel | None = None,
        on_sample: Callable[[SampleResult], None] | None = None,
    ) -> list[SampleResult]:
        self.validate(request)
        report_progress(progress, 0.0, f"loading model {request.model}")
        colorizer = self.colorizers.get(request.model, request.device)
        check_cancel(cancel)
        # one sample at a time, so the gallery fills as they arrive
        results = predict_samples(colorizer, request.lightness, request.request, request.seeds, progress=progress,
                                  cancel=cancel, on_sample=on_sample or (lambda sample: None))
        report_progress(progress, 1.0, "colorized")
        return results


@dataclass(frozen=True)
class DraftRequest:
    """Snapshot for :class:`DraftJob`: the session's request (model, hints) and the full-resolution L*."""

    request: ColorizeRequest
    device: torch.device
    lightness: np.ndarray
    revision: int = 0


class DraftJob:
    """The sampler's instant draft for the request's hints (:func:`colorstudio.engine.pipeline.predict_draft`):
    its conditioner's colorization, shown while the samples are drawn. None for a model without one."""

    name = "draft"

    def __init__(self, colorizers: ColorizerCache) -> None:
        self.colorizers = colorizers

    def run(self, request: DraftRequest, progress: Progress | None = None, cancel: Cancel | None = None
            ) -> SampleResult | None:
        colorizer = self.colorizers.get(request.request.model, request.device)
        check_cancel(cancel)
        return predict_draft(colorizer, request.lightness, request.request)


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
    """Preview sRGB (h', w', 3), edited chroma (h, w, 2), uncertainty (h, w) or None; ``draft``: it shows
    the conditioner's draft, not a sample (``seed`` is then the first seed's)."""

    rgb: np.ndarray
    ab: np.ndarray
    uncertainty: np.ndarray | None
    seed: int
    revision: int
    seconds: float
    warm: Any = None
    draft: bool = False


class PreviewJob:
    """Apply the edits to the chosen sample and composite at preview resolution."""

    name = "preview"

    def run(self, request: PreviewRequest, progress: Progress | None = None, cancel: Cancel | None = None) -> PreviewResult:
        started = time.perf_counter()
        rgb, ab, warm = render(request.lightness, request.sample, request.edits, warm=request.warm, cancel=cancel)
        return PreviewResult(
            rgb=rgb, ab=ab, uncertainty=uncertainty_of(request.sample.histograms), seed=request.sample.seed,
            revision=request.revision, seconds=time.perf_counter() - started, warm=warm, draft=request.sample.draft,
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
            report_progress(progress, index / steps, f"compositing {target.name} at full resolution")
            rgb = render(request.lightness, sample, request.edits, cancel=cancel).rgb
            check_cancel(cancel)
            report_progress(progress, (index + 0.7) / steps, f"writing {target.name}")
            written.append(Path(save_image(
                target, rgb, bit_depth=settings.bit_depth, fmt=settings.fmt, icc_profile=request.icc_profile,
                source_path=request.source_path, cancel=cancel,
            )))
        if settings.uncertainty:
            chosen = request.samples[request.chosen]
            if chosen.histograms is None:
                raise ColorStudioError(f"model {chosen.model!r} gives no uncertainty map; use a model that predicts "
                                      "colour histograms")
            height, width = request.lightness.shape
            target = targets[0].with_name(f"{targets[0].stem}.uncertainty.png")
            # As the GUI overlay shows it (stretched, same colour map), the range as the PNG's legend.
            uncertainty = uncertainty_of(chosen.histograms)
            assert uncertainty is not None  # the histograms are there
            path, _ = save_uncertainty_map(target, uncertainty, (width, height),
                                           source_path=request.source_path)
            written.append(Path(path))
        report_progress(progress, 1.0, f"exported {len(written)} file(s)")
        return written
