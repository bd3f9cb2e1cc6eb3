"""Read any supported image file into a :class:`SourceImage` (float32 sRGB, full resolution).

Decoders, by what they do best:

- Pillow for JPEG/MPO, PNG (8-bit, 16-bit gray), TIFF up to 8 bits per sample, BMP, WebP, GIF, PPM;
- OpenCV for 16-bit color PNG (Pillow would reduce it to 8 bits);
- tifffile for TIFF with more than 8 bits per sample (16-bit RGB, float, ...) and for TIFFs Pillow
  cannot open.

The pixel size is read from the header and checked against ``max_pixels`` before any pixel is decoded,
and every decode is a full decode so that a truncated file fails here, not later in the pipeline.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import tifffile
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from colorstudio.color import rgb_to_lab, to_float
from colorstudio.errors import ColorStudioError

__all__ = ["DEFAULT_MAX_PIXELS", "SUPPORTED_FORMATS", "SourceImage", "load_image", "luminance"]

DEFAULT_MAX_PIXELS = 200_000_000
"""Largest image (width x height) :func:`load_image` decodes by default: 200 MP, ~2.4 GB as float32 RGB."""

SUPPORTED_FORMATS = ("JPEG", "PNG", "TIFF", "BMP", "WEBP", "GIF", "PPM")
"""Pillow format names that are tried (JPEG includes camera MPO files). An allow-list: Pillow's other
plugins (EPS runs Ghostscript, PSD, ICO, ...) are not what a photo tool should open silently."""

_EXIF_ORIENTATION = 0x0112
_TIFF_BITS_PER_SAMPLE = 258
_TIFF_SAMPLE_FORMAT = 339
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_COLOR_TYPES_WITH_COLOR_OR_ALPHA = (2, 4, 6)  # RGB, gray+alpha, RGBA (0 = gray, 3 = palette)
_LUMINANCE_CHUNK_PIXELS = 1 << 20  # bounds the float64 temporaries of rgb_to_lab on huge images

# Pillow's decompression-bomb limit is a module global; it is raised (never lowered) only while a header
# is read, under this lock, so that a caller's larger ``max_pixels`` is honoured.
_PILLOW_LIMIT_LOCK = threading.Lock()


@dataclass(frozen=True, eq=False)
class SourceImage:
    """A decoded source image. Never modified: ``rgb`` is read-only (copy it to edit).

    Attributes:
        path: absolute path of the file.
        rgb: float32 ``(H, W, 3)`` in [0, 1], the file's pixel values (not converted to sRGB: a profile,
            if any, is kept in ``icc_profile``; CMYK is converted to sRGB). Gray is repeated to 3 channels;
            transparency is composited over white, as the image looks on paper. EXIF orientation applied.
        is_gray: True when the file has no color channels or all its color channels are equal.
        bit_depth: 8 or 16: the precision of the file's samples (float samples count as 16).
        icc_profile: the embedded ICC profile bytes, or None (also None after a CMYK -> sRGB conversion).
        sha256: hex SHA-256 of the file bytes (identifies the source in session files).
    """

    path: Path
    rgb: np.ndarray
    is_gray: bool
    bit_depth: int
    icc_profile: bytes | None
    sha256: str

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels, after EXIF orientation."""
        return int(self.rgb.shape[1]), int(self.rgb.shape[0])


@dataclass(frozen=True)
class _Decoded:
    """Samples as decoded, before conversion: ``pixels`` is ``(H, W, C)`` with C = 1 (gray), 2 (gray +
    alpha), 3 (RGB) or 4 (RGBA); uint8, uint16 or float in [0, 1]."""

    pixels: np.ndarray
    bit_depth: int
    icc_profile: bytes | None
    premultiplied: bool = False


