"""Colorize many files with one loaded model: input expansion, output naming, per-input hints."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from colorstudio.engine.pipeline import (
    Cancel,
    Colorizer,
    ColorizeRequest,
    Progress,
    colorize_source,
    sample_suffixes,
)
from colorstudio.errors import ColorStudioError

__all__ = ["IMAGE_SUFFIXES", "expand_inputs", "output_paths", "hints_path_for", "colorize_files"]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}
FORMAT_SUFFIX = {"png": ".png", "tiff": ".tiff"}


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


def _resolve_format(output: Path, fmt: str | None, several: bool) -> str:
    if fmt is not None:
        return fmt
    suffix = "" if several else output.suffix.lower()
    if suffix in (".tif", ".tiff"):
        return "tiff"
    if suffix in ("", ".png"):
        return "png"
    raise ColorStudioError(f"cannot tell the output format from {output.suffix!r}; use --format png|tiff", output)


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


def _ensure_folder(folder: Path) -> None:
    """Create an output folder up front, so a bad path fails before any model time is spent."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ColorStudioError(f"cannot create the output folder ({exc.strerror or exc})", folder) from exc


def _uncertainty_path(source: Path, uncertainty: Path | None, several: bool) -> Path | None:
    if uncertainty is None:
        return None
    if several:
        return uncertainty / f"{source.stem}.uncertainty.png"
    return uncertainty


def colorize_files(
    inputs: Sequence[Path],
    output: Path,
    request: ColorizeRequest,
    colorizer: Colorizer,
    *,
    hints: Path | None = None,
    fmt: str | None = None,
    bit_depth: int = 8,
    uncertainty: Path | None = None,
    several: bool = False,
    log: Callable[[str], None] | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> list[Path]:
    """Colorize each input with the one colorizer; returns the files written."""
    from dataclasses import replace

    from colorstudio.engine.hints import load_hints
    from colorstudio.io import load_image, luminance, save_gray_map, save_image

    fmt = _resolve_format(output, fmt, several)
    _ensure_folder(output if several else output.parent)
    if uncertainty is not None:
        _ensure_folder(uncertainty if several else uncertainty.parent)
    reference_rgb = load_image(request.reference_path).rgb if request.reference_path is not None else None
    written: list[Path] = []
    for index, source_path in enumerate(inputs):
        source = load_image(source_path)
        hints_file = hints_path_for(source_path, hints, several)
        file_request = replace(request, hints=tuple(load_hints(hints_file, image_size=source.size)) if hints_file else ())

        def file_progress(fraction: float, message: str, _i: int = index) -> None:
            if progress is not None:
                progress((_i + fraction) / len(inputs), f"{source_path.name}: {message}")

        result = colorize_source(luminance(source), colorizer, file_request, reference_rgb=reference_rgb,
                                 progress=file_progress, cancel=cancel)
        targets = output_paths(source_path, output, fmt, len(result.rgb_samples), several)
        for rgb, target in zip(result.rgb_samples, targets):
            written.append(save_image(target, rgb, bit_depth=bit_depth, fmt=fmt, icc_profile=source.icc_profile,
                                      source_path=source_path, cancel=cancel))
        map_path = _uncertainty_path(source_path, uncertainty, several)
        if map_path is not None:
            if result.uncertainty is None:
                raise ColorStudioError(f"model {colorizer.name!r} gives no uncertainty map; use the histogram model", map_path)
            written.append(save_gray_map(map_path, result.uncertainty, colormap="inferno"))
        if log is not None:
            log(f"{source_path.name}: {len(targets)} result(s), seeds {result.seeds}")
    return written
