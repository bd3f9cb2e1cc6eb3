"""Image-quality metrics for colorization.

Every image argument is a uint8 sRGB array of shape (H, W, 3) (``ssim`` and ``ms_ssim`` also take gray
(H, W)); the pair compared must have the same shape. scikit-image does the work where it has the metric
(PSNR, SSIM); the rest follow the papers named in each docstring.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from functools import cached_property
from typing import Literal

import cv2
import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from colorstudio.color import AB_SCALE, rgb_to_lab
from colorstudio.models.logistic_mixture import bits_per_dim  # re-exported: the likelihood metric of the protocol

__all__ = [
    "PSNR_CAP_DB",
    "MS_SSIM_WEIGHTS",
    "MS_SSIM_MIN_SIDE",
    "psnr",
    "ssim",
    "rmse_ab",
    "colorfulness",
    "colorfulness_ratio",
    "ab_histogram_intersection",
    "ms_scales",
    "ms_ssim",
    "mean_pairwise_ms_ssim",
    "sample_mean_and_spread_skill",
    "bits_per_dim",
    "score_outputs",
]

DATA_RANGE = 255.0
# Identical uint8 images have infinite PSNR; a cap keeps dataset means finite. Any two different
# 256x256 uint8 images score at most ~101 dB, so the cap only replaces "identical".
PSNR_CAP_DB = 100.0

# Wang, Simoncelli & Bovik 2003, "Multi-scale structural similarity", exponents for 5 scales.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
# SSIM window of Wang et al. 2004 (Gaussian sigma 1.5, 11 taps, as skimage's gaussian_weights=True).
_SSIM_SIGMA = 1.5
_SSIM_TRUNCATE = 3.5
_SSIM_RADIUS = int(_SSIM_TRUNCATE * _SSIM_SIGMA + 0.5)  # 5, as ndimage computes it
MS_SSIM_MIN_SIDE = 2 * _SSIM_RADIUS + 1  # 11: a scale must hold one whole window
_K1, _K2 = 0.01, 0.03

# Deshpande et al. 2015 chromaticity (their code's converttobmyrmg, RGB in [0, 1]).
_ALPHABETA_EPS = 1e-4
# Marginal histograms of a*, b* over the full signed range of 8-bit Lab.
_AB_HIST_RANGE = (-128.0, 128.0)


def _check_uint8(image: np.ndarray, what: str) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise TypeError(f"{what} must be a uint8 numpy array, got {getattr(image, 'dtype', type(image))}")


def _check_rgb(image: np.ndarray, what: str = "image") -> None:
    _check_uint8(image, what)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"{what} must have shape (H, W, 3), got {image.shape}")


def _check_pair(gt: np.ndarray, pred: np.ndarray, *, allow_gray: bool = False) -> None:
    _check_uint8(gt, "gt")
    _check_uint8(pred, "pred")
    if gt.shape != pred.shape:
        raise ValueError(f"gt and pred differ in shape: {gt.shape} vs {pred.shape}")
    if not (gt.ndim == 3 and gt.shape[-1] == 3) and not (allow_gray and gt.ndim == 2):
        expected = "(H, W, 3) or (H, W)" if allow_gray else "(H, W, 3)"
        raise ValueError(f"images must have shape {expected}, got {gt.shape}")


def _lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB (H, W, 3) -> float64 Lab (H, W, 3), D65."""
    return np.asarray(rgb_to_lab(rgb.astype(np.float64) / 255.0), dtype=np.float64)


class _Derived:
    """An image with the quantities several metrics need, each computed once on first use."""

    def __init__(self, rgb: np.ndarray, lab: np.ndarray | None = None) -> None:
        self.rgb = rgb
        self._histograms: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        if lab is not None:
            self.lab = np.asarray(lab, dtype=np.float64)  # fills the cached_property

    @cached_property
    def lab(self) -> np.ndarray:
        return _lab(self.rgb)

    @cached_property
    def alphabeta(self) -> np.ndarray:
        return _alphabeta(self.rgb)

    @cached_property
    def colorfulness(self) -> float:
        return colorfulness(self.rgb)

    def ab_histograms(self, bins: int) -> tuple[np.ndarray, np.ndarray]:
        if bins not in self._histograms:
            self._histograms[bins] = _marginal_histograms(self.lab, bins)
        return self._histograms[bins]


