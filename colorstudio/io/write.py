"""Write results as PNG (8/16-bit) or TIFF (8/16-bit), atomically, never over the source image.

Every file is written to a hidden temporary file in the destination folder, flushed to disk and then
renamed over the destination (``os.replace``), so a crash, an error or a cancel leaves either the old
file or the complete new one, never a partial file. The temporary file is ``.NAME.PID-XXXXXXXX.tmp``; one
that a killed run left behind (its process is gone) is removed when NAME is written next.
"""

from __future__ import annotations

import contextlib
import os
import re
import struct
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
import tifffile
from PIL import Image, PngImagePlugin

from colorstudio import __version__
from colorstudio.color import to_uint
from colorstudio.errors import CancelledError, ColorStudioError
from colorstudio.io.maps import (
    COLORMAP_NAMES,
    UNCERTAINTY_COLORMAP,
    colormap_rgb,
    stretch,
    stretch_range,
    uncertainty_legend,
    upsample_map,
)

__all__ = ["EXPORT_FORMATS", "GRAY_MAP_COLORMAPS", "save_gray_map", "save_image", "save_uncertainty_map"]

EXPORT_FORMATS = {".png": "png", ".tif": "tiff", ".tiff": "tiff"}
"""File suffix -> format name understood by :func:`save_image`."""

SOFTWARE = f"ColorStudio {__version__}"
_PNG_COMPRESS_LEVEL = 6
_QUANTIZE_CHUNK_PIXELS = 1 << 20
_TIFF_COMPRESSION = "zlib"  # Deflate (8): lossless, readable everywhere, no extra codec library needed


GRAY_MAP_COLORMAPS = COLORMAP_NAMES
"""Names accepted by :func:`save_gray_map` (OpenCV's color maps: "inferno", "magma", "viridis", ...)."""

ProgressFn = Callable[[float, str], None]
CancelFn = Callable[[], bool]


