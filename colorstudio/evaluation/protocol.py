"""The evaluation protocol of ``shared/DESIGN.md``: data, baselines, the metric sweep, reports.

- Ground truth: short side resized to 256 (Lanczos), centre crop 256x256 (``size`` keeps 32 for CIFAR).
- Model input: Lab L* of the ground truth; outputs compared in uint8 sRGB.
- Baselines beside every model: the gray image (ab = 0) and a constant tint (every pixel given the median
  ab of the training photos).
- Hints for a sweep: Zhang et al. 2017 via ``colorstudio.models.hint_sim.sweep_hints`` (seed = index).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image, ImageOps

from colorstudio import __version__
from colorstudio.color import lab_to_rgb, normalize_ab, rgb_to_lab, to_float, to_uint
from colorstudio.errors import CancelledError, ColorStudioError
from colorstudio.evaluation import metrics
from colorstudio.io.sources import ImageSource, decode_square
from colorstudio.models.hint_sim import sweep_hints

__all__ = [
    "EVAL_SIZE",
    "TRAINING_MEDIAN_AB",
    "METRIC_COLUMNS",
    "PredictFn",
    "EvalRow",
    "EvalReport",
    "load_eval_set",
    "merge_reports",
    "gray_baseline",
    "constant_tint_baseline",
    "median_training_ab",
    "evaluate",
    "format_table",
    "write_json",
]

EVAL_SIZE = 256
# Median a*, b* over every pixel of the training photos in shared/data/train/*.tar except CIFAR-10
# (23 932 photos, 128x128), measured with ``median_training_ab``; used by the constant-tint baseline.
TRAINING_MEDIAN_AB: tuple[float, float] = (1.595, 5.585)

GRAY_METHOD = "gray"
TINT_METHOD = "constant tint"

# (report key, table header). Sample-0 metrics first; those from psnr_best on exist only when samples > 1.
METRIC_COLUMNS: tuple[tuple[str, str], ...] = (
    ("psnr", "PSNR"),
    ("ssim", "SSIM"),
    ("rmse_ab", "RMSE ab"),
    ("rmse_ab_lab", "RMSE Lab"),
    ("colorfulness_ratio", "Colorful"),
    ("hist_intersection", "HistInt"),
    ("psnr_best", "PSNR best"),
    ("psnr_samples_mean", "PSNR avg"),
    ("psnr_worst", "PSNR worst"),
    ("diversity_ms_ssim", "MS-SSIM"),
    ("diversity_ms_ssim_median", "MS-SSIM med"),
    ("psnr_mean", "PSNR mean"),
    ("hint_ab_error", "Hint err"),
    ("hint_ab_error_worst", "Hint err worst"),
    ("spread_skill_median", "Spread/skill"),
)
# aggregated over images as a median instead of a mean (report key -> per-image key)
MEDIAN_COLUMNS = {"diversity_ms_ssim_median": "diversity_ms_ssim", "spread_skill_median": "spread_skill"}
METRIC_NOTES = {
    "psnr": "dB, uint8 sRGB, sample 0 (the top-ranked one where the model ranks its samples and the order is "
            "plausibility), identical images capped at 100 dB",
    "ssim": "Wang 2004 (Gaussian sigma 1.5), per RGB channel, sample 0",
    "rmse_ab": "RMSE of Deshpande/Larsson alpha-beta chromaticity, sample 0",
    "rmse_ab_lab": "RMSE of Lab ab / 110, sample 0",
    "colorfulness_ratio": "Hasler-Suesstrunk colorfulness of sample 0 / of ground truth",
    "hist_intersection": "intersection of a* and b* marginal histograms (64 bins), sample 0",
    "psnr_best": "best PSNR over the N samples",
    "psnr_samples_mean": "mean over the N samples of each sample's PSNR (a sample picked at random, on average)",
    "psnr_worst": "worst PSNR over the N samples (the outliers that truncation removes)",
    "diversity_ms_ssim": "mean pairwise MS-SSIM between the N samples (lower = more diverse)",
    "diversity_ms_ssim_median": "median over images of the mean pairwise MS-SSIM between the N samples",
    "psnr_mean": "PSNR of the per-pixel mean of the N samples (the model's posterior mean, estimated)",
    "hint_ab_error": "mean Lab a*b* distance from the hint colours over the hinted pixels, sample 0 (with hints)",
    "hint_ab_error_worst": "the largest hint error over the N samples: every sample should honour the hints",
    "spread_skill_median": "median over images of sqrt((N+1)/N) x sample spread / RMSE of the sample mean "
                           "(1 = calibrated, < 1 overconfident)",
}

Progress = Callable[[float, str], None]
Cancel = Callable[[], bool]
# predict_fn(L (H,W) L* float32, hint_ab (2,H,W) normalized ab, hint_mask (1,H,W) in {0,1}, samples, seed)
#   -> list of `samples` uint8 sRGB images (H,W,3)
PredictFn = Callable[[np.ndarray, np.ndarray, np.ndarray, int, int], Sequence[np.ndarray]]


class ReferenceFn(Protocol):
    """A ``PredictFn`` that is also given the ground-truth image as a colour ``reference``."""

    def __call__(self, lightness: np.ndarray, hint_ab: np.ndarray, hint_mask: np.ndarray, samples: int, seed: int, /,
                 *, reference: np.ndarray) -> Sequence[np.ndarray]: ...


# ----------------------------------------------------------------------------------------------- data
# Reading folders/tars and the resize + centre crop are shared with training (colorstudio.training.data),
# so evaluation ground truth and training crops are made the same way.


def _decode(data: bytes, name: str, source: Path) -> np.ndarray:
    """Image bytes -> uint8 sRGB (H, W, 3) at the stored size (EXIF orientation applied)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(ImageOps.exif_transpose(image).convert("RGB"), dtype=np.uint8)
    except Exception as exc:  # Pillow raises many types for bad data
        raise ColorStudioError(f"{name}: cannot decode image ({exc})", source) from exc


