"""Training and evaluation images from folders and tar files.

Sources are folders (searched recursively) or ``.tar`` / ``.tar.gz`` archives of image files. Each source
is decoded once, sequentially, into a cache: a uint8 ``.npy`` array ``(N, S, S, 3)`` (S = the store size:
short side resized with Lanczos, centre-cropped) plus a small JSON with the member names and each image's
colorfulness. The cache is keyed by source path, mtime, byte size and store size, so epochs (and later
runs) only read the memory-mapped array; a gzip tar is never read member-by-member at random.

``ColorDataset`` then serves random crops (optionally scale-jittered) + horizontal flips when training, or
centre crops otherwise, as network-ready tensors. Augmentation is a pure function of
``(seed, epoch, index)``, so batches are the same whatever the number of DataLoader workers, and a resumed
run sees exactly the batches it would have seen.

The photo sets themselves (:class:`~colorstudio.io.sources.ImageSource`, ``decode_square``) live in
:mod:`colorstudio.io.sources`, which the evaluation protocol reads too.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from PIL import Image

from colorstudio.color import normalize_ab, normalize_l, rgb_to_lab
from colorstudio.errors import ColorStudioError, ColorStudioWarning
from colorstudio.io.sources import IMAGE_SUFFIXES, ImageSource, decode_square

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageSource",
    "ColorDataset",
    "SourceCache",
    "build_cache",
    "colorfulness_of",
    "decode_square",
    "default_cache_dir",
    "evaluation_dataset",
]

_CACHE_VERSION = 1  # bump when the decoding changes, so old caches are not reused
_DECODE_CHUNK = 256  # images handed to the decode threads at once
_LOCK_POLL_S = 0.5


def default_cache_dir() -> Path:
    """``$COLORSTUDIO_CACHE`` if set, else the per-user cache folder (platformdirs) + ``/datasets``."""
    if env := os.environ.get("COLORSTUDIO_CACHE"):
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("colorstudio")) / "datasets"


def refuse_validation_source(path: str | Path) -> None:
    """Raise if ``path`` lies in a folder named ``val``: held-out images must never be trained on."""
    if "val" in Path(path).resolve().parts:
        raise ColorStudioError("refusing to train on a validation set (a 'val' folder)", Path(path))


def colorfulness_of(rgb: np.ndarray) -> float:
    """Mean distance from gray: mean over pixels of ``max(R,G,B) - min(R,G,B)`` (bicone chroma), in [0, 1].

    ``rgb`` is uint8 ``(..., 3)`` or float in [0, 1].
    """
    arr = np.asarray(rgb)
    spread = arr.max(axis=-1).astype(np.float32) - arr.min(axis=-1).astype(np.float32)
    return float(spread.mean() / (255.0 if arr.dtype == np.uint8 else 1.0))


@dataclass(frozen=True)
class SourceCache:
    """The decoded form of one source: array path, member names, per-image colorfulness (-1 = unreadable)."""

    source: Path
    array_path: Path
    names: tuple[str, ...]
    colorfulness: np.ndarray  # (N,) float32
    store_size: int

    def open(self) -> np.ndarray:
        """Memory-map the uint8 ``(N, S, S, 3)`` array (read-only)."""
        return np.load(self.array_path, mmap_mode="r")


def _cache_paths(source: ImageSource, store_size: int, cache_dir: Path) -> tuple[Path, Path]:
    key = hashlib.sha256(f"v{_CACHE_VERSION}:{source.fingerprint()}:{store_size}".encode()).hexdigest()[:16]
    stem = source.path.name.replace(".", "_")
    return cache_dir / f"{stem}-{store_size}-{key}.npy", cache_dir / f"{stem}-{store_size}-{key}.json"


def _read_meta(source: ImageSource, array_path: Path, meta_path: Path, store_size: int) -> SourceCache | None:
    if not (meta_path.exists() and array_path.exists()):
        return None
    try:
        meta = json.loads(meta_path.read_text())
        cache = SourceCache(
            source.path, array_path, tuple(meta["names"]),
            np.asarray(meta["colorfulness"], dtype=np.float32), int(meta["store_size"]),
        )
    except (OSError, ValueError, KeyError):
        return None  # a damaged cache is rebuilt
    return cache if cache.store_size == store_size and len(cache.names) == len(cache.colorfulness) else None


def _lock_holder_alive(lock: Path) -> bool:
    try:
        host, pid = lock.read_text().split(":")
    except (OSError, ValueError):
        try:  # empty: being written right now, or its writer died before writing
            return time.time() - lock.stat().st_mtime < 30.0
        except OSError:
            return True
    if host != socket.gethostname():
        return True  # cannot check another machine; trust it
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True


def _decode_into(
    out: np.ndarray, colorfulness: np.ndarray, start: int, items: list[tuple[str, bytes]], size: int
) -> list[str]:
    """Decode a chunk into ``out[start:]``; returns the errors (warned about later, in the calling thread)."""
    errors = []
    for k, (name, data) in enumerate(items):
        try:
            img = decode_square(data, size, name)
        except ColorStudioError as exc:
            errors.append(str(exc))
            colorfulness[start + k] = -1.0
            continue
        out[start + k] = img
        colorfulness[start + k] = colorfulness_of(img)
    return errors


def build_cache(
    source: ImageSource | str | Path,
    store_size: int,
    cache_dir: str | Path | None = None,
    *,
    threads: int | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> SourceCache:
    """Decode every image of ``source`` once into ``cache_dir`` (or reuse a matching cache).

    Several processes (DDP ranks, DataLoader workers) may call this at once: one decodes under a lock
    file, the others wait for it. ``threads`` decode threads (Pillow releases the GIL while decoding).
    """
    source = source if isinstance(source, ImageSource) else ImageSource(Path(source))
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    array_path, meta_path = _cache_paths(source, store_size, cache_dir)
    if (cache := _read_meta(source, array_path, meta_path, store_size)) is not None:
        return cache
    cache_dir.mkdir(parents=True, exist_ok=True)
    lock = meta_path.with_suffix(".lock")
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            if not _lock_holder_alive(lock):
                lock.unlink(missing_ok=True)
                continue
            time.sleep(_LOCK_POLL_S)
            if (cache := _read_meta(source, array_path, meta_path, store_size)) is not None:
                return cache
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{socket.gethostname()}:{os.getpid()}")
        break
    try:
        if (cache := _read_meta(source, array_path, meta_path, store_size)) is not None:
            return cache
        return _decode_source(source, store_size, array_path, meta_path, threads, progress)
    finally:
        lock.unlink(missing_ok=True)


def _decode_source(
    source: ImageSource, store_size: int, array_path: Path, meta_path: Path, threads: int | None, progress
) -> SourceCache:
    names = source.names()
    if not names:
        raise ColorStudioError("no images (.jpg, .png, ...) found", source.path)
    n = len(names)
    tmp = array_path.with_name(f"{array_path.stem}.{os.getpid()}.partial.npy")
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(n, store_size, store_size, 3))
    colorfulness = np.full(n, -1.0, dtype=np.float32)
    threads = threads or min(4, os.cpu_count() or 1)
    read_names: list[str] = []
    try:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            pending = []
            chunk: list[tuple[str, bytes]] = []
            for name, data in source.iter_bytes():
                chunk.append((name, data))
                if len(chunk) == _DECODE_CHUNK:
                    pending.append(pool.submit(_decode_into, out, colorfulness, len(read_names), chunk, store_size))
                    read_names += [c[0] for c in chunk]
                    chunk = []
                    if progress is not None:
                        progress(len(read_names) / n, f"decoding {source.path.name}")
            if chunk:
                pending.append(pool.submit(_decode_into, out, colorfulness, len(read_names), chunk, store_size))
                read_names += [c[0] for c in chunk]
            errors = [e for future in pending for e in future.result()]
        if read_names != names:
            raise ColorStudioError("archive changed while it was being read", source.path)
        out.flush()
        del out
        os.replace(tmp, array_path)
    finally:
        tmp.unlink(missing_ok=True)
    if errors:
        shown = "; ".join(errors[:3]) + (f" (and {len(errors) - 3} more)" if len(errors) > 3 else "")
        warnings.warn(f"{len(errors)} unreadable training image(s) skipped: {shown}", ColorStudioWarning, stacklevel=3)
    meta = {"version": _CACHE_VERSION, "source": str(source.path), "store_size": store_size,
            "names": names, "colorfulness": [round(float(c), 6) for c in colorfulness]}
    meta_tmp = meta_path.with_name(f"{meta_path.name}.{os.getpid()}.partial")
    meta_tmp.write_text(json.dumps(meta))
    os.replace(meta_tmp, meta_path)  # the JSON appears last: its presence means the cache is complete
    return SourceCache(source.path, array_path, tuple(names), colorfulness, store_size)


def _probe_store_size(source: ImageSource, size: int) -> int:
    """Native short side of the source's first image, capped at 256 and at least ``size``."""
    first = source.first_image_bytes()
    if first is None:
        raise ColorStudioError("no images (.jpg, .png, ...) found", source.path)
    try:
        with Image.open(io.BytesIO(first[1])) as img:
            return max(size, min(256, min(img.size)))
    except OSError as exc:
        raise ColorStudioError(f"cannot read the first image {first[0]} ({exc})", source.path) from exc


