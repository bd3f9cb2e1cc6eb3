"""Sets of photos: a folder (searched recursively) or a tar archive of image files, read in a fixed order.

What the training data sets (:mod:`colorstudio.training.data`) and the evaluation protocol
(:func:`colorstudio.evaluation.protocol.load_eval_set`) both read, and how both make a square of an image
(:func:`decode_square`: EXIF orientation, short side resized, centre crop).
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from colorstudio.errors import ColorStudioError

__all__ = ["IMAGE_SUFFIXES", "ImageSource", "decode_square", "resize_short_side_and_crop"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")

def _is_tar(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(_TAR_SUFFIXES)


def _is_image_name(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return name.lower().endswith(IMAGE_SUFFIXES) and not base.startswith(".")


@dataclass(frozen=True)
class ImageSource:
    """A folder (recursive) or tar archive of image files (training or evaluation), read in a fixed order:
    sorted paths for a folder, archive order for a tar."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path).expanduser().resolve())
        if not self.path.exists():
            raise ColorStudioError("image data not found", self.path)
        if not (self.path.is_dir() or _is_tar(self.path)):
            raise ColorStudioError("image data must be a folder or a .tar / .tar.gz of images", self.path)

    @property
    def is_tar(self) -> bool:
        return _is_tar(self.path)

    def _folder_files(self) -> list[Path]:
        return sorted(p for p in self.path.rglob("*") if p.is_file() and _is_image_name(p.name))

    def fingerprint(self) -> str:
        """Changes whenever the source's content may have changed (path, mtimes, sizes)."""
        h = hashlib.sha256(str(self.path).encode())
        if self.is_tar:
            st = self.path.stat()
            h.update(f"{st.st_mtime_ns}:{st.st_size}".encode())
        else:
            for p in self._folder_files():
                st = p.stat()
                h.update(f"{p.relative_to(self.path)}:{st.st_mtime_ns}:{st.st_size}\n".encode())
        return h.hexdigest()[:16]

    def names(self) -> list[str]:
        """Member names (tar) or relative paths (folder) of the images, in reading order."""
        if not self.is_tar:
            return [p.relative_to(self.path).as_posix() for p in self._folder_files()]
        with self._open_tar() as tf:
            return [m.name for m in self._tar_members(tf)]

    def _open_tar(self) -> tarfile.TarFile:
        try:
            return tarfile.open(self.path, "r:*")
        except (tarfile.TarError, OSError) as exc:
            raise ColorStudioError(f"cannot read tar archive ({exc})", self.path) from exc

    @staticmethod
    def _tar_members(tf: tarfile.TarFile) -> list[tarfile.TarInfo]:
        # Kept in archive order: reading a gzip tar forwards is one pass, seeking back restarts it.
        return [m for m in tf.getmembers() if m.isfile() and _is_image_name(m.name)]

    def iter_bytes(self) -> Iterator[tuple[str, bytes]]:
        """Yield ``(name, file bytes)`` for every image, sequentially."""
        if not self.is_tar:
            for p in self._folder_files():
                yield p.relative_to(self.path).as_posix(), p.read_bytes()
            return
        with self._open_tar() as tf:
            for member in self._tar_members(tf):
                fh = tf.extractfile(member)
                if fh is not None:
                    yield member.name, fh.read()

    def first_image_bytes(self) -> tuple[str, bytes] | None:
        """The first image without reading the whole archive (a streaming read stops early)."""
        if not self.is_tar:
            files = self._folder_files()
            return (files[0].name, files[0].read_bytes()) if files else None
        try:
            with tarfile.open(self.path, "r|*") as tf:
                for member in tf:
                    if member.isfile() and _is_image_name(member.name):
                        fh = tf.extractfile(member)
                        return (member.name, fh.read()) if fh is not None else None
        except (tarfile.TarError, OSError) as exc:
            raise ColorStudioError(f"cannot read tar archive ({exc})", self.path) from exc
        return None

    def __len__(self) -> int:
        return len(self.names())


def resize_short_side_and_crop(img: Image.Image, size: int) -> Image.Image:
    """Short side -> ``size`` (Lanczos, which is area-like when shrinking), then a centre crop."""
    w, h = img.size
    if (w, h) != (size, size):
        scale = size / min(w, h)
        new_w, new_h = max(size, round(w * scale)), max(size, round(h * scale))
        if (new_w, new_h) != (w, h):
            img = img.resize((new_w, new_h), Image.Resampling.LANCZOS, reducing_gap=3.0)
        left, top = (new_w - size) // 2, (new_h - size) // 2
        img = img.crop((left, top, left + size, top + size))
    return img


def decode_square(data: bytes, size: int, name: str = "image", *, draft: bool = True) -> np.ndarray:
    """Decode image bytes to uint8 sRGB ``(size, size, 3)``: EXIF orientation, short side resized, centre crop.

    Gray, palette, RGBA (alpha dropped) and 16-bit sources are converted to 8-bit RGB. ``draft`` lets
    large JPEGs be downscaled in the DCT domain first (to >= 2x the target; training caches only).
    """
    try:
        img: Image.Image = Image.open(io.BytesIO(data))
        if draft and img.format == "JPEG" and min(img.size) >= 2 * size:
            # DCT-domain downscale: much faster, still >= 2x the target, Lanczos does the rest.
            img.draft("RGB", (2 * size, 2 * size))
        img = ImageOps.exif_transpose(img)
        if img.mode in ("I;16", "I;16B", "I;16L", "I"):
            arr = np.asarray(img, dtype=np.float32)
            img = Image.fromarray(np.clip(arr / (65535.0 if arr.max() > 255 else 1.0) * 255.0 + 0.5, 0, 255).astype(np.uint8))
        img = img.convert("RGB")
        img = resize_short_side_and_crop(img, size)
        return np.asarray(img, dtype=np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ColorStudioError(f"cannot decode image ({exc})", name) from exc
