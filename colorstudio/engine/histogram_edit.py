"""Editing on per-pixel hue/chroma distributions (Larsson, Maire, Shakhnarovich 2016).

The histogram model predicts, for each cell of its working grid, a distribution over K hue bins (Lab hue
``atan2(b*, a*)`` in turns, circular bins centred at ``(k + 0.5) / K``) and over K chroma bins (Lab
``hypot(a*, b*)``, uniform over ``[0, CHROMA_MAX]``). Every colour control of the app works on those
distributions, here, before they are decoded to a*b*:

- :func:`decode_ab`: chroma = median of the chroma histogram, hue = argument of the circular mean, chroma
  faded by ``min(|z| / 0.03, 1)`` where the hue is undecided (paper sec. 3.3; its "max" is a typo); or,
  with ``mode="mean"``, the expected a*b* ``E[C] * z``.
- :func:`uncertainty_map`: normalized hue entropy x normalized chroma, on a fixed scale.
- :class:`BiasSolver`: the energy of paper eq. 6, ``E(b) = mean_n KL(y*_n || y_n) + lambda chi2(<y*>, t)``
  with ``y*_n = softmax(log y_n + b)``, minimized over one global bias ``b`` per marginal by damped
  Newton (exact Hessian), warm-started from the previous solution so that a slider drag re-solves in
  one or two iterations.
- :func:`transfer_to_reference` / :class:`ReferenceTransfer`: eq. 6 with ``t`` = a reference's histograms.
- :func:`hue_bias`: a von Mises bump over the hue bins added to ``log y_n`` (the slider's hue control).
- :func:`quantile_match_transfer`: lightness-normalized per-channel quantile matching (paper sec. 3.4),
  for any colorized image.
- :func:`suggested_colors`: the main modes at one cell, as sRGB at that cell's L*, for the colour picker.

Arrays: distributions are numpy ``(K, h, w)`` (torch tensors are accepted and read into numpy), one image,
non-negative, summing to 1 over K (re-normalized here, so float32 softmax round-off is harmless).
Internally they are viewed as ``(K, N)`` with ``N = h * w``: every per-pixel sum in eq. 6 then becomes a
matrix-vector product, and ``y*`` is never materialized while solving (``y*_nk = y_nk e^{b_k} / Z_n``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import scipy.linalg

from colorstudio.color import lab_to_rgb, lch_to_lab, rgb_to_lab, to_float
from colorstudio.color.quantize import HUE_QUANTIZER, CircularQuantizer
from colorstudio.engine.composite import lab_to_srgb_keep_lightness
from colorstudio.errors import ColorStudioError
from colorstudio.models.decoding import (  # the decoding kernels work on biased distributions here too
    FADING_THRESHOLD,
    PAPER_DECODING,
    Decoding,
    _as_probs,
    _check_pair,
    _chroma_quantizer,
    _decode_flat,
    _hue_centres,
    _median_chroma_flat,
    circular_mean_hue,
    decode_ab,
    median_chroma,
    uncertainty_map,
)

__all__ = [
    "FADING_THRESHOLD",
    "HUE_BIAS_AMPLITUDE",
    "HUE_BIAS_CONCENTRATION",
    "BiasSolution",
    "BiasSolver",
    "ReferenceHistograms",
    "ReferenceTransfer",
    "TransferResult",
    "TransferSolution",
    "apply_bias",
    "chi_square",
    "circular_mean_hue",
    "decode_ab",
    "Decoding",
    "PAPER_DECODING",
    "hue_bias",
    "hue_bump",
    "hue_rotation_by_energy",
    "median_chroma",
    "quantile_match_transfer",
    "reference_histograms",
    "rotated_mean_hue",
    "suggested_colors",
    "transfer_to_reference",
    "uncertainty_full_res",
    "uncertainty_map",
]

HUE_BIAS_AMPLITUDE = 3.0  # nats added at the bump's centre for hue strength 1 (the slider's full strength)
HUE_BIAS_CONCENTRATION = 4.0  # von Mises kappa of the bump: half height at about +-34 degrees
_CHI2_EPS = 1e-10  # keeps chi2 finite where p_k = t_k = 0
_BIAS_BOUND = 40.0  # |b_k| limit: e^80 stays far inside float64, and no useful edit needs more
_GRAY_CHROMA = 1.0  # reference pixels below this C* cast no hue vote
_QUADRATIC_DECREMENT = 1e-5  # a full Newton step with a smaller decrement ends the solve
_MAX_REFERENCE_PIXELS = 1 << 20  # reference images are strided down to about 1 MP for their histograms


def uncertainty_full_res(uncertainty: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear upsampling of a working-resolution map to ``size = (width, height)``: (H, W) float32 [0, 1]."""
    import cv2

    width, height = (int(v) for v in size)
    if width < 1 or height < 1:
        raise ColorStudioError(f"uncertainty map size must be positive, got {size}")
    arr = np.asarray(uncertainty, dtype=np.float32)
    if arr.ndim != 2:
        raise ColorStudioError(f"uncertainty map must have shape (h, w), got {arr.shape}")
    return np.clip(cv2.resize(arr, (width, height), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)


# ----------------------------------------------------------------------------------------------------------
# 3. Energy minimization (paper eq. 6)


def chi_square(p: np.ndarray, t: np.ndarray) -> float:
    """Symmetric chi-square distance ``sum_k (p_k - t_k)^2 / (p_k + t_k)`` of two histograms, in [0, 2]."""
    p = np.asarray(p, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    return float(np.sum((p - t) ** 2 / (p + t + _CHI2_EPS)))


def _bin_weights(bias: np.ndarray) -> np.ndarray:
    """e^{b - max b}: the posterior ``y e^b / Z`` without overflow (softmax ignores the shift)."""
    return np.exp(bias - bias.max())


def _apply_bias_flat(y: np.ndarray, bias: np.ndarray) -> np.ndarray:
    w = _bin_weights(bias)
    return y * w[:, None] * (1.0 / np.einsum("k,kn->n", w, y))


def apply_bias(probs: Any, bias: np.ndarray) -> np.ndarray:
    """``softmax(log y_n + b)`` for every cell: (K, h, w) float32; ``bias`` is (K,) or (K, h, w)."""
    y = _as_probs(probs, "probs")
    b = np.asarray(bias, dtype=np.float64)
    if b.shape not in ((y.shape[0],), y.shape):
        raise ColorStudioError(f"bias must have shape ({y.shape[0]},) or {y.shape}, got {b.shape}")
    if b.ndim == 1:
        return _apply_bias_flat(y.reshape(y.shape[0], -1), b).reshape(y.shape).astype(np.float32)
    post = y * np.exp(b - b.max(axis=0, keepdims=True))
    return (post / post.sum(axis=0, keepdims=True)).astype(np.float32)


def _as_target(target: Any, bins: int, name: str = "target") -> np.ndarray:
    t = np.asarray(target, dtype=np.float64).reshape(-1)
    if t.shape != (bins,):
        raise ColorStudioError(f"{name} histogram must have {bins} bins, got shape {np.shape(target)}")
    if not np.all(np.isfinite(t)) or t.min() < 0 or t.sum() <= 0:
        raise ColorStudioError(f"{name} histogram must be finite, non-negative and not all zero")
    return t / t.sum()


@dataclass(frozen=True)
class BiasSolution:
    """One minimizer of eq. 6 for one marginal."""

    bias: np.ndarray  # (K,) float64, zero mean (softmax ignores constant shifts)
    energy: float  # E(b) at the solution
    kl: float  # mean_n KL(y*_n || y_n), nats
    chi2: float  # chi2(<y*>, t) at the solution
    chi2_start: float  # chi2(<y>, t) of the unedited distributions
    iterations: int  # Newton iterations this solve took
    converged: bool


class BiasSolver:
    """Minimizes ``E(b) = mean_n KL(y*_n || y_n) + strength * chi2(<y*>, t)`` for one marginal (eq. 6).

    ``y*_n = softmax(log y_n + b)`` with one bias ``b`` in R^K shared by every cell. ``<y*>`` is the mean
    posterior, weighted by ``pixel_weights`` when given (the hue marginal is weighted by chroma so that
    it compares with a chroma-weighted reference hue histogram).

    Solver: damped Newton with the exact K x K Hessian (below) and a backtracking line search; the paper
    says gradient descent, but with K = 32 the Hessian costs one small matrix product and a warm-started
    solve converges in 1-3 iterations where first-order methods need tens (the problem is badly scaled:
    bins with little mass need large biases). The solver keeps the last solution and starts the next
    :meth:`solve` from it, so a slider drag re-solves in a millisecond or two.

    ``b`` is global, so it is fitted on a regular sub-grid of at most ``max_cells`` cells (a strided grid
    is an unbiased sample of both means in E); :meth:`apply` then uses every cell. With the default 4096
    that is a 2x2 stride at the 128 x 128 cells of a 512 px preview, and solve time does not grow with
    the image.

    Derivatives, with ``s_n(v) = <y*_n, v>``, ``beta_n(v) = v - s_n(v)``, ``C_n = diag(y*_n) - y*_n y*_n^T``:
    ``KL_n = s_n(b) - log Z_n``, ``grad KL_n = C_n b``, ``grad p = J = sum_n u_n C_n``, and
    ``grad C_n[., .] v = D_n(v) = diag(y* beta(v)) - (y* beta(v)) y*^T - y* (y* beta(v))^T`` (third cumulant),
    so ``H = mean_n [C_n + D_n(b)] + lambda (J diag(chi2'') J + sum_n u_n D_n(chi2'))``.
    """

    def __init__(self, probs: Any, pixel_weights: np.ndarray | None = None, *, max_cells: int | None = 4096) -> None:
        y = _as_probs(probs, "probs")
        self.shape: tuple[int, ...] = y.shape
        self.bins = y.shape[0]
        self._y = y.reshape(self.bins, -1)  # (K, N) float64, every cell
        if pixel_weights is None:
            weights = np.ones(self.shape[1:])
        else:
            weights = np.asarray(pixel_weights, dtype=np.float64)
            if weights.shape != self.shape[1:] or not np.all(np.isfinite(weights)) or weights.min() < 0:
                raise ColorStudioError(f"pixel_weights must be {self.shape[1:]} finite and non-negative")
        stride = 1 if max_cells is None else max(1, math.ceil(math.sqrt(self._y.shape[1] / max_cells)))
        self._fit_y = np.ascontiguousarray(y[:, ::stride, ::stride].reshape(self.bins, -1))  # (K, M)
        fit_w = weights[::stride, ::stride].reshape(-1)
        # An all-gray prediction has no chroma to weight by: fall back to plain means.
        self._u = fit_w / fit_w.sum() if fit_w.sum() > 0 else np.full(fit_w.size, 1.0 / fit_w.size)
        self.last: BiasSolution | None = None

    @property
    def bias(self) -> np.ndarray:
        """The last solution's bias, zeros before the first solve."""
        return np.zeros(self.bins) if self.last is None else self.last.bias.copy()

    def reset(self) -> None:
        """Forget the last solution (the next solve starts cold, from b = 0)."""
        self.last = None

    def mean_posterior(self, bias: np.ndarray | None = None) -> np.ndarray:
        """Weighted mean ``<y*>`` over the fitted cells for ``bias`` (default: none): (K,) summing to 1."""
        b = np.zeros(self.bins) if bias is None else np.asarray(bias, dtype=np.float64)
        w = _bin_weights(b)
        return w * (self._fit_y @ (self._u / np.einsum("k,kn->n", w, self._fit_y)))

    def energy(self, bias: np.ndarray, target: np.ndarray, strength: float) -> tuple[float, float, float]:
        """(E, mean KL, chi2) at ``bias`` for a normalized ``target``: matrix-vector products only."""
        y = self._fit_y
        w = _bin_weights(bias)
        z_and_sb = np.einsum("jk,kn->jn", np.stack([w, w * bias]), y)
        inv = 1.0 / z_and_sb[0]
        kl = float(np.mean(z_and_sb[1] * inv - np.log(z_and_sb[0]))) - float(bias.max())
        p = w * np.einsum("kn,n->k", y, self._u * inv)
        chi2 = chi_square(p, target)
        return kl + strength * chi2, kl, chi2

    def derivatives(
        self, bias: np.ndarray, target: np.ndarray, strength: float
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """(E, gradient (K,), Hessian (K, K)) at ``bias``; see the class docstring for the formulas."""
        y, u = self._fit_y, self._u
        m = y.shape[1]
        w = _bin_weights(bias)
        z = np.einsum("k,kn->n", w, y)
        post = y * w[:, None] * (1.0 / z)  # y*, (K, M)
        s_b = np.einsum("k,kn->n", bias, post)
        kl = float(np.mean(s_b - np.log(z))) - float(bias.max())
        p = np.einsum("kn,n->k", post, u)
        diff = p - target
        denom = p + target + _CHI2_EPS
        chi2 = float(np.sum(diff * diff / denom))
        g = diff * (p + 3.0 * target + 2.0 * _CHI2_EPS) / denom**2  # d chi2 / d p_k
        g2 = 8.0 * (target + 0.5 * _CHI2_EPS) ** 2 / denom**3  # d2 chi2 / d p_k^2 (exact for eps -> 0)
        s_g = np.einsum("k,kn->n", g, post)
        # Q_kn = y*_kn (beta_kn(b) / M + lambda u_n beta_kn(g)); the gradient is Q summed over cells.
        q = post * ((bias[:, None] - s_b) * (1.0 / m) + (strength * u) * (g[:, None] - s_g))
        grad = q.sum(axis=1)
        products = _gram(np.concatenate([post * (0.5 / m) + q, post * u]), post)  # (2K, K)
        half, weighted = products[: self.bins], products[self.bins :]
        hessian = np.diag(post.sum(axis=1) / m + grad) - (half + half.T)
        jac = np.diag(p) - weighted
        hessian += strength * (jac * g2) @ jac
        return kl + strength * chi2, grad, hessian

    def solve(
        self,
        target: Any,
        strength: float,
        *,
        warm_start: np.ndarray | None = None,
        max_iter: int = 50,
        tol: float = 1e-7,
    ) -> BiasSolution:
        """Minimize eq. 6 toward ``target`` (K,) with ``lambda = strength >= 0``; keeps the result as ``last``.

        ``warm_start``: initial ``b``; default the last solution (or zeros). Stops when the Newton decrement
        ``-grad . step`` falls below ``tol`` (the energy is then within about ``tol / 2`` of a minimum).
        ``strength = 0`` gives ``b = 0`` (the KL term alone is minimal at y* = y) without iterating.
        """
        t = _as_target(target, self.bins)
        if not (np.isfinite(strength) and strength >= 0):
            raise ColorStudioError(f"strength (lambda) must be >= 0, got {strength}")
        chi2_start = chi_square(self.mean_posterior(), t)
        if strength == 0:
            self.last = BiasSolution(np.zeros(self.bins), 0.0, 0.0, chi2_start, chi2_start, 0, True)
            return self.last
        b = self.bias if warm_start is None else np.asarray(warm_start, dtype=np.float64).reshape(self.bins)
        b = np.clip(b - b.mean(), -_BIAS_BOUND, _BIAS_BOUND)
        # After a long jump of the slider the previous solution can be worse than no bias at all.
        if self.energy(np.zeros(self.bins), t, strength)[0] < self.energy(b, t, strength)[0]:
            b = np.zeros(self.bins)
        converged, iterations = False, 0
        for iterations in range(1, max_iter + 1):
            energy, grad, hessian = self.derivatives(b, t, strength)
            step = _newton_step(grad, hessian)
            decrement = -float(grad @ step)
            if decrement < tol:
                converged = True
                iterations -= 1  # this pass only confirmed the previous iterate
                break
            b_next = _line_search(lambda x: self.energy(x, t, strength)[0], b, energy, step, decrement)
            if b_next is None:  # no decrease left at float precision: as good as it gets
                converged = True
                break
            full_step = np.array_equal(b_next, np.clip(b + step, -_BIAS_BOUND, _BIAS_BOUND))
            b = b_next
            # Inside Newton's quadratic region the next decrement is ~ the square of this one: skip the
            # confirming pass (half the cost of a typical warm-started slider move).
            if full_step and decrement < _QUADRATIC_DECREMENT:
                converged = True
                break
        b = b - b.mean()
        energy, kl, chi2 = self.energy(b, t, strength)
        self.last = BiasSolution(b, energy, kl, chi2, chi2_start, iterations, converged)
        return self.last

    def apply(self, bias: np.ndarray | None = None) -> np.ndarray:
        """Posteriors ``softmax(log y + b)`` for ``bias`` (default: the last solution): (K, h, w) float32."""
        b = self.bias if bias is None else np.asarray(bias, dtype=np.float64)
        return _apply_bias_flat(self._y, b).reshape(self.shape).astype(np.float32)


def _gram(a: np.ndarray, b: np.ndarray, chunk: int = 96) -> np.ndarray:
    """``a @ b.T`` for (P, M) and (K, M) in chunks of cells.

    Each chunk stays under OpenBLAS's multi-threading threshold (M N K < 2^18), so the product runs on the
    calling thread: as one call it would be split over both cores and, on a loaded machine, wait ~10 ms
    for the second one.
    """
    out = np.zeros((a.shape[0], b.shape[0]))
    for start in range(0, a.shape[1], chunk):
        out += a[:, start : start + chunk] @ b[:, start : start + chunk].T
    return out


def _newton_step(grad: np.ndarray, hessian: np.ndarray) -> np.ndarray:
    """Saddle-free Newton step ``-|H|^-1 grad``, length-limited.

    Eigenvalues are replaced by their absolute values (floored), so the step descends even where E is not
    convex; the null direction of H (adding a constant to b) gets the floor, and ``grad`` has no component
    there. The step is capped so that one iteration never changes a bin's odds by more than e^4.
    """
    # scipy's eigh (LAPACK dsyevr) stays on one thread for K = 32; numpy's dsyevd waits for a second one.
    values, vectors = scipy.linalg.eigh(0.5 * (hessian + hessian.T))
    floor = 1e-9 + 1e-6 * np.abs(values).max()
    step = -vectors @ ((vectors.T @ grad) / np.maximum(np.abs(values), floor))
    largest = np.abs(step).max()
    return step * (4.0 / largest) if largest > 4.0 else step


def _line_search(energy: Any, b: np.ndarray, e0: float, step: np.ndarray, decrement: float) -> np.ndarray | None:
    """Backtracking (Armijo) along ``step``; None when no step length lowers the energy."""
    length = 1.0
    for _ in range(30):
        candidate = np.clip(b + length * step, -_BIAS_BOUND, _BIAS_BOUND)
        if energy(candidate) <= e0 - 1e-4 * length * decrement:
            return candidate
        length *= 0.5
    return None


# ----------------------------------------------------------------------------------------------------------
# 4. Reference histogram transfer


class ReferenceHistograms(NamedTuple):
    """Target histograms of a reference image, each (K,) float64 summing to 1."""

    hue: np.ndarray  # weighted by chroma: near-gray pixels carry no hue
    chroma: np.ndarray  # one vote per pixel


def _as_rgb(rgb: Any, name: str) -> np.ndarray:
    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ColorStudioError(f"{name} must have shape (H, W, 3), got {arr.shape}")
    if arr.dtype.kind in "ui":
        return to_float(arr)
    arr = arr.astype(np.float32, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ColorStudioError(f"{name} has non-finite values")
    return np.clip(arr, 0.0, 1.0)


def _stride_to(rgb: np.ndarray, max_pixels: int) -> np.ndarray:
    step = max(1, math.ceil(math.sqrt(rgb.shape[0] * rgb.shape[1] / max_pixels)))
    return rgb[::step, ::step]


def reference_histograms(rgb: Any, bins: int = 32) -> ReferenceHistograms:
    """Hue and chroma histograms of a reference image (uint8/uint16 or float sRGB (H, W, 3)).

    Pixels are binned with the model's quantizers (hue = Lab hue in turns, chroma = Lab C*). The hue
    histogram is weighted by each pixel's chroma (zero below C* = 1): the hue of a near-gray pixel is
    noise, and the predicted hue distributions are compared through a chroma-weighted mean too
    (:class:`ReferenceTransfer`). A reference without colour gets a flat hue histogram (its chroma
    histogram then pulls toward gray).
    Large references are strided to about 1 MP, which leaves the histograms practically unchanged.
    """
    lab = rgb_to_lab(_stride_to(_as_rgb(rgb, "reference image"), _MAX_REFERENCE_PIXELS)).reshape(-1, 3)
    a, b = lab[:, 1].astype(np.float64), lab[:, 2].astype(np.float64)
    chroma = np.hypot(a, b)
    hue = np.mod(np.arctan2(b, a) / (2.0 * math.pi), 1.0)
    hue_quantizer = HUE_QUANTIZER if HUE_QUANTIZER.bins == bins else CircularQuantizer(bins)
    # Below C* = 1 (under a just-noticeable difference) the hue is rounding noise of a gray pixel: no vote.
    hue_votes = np.where(chroma >= _GRAY_CHROMA, chroma, 0.0)
    hue_hist = np.bincount(np.asarray(hue_quantizer.encode(hue)), weights=hue_votes, minlength=bins)
    chroma_hist = np.bincount(np.asarray(_chroma_quantizer(bins).encode(chroma)), minlength=bins).astype(np.float64)
    hue_hist = hue_hist / hue_hist.sum() if hue_hist.sum() > 0 else np.full(bins, 1.0 / bins)
    return ReferenceHistograms(hue_hist, chroma_hist / chroma_hist.sum())


class TransferSolution(NamedTuple):
    """The two solutions of a transfer; pass it back as ``warm_start`` for the next slider position."""

    hue: BiasSolution
    chroma: BiasSolution


class TransferResult(NamedTuple):
    """Adjusted distributions (unpack as ``hue, chroma, solution``)."""

    hue_probs: np.ndarray  # (K, h, w) float32
    chroma_probs: np.ndarray  # (K, h, w) float32
    solution: TransferSolution


class ReferenceTransfer:
    """Reference histogram transfer for one prediction, kept warm between slider moves.

    Build once per (prediction, reference); :meth:`apply` per strength. The hue marginal's mean posterior is
    weighted by the predicted median chroma (fixed at the unedited prediction), matching the
    chroma-weighted reference hue histogram of :func:`reference_histograms`.
    """

    def __init__(self, hue_probs: Any, chroma_probs: Any, ref_hists: tuple[np.ndarray, np.ndarray]) -> None:
        hue = _as_probs(hue_probs, "hue_probs")
        chroma = _as_probs(chroma_probs, "chroma_probs")
        _check_pair(hue, chroma)
        weights = _median_chroma_flat(chroma.reshape(chroma.shape[0], -1)).reshape(chroma.shape[1:])
        self.hue_solver = BiasSolver(hue, pixel_weights=weights)
        self.chroma_solver = BiasSolver(chroma)
        self.hue_target = _as_target(ref_hists[0], hue.shape[0], "reference hue")
        self.chroma_target = _as_target(ref_hists[1], chroma.shape[0], "reference chroma")

    def solve(self, strength: float, warm_start: TransferSolution | None = None) -> TransferSolution:
        """Fit both biases; warm-started from ``warm_start`` or else from the previous call."""
        hue_start = None if warm_start is None else warm_start.hue.bias
        chroma_start = None if warm_start is None else warm_start.chroma.bias
        return TransferSolution(
            self.hue_solver.solve(self.hue_target, strength, warm_start=hue_start),
            self.chroma_solver.solve(self.chroma_target, strength, warm_start=chroma_start),
        )

    def apply(self, strength: float, warm_start: TransferSolution | None = None) -> TransferResult:
        """Adjusted distributions for ``lambda = strength`` plus the solution."""
        solution = self.solve(strength, warm_start)
        return TransferResult(
            self.hue_solver.apply(solution.hue.bias), self.chroma_solver.apply(solution.chroma.bias), solution
        )

    def apply_ab(
        self, strength: float, warm_start: TransferSolution | None = None, decoding: Decoding = PAPER_DECODING
    ) -> tuple[np.ndarray, TransferSolution]:
        """Decoded a*b* (h, w, 2) float32 for ``strength``: the slider path, skipping the float32 copies."""
        solution = self.solve(strength, warm_start)
        ab = _decode_flat(self.hue_solver._y, self.chroma_solver._y,
                          _bin_weights(solution.hue.bias), _bin_weights(solution.chroma.bias),
                          decoding=decoding)
        return ab.reshape(*self.hue_solver.shape[1:], 2).astype(np.float32), solution


def transfer_to_reference(
    hue_probs: Any,
    chroma_probs: Any,
    ref_hists: tuple[np.ndarray, np.ndarray],
    strength: float = 1.0,
    warm_start: TransferSolution | None = None,
) -> TransferResult:
    """Eq. 6 toward a reference's (hue, chroma) histograms with ``lambda = strength`` (>= 0; 0 = no change).

    Returns ``(hue_probs, chroma_probs, solution)``; pass ``solution`` as ``warm_start`` next time. For
    repeated calls on one prediction, :class:`ReferenceTransfer` also skips re-reading the inputs.
    Useful strengths: about 0.1 (a hint of the palette) to 10 (close to the reference's histograms).
    """
    return ReferenceTransfer(hue_probs, chroma_probs, ref_hists).apply(strength, warm_start)


# ----------------------------------------------------------------------------------------------------------
# 5. Hue bias


def hue_bump(angle_deg: float, bins: int = 32, concentration: float = HUE_BIAS_CONCENTRATION) -> np.ndarray:
    """von Mises bump over the hue bins: ``exp(kappa (cos(theta_k - angle) - 1))``, (K,) with peak 1."""
    theta = 2.0 * math.pi * _hue_centres(bins)
    return np.exp(concentration * (np.cos(theta - math.radians(angle_deg)) - 1.0))


def hue_bias(
    hue_probs: Any,
    angle_deg: float,
    strength: float = 1.0,
    *,
    amplitude: float = HUE_BIAS_AMPLITUDE,
    concentration: float = HUE_BIAS_CONCENTRATION,
) -> np.ndarray:
    """Bias every cell's hue toward the Lab hue ``angle_deg`` (0 = +a*, 90 = +b*): (K, h, w) float32.

    ``y*_n = softmax(log y_n + strength * amplitude * bump)``: the bias is the same for every cell, so a
    peaked (confident) distribution, whose log-probabilities differ by many nats, barely moves while a flat
    (uncertain) one follows the bump. That is how the effect is modulated by the predicted uncertainty,
    with no extra map. Sweeping ``angle_deg`` rotates the bias through colour space (the paper's hue-bias
    rotation). ``strength`` 1 = full (``amplitude`` nats at the centre); 0 = unchanged.

    This closed form is what the slider uses: no solve (about a millisecond), monotone in strength, and a
    fixed angle always means the same colour. :func:`hue_rotation_by_energy` is the eq. 6 variant.
    """
    hue = _as_probs(hue_probs, "hue_probs")
    if not (np.isfinite(strength) and strength >= 0):
        raise ColorStudioError(f"hue strength must be >= 0, got {strength}")
    if not np.isfinite(angle_deg):
        raise ColorStudioError(f"hue angle must be finite, got {angle_deg}")
    bias = strength * amplitude * hue_bump(angle_deg, hue.shape[0], concentration)
    return _apply_bias_flat(hue.reshape(hue.shape[0], -1), bias).reshape(hue.shape).astype(np.float32)


def rotated_mean_hue(hue_probs: Any, angle_deg: float, pixel_weights: np.ndarray | None = None) -> np.ndarray:
    """The image's (weighted) mean hue histogram rotated by ``angle_deg``: (K,), fractional shifts interpolated."""
    hue = _as_probs(hue_probs, "hue_probs")
    flat = hue.reshape(hue.shape[0], -1)
    weights = np.ones(flat.shape[1]) if pixel_weights is None else np.asarray(pixel_weights, np.float64).reshape(-1)
    mean = np.einsum("kn,n->k", flat, weights / weights.sum()) if weights.sum() > 0 else flat.mean(axis=1)
    shift = (angle_deg / 360.0) * hue.shape[0]
    whole = math.floor(shift)
    frac = shift - whole
    return (1.0 - frac) * np.roll(mean, whole) + frac * np.roll(mean, whole + 1)


def hue_rotation_by_energy(
    hue_probs: Any,
    chroma_probs: Any,
    angle_deg: float,
    strength: float = 1.0,
    *,
    solver: BiasSolver | None = None,
) -> tuple[np.ndarray, BiasSolution]:
    """Eq. 6 toward the image's own chroma-weighted mean hue histogram rotated by ``angle_deg``.

    Returns (hue_probs (K, h, w) float32, solution). Pass the same ``solver`` (a :class:`BiasSolver` over
    these hue_probs with chroma weights) between calls to warm-start. Not the slider's control: one global
    bias cannot rotate several hue clusters at once (sky and foliage both "rotated"), so for multi-modal
    images the fit trades them off and the result depends on the image's palette; :func:`hue_bias` is
    direct and predictable.
    """
    hue = _as_probs(hue_probs, "hue_probs")
    chroma = _as_probs(chroma_probs, "chroma_probs")
    _check_pair(hue, chroma)
    weights = _median_chroma_flat(chroma.reshape(chroma.shape[0], -1)).reshape(chroma.shape[1:])
    if solver is None:
        solver = BiasSolver(hue, pixel_weights=weights)
    elif solver.shape != hue.shape:
        raise ColorStudioError(f"solver was built for {solver.shape}, hue_probs are {hue.shape}")
    solution = solver.solve(rotated_mean_hue(hue, angle_deg, weights), strength)
    return solver.apply(solution.bias), solution


# ----------------------------------------------------------------------------------------------------------
# 6. Quantile matching (paper sec. 3.4)


def _match_quantiles(values: np.ndarray, reference: np.ndarray, levels: int = 1025) -> np.ndarray:
    """Monotone map of ``values`` onto ``reference``'s distribution through ``levels`` quantiles.

    Quantiles come from at most ~1 M strided samples and the map is piecewise linear between them,
    instead of an exact rank sort of every pixel: a 24 MP image takes a fraction of a second per channel,
    and the result is indistinguishable from exact matching.
    """
    q = np.linspace(0.0, 1.0, levels)
    src_q = np.quantile(values.ravel()[:: max(1, values.size // _MAX_REFERENCE_PIXELS)], q)
    ref_q = np.quantile(reference, q)
    # np.interp needs increasing x: break ties of flat regions by a negligible ramp.
    src_q = np.maximum.accumulate(src_q + np.linspace(0.0, 1e-9, levels))
    return np.interp(values, src_q, ref_q)


def _lightness_ratios(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rgb / gray, gray) with gray = mean RGB (Larsson's lightness); ratios in [0, 3]."""
    gray = rgb.mean(axis=-1, keepdims=True)
    return rgb / np.maximum(gray, 1e-4), gray


def quantile_match_transfer(rgb_colorized: Any, rgb_reference: Any, strength: float = 1.0) -> np.ndarray:
    """Lightness-normalized quantile matching to a reference (paper sec. 3.4): (H, W, 3) float32 sRGB.

    Works on any colorized image (histogram model, PixelCNN samples, ...). RGB is divided by its gray
    (mean RGB), each ratio channel is quantile-matched to the reference's, multiplied back by the gray, and
    blended with the input by ``strength`` in [0, 1]. Finally the input's L* is re-imposed through Lab
    (:func:`colorstudio.engine.composite.lab_to_srgb_keep_lightness`), so only chroma changes.
    """
    src = _as_rgb(rgb_colorized, "colorized image").astype(np.float64)
    ref = _stride_to(_as_rgb(rgb_reference, "reference image"), _MAX_REFERENCE_PIXELS).astype(np.float64)
    if not (np.isfinite(strength) and 0.0 <= strength <= 1.0):
        raise ColorStudioError(f"quantile-matching strength must be in [0, 1], got {strength}")
    lightness = rgb_to_lab(src.astype(np.float32))[..., 0]
    if strength == 0:
        return src.astype(np.float32)
    ratios, gray = _lightness_ratios(src)
    ref_ratios, _ = _lightness_ratios(ref)
    matched = np.stack(
        [_match_quantiles(ratios[..., c], ref_ratios[..., c].ravel()) for c in range(3)], axis=-1
    )
    out = np.clip((1.0 - strength) * src + strength * matched * gray, 0.0, 1.0)
    # Keep the input's L*: only the chroma of the matched colours is used (exact, with gamut handling).
    return lab_to_srgb_keep_lightness(lightness, rgb_to_lab(out.astype(np.float32))[..., 1:])


# ----------------------------------------------------------------------------------------------------------
# 7. Suggested colours


def _hue_modes(p: np.ndarray) -> list[tuple[float, float]]:
    """(hue in turns, mass) of each basin of a circular histogram: every bin climbs to its highest neighbour."""
    bins = p.shape[0]
    parent = np.arange(bins)
    for k in range(bins):
        left, right = (k - 1) % bins, (k + 1) % bins
        best = left if p[left] > p[right] else right
        if p[best] > p[k]:
            parent[k] = best
    for _ in range(bins):  # follow the climbs to the peaks (at most K steps)
        parent = parent[parent]
    centres = 2.0 * math.pi * _hue_centres(bins)
    modes = []
    for peak in np.unique(parent):
        members = parent == peak
        z = np.sum(p[members] * np.exp(1j * centres[members]))
        modes.append((float(np.mod(np.angle(z) / (2.0 * math.pi), 1.0)), float(p[members].sum())))
    return modes


def _merge_modes(modes: list[tuple[float, float]], merge_turns: float) -> list[tuple[float, float]]:
    """Greedy merge, heaviest first, of modes closer than ``merge_turns`` (mass-weighted circular mean)."""
    kept: list[tuple[complex, float]] = []
    for hue, mass in sorted(modes, key=lambda m: -m[1]):
        for i, (z, total) in enumerate(kept):
            gap = abs((np.angle(z) / (2.0 * math.pi) - hue + 0.5) % 1.0 - 0.5)
            if gap < merge_turns:
                kept[i] = (z + mass * np.exp(2j * math.pi * hue), total + mass)
                break
        else:
            kept.append((mass * np.exp(2j * math.pi * hue), mass))
    return [(float(np.mod(np.angle(z) / (2.0 * math.pi), 1.0)), total) for z, total in kept]


def _in_gamut_rgb(lightness: float, chroma: float, hue: float) -> np.ndarray:
    """sRGB of (L*, C*, h), chroma reduced (hue and L* kept) until the colour fits the sRGB gamut."""
    scales = np.linspace(1.0, 0.0, 41)
    lab = lch_to_lab(np.full(41, lightness), chroma * scales, np.full(41, hue))
    rgb = lab_to_rgb(lab, clip=False)
    inside = np.all((rgb >= -1e-4) & (rgb <= 1.0 + 1e-4), axis=-1)
    return np.clip(rgb[int(np.argmax(inside)) if inside.any() else -1], 0.0, 1.0)


def suggested_colors(
    hue_probs: Any,
    chroma_probs: Any,
    x: float,
    y: float,
    L_star: float,
    k: int = 5,
    *,
    merge_deg: float = 30.0,
) -> list[tuple[str, float]]:
    """Main colours the model considers at cell (x, y): up to ``k`` ``("#rrggbb", weight)``, heaviest first.

    ``x, y``: column and row in the working grid (rounded to the nearest cell). Each hue basin (bins that
    climb to the same peak) gives one mode with its probability mass as weight; modes closer than
    ``merge_deg`` merge. Every mode takes the cell's median chroma (the model predicts the marginals only)
    and is shown at lightness ``L_star``, with chroma reduced until it fits sRGB. Modes that look the same
    (e.g. at near-zero chroma) merge into one entry; weights sum to at most 1.
    """
    hue = _as_probs(hue_probs, "hue_probs")
    chroma = _as_probs(chroma_probs, "chroma_probs")
    _check_pair(hue, chroma)
    if k < 1:
        raise ColorStudioError(f"k must be at least 1, got {k}")
    height, width = hue.shape[1:]
    col, row = int(round(x)), int(round(y))
    if not (0 <= col < width and 0 <= row < height):
        raise ColorStudioError(f"cell ({x}, {y}) lies outside the {width}x{height} grid")
    if not 0.0 <= L_star <= 100.0:
        raise ColorStudioError(f"L* must be in [0, 100], got {L_star}")
    c = float(_median_chroma_flat(chroma[:, row, col][:, None])[0])
    modes = _merge_modes(_hue_modes(hue[:, row, col]), merge_deg / 360.0)
    by_hex: dict[str, float] = {}
    for mode_hue, mass in modes:
        rgb = _in_gamut_rgb(L_star, c, mode_hue)
        code = "#" + "".join(f"{int(round(v * 255)):02x}" for v in rgb)
        by_hex[code] = by_hex.get(code, 0.0) + mass
    return sorted(by_hex.items(), key=lambda item: -item[1])[:k]