_PairT = TypeVar("_PairT", bound=tuple[Any, Any])


def _balanced(pairs: list[_PairT]) -> list[_PairT]:
    """(source, image) pairs with each source's images repeated (cyclically) up to the largest source's count."""
    by_source: dict[int, list[_PairT]] = {}
    for pair in pairs:
        by_source.setdefault(int(pair[0]), []).append(pair)
    target = max(len(v) for v in by_source.values())
    return [group[k % len(group)] for group in by_source.values() for k in range(target)]


class ColorDataset(torch.utils.data.Dataset):
    """Square crops of color photos as network inputs.

    Items are dicts of float32 tensors: ``"L"`` (1, S, S) = (L* - 50) / 50 in [-1, 1], ``"ab"`` (2, S, S)
    = ab / 110 (roughly [-1, 1]), ``"rgb"`` (3, S, S) sRGB in [0, 1], and ``"index"`` (int64 scalar).

    Args:
        sources: folders and/or tar archives.
        size: training crop side S in pixels.
        train: random crop + horizontal flip (else the centre crop, no flip); refuses sources under ``val/``.
        seed: augmentation seed; with :meth:`set_epoch`, item ``i`` is a pure function of (seed, epoch, i).
        cache_dir: where decoded arrays live (default :func:`default_cache_dir`).
        min_colorfulness: images whose mean distance from gray (:func:`colorfulness_of`) is below this are dropped.
        limit: keep at most this many images, evenly spaced over all sources (deterministic).
        store_size: decoded side kept in the cache; ``None`` = each source's native short side
            (128 for the photo tars, 32 for CIFAR), capped at 256 and at least ``size``.
        crop_scale: ``None`` crops S x S pixels out of the stored image; ``(lo, hi)`` crops a square whose side
            is a uniform fraction in [lo, hi] of the stored side (``hi`` when not training) and resizes it to S.
        decode_threads: threads decoding a source the first time (default min(4, CPU count)).
        balance_sources: when training, repeat each source's images so that every source fills the same
            share of an epoch (a mix dominated by one kind of photo biases the colours toward it).
        progress: ``(fraction, message)`` while a source is decoded into the cache.
    """

    def __init__(
        self,
        sources: Sequence[str | Path],
        size: int,
        *,
        train: bool = True,
        seed: int = 0,
        cache_dir: str | Path | None = None,
        min_colorfulness: float = 2 / 255,
        limit: int | None = None,
        store_size: int | None = None,
        crop_scale: tuple[float, float] | None = None,
        decode_threads: int | None = None,
        progress: Callable[[float, str], None] | None = None,
        balance_sources: bool = False,
    ) -> None:
        if isinstance(sources, (str, Path)):
            sources = [sources]
        if not sources:
            raise ColorStudioError("no training data given")
        if size < 1:
            raise ColorStudioError(f"crop size must be positive, got {size}")
        if crop_scale is not None and not 0 < crop_scale[0] <= crop_scale[1] <= 1:
            raise ColorStudioError(f"crop_scale must satisfy 0 < lo <= hi <= 1, got {crop_scale}")
        if train:
            for src in sources:
                refuse_validation_source(src)
        self.size, self.train, self.seed, self.crop_scale = size, train, seed, crop_scale
        self.epoch = 0
        self.caches: list[SourceCache] = []
        for src in sources:
            source = ImageSource(Path(src))
            side = store_size if store_size is not None else _probe_store_size(source, size)
            if side < size:
                raise ColorStudioError(f"store_size {side} is smaller than the crop size {size}", source.path)
            self.caches.append(build_cache(source, side, cache_dir, threads=decode_threads, progress=progress))
        pairs = [
            (s, i)
            for s, cache in enumerate(self.caches)
            for i in np.flatnonzero(cache.colorfulness >= max(min_colorfulness, 0.0))
        ]
        if limit is not None and limit < len(pairs):
            pairs = [pairs[k] for k in np.linspace(0, len(pairs) - 1, max(limit, 0)).round().astype(int)]
        if not pairs:
            raise ColorStudioError("no color images left after dropping near-gray ones", self.caches[0].source)
        self._distinct = len(pairs)
        if balance_sources and train:
            pairs = _balanced(pairs)
        self._index = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        self._arrays: list[np.ndarray] | None = None  # opened lazily in each process (memmaps don't pickle well)

    # -- sizes and names ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._index)

    @property
    def dropped(self) -> int:
        """Images skipped as near-gray, unreadable or beyond ``limit``."""
        return sum(len(c.names) for c in self.caches) - self._distinct

    def name(self, index: int) -> str:
        s, i = self._index[index]
        return f"{self.caches[s].source.name}:{self.caches[s].names[i]}"

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation of this epoch (call before creating the DataLoader iterator)."""
        self.epoch = int(epoch)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_arrays"] = None
        return state

    # -- items -------------------------------------------------------------------------------------------
    def image_uint8(self, index: int) -> np.ndarray:
        """The stored uint8 (S_store, S_store, 3) image, before cropping."""
        if self._arrays is None:
            self._arrays = [cache.open() for cache in self.caches]
        s, i = self._index[index]
        return self._arrays[s][i]

    def _crop(self, img: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        side_full = img.shape[0]
        if self.crop_scale is None:
            side = self.size
        elif rng is None:
            side = round(self.crop_scale[1] * side_full)
        else:
            side = round(rng.uniform(*self.crop_scale) * side_full)
        side = int(np.clip(side, 1, side_full))
        if rng is None:
            top = left = (side_full - side) // 2
        else:
            top, left = (int(v) for v in rng.integers(0, side_full - side + 1, size=2))
        crop = img[top : top + side, left : left + side]
        if side != self.size:
            import cv2

            interp = cv2.INTER_AREA if side > self.size else cv2.INTER_LINEAR
            crop = cv2.resize(np.ascontiguousarray(crop), (self.size, self.size), interpolation=interp)
        if rng is not None and rng.random() < 0.5:
            crop = crop[:, ::-1]
        return crop

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, int(index)]) if self.train else None
        crop = self._crop(self.image_uint8(index), rng)
        rgb = np.ascontiguousarray(crop, dtype=np.float32) / np.float32(255.0)  # (S, S, 3)
        lab = rgb_to_lab(rgb)
        chw = lambda a: torch.from_numpy(np.ascontiguousarray(np.moveaxis(a, -1, 0), dtype=np.float32))  # noqa: E731
        return {
            "L": chw(normalize_l(lab[..., :1])),
            "ab": chw(normalize_ab(lab[..., 1:])),
            "rgb": chw(rgb),
            "index": torch.tensor(index, dtype=torch.int64),
        }


def evaluation_dataset(path: str | Path, working_resolution: int, limit: int | None = None) -> ColorDataset:
    """Validation items for a likelihood (bits/dim): every image (near-gray ones too), the centred square
    of its short side resized to ``working_resolution``, no flip."""
    return ColorDataset([str(path)], working_resolution, train=False, min_colorfulness=0.0, limit=limit,
                        crop_scale=(1.0, 1.0))