def _spread(names: Sequence[str], limit: int | None) -> list[str]:
    """``limit`` names evenly spaced through the list (so a class-per-folder set stays balanced)."""
    if limit is None or limit >= len(names):
        return list(names)
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    return [names[i * len(names) // limit] for i in range(limit)]


def load_eval_set(
    path: str | os.PathLike[str], limit: int | None = None, *, size: int = EVAL_SIZE
) -> list[tuple[str, np.ndarray]]:
    """Ground-truth images of a folder or tar/tar.gz archive, following the evaluation protocol.

    Each image: EXIF orientation applied, converted to RGB, short side resized to ``size`` (Lanczos),
    centre-cropped to ``size`` x ``size`` (``colorstudio.training.data.decode_square``); returned as
    ``(name, uint8 (size, size, 3))`` sorted by name (path relative to the folder, or tar member name), so
    a folder and a tar of the same photos give the same order and hence the same hint seeds.
    ``size=32`` keeps CIFAR images as they are. ``limit``: that many images evenly spaced through the
    sorted names (a deterministic, class-balanced subset for sets stored one folder per class).
    Raises ColorStudioError for a missing path, an empty set or an undecodable image (an evaluation
    silently missing images would not be comparable).
    """

    source = ImageSource(Path(path))
    names = _spread(sorted(source.names()), limit)
    if not names:
        raise ColorStudioError("no images found (expected .jpg/.png/... files)", source.path)
    wanted = set(names)
    decoded = {
        name: decode_square(data, size, name, draft=False) for name, data in source.iter_bytes() if name in wanted
    }
    return [(name, decoded[name]) for name in names]


# ------------------------------------------------------------------------------------------ baselines


def _lab_of(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB (H,W,3) -> float64 Lab (H,W,3)."""
    return np.asarray(rgb_to_lab(to_float(rgb).astype(np.float64)))


def _with_constant_ab(lightness: np.ndarray, a: float, b: float) -> np.ndarray:
    lab = np.stack([lightness, np.full_like(lightness, a), np.full_like(lightness, b)], axis=-1)
    return np.asarray(lab_to_rgb(lab, clip=True))


def _gray_from_lightness(lightness: np.ndarray) -> np.ndarray:
    gray = _with_constant_ab(lightness, 0.0, 0.0).mean(axis=-1)  # equal channels up to float error
    return np.repeat(to_uint(gray, 8)[..., None], 3, axis=-1)


def _tint_from_lightness(lightness: np.ndarray, ab: tuple[float, float]) -> np.ndarray:
    a, b = (float(v) for v in ab)
    return to_uint(_with_constant_ab(lightness, a, b), 8)


def gray_baseline(rgb: np.ndarray) -> np.ndarray:
    """"No colorization": the Lab L* of ``rgb`` with a* = b* = 0, as uint8 sRGB (H,W,3) with R = G = B."""
    metrics._check_rgb(rgb, "rgb")
    return _gray_from_lightness(_lab_of(rgb)[..., 0])


def constant_tint_baseline(rgb: np.ndarray, ab_median: tuple[float, float] = TRAINING_MEDIAN_AB) -> np.ndarray:
    """Every pixel gets the L* of ``rgb`` and the fixed ``ab_median`` (a*, b*); uint8 sRGB (H,W,3).
    Colors outside the sRGB gamut are clipped (no lightness correction)."""
    metrics._check_rgb(rgb, "rgb")
    return _tint_from_lightness(_lab_of(rgb)[..., 0], ab_median)


_AB_HIST_STEP = 0.01  # resolution of the pixel median
_AB_HIST_LO = -128.0
_AB_HIST_BINS = int(256 / _AB_HIST_STEP)
_MEDIAN_CACHE_NAME = "median_training_ab.json"


def _median_cache_key(sources: Sequence[Any], limit: int | None) -> str:
    blob = json.dumps(
        {"sources": [s.fingerprint() for s in sources], "limit": limit, "step": _AB_HIST_STEP, "v": 1}, sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _default_cache_dir() -> Path:
    """``$COLORSTUDIO_CACHE`` if set (as for the training caches), else the per-user cache folder."""
    if env := os.environ.get("COLORSTUDIO_CACHE"):
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("colorstudio"))


def _median_from_counts(counts: np.ndarray) -> float:
    cdf = np.cumsum(counts)
    index = int(np.searchsorted(cdf, cdf[-1] / 2.0))
    return _AB_HIST_LO + (index + 0.5) * _AB_HIST_STEP


def median_training_ab(
    sources: Iterable[str | os.PathLike[str]],
    limit: int | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> tuple[float, float]:
    """Median a* and median b* over every pixel of the training photos (the constant-tint baseline).

    ``sources``: folders or tar/tar.gz archives of images, read at their stored size (no crop).
    ``limit``: at most that many images per source, evenly spaced; None = all. The medians are those of
    the marginal pixel distributions, resolved to 0.01. The result is cached in a small JSON file in
    ``cache_dir`` (default: the user cache dir) keyed by the sources' image_sources, sizes, mtimes and ``limit``.
    """

    image_sources = [ImageSource(Path(s)) for s in sources]
    if not image_sources:
        raise ValueError("median_training_ab needs at least one source")
    key = _median_cache_key(image_sources, limit)
    cache_file = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
    cache_file = cache_file / _MEDIAN_CACHE_NAME
    cache = _read_json_dict(cache_file)
    if key in cache:
        a, b = cache[key]["ab"]
        return float(a), float(b)

    counts = np.zeros((2, _AB_HIST_BINS), dtype=np.int64)
    n_images = 0
    for k, source in enumerate(image_sources):
        wanted = set(_spread(source.names(), limit)) if limit is not None else None
        for name, data in source.iter_bytes():
            if wanted is not None and name not in wanted:
                continue
            if cancel is not None and cancel():
                raise CancelledError()
            ab = np.asarray(rgb_to_lab(to_float(_decode(data, name, source.path)).astype(np.float64)))
            index = np.clip(((ab[..., 1:] - _AB_HIST_LO) / _AB_HIST_STEP).astype(np.int64), 0, _AB_HIST_BINS - 1)
            counts[0] += np.bincount(index[..., 0].ravel(), minlength=_AB_HIST_BINS)
            counts[1] += np.bincount(index[..., 1].ravel(), minlength=_AB_HIST_BINS)
            n_images += 1
        if progress is not None:
            progress((k + 1) / len(image_sources), f"median ab: {source.path.name} ({n_images} images so far)")
    if n_images == 0:
        raise ColorStudioError("no images found in the training sources", image_sources[0].path)
    a, b = round(_median_from_counts(counts[0]), 4), round(_median_from_counts(counts[1]), 4)
    described = [str(source.path) for source in image_sources]
    cache[key] = {"ab": [a, b], "images": n_images, "sources": described, "limit": limit}
    _write_json_atomic(cache_file, cache)
    return a, b


# ---------------------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class EvalRow:
    """Averages of one method at one hint count; ``metrics`` maps METRIC_COLUMNS keys to means over
    images (NaN-aware; a metric absent for this row is missing)."""

    method: str
    hints: int
    n_images: int
    metrics: Mapping[str, float]


@dataclass(frozen=True)
class EvalReport:
    """Result of ``evaluate``: one row per (method, hint count), per-image values, and the settings."""

    rows: tuple[EvalRow, ...]
    per_image: tuple[Mapping[str, Any], ...]
    settings: Mapping[str, Any] = field(default_factory=dict)

    def row(self, method: str, hints: int = 0) -> EvalRow:
        for candidate in self.rows:
            if candidate.method == method and candidate.hints == hints:
                return candidate
        raise KeyError(f"no row for method {method!r} with {hints} hints")

    def to_dict(self) -> dict[str, Any]:
        return {
            "settings": dict(self.settings),
            "rows": [
                {"method": r.method, "hints": r.hints, "n_images": r.n_images, "metrics": dict(r.metrics)}
                for r in self.rows
            ],
            "per_image": [dict(p) for p in self.per_image],
        }


def _check_outputs(outputs: Sequence[np.ndarray], gt: np.ndarray, samples: int, name: str) -> list[np.ndarray]:
    outputs = list(outputs)
    if len(outputs) != samples:
        raise ValueError(f"{name}: predict_fn returned {len(outputs)} samples, expected {samples}")
    for out in outputs:
        if not isinstance(out, np.ndarray) or out.dtype != np.uint8 or out.shape != gt.shape:
            got = f"{getattr(out, 'dtype', type(out))} {getattr(out, 'shape', '')}"
            raise ValueError(f"{name}: predict_fn must return uint8 arrays of shape {gt.shape}, got {got}")
    return outputs


def _hint_inputs(ab_norm: np.ndarray, n_hints: int, index: int) -> tuple[np.ndarray, np.ndarray]:
    """(hint_ab (2,H,W), mask (1,H,W)) float32 for the sweep; no hints = zeros."""
    if n_hints == 0:
        h, w = ab_norm.shape[1:]
        return np.zeros((2, h, w), np.float32), np.zeros((1, h, w), np.float32)

    hint_ab, mask = sweep_hints(ab_norm, n_hints, seed=index, patch=6)
    return np.asarray(hint_ab, np.float32), np.asarray(mask, np.float32)


def _average(records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    means: dict[str, float] = {}
    for key, _ in METRIC_COLUMNS:
        source = MEDIAN_COLUMNS.get(key, key)
        values = [float(r[source]) for r in records if source in r and not math.isnan(float(r[source]))]
        if any(source in r for r in records):
            aggregate = np.median if key in MEDIAN_COLUMNS else np.mean
            means[key] = float(aggregate(values)) if values else math.nan
    return means


def evaluate(
    predict_fn: PredictFn | None,
    images: Sequence[tuple[str, np.ndarray]],
    *,
    hint_counts: Sequence[int] = (0,),
    samples: int = 1,
    seed: int = 0,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    method: str = "model",
    tint_ab: tuple[float, float] | None = TRAINING_MEDIAN_AB,
    reference_fn: ReferenceFn | None = None,
    indices: Sequence[int] | None = None,
) -> EvalReport:
    """Run the evaluation protocol over ``images`` (``(name, uint8 (H,W,3))``, e.g. from ``load_eval_set``).

    For every image and every hint count ``n`` in ``hint_counts``, ``predict_fn(L, hint_ab, hint_mask,
    samples, seed)`` is called with the ground truth's L* (float32 (H,W)), the Zhang 2017 sweep hints
    (normalized ab (2,H,W) and mask (1,H,W); zeros for n = 0; hint RNG seeded by the image index) and the
    same ``seed`` for every image; it must return ``samples`` uint8 sRGB images. Metrics (see
    METRIC_COLUMNS) use sample 0; with ``samples > 1`` also best-of-N PSNR and the diversity (mean
    pairwise MS-SSIM). ``reference_fn``, if given, is called like ``predict_fn`` with the ground truth
    itself as a keyword ``reference`` (reference transfer from the true colours, at 0 hints) and scored
    as the method ``"<method> + GT reference"``. The gray baseline, and the constant tint unless ``tint_ab`` is None, are scored
    beside the model (at 0 hints). ``predict_fn=None`` scores the baselines only. ``indices``: each image's
    position in the whole set (default 0, 1, ...), which seeds its sweep hints, so that a shard of the set
    scores exactly as in a whole run (:func:`merge_reports` joins shards).
    """
    counts = [int(n) for n in hint_counts]
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    if any(n < 0 for n in counts):
        raise ValueError(f"hint counts must be >= 0, got {counts}")
    positions = list(range(len(images))) if indices is None else [int(i) for i in indices]
    if len(positions) != len(images):
        raise ValueError(f"{len(positions)} indices for {len(images)} images")
    started = time.perf_counter()
    records: list[dict[str, Any]] = []
    keys: list[tuple[str, int]] = []  # row order: baselines, then the model per hint count

    def add(index: int, name: str, label: str, hints: int, values: dict[str, float]) -> None:
        if (label, hints) not in keys:
            keys.append((label, hints))
        records.append({"index": index, "name": name, "method": label, "hints": hints, **values})

    for done, (index, (name, gt)) in enumerate(zip(positions, images, strict=True)):
        if cancel is not None and cancel():
            raise CancelledError()
        if progress is not None:
            progress(done / max(len(images), 1), f"evaluating {name} ({done + 1}/{len(images)})")
        metrics._check_rgb(gt, name)
        lab = _lab_of(gt)
        add(index, name, GRAY_METHOD, 0, metrics.score_outputs(gt, [_gray_from_lightness(lab[..., 0])], gt_lab=lab))
        if tint_ab is not None:
            tinted = _tint_from_lightness(lab[..., 0], tint_ab)
            add(index, name, TINT_METHOD, 0, metrics.score_outputs(gt, [tinted], gt_lab=lab))
        if predict_fn is None:
            continue
        lightness = np.ascontiguousarray(lab[..., 0], dtype=np.float32)
        ab_norm = np.ascontiguousarray(normalize_ab(lab[..., 1:]).transpose(2, 0, 1), dtype=np.float32)
        for n_hints in counts:
            hint_ab, hint_mask = _hint_inputs(ab_norm, n_hints, index)
            outputs = _check_outputs(predict_fn(lightness, hint_ab, hint_mask, samples, seed), gt, samples, name)
            values = metrics.score_outputs(gt, outputs, gt_lab=lab)
            if n_hints > 0:
                errors = metrics.hint_ab_errors(outputs, hint_ab, hint_mask)
                values["hint_ab_error"], values["hint_ab_error_worst"] = errors[0], max(errors)
            add(index, name, method, n_hints, values)
        if reference_fn is not None:
            hint_ab, hint_mask = _hint_inputs(ab_norm, 0, index)
            outputs = _check_outputs(reference_fn(lightness, hint_ab, hint_mask, samples, seed, reference=gt),
                                     gt, samples, name)
            add(index, name, f"{method} + GT reference", 0, metrics.score_outputs(gt, outputs, gt_lab=lab))
    if progress is not None:
        progress(1.0, f"evaluated {len(images)} images")

    settings = {
        "colorstudio_version": __version__,
        "method": method if predict_fn is not None else None,
        "n_images": len(images),
        "image_size": list(images[0][1].shape[:2]) if len(images) else None,
        "hint_counts": counts if predict_fn is not None else [],
        "samples": samples,
        "seed": seed,
        "tint_ab": list(tint_ab) if tint_ab is not None else None,
        "wall_time_s": round(time.perf_counter() - started, 3),
        "metrics": dict(METRIC_NOTES),
    }
    return EvalReport(rows=_rows(records, keys), per_image=tuple(records), settings=settings)


def _rows(records: Sequence[Mapping[str, Any]], keys: Sequence[tuple[str, int]]) -> tuple[EvalRow, ...]:
    rows = []
    for label, hints in keys:
        selected = [r for r in records if r["method"] == label and r["hints"] == hints]
        rows.append(EvalRow(label, hints, len(selected), _average(selected)))
    return tuple(rows)


def merge_reports(reports: Sequence[EvalReport]) -> EvalReport:
    """One report from the reports of disjoint shards of a set (see ``indices`` of :func:`evaluate`):
    per-image values in set order, rows averaged over all of them, the first shard's settings with the
    image count summed and the longest wall time."""
    if not reports:
        raise ValueError("merge_reports needs at least one report")
    records = sorted((r for report in reports for r in report.per_image), key=lambda r: r["index"])
    keys = list(dict.fromkeys((row.method, row.hints) for report in reports for row in report.rows))
    settings = {**reports[0].settings, "n_images": sum(int(r.settings.get("n_images", 0)) for r in reports),
                "wall_time_s": max(float(r.settings.get("wall_time_s", 0.0)) for r in reports)}
    return EvalReport(rows=_rows(records, keys), per_image=tuple(records), settings=settings)


# -------------------------------------------------------------------------------------------- output


def _cell(value: float | None, key: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.2f}" if key.startswith("psnr") else f"{value:.3f}"


def format_table(report: EvalReport) -> str:
    """Aligned plain-text table: one line per method and hint count, one column per metric present."""
    present = [(k, h) for k, h in METRIC_COLUMNS if any(k in row.metrics for row in report.rows)]
    header = ["Method", "Hints", "Images"] + [h for _, h in present]
    lines = [
        [row.method, str(row.hints), str(row.n_images)] + [_cell(row.metrics.get(k), k) for k, _ in present]
        for row in report.rows
    ]
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(len(header))]

    def fmt(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join([first] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]).rstrip()

    rule = "-" * len(fmt(header))
    return "\n".join([fmt(header), rule, *(fmt(line) for line in lines)])


def _json_safe(value: Any) -> Any:
    """NaN and infinities are not JSON: write them as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    return value


def _write_json_atomic(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(_json_safe(obj), handle, indent=1, allow_nan=False)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_json_dict(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # missing or damaged cache: recompute
    return loaded if isinstance(loaded, dict) else {}


def write_json(report: EvalReport, path: str | os.PathLike[str]) -> Path:
    """Write ``report.to_dict()`` as JSON (NaN/inf -> null), atomically (temp file + os.replace)."""
    target = Path(path)
    _write_json_atomic(target, report.to_dict())
    return target
