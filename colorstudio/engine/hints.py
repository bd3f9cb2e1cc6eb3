"""Color hints: the user's "this was navy" points, their file format and their rasterization.

A hints file (``*.hints.json``, DESIGN.md)::

    {"version": 1, "hints": [{"x": 412.5, "y": 230.0, "radius": 3, "color": "#1f3a93"}]}

Coordinates are continuous source-image pixels, origin at the top-left corner of the image: pixel
(i, j) covers [i, i+1) x [j, j+1), so its centre is (i + 0.5, j + 0.5) and a valid hint lies in
[0, W] x [0, H]. ``radius`` is in source pixels; ``color`` is sRGB. Only the chroma (a*, b*) of the
color is used; the luminance always comes from the image. Unknown keys are ignored (forward
compatible); everything else that is wrong is a ``ColorStudioError`` naming the file and the hint.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from colorstudio.color import lab_to_rgb, normalize_ab, rgb_to_lab, to_float
from colorstudio.errors import ColorStudioError
from colorstudio.models.hint_sim import SWEEP_PATCH, sweep_corners

__all__ = [
    "HINTS_VERSION",
    "Hint",
    "parse_color",
    "parse_hints",
    "load_hints",
    "save_hints",
    "hints_to_json",
    "rasterize_hints",
    "sweep_hint_points",
]

HINTS_VERSION = 1
_HEX_COLOR = re.compile(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_FIELDS = ("x", "y", "radius", "color")


def parse_color(text: object) -> str:
    """``"#rgb"`` or ``"#rrggbb"`` (any case) -> canonical lowercase ``"#rrggbb"``; ValueError otherwise."""
    if not isinstance(text, str) or _HEX_COLOR.fullmatch(text) is None:
        raise ValueError(f"color must be a string '#rrggbb' or '#rgb', got {text!r}")
    digits = text[1:].lower()
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    return "#" + digits


@dataclass(frozen=True)
class Hint:
    """One color hint. x, y: continuous source pixels (origin top-left); radius > 0 in source pixels;
    color: sRGB ``"#rrggbb"`` (``"#rgb"`` and upper case are accepted and stored canonical)."""

    x: float
    y: float
    radius: float
    color: str

    def __post_init__(self) -> None:
        for name in ("x", "y", "radius"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise ColorStudioError(f"hint {name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ColorStudioError(f"hint {name} must be finite, got {value!r}")
            object.__setattr__(self, name, float(value))
        if self.radius <= 0:
            raise ColorStudioError(f"hint radius must be > 0, got {self.radius:g}")
        try:
            object.__setattr__(self, "color", parse_color(self.color))
        except ValueError as exc:
            raise ColorStudioError(f"hint {exc}") from None

    def rgb(self) -> tuple[float, float, float]:
        """The color as sRGB in [0, 1]."""
        return tuple(int(self.color[i : i + 2], 16) / 255.0 for i in (1, 3, 5))  # type: ignore[return-value]

    def ab(self) -> tuple[float, float]:
        """(a*, b*) of the color (D65 Lab, as ``colorstudio.color.rgb_to_lab``)."""
        lab = rgb_to_lab(np.array(self.rgb(), dtype=np.float64))
        return float(lab[1]), float(lab[2])

    def to_json(self) -> dict[str, Any]:
        return {"x": self.x, "y": self.y, "radius": self.radius, "color": self.color}


def _shown(value: object, limit: int = 60) -> str:
    """A value for an error message: JSON, shortened; never fails on a deeply nested one."""
    try:
        text = json.dumps(value)
    except (RecursionError, ValueError):
        return f"a deeply nested {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _hint_error(source: str | Path, index: int, problem: str) -> ColorStudioError:
    return ColorStudioError(f"hint {index}: {problem}", source)


def _number(entry: dict, key: str, source: str | Path, index: int) -> float:
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _hint_error(source, index, f"'{key}' must be a number, got {_shown(value)}")
    if not math.isfinite(value):
        raise _hint_error(source, index, f"'{key}' must be finite, got {value}")
    return float(value)


def _parse_entry(entry: object, source: str | Path, index: int, image_size: tuple[int, int] | None) -> Hint:
    if not isinstance(entry, dict):
        raise _hint_error(source, index, f"must be an object with {', '.join(_FIELDS)}, got {_shown(entry)}")
    missing = [key for key in _FIELDS if key not in entry]
    if missing:
        raise _hint_error(source, index, f"missing field{'s' if len(missing) > 1 else ''} {', '.join(repr(k) for k in missing)}")
    x, y, radius = (_number(entry, key, source, index) for key in ("x", "y", "radius"))
    if radius <= 0:
        raise _hint_error(source, index, f"'radius' must be > 0, got {radius:g}")
    if image_size is not None:
        width, height = image_size
        if not (0.0 <= x <= width and 0.0 <= y <= height):
            raise _hint_error(source, index, f"position ({x:g}, {y:g}) is outside the {width}x{height} image")
    try:
        color = parse_color(entry["color"])
    except ValueError:
        raise _hint_error(source, index, f"'color' must be '#rrggbb' or '#rgb', got {_shown(entry['color'])}") from None
    return Hint(x, y, radius, color)


def parse_hints(obj: object, source: str | Path = "<hints>", image_size: tuple[int, int] | None = None) -> list[Hint]:
    """Validate a decoded hints document and return its hints in file order (later ones win).

    Args:
        obj: the decoded JSON (``{"version": 1, "hints": [...]}``).
        source: file name (or a label) used in error messages.
        image_size: (width, height) of the source image; when given, hints must lie inside it.

    Raises:
        ColorStudioError: naming ``source``, the hint index and the exact problem.
    """
    if not isinstance(obj, dict):
        raise ColorStudioError(
            f'expected a JSON object {{"version": {HINTS_VERSION}, "hints": [...]}}, got {type(obj).__name__}', source)
    if "version" not in obj:
        raise ColorStudioError(f"missing 'version' (expected {HINTS_VERSION})", source)
    version = obj["version"]
    if isinstance(version, bool) or version != HINTS_VERSION:
        raise ColorStudioError(f"unsupported hints version {_shown(version)} (expected {HINTS_VERSION})", source)
    if "hints" not in obj:
        raise ColorStudioError("missing 'hints' (a list of hint objects)", source)
    entries = obj["hints"]
    if not isinstance(entries, list):
        raise ColorStudioError(f"'hints' must be a list, got {type(entries).__name__}", source)
    return [_parse_entry(entry, source, index, image_size) for index, entry in enumerate(entries)]


def load_hints(path: str | Path, image_size: tuple[int, int] | None = None) -> list[Hint]:
    """Read and validate a ``*.hints.json`` file; see :func:`parse_hints`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ColorStudioError("hints file not found", path) from None
    except UnicodeDecodeError:
        raise ColorStudioError("hints file is not UTF-8 text", path) from None
    except OSError as exc:
        raise ColorStudioError(f"cannot read hints file: {exc.strerror or exc}", path) from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ColorStudioError(f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}", path) from None
    except RecursionError:
        raise ColorStudioError("not valid JSON: nested too deeply", path) from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise ColorStudioError(f"not valid JSON: {exc}", path) from None
    return parse_hints(obj, source=path, image_size=image_size)


