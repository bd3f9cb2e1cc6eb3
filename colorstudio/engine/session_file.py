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
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from colorstudio import __version__
from colorstudio.engine.jobs import ExportSettings, HueBias, LoadedImage, LoadedReference, ReferenceSettings
from colorstudio.errors import ColorStudioError

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


def _pick_path(absolute: str | None, relative: str | None, folder: Path) -> Path | None:
    if relative:
        candidate = (folder / relative).resolve()
        if candidate.exists():
            return candidate
    return None if absolute is None else Path(absolute)


def _require(obj: dict, key: str, kind: type | tuple, path: Path) -> Any:
    if key not in obj:
        raise ColorStudioError(f"session file lacks the field {key!r}", path)
    value = obj[key]
    if not isinstance(value, kind):
        raise ColorStudioError(f"session field {key!r} has the wrong type ({type(value).__name__})", path)
    return value


def read_session(path: str | Path) -> SessionDocument:
    """Parse and validate a session file; a clear ColorStudioError for anything wrong in it."""
    from colorstudio.engine.hints import parse_hints

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
    if not isinstance(obj, dict) or obj.get("format") != FORMAT_NAME:
        raise ColorStudioError("not a ColorStudio session file", path)
    if obj.get("version") != FORMAT_VERSION:
        raise ColorStudioError(f"session file version {obj.get('version')!r} is not supported (expected 1)", path)
    folder = path.resolve().parent
    try:
        source = _require(obj, "source", dict, path)
        model = _require(obj, "model", dict, path)
        seeds = tuple(int(s) for s in _require(obj, "seeds", list, path))
        chosen = obj.get("chosen")
        if chosen is not None and not (isinstance(chosen, int) and 0 <= chosen < max(len(seeds), 1)):
            raise ColorStudioError(f"chosen sample {chosen!r} does not exist among {len(seeds)} seeds", path)
        hints = tuple(parse_hints({"version": 1, "hints": _require(obj, "hints", list, path)}, source=path))
        hue = obj.get("hue_bias") or {}
        ref = obj.get("reference") or {}
        export = obj.get("export") or {}
        document = SessionDocument(
            source_path=_pick_path(_require(source, "path", str, path), source.get("relative_path"), folder),
            source_sha256=str(_require(source, "sha256", str, path)),
            model=str(_require(model, "name", str, path)),
            temperature=float(model.get("temperature", 1.0)),
            sample_count=int(model.get("sample_count", max(len(seeds), 1))),
            base_seed=int(model.get("base_seed", 0)),
            seeds=seeds,
            chosen=chosen,
            hints=hints,
            hue_bias=HueBias(float(hue.get("angle_deg", 0.0)), float(hue.get("strength", 0.0))),
            reference=ReferenceSettings(
                path=None if ref.get("path") is None else str(_pick_path(ref.get("path"), ref.get("relative_path"), folder)),
                sha256=ref.get("sha256"), strength=float(ref.get("strength", 1.0)), method=str(ref.get("method", "energy")),
            ),
            export=ExportSettings(
                fmt=str(export.get("fmt", "png")), bit_depth=int(export.get("bit_depth", 8)),
                all_samples=bool(export.get("all_samples", False)), uncertainty=bool(export.get("uncertainty", False)),
            ),
        )
    except (TypeError, ValueError) as exc:
        raise ColorStudioError(f"session file has an invalid value ({exc})", path) from None
    document.hue_bias.validate()
    document.reference.validate()
    document.export.validate()
    return document


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
    from colorstudio.engine.jobs import OpenImageJob, OpenReferenceJob

    path = Path(path)
    document = read_session(path)
    image = OpenImageJob().run(document.source_path)
    reference = None if document.reference.path is None else OpenReferenceJob().run(Path(document.reference.path))
    restore_session(session, document, image, reference, session_path=path)
    session.run_pending()
    return document