def load_image(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> SourceImage:
    """Decode an image file (JPEG, PNG, TIFF, BMP, WebP, GIF, PPM; 8 or 16 bits) into a SourceImage.

    Args:
        path: the image file.
        max_pixels: refuse images with more than this many pixels (checked on the header, before
            decoding, so that a huge or malicious file costs no memory).

    Raises:
        ColorStudioError: naming the file and the reason: missing, a folder, empty, unreadable, not an
            image, truncated/corrupt, over the pixel limit, or an unsupported pixel format.
    """
    if max_pixels <= 0:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")
    path = Path(path)
    data = _read_file_bytes(path)
    decoded = _decode(data, path, max_pixels)
    rgb, is_gray = _to_rgb(decoded)
    rgb.flags.writeable = False
    return SourceImage(
        path=path.expanduser().resolve(),
        rgb=rgb,
        is_gray=is_gray,
        bit_depth=decoded.bit_depth,
        icc_profile=decoded.icc_profile,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def luminance(src: SourceImage) -> np.ndarray:
    """CIE L* of the source's pixels (read as sRGB, D65): float32 ``(H, W)`` in [0, 100]."""
    rgb = src.rgb
    out = np.empty(rgb.shape[:2], dtype=np.float32)
    rows = max(1, _LUMINANCE_CHUNK_PIXELS // max(1, rgb.shape[1]))
    for top in range(0, rgb.shape[0], rows):
        out[top : top + rows] = rgb_to_lab(rgb[top : top + rows])[..., 0]
    return out


# --- file access -----------------------------------------------------------------------------------


def _read_file_bytes(path: Path) -> bytes:
    if path.is_dir():
        raise ColorStudioError("is a folder, not an image file", path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ColorStudioError("file not found", path) from None
    except PermissionError:
        raise ColorStudioError("permission denied: cannot read the file", path) from None
    except OSError as exc:
        raise ColorStudioError(f"cannot read the file ({exc.strerror or exc})", path) from exc
    if not data:
        raise ColorStudioError("the file is empty (0 bytes)", path)
    return data


def _decode(data: bytes, path: Path, max_pixels: int) -> _Decoded:
    try:
        image = _open_header(data, path, max_pixels)
    except UnidentifiedImageError:
        if data.startswith(_TIFF_MAGIC):
            return _decode_tiff_with_tifffile(data, path, max_pixels)
        raise ColorStudioError(
            "not an image file, or a format ColorStudio cannot read "
            f"(supported: {', '.join(SUPPORTED_FORMATS)})",
            path,
        ) from None
    with image:
        if image.format == "TIFF" and _tiff_needs_tifffile(image):
            return _decode_tiff_with_tifffile(data, path, max_pixels)
        if image.format == "PNG" and _is_16bit_color_png(data):
            return _decode_png16_with_opencv(data, path, image)
        return _decode_with_pillow(image, path)


def _open_header(data: bytes, path: Path, max_pixels: int) -> Image.Image:
    """Image.open reads only the header; the pixel limit is enforced here, before decoding."""
    with _PILLOW_LIMIT_LOCK, warnings.catch_warnings():
        # Anything Pillow would warn about is over max_pixels too, and gets our error below.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        previous = Image.MAX_IMAGE_PIXELS
        if previous is not None and max_pixels > previous:
            Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            image = Image.open(io.BytesIO(data), formats=SUPPORTED_FORMATS)
        except UnidentifiedImageError:
            raise  # an OSError too, but not a damaged file: handled by the caller
        except Image.DecompressionBombError as exc:
            raise ColorStudioError(f"image is too large ({exc})", path) from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            # A recognised header that is cut short or malformed.
            raise ColorStudioError(f"the image header is truncated or corrupt ({exc})", path) from None
        finally:
            Image.MAX_IMAGE_PIXELS = previous
    _check_pixel_limit(image.size, path, max_pixels)
    return image


def _check_pixel_limit(size: tuple[int, int], path: Path, max_pixels: int) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise ColorStudioError(f"the image has no pixels ({width} x {height})", path)
    if width * height > max_pixels:
        raise ColorStudioError(
            f"image is too large: {width} x {height} = {width * height:,} pixels, over the limit of "
            f"{max_pixels:,} pixels",
            path,
        )


def _truncated(path: Path, exc: BaseException) -> ColorStudioError:
    return ColorStudioError(f"the image data is truncated or corrupt ({exc})", path)


# --- Pillow ----------------------------------------------------------------------------------------


def _decode_with_pillow(image: Image.Image, path: Path) -> _Decoded:
    icc = image.info.get("icc_profile") or None
    try:
        image.load()  # full decode: a truncated file raises here (LOAD_TRUNCATED_IMAGES stays False)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise _truncated(path, exc) from None
    oriented: Image.Image = image
    with contextlib.suppress(Exception):  # damaged EXIF: the pixels are fine, keep them as stored
        ImageOps.exif_transpose(oriented, in_place=True)
    mode = oriented.mode
    if mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in oriented.info
        oriented = oriented.convert("RGBA" if has_alpha else "RGB")
    elif mode == "1":
        oriented = oriented.convert("L")
    elif mode == "RGBX":
        oriented = oriented.convert("RGB")
    elif mode == "YCbCr":
        oriented = oriented.convert("RGB")
    elif mode == "CMYK":
        return _Decoded(_cmyk_to_rgb(oriented, icc), bit_depth=8, icc_profile=None)
    mode = oriented.mode

    if mode in ("L", "LA", "La", "RGB", "RGBA", "RGBa"):
        pixels = np.asarray(oriented)
        return _Decoded(_channels_last(pixels), 8, icc, premultiplied=mode in ("La", "RGBa"))
    if mode.startswith("I;16"):
        pixels = np.asarray(oriented).astype(np.uint16)  # native byte order for I;16B
        return _Decoded(pixels[..., None], 16, icc)
    if mode == "I":
        pixels = np.asarray(oriented)
        if pixels.size and (pixels.min() < 0 or pixels.max() > 65535):
            raise ColorStudioError("unsupported 32-bit integer image (values outside 0..65535)", path)
        return _Decoded(pixels.astype(np.uint16)[..., None], 16, icc)
    if mode == "F":
        return _Decoded(_float_samples(np.asarray(oriented))[..., None], 16, icc)
    raise ColorStudioError(f"unsupported image mode {mode!r}", path)


def _cmyk_to_rgb(image: Image.Image, icc: bytes | None) -> np.ndarray:
    """CMYK -> sRGB uint8 through the file's profile; Pillow's naive formula when there is none."""
    if icc is not None:
        try:
            source_profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.createProfile("sRGB")
            converted = ImageCms.profileToProfile(image, source_profile, srgb, outputMode="RGB")
            if converted is not None:
                return np.asarray(converted)
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken or non-CMYK profile: the naive conversion is still a usable picture
    return np.asarray(image.convert("RGB"))


def _channels_last(pixels: np.ndarray) -> np.ndarray:
    return pixels[..., None] if pixels.ndim == 2 else pixels


def _float_samples(pixels: np.ndarray) -> np.ndarray:
    """Float samples are taken as [0, 1]; values outside (HDR, NaN) are clipped."""
    return np.clip(np.nan_to_num(pixels.astype(np.float32), nan=0.0), 0.0, 1.0)


# --- OpenCV (16-bit color PNG) ---------------------------------------------------------------------


def _is_16bit_color_png(data: bytes) -> bool:
    # IHDR is always the first chunk: 8-byte signature, length, b"IHDR", width, height, depth, type.
    if not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR" or len(data) < 26:
        return False
    return data[24] == 16 and data[25] in _PNG_COLOR_TYPES_WITH_COLOR_OR_ALPHA


def _decode_png16_with_opencv(data: bytes, path: Path, header: Image.Image) -> _Decoded:
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise ColorStudioError("the image data is truncated or corrupt (PNG could not be decoded)", path)
    if pixels.ndim == 3:
        # OpenCV orders channels BGR(A); gray+alpha PNGs come back as BGRA.
        pixels = pixels[..., [2, 1, 0, 3]] if pixels.shape[2] == 4 else pixels[..., ::-1]
    pixels = _channels_last(pixels)
    exif = header.info.get("exif")  # an eXIf chunk precedes IDAT, so the header already holds it
    orientation = None
    if exif:
        exif_data = Image.Exif()
        with contextlib.suppress(Exception):  # damaged EXIF: keep the pixels as stored
            exif_data.load(exif)
            orientation = exif_data.get(_EXIF_ORIENTATION)
    pixels = _apply_orientation(pixels, orientation)
    return _Decoded(pixels, 16 if pixels.dtype == np.uint16 else 8, header.info.get("icc_profile") or None)


# --- tifffile (TIFF over 8 bits per sample) --------------------------------------------------------


def _tiff_needs_tifffile(image: Image.Image) -> bool:
    tags = getattr(image, "tag_v2", {})
    bits = tags.get(_TIFF_BITS_PER_SAMPLE, 8)
    bits = max(bits) if isinstance(bits, tuple) else bits
    sample_format = tags.get(_TIFF_SAMPLE_FORMAT, 1)
    sample_format = sample_format[0] if isinstance(sample_format, tuple) else sample_format
    return bits > 8 or sample_format == 3  # 3 = IEEE float


def _decode_tiff_with_tifffile(data: bytes, path: Path, max_pixels: int) -> _Decoded:
    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            page = tif.pages.first
            _check_pixel_limit((int(page.imagewidth), int(page.imagelength)), path, max_pixels)
            pixels = page.asarray()
            axes = page.axes
            photometric = int(page.photometric)
            extrasamples = tuple(int(e) for e in page.extrasamples)
            colormap = page.colormap
            icc_tag = page.tags.get(34675)
            orientation_tag = page.tags.get(274)
    except ColorStudioError:
        raise
    except Exception as exc:  # noqa: BLE001 - tifffile raises many kinds (ValueError, zlib.error, TiffFileError, ...)
        raise _truncated(path, exc) from None
    icc = bytes(icc_tag.value) if icc_tag is not None else None
    pixels = _tiff_channels_last(pixels, axes, path)
    pixels, bit_depth = _tiff_samples(pixels, path)
    pixels, premultiplied, icc = _tiff_photometric(pixels, photometric, extrasamples, colormap, icc, path)
    orientation = int(orientation_tag.value) if orientation_tag is not None else None
    pixels = _apply_orientation(pixels, orientation)
    if pixels.dtype == np.uint8:
        bit_depth = 8
    return _Decoded(pixels, bit_depth, icc, premultiplied)


def _tiff_channels_last(pixels: np.ndarray, axes: str, path: Path) -> np.ndarray:
    if axes == "YX":
        return pixels[..., None]
    if axes == "YXS":
        return pixels
    if axes == "SYX":
        return np.moveaxis(pixels, 0, -1)
    raise ColorStudioError(f"unsupported TIFF layout (axes {axes!r})", path)


def _tiff_samples(pixels: np.ndarray, path: Path) -> tuple[np.ndarray, int]:
    if pixels.dtype == np.bool_:
        return pixels.astype(np.uint8) * np.uint8(255), 8
    if pixels.dtype == np.uint8:
        return pixels, 8
    if pixels.dtype == np.uint16:
        return pixels, 16
    if np.issubdtype(pixels.dtype, np.floating):
        return _float_samples(pixels), 16
    raise ColorStudioError(f"unsupported TIFF sample format {pixels.dtype} (expected 8/16-bit or float)", path)


def _tiff_photometric(
    pixels: np.ndarray,
    photometric: int,
    extrasamples: tuple[int, ...],
    colormap: np.ndarray | None,
    icc: bytes | None,
    path: Path,
) -> tuple[np.ndarray, bool, bytes | None]:
    """-> (gray / gray+alpha / RGB / RGBA samples, alpha premultiplied?, ICC profile still valid)."""
    channels = pixels.shape[2]
    first_extra = extrasamples[0] if extrasamples else 0
    has_alpha = first_extra in (1, 2)  # 1 = associated (premultiplied), 2 = unassociated alpha
    if photometric in (0, 1):  # MINISWHITE, MINISBLACK
        if channels > 2:
            raise ColorStudioError(f"unsupported multi-channel gray TIFF ({channels} samples per pixel)", path)
        if photometric == 0:
            pixels = _invert(pixels[..., :1])
        return (pixels if has_alpha else pixels[..., :1]), first_extra == 1, icc
    if photometric == 2:  # RGB
        return (pixels[..., :4] if has_alpha else pixels[..., :3]), first_extra == 1, icc
    if photometric == 3 and colormap is not None:  # PALETTE: 16-bit color map, indexed by the samples
        rgb: np.ndarray = np.moveaxis(np.asarray(colormap)[:, pixels[..., 0]], 0, -1).astype(np.uint16)
        if not np.any(rgb % 257):  # an 8-bit palette stored the usual way (v * 257)
            rgb = (rgb // 257).astype(np.uint8)
        return rgb, False, icc
    if photometric == 5 and channels >= 4:  # SEPARATED (CMYK): naive, profile-less conversion
        cmyk = to_float(pixels[..., :4]) if pixels.dtype != np.float32 else pixels[..., :4]
        rgb = (1.0 - cmyk[..., :3]) * (1.0 - cmyk[..., 3:4])
        return rgb.astype(np.float32), False, None
    raise ColorStudioError(f"unsupported TIFF photometric interpretation {photometric}", path)


def _invert(pixels: np.ndarray) -> np.ndarray:
    if np.issubdtype(pixels.dtype, np.floating):
        return 1.0 - pixels
    return np.iinfo(pixels.dtype).max - pixels


def _apply_orientation(pixels: np.ndarray, orientation: int | None) -> np.ndarray:
    """Turn ``(H, W, C)`` samples upright for an EXIF/TIFF orientation 1..8 (as ImageOps.exif_transpose)."""
    if orientation == 2:
        return pixels[:, ::-1]
    if orientation == 3:
        return pixels[::-1, ::-1]
    if orientation == 4:
        return pixels[::-1]
    if orientation == 5:
        return pixels.transpose(1, 0, 2)
    if orientation == 6:
        return np.rot90(pixels, k=-1)
    if orientation == 7:
        return pixels[::-1, ::-1].transpose(1, 0, 2)
    if orientation == 8:
        return np.rot90(pixels, k=1)
    return pixels


# --- to float sRGB ---------------------------------------------------------------------------------


def _to_rgb(decoded: _Decoded) -> tuple[np.ndarray, bool]:
    """-> (float32 (H, W, 3) in [0, 1], is_gray). Alpha is composited over white."""
    pixels = decoded.pixels
    channels = pixels.shape[2]
    color = pixels[..., : 1 if channels <= 2 else 3]
    is_gray = channels <= 2 or _channels_equal(color)
    rgb = to_float(np.ascontiguousarray(color))
    if channels in (2, 4):
        alpha = to_float(np.ascontiguousarray(pixels[..., -1:]))
        if decoded.premultiplied:
            rgb = rgb + (1.0 - alpha)
        else:
            rgb = rgb * alpha + (1.0 - alpha)
        rgb = np.clip(rgb, 0.0, 1.0)
    if rgb.shape[2] == 1:
        rgb = np.repeat(rgb, 3, axis=2)
    return np.ascontiguousarray(rgb, dtype=np.float32), bool(is_gray)


def _channels_equal(color: np.ndarray) -> bool:
    return bool(np.array_equal(color[..., 0], color[..., 1]) and np.array_equal(color[..., 1], color[..., 2]))
