"""Session files (``*.colorstudio.json``): everything needed to reproduce a result, and no pixels.

Stored: the source path and its SHA-256, the model name and settings, the seeds of the samples, the
hints, the chosen sample, the hue bias, the reference settings (path + SHA-256) and the export settings.
Reopening re-runs the same deterministic predictions (seeded per sample), so the result is identical.

Paths are stored absolute and relative to the session file; on opening, the relative one wins when it
exists (a project folder that was moved still opens). A source whose bytes changed is refused.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from colorstudio import __version__
from colorstudio.engine.hints import parse_hints
from colorstudio.engine.jobs import (
    ExportSettings,
    HueBias,
    LoadedImage,
    LoadedReference,
    OpenImageJob,
    OpenReferenceJob,
    ReferenceSettings,
)
from colorstudio.engine.limits import MAX_SAMPLES, MAX_SEED
from colorstudio.engine.pipeline import ColorizeRequest
from colorstudio.errors import ColorStudioError

T = TypeVar("T")

__all__ = [
    "SESSION_SUFFIX",
    "SessionDocument",
    "check_source",
    "document_from_session",
    "open_session",
    "read_session",
    "restore_session",
    "save_session",
    "write_session",
]

SESSION_SUFFIX = ".colorstudio.json"
FORMAT_NAME = "colorstudio-session"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class SessionDocument:
    """The content of a session file; paths are absolute once read."""

    source_path: Path
    source_sha256: str
    model: str
    temperature: float = 1.0
    sample_count: int = 4
    base_seed: int = 0
    seeds: tuple[int, ...] = ()
    chosen: int | None = None
    hints: tuple = ()
    hue_bias: HueBias = HueBias()
    reference: ReferenceSettings = ReferenceSettings()
    export: ExportSettings = ExportSettings()


def document_from_session(session: Any) -> SessionDocument:
    """Snapshot a :class:`colorstudio.engine.session.Session` (which must have an image)."""
    if session.image is None:
        raise ColorStudioError("there is no image to save in a session")
    source = session.image.source
    return SessionDocument(
        source_path=Path(source.path).resolve(), source_sha256=source.sha256, model=session.model,
        temperature=session.temperature, sample_count=session.sample_count, base_seed=session.base_seed,
        seeds=tuple(slot.seed for slot in session.slots), chosen=session.chosen, hints=tuple(session.hints),
        hue_bias=session.hue_bias, reference=session.reference, export=session.export_settings,
    )


def _relative(path: Path, folder: Path) -> str | None:
    try:
        return os.path.relpath(path, folder)
    except ValueError:  # another drive on Windows
        return None


def _hint_to_json(hint: Any) -> dict:
    return {"x": float(hint.x), "y": float(hint.y), "radius": float(hint.radius), "color": str(hint.color)}


def write_session(path: str | Path, document: SessionDocument) -> Path:
    """Write atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    folder = path.resolve().parent
    payload = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "app": f"ColorStudio {__version__}",
        "source": {
            "path": str(document.source_path),
            "relative_path": _relative(document.source_path, folder),
            "sha256": document.source_sha256,
        },
        "model": {
            "name": document.model,
            "temperature": document.temperature,
            "sample_count": document.sample_count,
            "base_seed": document.base_seed,
        },
        "seeds": [int(s) for s in document.seeds],
        "chosen": document.chosen,
        "hints": [_hint_to_json(h) for h in document.hints],
        "hue_bias": dataclasses.asdict(document.hue_bias),
        "reference": {
            **dataclasses.asdict(document.reference),
            "relative_path": None if document.reference.path is None
            else _relative(Path(document.reference.path), folder),
        },
        "export": dataclasses.asdict(document.export),
    }
    if not folder.is_dir():
        raise ColorStudioError("the folder does not exist", folder)
    fd, temp = tempfile.mkstemp(prefix=".colorstudio-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2)
            handle.write("\n")
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def save_session(path: str | Path, session: Any) -> Path:
    """Write the session's state to ``path`` and mark it saved there."""
    written = write_session(path, document_from_session(session))
    session.mark_saved(Path(path))
    return written


def _pick_path(absolute: str, relative: str | None, folder: Path) -> Path:
    if relative:
        candidate = (folder / relative).resolve()
        if candidate.exists():
            return candidate
    return Path(absolute)


_MISSING = object()


def _field(obj: dict, key: str, kind: type | tuple, path: Path, where: str, default: Any = _MISSING) -> Any:
    """``obj[key]`` if it has type ``kind`` (bools are no numbers), else ``default``; an error names the field."""
    name = f"{where}.{key}" if where else key
    if key not in obj or (obj[key] is None and default is not _MISSING):
        if default is _MISSING:
            raise ColorStudioError(f"session file lacks the field {name!r}", path)
        return default
    value = obj[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        raise ColorStudioError(f"session field {name!r} has the wrong type ({type(value).__name__})", path)
    if isinstance(value, float) and not math.isfinite(value):
        raise ColorStudioError(f"session field {name!r} must be a finite number, got {value}", path)
    return value


def _int_in(value: int, low: int, high: int, name: str, path: Path) -> int:
    if not low <= value <= high:
        raise ColorStudioError(f"session field {name!r} must be from {low} to {high}, got {value}", path)
    return value


def read_session(path: str | Path) -> SessionDocument:
    """Parse and validate a session file; a clear ColorStudioError for anything wrong in it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ColorStudioError("no such session file", path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ColorStudioError(f"cannot read the session file ({exc})", path) from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ColorStudioError(f"not a session file: invalid JSON at line {exc.lineno} ({exc.msg})", path) from None
    except RecursionError:
        raise ColorStudioError("not a session file: invalid JSON (nested too deeply)", path) from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise ColorStudioError(f"not a session file: invalid JSON ({exc})", path) from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT_NAME:
        raise ColorStudioError("not a ColorStudio session file", path)
    version = obj.get("version")
    if isinstance(version, bool) or version != FORMAT_VERSION:
        shown = version if isinstance(version, (int, float, str)) else type(version).__name__
        raise ColorStudioError(f"session file version {shown!r} is not supported (expected 1)", path)
    try:
        document = _parse_document(obj, path)
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:  # a last guard: always a clean error
        raise ColorStudioError(f"session file has an invalid value ({type(exc).__name__}: {exc})", path) from None
    try:  # hue bias and reference were checked as they were made (the request's own checks)
        document.export.validate()
    except ColorStudioError as exc:
        raise ColorStudioError(f"invalid setting: {exc}", path) from None
    return document


def _parse_document(obj: dict, path: Path) -> SessionDocument:
    folder = path.resolve().parent
    source = _field(obj, "source", dict, path, "")
    model = _field(obj, "model", dict, path, "")
    seed_list = _field(obj, "seeds", list, path, "")
    seeds = tuple(_int_in(_field({"seeds": s}, "seeds", int, path, ""), 0, MAX_SEED, "seeds", path) for s in seed_list)
    chosen = _field(obj, "chosen", int, path, "", None)
    if chosen is not None and not 0 <= chosen < max(len(seeds), 1):
        raise ColorStudioError(f"chosen sample {chosen} does not exist among {len(seeds)} seeds", path)
    hints = tuple(parse_hints({"version": 1, "hints": _field(obj, "hints", list, path, "")}, source=path))
    hue = _field(obj, "hue_bias", dict, path, "", {})
    ref = _field(obj, "reference", dict, path, "", {})
    export = _field(obj, "export", dict, path, "", {})
    ref_path = _field(ref, "path", str, path, "reference", None)
    # the request's own checks, naming the session file's field
    temperature = _checked("model.temperature", path, lambda: ColorizeRequest.check_temperature(
        float(_field(model, "temperature", (int, float), path, "model", 1.0))))
    hue_bias = _checked("hue_bias", path, lambda: HueBias(
        float(_field(hue, "angle_deg", (int, float), path, "hue_bias", 0.0)),
        float(_field(hue, "strength", (int, float), path, "hue_bias", 0.0))))
    reference = _checked("reference", path, lambda: ReferenceSettings(
        path=None if ref_path is None
        else str(_pick_path(ref_path, _field(ref, "relative_path", str, path, "reference", None), folder)),
        sha256=_field(ref, "sha256", str, path, "reference", None),
        strength=float(_field(ref, "strength", (int, float), path, "reference", 1.0)),
        method=_field(ref, "method", str, path, "reference", "energy"),
    ))
    return SessionDocument(
        source_path=_pick_path(_field(source, "path", str, path, "source"),
                               _field(source, "relative_path", str, path, "source", None), folder),
        source_sha256=_field(source, "sha256", str, path, "source"),
        model=_field(model, "name", str, path, "model"),
        temperature=temperature,
        sample_count=_int_in(_field(model, "sample_count", int, path, "model", max(len(seeds), 1)),
                             1, MAX_SAMPLES, "model.sample_count", path),
        base_seed=_int_in(_field(model, "base_seed", int, path, "model", 0), 0, MAX_SEED, "model.base_seed", path),
        seeds=seeds,
        chosen=chosen,
        hints=hints,
        hue_bias=hue_bias,
        reference=reference,
        export=ExportSettings(
            fmt=_field(export, "fmt", str, path, "export", "png"),
            bit_depth=_field(export, "bit_depth", int, path, "export", 8),
            all_samples=_field(export, "all_samples", bool, path, "export", False),
            uncertainty=_field(export, "uncertainty", bool, path, "export", False),
        ),
    )


def _checked(field: str, path: Path, make: Callable[[], T]) -> T:
    """``make()``, its ColorStudioError (from the request's checks) naming the session file and ``field``."""
    try:
        return make()
    except ColorStudioError as exc:
        if exc.path is not None:
            raise
        raise ColorStudioError(f"session field {field!r}: {exc.reason}", path) from None


def check_source(document: SessionDocument, image: LoadedImage, session_path: Path | None = None) -> None:
    """Refuse a source whose bytes differ from those the session was made with."""
    if image.source.sha256 != document.source_sha256:
        raise ColorStudioError(
            f"the source image {document.source_path} changed since the session was saved "
            "(its SHA-256 differs), so the session cannot reproduce its result", session_path,
        )


def restore_session(
    session: Any,
    document: SessionDocument,
    image: LoadedImage,
    reference: LoadedReference | None = None,
    session_path: Path | None = None,
) -> None:
    """Put a read document into ``session``; samples are then pending (``session.run_pending`` or a worker)."""
    check_source(document, image, session_path)
    if document.reference.path is not None:
        if reference is None:
            raise ColorStudioError("the session's reference image was not loaded", document.reference.path)
        if document.reference.sha256 and reference.sha256 != document.reference.sha256:
            raise ColorStudioError("the reference image changed since the session was saved", reference.path)
    session.restore(
        image, model=document.model, temperature=document.temperature, sample_count=document.sample_count,
        base_seed=document.base_seed, seeds=document.seeds, chosen=document.chosen, hints=document.hints,
        hue_bias=document.hue_bias, reference=document.reference, reference_image=reference,
        export_settings=document.export, path=session_path,
    )


def open_session(session: Any, path: str | Path) -> SessionDocument:
    """Read a session file and restore it synchronously, predictions included (scripts and tests)."""

    path = Path(path)
    document = read_session(path)
    image = OpenImageJob().run(document.source_path)
    reference = None if document.reference.path is None else OpenReferenceJob().run(Path(document.reference.path))
    restore_session(session, document, image, reference, session_path=path)
    session.run_pending()
    return document