def hints_to_json(hints: Iterable[Hint]) -> dict[str, Any]:
    """The JSON document for ``hints`` (version 1)."""
    return {"version": HINTS_VERSION, "hints": [hint.to_json() for hint in hints]}


def save_hints(path: str | Path, hints: Iterable[Hint]) -> Path:
    """Write a hints file atomically (temporary file in the same folder, then ``os.replace``)."""
    path = Path(path)
    text = json.dumps(hints_to_json(hints), indent=2) + "\n"
    try:
        handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ColorStudioError(f"cannot write hints file: {exc.strerror or exc}", path) from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temp_name, path)
    except OSError as exc:
        Path(temp_name).unlink(missing_ok=True)
        raise ColorStudioError(f"cannot write hints file: {exc.strerror or exc}", path) from None
    return path


def rasterize_hints(
    hints: Sequence[Hint], source_size: tuple[int, int], work_size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Hint channels on the model's working grid (Zhang et al. 2017 input format).

    A hint covers the cells whose centres lie inside its disc, mapped to the working grid (an ellipse
    when the two axes scale differently), and always the cell containing its centre. Later hints
    override earlier ones. A hint whose centre lies outside the source image is ignored (load with
    ``image_size`` to reject such files instead).

    Args:
        hints: in order; coordinates in source pixels.
        source_size: (W, H) of the source image.
        work_size: (w, h) of the working grid.

    Returns:
        ab: (2, h, w) float32, the hint's a*, b* normalized (``/ AB_SCALE``), zero where no hint.
        mask: (1, h, w) float32, 1 where a hint is, else 0.
    """
    src_w, src_h = source_size
    work_w, work_h = work_size
    if min(src_w, src_h, work_w, work_h) <= 0:
        raise ValueError(f"sizes must be positive, got source {source_size}, work {work_size}")
    ab = np.zeros((2, work_h, work_w), dtype=np.float32)
    mask = np.zeros((1, work_h, work_w), dtype=np.float32)
    scale_x, scale_y = work_w / src_w, work_h / src_h
    for hint in hints:
        if not (0.0 <= hint.x <= src_w and 0.0 <= hint.y <= src_h):
            continue
        cx, cy = hint.x * scale_x, hint.y * scale_y
        rx, ry = hint.radius * scale_x, hint.radius * scale_y
        # Cells (i, j) whose centres (i + 0.5, j + 0.5) fall inside the ellipse, searched in its bounding box.
        x_lo, x_hi = max(0, math.floor(cx - rx)), min(work_w, math.ceil(cx + rx) + 1)
        y_lo, y_hi = max(0, math.floor(cy - ry)), min(work_h, math.ceil(cy + ry) + 1)
        cols = (np.arange(x_lo, x_hi) + 0.5 - cx) / rx
        rows = (np.arange(y_lo, y_hi) + 0.5 - cy) / ry
        inside = rows[:, None] ** 2 + cols[None, :] ** 2 <= 1.0
        covered = np.zeros((work_h, work_w), dtype=bool)
        covered[y_lo:y_hi, x_lo:x_hi] = inside
        # x == W (the right edge) belongs to the last cell.
        covered[min(int(cy), work_h - 1), min(int(cx), work_w - 1)] = True
        a, b = normalize_ab(np.array(hint.ab(), dtype=np.float64))
        ab[0][covered] = a
        ab[1][covered] = b
        mask[0][covered] = 1.0
    return ab, mask


# ---------------------------------------------------------------------------------------------- sweep hints as points
def _hex(rgb: np.ndarray) -> str:
    return "#" + "".join(f"{int(v):02x}" for v in np.rint(np.clip(rgb, 0.0, 1.0) * 255.0))


def _color_with_ab(lightness: float, a: float, b: float) -> str:
    """An sRGB color with chroma (a, b) at the in-gamut L* closest to ``lightness``.

    Only the hint's chroma reaches the model, so the L* is free: searching for one where (a, b) fits in
    the gamut keeps the chroma intact where the patch's own L* would clip it.
    """
    candidates = np.concatenate([[lightness], np.arange(0.0, 100.5, 0.5)])
    candidates = candidates[np.argsort(np.abs(candidates - lightness), kind="stable")]
    lab = np.stack([candidates, np.full_like(candidates, a), np.full_like(candidates, b)], axis=1)
    rgb = lab_to_rgb(lab, clip=False)
    inside = np.flatnonzero(np.all((rgb >= -1e-6) & (rgb <= 1 + 1e-6), axis=1))
    return _hex(rgb[inside[0]] if inside.size else np.clip(rgb[0], 0.0, 1.0))


def sweep_hint_points(rgb: np.ndarray, n_hints: int, seed: int, patch: int = SWEEP_PATCH) -> list[Hint]:
    """The sweep's hints as :class:`Hint` objects (for a ``*.hints.json`` file), same points as
    :func:`colorstudio.models.hint_sim.sweep_hints`.

    Args:
        rgb: (H, W, 3) uint8 (or float in [0, 1]) ground-truth sRGB.
        n_hints, seed, patch: as :func:`colorstudio.models.hint_sim.sweep_hints`.

    Returns:
        Hints at the patch centres (continuous pixels), radius ``patch / 2``, colored with the patch's
        mean ab (at the patch's mean L* when that is in gamut; see ``_color_with_ab``).
    """
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must be an (H, W, 3) array, got shape {getattr(rgb, 'shape', None)}")
    lab = rgb_to_lab(to_float(rgb).astype(np.float64))
    hints = []
    for top, left, size in sweep_corners(rgb.shape[0], rgb.shape[1], n_hints, seed, patch):
        lightness, a, b = lab[top : top + size, left : left + size].reshape(-1, 3).mean(axis=0)
        color = _color_with_ab(float(lightness), float(a), float(b))
        hints.append(Hint(x=left + size / 2.0, y=top + size / 2.0, radius=size / 2.0, color=color))
    return hints
