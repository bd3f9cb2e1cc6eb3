"""Colorize many files with one loaded model: input expansion, output naming, per-input hints.

:func:`plan_batch` works out every file the run reads and writes and refuses, before any model time, a
run that would write over a file it reads (an input, a hints file, the reference) or write one file twice;
:func:`colorize_files` then carries the plan out.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from colorstudio.engine.hints import load_hints
from colorstudio.engine.jobs import OpenReferenceJob
from colorstudio.engine.pipeline import (
    Cancel,
    Colorizer,
    ColorizeRequest,
    Progress,
    SampleResult,
    colorize_source,
    sample_suffixes,
    single_sample_message,
)
from colorstudio.errors import ColorStudioError
from colorstudio.io import UNCERTAINTY_COLORMAP, load_image, luminance, save_image, save_uncertainty_map

__all__ = [
    "IMAGE_SUFFIXES",
    "BatchPlan",
    "PlannedFile",
    "check_no_overwrites",
    "colorize_files",
    "expand_inputs",
    "hints_path_for",
    "output_paths",
    "plan_batch",
]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}
FORMAT_SUFFIX = {"png": ".png", "tiff": ".tiff"}
_SUFFIX_FORMAT = {".png": "png", ".tif": "tiff", ".tiff": "tiff"}


def expand_inputs(paths: Sequence[Path]) -> list[Path]:
    """Files as given, folders replaced by their image files (sorted); missing paths are an error."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise ColorStudioError("folder holds no images (png, jpg, tif, bmp, webp)", path)
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise ColorStudioError("no such file or folder", path)
    stems = [p.stem for p in files]
    duplicates = sorted({s for s in stems if stems.count(s) > 1})
    if duplicates:
        raise ColorStudioError(f"several inputs share the name {duplicates[0]!r}; their outputs would collide")
    return files


def _resolve_format(output: Path, fmt: str | None, into_folder: bool) -> str:
    """The output format: ``--format``, else the file name's extension; a file name whose extension
    names another format (or none that ColorStudio writes) is refused, so a file's bytes match its name."""
    suffix = "" if into_folder else output.suffix.lower()
    if suffix and suffix not in _SUFFIX_FORMAT:
        raise ColorStudioError(
            f"cannot write {output.suffix!r} files; name the output .png, .tif or .tiff", output)
    named = _SUFFIX_FORMAT.get(suffix)
    if fmt is not None and named is not None and named != fmt:
        raise ColorStudioError(f"--format {fmt} contradicts the file name's extension {output.suffix!r}", output)
    return fmt or named or "png"


def output_paths(source: Path, output: Path, fmt: str, samples: int, several: bool) -> list[Path]:
    """Where each sample of ``source`` goes: ``OUT/<stem>.<ext>`` for several inputs, else OUT itself."""
    if several or output.is_dir():
        base = output / (source.stem + FORMAT_SUFFIX[fmt])
    else:
        base = output if output.suffix else output.with_suffix(FORMAT_SUFFIX[fmt])
    return [base.with_name(base.stem + suffix + base.suffix) for suffix in sample_suffixes(samples)]


def hints_path_for(source: Path, hints: Path | None, several: bool) -> Path | None:
    """A hints file, or ``<stem>.hints.json`` inside a hints folder (inputs without one get no hints)."""
    if hints is None:
        return None
    if hints.is_dir():
        candidate = hints / f"{source.stem}.hints.json"
        return candidate if candidate.exists() else None
    if several:
        raise ColorStudioError("with several inputs, --hints must be a folder of <stem>.hints.json files", hints)
    if not hints.exists():
        raise ColorStudioError("hints file not found", hints)
    return hints