def psnr(gt: np.ndarray, pred: np.ndarray, *, cap: float | None = PSNR_CAP_DB) -> float:
    """Peak signal-to-noise ratio in dB over all pixels and channels, data range 255.

    Identical images return ``cap`` (100 dB by default), or ``math.inf`` with ``cap=None``; larger
    values are clipped to ``cap`` too.
    """
    _check_pair(gt, pred)
    if np.array_equal(gt, pred):
        return math.inf if cap is None else float(cap)
    value = float(peak_signal_noise_ratio(gt, pred, data_range=DATA_RANGE))
    return value if cap is None else min(value, float(cap))


def ssim(gt: np.ndarray, pred: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004: Gaussian window sigma 1.5, population covariance), per channel
    and averaged; in [-1, 1], 1 for identical images. Images need both sides >= 11."""
    _check_pair(gt, pred, allow_gray=True)
    return float(
        structural_similarity(
            gt,
            pred,
            data_range=DATA_RANGE,
            channel_axis=-1 if gt.ndim == 3 else None,
            gaussian_weights=True,
            sigma=_SSIM_SIGMA,
            use_sample_covariance=False,
        )
    )


def _alphabeta(rgb: np.ndarray) -> np.ndarray:
    """Deshpande et al. 2015 chromaticity, (H, W, 2): alpha = (B - (R+G)/2) / gray, beta = (R - G) / gray,
    gray = mean(R, G, B), RGB in [0, 1]. Values lie in about [-3, 3]; a gray pixel gives (0, 0)."""
    x = rgb.astype(np.float64) / 255.0
    gray = x.mean(axis=-1) + _ALPHABETA_EPS
    alpha = (x[..., 2] - 0.5 * (x[..., 0] + x[..., 1])) / gray
    beta = (x[..., 0] - x[..., 1]) / gray
    return np.stack([alpha, beta], axis=-1)


def rmse_ab(gt: np.ndarray, pred: np.ndarray, *, space: Literal["alphabeta", "lab"] = "alphabeta") -> float:
    """Root mean squared chroma error over all pixels and both chroma channels (Larsson et al. 2016).

    ``space="alphabeta"`` (default) is the alpha-beta space in which Larsson et al. report "RMSE alpha-beta"
    to compare with Deshpande et al. 2015: alpha = (B - (R+G)/2) / gray, beta = (R - G) / gray,
    gray = mean RGB in [0, 1] (Deshpande's code, eps 1e-4). On ImageNet this puts the gray baseline at
    about 0.4 (Larsson: 0.333 on ctest10k), whereas Lab ab / 110 gives about 0.19.
    ``space="lab"``: CIE Lab a*, b* divided by ``AB_SCALE`` (110, the network normalization).
    0 for identical images.
    """
    _check_pair(gt, pred)
    return _rmse_ab(_Derived(gt), _Derived(pred), space)


def _rmse_ab(gt: _Derived, pred: _Derived, space: str) -> float:
    if space == "alphabeta":
        diff = gt.alphabeta - pred.alphabeta
    elif space == "lab":
        diff = (gt.lab[..., 1:] - pred.lab[..., 1:]) / AB_SCALE
    else:
        raise ValueError(f"unknown chroma space {space!r}; use 'alphabeta' or 'lab'")
    return float(np.sqrt(np.mean(diff * diff)))


def colorfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk 2003 colorfulness M = sigma_rgyb + 0.3 mu_rgyb on RGB in 0..255.

    rg = R - G, yb = (R + G)/2 - B; sigma_rgyb = sqrt(std(rg)^2 + std(yb)^2) (population std),
    mu_rgyb = sqrt(mean(rg)^2 + mean(yb)^2). 0 for a gray image; their "highly colorful" is about 110.
    """
    _check_rgb(rgb, "rgb")
    x = rgb.astype(np.float64)
    rg = x[..., 0] - x[..., 1]
    yb = 0.5 * (x[..., 0] + x[..., 1]) - x[..., 2]
    sigma = math.hypot(float(rg.std()), float(yb.std()))
    mu = math.hypot(float(rg.mean()), float(yb.mean()))
    return sigma + 0.3 * mu


def colorfulness_ratio(gt: np.ndarray, pred: np.ndarray) -> float:
    """colorfulness(pred) / colorfulness(gt): 1 = as colorful as the truth, 0 = gray.
    NaN when the ground truth has no color at all (colorfulness 0)."""
    _check_pair(gt, pred)
    return _colorfulness_ratio(_Derived(gt), _Derived(pred))


def _colorfulness_ratio(gt: _Derived, pred: _Derived) -> float:
    return pred.colorfulness / gt.colorfulness if gt.colorfulness > 0 else math.nan


def _marginal_histograms(lab: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    ab = lab[..., 1:].reshape(-1, 2)
    ab = np.clip(ab, _AB_HIST_RANGE[0], np.nextafter(_AB_HIST_RANGE[1], -np.inf))
    hist_a, _ = np.histogram(ab[:, 0], bins=bins, range=_AB_HIST_RANGE)
    hist_b, _ = np.histogram(ab[:, 1], bins=bins, range=_AB_HIST_RANGE)
    return hist_a / ab.shape[0], hist_b / ab.shape[0]


def ab_histogram_intersection(gt: np.ndarray, pred: np.ndarray, bins: int = 64) -> float:
    """Histogram intersection of the a* and b* marginals (Guadarrama et al. 2017, fig. 8), averaged over
    the two channels; in [0, 1], 1 for identical color distributions, ~0 for disjoint ones.

    Each marginal is a normalized histogram of ``bins`` equal bins over [-128, 128) (64 bins: 4 units of
    a*/b* wide); values outside are counted in the end bins.
    """
    _check_pair(gt, pred)
    return _hist_intersection(_Derived(gt), _Derived(pred), bins)


def _hist_intersection(gt: _Derived, pred: _Derived, bins: int) -> float:
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    gt_a, gt_b = gt.ab_histograms(bins)
    pred_a, pred_b = pred.ab_histograms(bins)
    return 0.5 * float(np.minimum(gt_a, pred_a).sum() + np.minimum(gt_b, pred_b).sum())


def _blur(image: np.ndarray) -> np.ndarray:
    """The Wang 2004 SSIM window: Gaussian sigma 1.5, 11 taps, reflected borders; the same numbers as
    ``scipy.ndimage.gaussian_filter(sigma=1.5, truncate=3.5, mode="reflect")`` (what skimage uses), only
    faster."""
    size = 2 * _SSIM_RADIUS + 1
    return cv2.GaussianBlur(image, (size, size), _SSIM_SIGMA, sigmaY=_SSIM_SIGMA, borderType=cv2.BORDER_REFLECT)


def _inner_mean(ssim_map: np.ndarray) -> float:
    # skimage ignores the filter radius at the border; so do we, so that single-scale values agree.
    return float(ssim_map[_SSIM_RADIUS:-_SSIM_RADIUS, _SSIM_RADIUS:-_SSIM_RADIUS].mean())


def _halve(image: np.ndarray) -> np.ndarray:
    """2x2 box filter and subsample (Wang 2003); an odd last row/column is dropped."""
    h, w = image.shape[0] // 2, image.shape[1] // 2
    return image[: 2 * h, : 2 * w].reshape(h, 2, w, 2).mean(axis=(1, 3))


# One level of a channel's pyramid: the pixels, their local mean and local variance.
_Level = tuple[np.ndarray, np.ndarray, np.ndarray]


def _pyramid(channel: np.ndarray, scales: int) -> list[_Level]:
    """Per-scale statistics of one float64 channel, computed once per image so that comparing N samples
    pairwise needs only the cross term per pair."""
    levels = []
    for level in range(scales):
        if level:
            channel = _halve(channel)
        mean = _blur(channel)
        levels.append((channel, mean, _blur(channel * channel) - mean * mean))
    return levels


def _ssim_and_cs_maps(x: _Level, y: _Level) -> tuple[np.ndarray, np.ndarray]:
    (xs, ux, vx), (ys, uy, vy) = x, y
    vxy = _blur(xs * ys) - ux * uy
    c1 = (_K1 * DATA_RANGE) ** 2
    c2 = (_K2 * DATA_RANGE) ** 2
    cs_map = (2 * vxy + c2) / (vx + vy + c2)
    return (2 * ux * uy + c1) / (ux * ux + uy * uy + c1) * cs_map, cs_map


def _ssim_and_cs(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Mean SSIM and mean contrast-structure term of two float64 2-D images (range 255); the SSIM equals
    skimage's ``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``."""
    ssim_map, cs_map = _ssim_and_cs_maps(_pyramid(x, 1)[0], _pyramid(y, 1)[0])
    return _inner_mean(ssim_map), _inner_mean(cs_map)


def ms_scales(height: int, width: int) -> int:
    """Number of MS-SSIM scales for an image: 5, or fewer while the coarsest scale would have a side
    shorter than the 11-pixel SSIM window (256 px: 5, 64 px: 3, 32 px: 2, 11-21 px: 1)."""
    side = min(height, width)
    if side < MS_SSIM_MIN_SIDE:
        raise ValueError(f"MS-SSIM needs both sides >= {MS_SSIM_MIN_SIDE} pixels, got {height}x{width}")
    scales = 1
    while scales < len(MS_SSIM_WEIGHTS) and side // 2**scales >= MS_SSIM_MIN_SIDE:
        scales += 1
    return scales


def _image_pyramids(image: np.ndarray, scales: int) -> list[list[_Level]]:
    planes = image[..., None] if image.ndim == 2 else image
    return [_pyramid(planes[..., c].astype(np.float64), scales) for c in range(planes.shape[-1])]


def _ms_ssim_from_pyramids(a: list[list[_Level]], b: list[list[_Level]]) -> float:
    scales = len(a[0])
    weights = np.asarray(MS_SSIM_WEIGHTS[:scales]) / sum(MS_SSIM_WEIGHTS[:scales])
    per_channel = []
    for levels_a, levels_b in zip(a, b, strict=True):
        value = 1.0
        for level, weight in enumerate(weights):
            ssim_map, cs_map = _ssim_and_cs_maps(levels_a[level], levels_b[level])
            term = _inner_mean(ssim_map if level == scales - 1 else cs_map)
            # Negative terms (anti-correlated structure) have no real fractional power: clamp at 0.
            value *= max(term, 0.0) ** weight
        per_channel.append(value)
    return float(np.mean(per_channel))


def ms_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Multi-scale SSIM (Wang, Simoncelli & Bovik 2003), in [0, 1], 1 for identical images.

    Contrast-structure terms at the finer scales and full SSIM at the coarsest, with the paper's
    exponents (0.0448, 0.2856, 0.3001, 0.2363, 0.1333), 2x2-average downsampling and the Wang 2004 SSIM
    window. Smaller images use fewer scales (see ``ms_scales``; 32x32 CIFAR: 2) and the first exponents
    renormalized to sum to 1. Color images: computed per RGB channel and averaged, so that samples that
    share the luminance but differ in color score below 1. Both sides must be >= 11.
    """
    _check_pair(a, b, allow_gray=True)
    scales = ms_scales(a.shape[0], a.shape[1])
    return _ms_ssim_from_pyramids(_image_pyramids(a, scales), _image_pyramids(b, scales))


def mean_pairwise_ms_ssim(samples: Sequence[np.ndarray]) -> float:
    """Mean MS-SSIM over all unordered pairs of samples (PixColor's diversity measure): lower = more
    diverse. Needs at least two samples of equal shape."""
    if len(samples) < 2:
        raise ValueError(f"diversity needs at least 2 samples, got {len(samples)}")
    for sample in samples[1:]:
        _check_pair(samples[0], sample, allow_gray=True)
    scales = ms_scales(samples[0].shape[0], samples[0].shape[1])
    pyramids = [_image_pyramids(sample, scales) for sample in samples]
    return float(np.mean([_ms_ssim_from_pyramids(p, q) for p, q in itertools.combinations(pyramids, 2)]))


def sample_mean_and_spread_skill(gt: np.ndarray, samples: Sequence[np.ndarray]) -> tuple[float, float]:
    """(PSNR of the samples' per-pixel mean, spread-skill ratio) for N >= 2 samples of one image.

    The mean of the samples estimates the model's posterior mean. The spread-skill ratio (ensemble
    forecasting's calibration check, Fortin et al. 2014) is ``sqrt((N+1)/N) * spread / RMSE(mean)``
    with ``spread`` the root of the unbiased per-pixel sample variance: 1 for a calibrated sampler, below
    1 when it is overconfident, above 1 when it scatters more than its errors warrant. For a sample
    drawn independently of the truth, MSE(sample) = MSE(mean) + spread^2, so a calibrated sampler's
    sample beats the gray image only where its mean beats gray by about 3 dB.
    """
    if len(samples) < 2:
        raise ValueError(f"the spread needs at least 2 samples, got {len(samples)}")
    for sample in samples:
        _check_pair(gt, sample)
    stack = np.stack(samples).astype(np.float64)  # (N, H, W, 3)
    mean = stack.mean(axis=0)
    mse_mean = float(np.mean((mean - gt) ** 2))
    spread2 = float(np.mean(stack.var(axis=0, ddof=1)))
    n = len(samples)
    ratio = math.sqrt((n + 1) / n * spread2 / mse_mean) if mse_mean > 0 else math.nan
    return psnr(gt, np.clip(np.rint(mean), 0, 255).astype(np.uint8)), ratio


def hint_ab_errors(outputs: Sequence[np.ndarray], hint_ab: np.ndarray, hint_mask: np.ndarray) -> list[float]:
    """Per output: mean Lab a*b* distance from the hints' colours over the hinted pixels (each hint's own
    patch), in Lab units. ``hint_ab`` (2, H, W) normalized ab, ``hint_mask`` (1, H, W) or (H, W) in {0, 1}."""
    mask = np.asarray(hint_mask).reshape(np.asarray(hint_mask).shape[-2:]) > 0.5
    if not mask.any():
        raise ValueError("hint_ab_errors needs at least one hinted pixel")
    wanted = np.asarray(hint_ab, np.float64)[:, mask].T * AB_SCALE  # (P, 2)
    errors = []
    for out in outputs:
        _check_rgb(out, "output")
        got = _lab(out)[mask][:, 1:]
        errors.append(float(np.linalg.norm(got - wanted, axis=1).mean()))
    return errors


def score_outputs(
    gt: np.ndarray, outputs: Sequence[np.ndarray], *, gt_lab: np.ndarray | None = None, bins: int = 64
) -> dict[str, float]:
    """All protocol metrics of one ground truth against a model's outputs, sharing the work (Lab,
    histograms, pyramids) between metrics; ``gt_lab`` may pass the ground truth's Lab if already known.

    Keys: ``psnr``, ``ssim``, ``rmse_ab`` (alpha-beta), ``rmse_ab_lab`` (Lab / 110), ``colorfulness_ratio``,
    ``hist_intersection`` for ``outputs[0]``; with two or more outputs also ``psnr_best`` (best over
    outputs), ``psnr_samples_mean`` (the mean of the outputs' PSNRs: what a sample picked at random
    scores, on average), ``psnr_worst`` (the outlier), ``diversity_ms_ssim`` (``mean_pairwise_ms_ssim``), ``psnr_mean`` and
    ``spread_skill`` (``sample_mean_and_spread_skill``). Values equal the single functions'.
    """
    if len(outputs) < 1:
        raise ValueError("score_outputs needs at least one output")
    for out in outputs:
        _check_pair(gt, out)
    reference, first = _Derived(gt, gt_lab), _Derived(outputs[0])
    values = {
        "psnr": psnr(gt, outputs[0]),
        "ssim": ssim(gt, outputs[0]),
        "rmse_ab": _rmse_ab(reference, first, "alphabeta"),
        "rmse_ab_lab": _rmse_ab(reference, first, "lab"),
        "colorfulness_ratio": _colorfulness_ratio(reference, first),
        "hist_intersection": _hist_intersection(reference, first, bins),
    }
    if len(outputs) > 1:
        each = [values["psnr"]] + [psnr(gt, out) for out in outputs[1:]]
        values["psnr_best"] = max(each)
        values["psnr_samples_mean"] = float(np.mean(each))
        values["psnr_worst"] = min(each)
        values["diversity_ms_ssim"] = mean_pairwise_ms_ssim(outputs)
        values["psnr_mean"], values["spread_skill"] = sample_mean_and_spread_skill(gt, outputs)
    return values