def save_image(
    path: str | Path,
    rgb: np.ndarray,
    *,
    bit_depth: int = 8,
    fmt: str | None = None,
    icc_profile: bytes | None = None,
    source_path: str | Path | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> Path:
    """Write an sRGB image as PNG or TIFF, 8 or 16 bits per sample, atomically.

    Args:
        path: destination file; its folder must exist. An existing file is replaced.
        rgb: float ``(H, W, 3)`` in [0, 1]; values outside are clipped, then rounded to the nearest level.
        bit_depth: 8 or 16.
        fmt: "png" or "tiff" ("tif"); None takes it from the suffix (.png, .tif, .tiff).
        icc_profile: embedded when it is an RGB profile (a gray scan's profile cannot describe an RGB
            result and is left out); PNG iCCP chunk, TIFF tag 34675 (InterColorProfile).
        source_path: the image the result came from; writing onto it is refused.
        progress, cancel: see the project's progress/cancel convention; cancel raises CancelledError.

    Returns the destination path. Raises ColorStudioError (naming the file) for an unknown format or bit
    depth, the source as destination, a missing folder, or a write error; nothing is left behind.
    """
    dest = Path(path)
    kind = _export_format(dest, fmt)
    if bit_depth not in (8, 16):
        raise ColorStudioError(f"unsupported bit depth {bit_depth!r} (choose 8 or 16)", dest)
    _check_rgb(rgb)
    _check_destination(dest, source_path)
    _report(progress, 0.0, "Preparing export")
    _check_cancel(cancel)
    samples = _quantize(rgb, bit_depth, progress, cancel)
    icc = icc_profile if _is_rgb_icc_profile(icc_profile) else None
    _report(progress, 0.3, f"Encoding {kind.upper()}")
    with _atomic_output(dest) as fh:
        if kind == "png":
            _write_png(fh, samples, icc)
        else:
            _write_tiff(fh, samples, icc)
        _report(progress, 0.9, "Writing file")
        _check_cancel(cancel)  # last chance: the temporary file is dropped, the destination untouched
    _report(progress, 1.0, "Saved")
    return dest


def save_gray_map(
    path: str | Path,
    values: np.ndarray,
    colormap: str | None = None,
    *,
    value_range: tuple[float, float] = (0.0, 1.0),
    text: dict[str, str] | None = None,
    source_path: str | Path | None = None,
) -> Path:
    """Write a map (e.g. uncertainty) ``(H, W)`` as an 8-bit PNG, atomically.

    ``value_range`` (lo, hi) is stretched linearly over the 256 levels (outside it: clipped).
    ``colormap`` None writes plain gray (lo = black); otherwise one of :data:`GRAY_MAP_COLORMAPS`
    ("inferno", "magma", ...) gives an RGB PNG, coloured exactly as :func:`colorstudio.io.maps.colormap_rgb`
    (the GUI overlay's function). ``text``: PNG text chunks (e.g. the legend).
    """
    dest = Path(path)
    values = np.asarray(values)
    if values.ndim != 2 or values.size == 0 or not np.issubdtype(values.dtype, np.floating):
        raise ValueError(f"save_gray_map: expected a non-empty float (H, W) array, got {values.dtype} {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError("save_gray_map: values contain NaN or infinity")
    if colormap is not None and colormap.lower() not in GRAY_MAP_COLORMAPS:
        raise ColorStudioError(f"unknown color map {colormap!r} (choose from {', '.join(GRAY_MAP_COLORMAPS)})", dest)
    _check_destination(dest, source_path)
    stretched = stretch(values, value_range)
    levels = colormap_rgb(stretched, colormap) if colormap is not None else to_uint(stretched, 8)
    with _atomic_output(dest) as fh:
        _write_png(fh, levels, None, text)
    return dest


def save_uncertainty_map(
    path: str | Path, values: np.ndarray, size: tuple[int, int], *, mode: str = "auto",
    colormap: str = UNCERTAINTY_COLORMAP, source_path: str | Path | None = None,
) -> tuple[Path, tuple[float, float]]:
    """Write the uncertainty map ``values`` (h, w) at ``size = (W, H)`` as an RGB PNG, stretched and
    coloured as the GUI overlay shows it; the legend goes into the PNG's text. Returns (path, range)."""
    full = upsample_map(values, size)
    value_range = stretch_range(values, mode)
    written = save_gray_map(path, full, colormap, value_range=value_range, source_path=source_path, text={
        "Description": uncertainty_legend(value_range, colormap),
        "Colormap": colormap,
        "Value range": f"{value_range[0]:.6f} {value_range[1]:.6f}",
    })
    return written, value_range


# --- checks ----------------------------------------------------------------------------------------


def _export_format(dest: Path, fmt: str | None) -> str:
    if fmt is None:
        kind = EXPORT_FORMATS.get(dest.suffix.lower())
        if kind is None:
            raise ColorStudioError(
                f"unknown export format {dest.suffix or '(no suffix)'!r} (use .png, .tif or .tiff)", dest
            )
        return kind
    kind = {"png": "png", "tif": "tiff", "tiff": "tiff"}.get(fmt.lower().lstrip("."))
    if kind is None:
        raise ColorStudioError(f"unknown export format {fmt!r} (choose png or tiff)", dest)
    return kind


def _check_rgb(rgb: np.ndarray) -> None:
    """Shape and dtype problems are programming errors (ValueError), not user errors."""
    if not isinstance(rgb, np.ndarray) or not np.issubdtype(rgb.dtype, np.floating):
        raise ValueError(f"save_image: expected a float numpy array, got {getattr(rgb, 'dtype', type(rgb))}")
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ValueError(f"save_image: expected shape (H, W, 3), got {rgb.shape}")
    if not np.isfinite(rgb).all():
        raise ValueError("save_image: the image contains NaN or infinity")


def _check_destination(dest: Path, source_path: str | Path | None) -> None:
    if dest.is_dir():
        raise ColorStudioError("is a folder; choose a file name to export to", dest)
    if not dest.parent.is_dir():
        raise ColorStudioError(f"the folder {dest.parent} does not exist", dest)
    if source_path is not None and _same_file(dest, Path(source_path)):
        raise ColorStudioError("refusing to overwrite the source image; choose another file name", dest)


def _same_file(a: Path, b: Path) -> bool:
    # samefile also catches hard links and differently spelled paths to one file.
    with contextlib.suppress(OSError):
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    return a.expanduser().resolve() == b.expanduser().resolve()


def _is_rgb_icc_profile(profile: bytes | None) -> bool:
    # ICC header: the data color space signature is at bytes 16..20 (ICC.1:2010, 7.2.6).
    return profile is not None and len(profile) >= 128 and profile[16:20] == b"RGB "


def _report(progress: ProgressFn | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(fraction, message)


def _check_cancel(cancel: CancelFn | None) -> None:
    if cancel is not None and cancel():
        raise CancelledError("export cancelled; nothing was written")


def _quantize(rgb: np.ndarray, bit_depth: int, progress: ProgressFn | None, cancel: CancelFn | None) -> np.ndarray:
    """float (H, W, 3) -> uint8/uint16, in row chunks: bounds to_uint's float64 temporaries on big images."""
    out = np.empty(rgb.shape, dtype=np.uint8 if bit_depth == 8 else np.uint16)
    rows = max(1, _QUANTIZE_CHUNK_PIXELS // rgb.shape[1])
    for top in range(0, rgb.shape[0], rows):
        _check_cancel(cancel)
        out[top : top + rows] = to_uint(rgb[top : top + rows], bit_depth)
        _report(progress, 0.3 * min(1.0, (top + rows) / rgb.shape[0]), "Converting samples")
    return out


# --- atomic file replacement -----------------------------------------------------------------------


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_current_umask()  # what a plain open() would have created


_UNKNOWN_OWNER_STALE_S = 3600.0  # a temporary whose writer cannot be asked (Windows, older versions)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's, or unknowable: keep its file
    return True


def _remove_stale_temporaries(dest: Path) -> None:
    """Remove ``.NAME.PID-XXXXXXXX.tmp`` files of :func:`_atomic_output` whose writer was killed.

    Without a PID (an earlier version's ``.NAME.XXXXXXXX.tmp``), or where a PID cannot be asked about
    (Windows: ``os.kill`` would terminate it), only a file older than an hour counts as abandoned.
    """
    pattern = re.compile(rf"\.{re.escape(dest.name)}\.(?:(\d+)-)?[a-z0-9_]{{8}}\.tmp")
    with contextlib.suppress(OSError):
        for entry in os.scandir(dest.parent):
            match = pattern.fullmatch(entry.name)
            if match is None or not entry.is_file(follow_symlinks=False):
                continue
            with contextlib.suppress(OSError):
                pid = match.group(1)
                if pid is not None and os.name == "posix":
                    stale = int(pid) != os.getpid() and not _process_alive(int(pid))
                else:
                    stale = time.time() - entry.stat(follow_symlinks=False).st_mtime > _UNKNOWN_OWNER_STALE_S
                if stale:
                    os.unlink(entry.path)


@contextlib.contextmanager
def _atomic_output(dest: Path) -> Iterator[BinaryIO]:
    """Yield a temporary file beside ``dest``; on success it replaces ``dest``, on any error it is removed."""
    _remove_stale_temporaries(dest)
    try:
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.{os.getpid()}-", suffix=".tmp")
    except OSError as exc:
        raise ColorStudioError(f"cannot write to this folder ({exc.strerror or exc})", dest) from exc
    os.close(fd)  # reopened by name: tifffile wants a file object whose .name is a path
    tmp = Path(tmp_name)
    try:
        with open(tmp, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        mode = dest.stat().st_mode & 0o777 if dest.exists() else _FILE_MODE
        os.chmod(tmp, mode)  # mkstemp creates 0600; give the export ordinary permissions
        os.replace(tmp, dest)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise ColorStudioError(f"could not write the file ({exc.strerror or exc})", dest) from exc
        raise
    _fsync_folder(dest.parent)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); not possible (nor needed) on Windows."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --- encoders --------------------------------------------------------------------------------------


def _write_png(fh: BinaryIO, samples: np.ndarray, icc: bytes | None, text: dict[str, str] | None = None) -> None:
    """``samples``: uint8 (H, W) / (H, W, 3), or uint16 (H, W, 3); ``text`` only for uint8."""
    if samples.dtype == np.uint8:
        info = PngImagePlugin.PngInfo()
        info.add_text("Software", SOFTWARE)
        for key, value in (text or {}).items():
            info.add_text(key, value)
        options = {"icc_profile": icc} if icc else {}
        Image.fromarray(samples).save(
            fh, format="PNG", pnginfo=info, compress_level=_PNG_COMPRESS_LEVEL, **options
        )
        return
    fh.write(_encode_png16(samples, icc))


def _encode_png16(samples: np.ndarray, icc: bytes | None) -> bytes:
    """16-bit RGB PNG: Pillow has no such mode, so OpenCV encodes and the metadata chunks are added here."""
    ok, encoded = cv2.imencode(
        ".png", np.ascontiguousarray(samples[..., ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, _PNG_COMPRESS_LEVEL]
    )
    if not ok:
        raise OSError("OpenCV could not encode the PNG")
    data = encoded.tobytes()
    # iCCP must come before IDAT; right after IHDR (signature 8 + IHDR chunk 25 bytes) is always valid.
    ihdr_end = 8 + 12 + 13
    extra = _png_chunk(b"tEXt", b"Software\x00" + SOFTWARE.encode("latin-1"))
    if icc:
        extra += _png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc))
    return data[:ihdr_end] + extra + data[ihdr_end:]


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _write_tiff(fh: BinaryIO, samples: np.ndarray, icc: bytes | None) -> None:
    tifffile.imwrite(
        fh,
        samples,
        photometric="rgb",
        planarconfig="contig",
        compression=_TIFF_COMPRESSION,
        compressionargs={"level": 6},
        predictor=True,  # horizontal differencing: smaller photos, still baseline-readable
        software=SOFTWARE,
        iccprofile=icc,
        metadata=None,  # no tifffile JSON description; no DateTime either: same input, same bytes
    )