def _check_folder_creatable(folder: Path) -> None:
    """Fail now, not after the model ran, when ``folder`` cannot exist; creates nothing."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ColorStudioError(f"cannot create the output folder ({existing} is a file)", folder)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ColorStudioError(f"cannot create or write the output folder ({existing} is not writable)", folder)


def _ensure_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ColorStudioError(f"cannot create the output folder ({exc.strerror or exc})", folder) from exc


def _uncertainty_path(source: Path, uncertainty: Path | None, several: bool) -> Path | None:
    if uncertainty is None:
        return None
    if several:
        return uncertainty / f"{source.stem}.uncertainty.png"
    if not uncertainty.suffix:
        return uncertainty.with_suffix(".png")
    if uncertainty.suffix.lower() != ".png":
        raise ColorStudioError(f"the uncertainty map is a PNG; name it .png, not {uncertainty.suffix!r}", uncertainty)
    return uncertainty


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop: compare the spelled-out path
        return path.absolute()


def _same_file(a: Path, b: Path) -> bool:
    if _resolved(a) == _resolved(b):
        return True
    try:  # also hard links, and one file under two spellings on case-insensitive file systems
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_no_overwrites(reads: Sequence[tuple[Path, str]], writes: Sequence[tuple[Path, str]]) -> None:
    """Refuse a write onto any file read (``(path, role)`` pairs, e.g. ``(p, "input image")``), and two
    writes to one file; the error names the path and both roles."""
    for index, (target, role) in enumerate(writes):
        for source, source_role in reads:
            if _same_file(target, source):
                raise ColorStudioError(f"the {role} would overwrite the {source_role}; choose another name", target)
        for other, other_role in writes[:index]:
            if _same_file(target, other):
                what = f"two {role}s" if role == other_role else f"the {other_role} and the {role}"
                raise ColorStudioError(f"{what} would be written to this one file; choose other names", target)


@dataclass(frozen=True)
class PlannedFile:
    """One input and everything the run writes for it."""

    source: Path
    hints: Path | None
    targets: tuple[Path, ...]  # one per sample
    uncertainty: Path | None


@dataclass(frozen=True)
class BatchPlan:
    """What a :func:`colorize_files` run reads and writes, checked by :func:`plan_batch`."""

    files: tuple[PlannedFile, ...]
    fmt: str
    samples: int
    reference: Path | None
    folders: tuple[Path, ...]  # created when the run starts

    @property
    def wants_uncertainty(self) -> bool:
        return any(f.uncertainty is not None for f in self.files)


def plan_batch(
    paths: Sequence[Path],
    output: Path,
    *,
    samples: int = 1,
    fmt: str | None = None,
    hints: Path | None = None,
    reference: Path | None = None,
    uncertainty: Path | None = None,
) -> BatchPlan:
    """Check the files of a run before any model time is spent; creates nothing.

    ``paths`` are files or folders (several inputs, or any folder: ``output`` and ``uncertainty`` are
    folders). Raises ColorStudioError for a missing input, hints file or reference, an output format
    its file name contradicts, a folder that cannot be created, and a write onto anything read.
    """

    inputs = expand_inputs(paths)
    several = len(inputs) > 1 or any(p.is_dir() for p in paths)
    into_folder = several or output.is_dir()
    fmt = _resolve_format(output, fmt, into_folder)
    if reference is not None and not reference.is_file():
        raise ColorStudioError("reference image not found", reference)
    files = []
    for source in inputs:
        hints_file = hints_path_for(source, hints, several)
        targets = tuple(output_paths(source, output, fmt, samples, several))
        files.append(PlannedFile(source, hints_file, targets, _uncertainty_path(source, uncertainty, several)))
    reads = [(f.source, "input image") for f in files]
    reads += [(f.hints, "hints file") for f in files if f.hints is not None]
    reads += [(reference, "reference image")] if reference is not None else []
    writes = [(t, "result") for f in files for t in f.targets]
    writes += [(f.uncertainty, "uncertainty map") for f in files if f.uncertainty is not None]
    check_no_overwrites(reads, writes)
    for target, role in writes:
        if target.is_dir():
            raise ColorStudioError(f"the {role} would be written here, but this is a folder", target)
    for hints_file in dict.fromkeys(f.hints for f in files if f.hints is not None):
        load_hints(hints_file)  # a broken file fails now; positions are checked against each image later
    folders = tuple(dict.fromkeys(path.parent for path, _ in writes))
    for folder in folders:
        _check_folder_creatable(folder)
    return BatchPlan(tuple(files), fmt, samples, reference, folders)


def colorize_files(
    plan: BatchPlan,
    request: ColorizeRequest,
    colorizer: Colorizer,
    *,
    bit_depth: int = 8,
    log: Callable[[str], None] | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> list[Path]:
    """Colorize each input of ``plan`` with the one colorizer; returns the files written.

    Each input goes through :func:`colorstudio.engine.pipeline.colorize_source` (the GUI's prediction and
    export path), its reference read as the GUI reads one (:class:`colorstudio.engine.jobs.OpenReferenceJob`)
    and its uncertainty map written as the GUI's export writes it."""
    reference_path = Path(request.reference.path) if request.reference.path is not None else None
    if request.samples != plan.samples or reference_path != plan.reference:
        raise ValueError("colorize_files: the request does not match the plan it was made for")
    capabilities = colorizer.capabilities
    if request.samples > 1 and not capabilities.samples:
        raise ColorStudioError(f"--samples {request.samples}: {single_sample_message(colorizer.name)}")
    if not capabilities.histograms and plan.wants_uncertainty:
        first = next(f.uncertainty for f in plan.files if f.uncertainty is not None)
        raise ColorStudioError(f"model {colorizer.name!r} gives no uncertainty map; use a model that predicts "
                               "colour histograms (see `colorstudio models`)", first)
    for folder in plan.folders:
        _ensure_folder(folder)
    reference = OpenReferenceJob().run(plan.reference) if plan.reference is not None else None
    written: list[Path] = []
    for index, item in enumerate(plan.files):
        source = load_image(item.source)
        file_request = replace(request, hints=tuple(load_hints(item.hints, image_size=source.size)) if item.hints else ())

        def file_progress(fraction: float, message: str, _i: int = index, _name: str = item.source.name) -> None:
            if progress is not None:
                progress((_i + fraction) / len(plan.files), f"{_name}: {message}")

        result = colorize_source(luminance(source), colorizer, file_request, reference=reference,
                                 progress=file_progress, cancel=cancel)
        if len(result.rgb_samples) != len(item.targets):
            raise ColorStudioError(f"model {colorizer.name!r} gave {len(result.rgb_samples)} results where "
                                   f"{len(item.targets)} were planned; nothing more was written", item.source)
        for rgb, target in zip(result.rgb_samples, item.targets, strict=True):
            written.append(save_image(target, rgb, bit_depth=bit_depth, fmt=plan.fmt, icc_profile=source.icc_profile,
                                      source_path=item.source, cancel=cancel))
        legend = ""
        if item.uncertainty is not None and result.uncertainty_grid is not None:  # checked above: the model has them
            path, (lo, hi) = save_uncertainty_map(item.uncertainty, result.uncertainty_grid, source.size,
                                                  source_path=item.source)
            written.append(path)
            legend = (f"; uncertainty map {path.name}: {UNCERTAINTY_COLORMAP}, "
                      f"dark = {lo:.2f} (confident) .. bright = {hi:.2f} (unsure)")
        if log is not None:
            log(f"{item.source.name}: {len(item.targets)} result(s), {_describe_samples(result.samples, item.targets)}{legend}")
    return written


def _describe_samples(samples: Sequence[SampleResult], targets: Sequence[Path]) -> str:
    """The seeds of the written files, and each one's plausibility where the model ranks its samples:
    ``seeds [3, 0]`` or ``x_s0.png seed 3 plausibility -2.131, x_s1.png seed 0 plausibility -2.407``."""
    if any(sample.score is None for sample in samples):
        return f"seeds {[sample.seed for sample in samples]}"
    return ", ".join(f"{target.name} seed {sample.seed} plausibility {sample.score:.3f}"
                     for sample, target in zip(samples, targets, strict=True))
