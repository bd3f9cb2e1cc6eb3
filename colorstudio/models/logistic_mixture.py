"""Discretized logistic mixture likelihood over PIC's (a, b) chroma on 256 levels (Royer et al. 2017).

The PixelCNN++ likelihood (Salimans et al. 2017, openai/pixel-cnn ``discretized_mix_logistic_loss``) in the
form PIC uses for Lab: per pixel a mixture of K components; within component k the two chroma channels
are logistic, a first and b given a, with means that depend linearly on the (given) lightness and on a::

    mu_a' = mu_a + c0 * L
    mu_b' = mu_b + c1 * L + c2 * a          (c = tanh(raw), as in PIC's ``nn.py``)
    p(a, b | L) = sum_k pi_k  P_k(a | L)  P_k(b | a, L)

Values live on PIC's grid x = 2k/255 - 1, k in 0..255 (:func:`colorstudio.color.ab_to_pic`); the bin of x
is [x - 1/255, x + 1/255], except the first and last bins, which extend to -inf and +inf so that the 256
bin probabilities of every logistic sum to exactly 1 whatever its mean and scale.

Parameters per pixel (``PARAMS_PER_COMPONENT * K`` channels, K blocks of K channels each, in this order):
``logits, mu_a, mu_b, log_s_a, log_s_b, c0_raw, c1_raw, c2_raw``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = [
    "HALF_BIN",
    "LEVELS",
    "MAX_LOG_SCALE",
    "MIN_LOG_SCALE",
    "PARAMS_PER_COMPONENT",
    "MixtureParams",
    "Truncation",
    "bits_per_dim",
    "draw_uniforms",
    "log_prob",
    "nll",
    "num_params",
    "pmf_grid",
    "sample",
    "sample_from_uniforms",
    "split_params",
]

PARAMS_PER_COMPONENT = 8
LEVELS = 256
HALF_BIN = 1.0 / (LEVELS - 1)  # half width of a bin on the [-1, 1] scale
# Lower bound of the log scale (openai/pixel-cnn and PIC): a scale of e^-7 ~ 1e-3 already puts all mass in
# one bin (half width 3.9e-3); going lower only makes the loss surface steeper.
MIN_LOG_SCALE = -7.0
# Upper bound: e^30 is ~1e13 times the whole [-1, 1] range, already a flat pmf; beyond ~e^87 the bin width
# in units of the scale underflows float32 and its log becomes -inf.
MAX_LOG_SCALE = 30.0
_EDGE = 1.0 - HALF_BIN  # grid values beyond +-_EDGE are the first / last level (x = -1 / +1 exactly)
_UNIFORM_EPS = 1e-6  # keeps logit(u) finite


def num_params(components: int) -> int:
    """Channels of the parameter tensor for ``components`` mixture components (8 K)."""
    return PARAMS_PER_COMPONENT * components


@dataclass(frozen=True)
class Truncation:
    """Outlier removal for sampling (not for the likelihood, which stays the model's).

    ``tail``: each logistic is sampled within its central quantiles [tail, 1 - tail], in [0, 0.5); a
    logistic's tails are heavy (at T = 1 one draw in 20 lands beyond 3 scales of its mean), which is
    what speckles a sample. ``min_weight``: mixture components whose tempered weight is below it are
    dropped (the heaviest always stays), in [0, 1). ``Truncation()`` = the full mixture.
    """

    tail: float = 0.0
    min_weight: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.tail < 0.5:
            raise ValueError(f"tail must be in [0, 0.5), got {self.tail}")
        if not 0.0 <= self.min_weight < 1.0:
            raise ValueError(f"min_weight must be in [0, 1), got {self.min_weight}")

    @property
    def active(self) -> bool:
        return self.tail > 0 or self.min_weight > 0


@dataclass(frozen=True)
class MixtureParams:
    """The parameters split and constrained; every field is (B, K, *spatial)."""

    logits: torch.Tensor
    mu_a: torch.Tensor
    mu_b: torch.Tensor
    log_s_a: torch.Tensor  # clamped to [MIN_LOG_SCALE, MAX_LOG_SCALE]
    log_s_b: torch.Tensor
    c0: torch.Tensor  # L -> a, in (-1, 1)
    c1: torch.Tensor  # L -> b
    c2: torch.Tensor  # a -> b


def split_params(params: torch.Tensor) -> MixtureParams:
    """(B, 8K, *spatial) raw network output -> :class:`MixtureParams` (each (B, K, *spatial))."""
    if params.ndim < 2 or params.shape[1] % PARAMS_PER_COMPONENT:
        raise ValueError(f"params must be (B, 8K, ...), got shape {tuple(params.shape)}")
    logits, mu_a, mu_b, log_s_a, log_s_b, c0, c1, c2 = params.chunk(PARAMS_PER_COMPONENT, dim=1)
    return MixtureParams(
        logits=logits, mu_a=mu_a, mu_b=mu_b,
        log_s_a=log_s_a.clamp(MIN_LOG_SCALE, MAX_LOG_SCALE), log_s_b=log_s_b.clamp(MIN_LOG_SCALE, MAX_LOG_SCALE),
        c0=torch.tanh(c0), c1=torch.tanh(c1), c2=torch.tanh(c2),
    )


def _log_bin_prob(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """log P(bin of x) for a logistic(mean, e^log_scale); x on the 256-level grid, all broadcastable.

    The openai code subtracts two sigmoids in float32 and, where that difference falls below 1e-5, falls
    back to the log density at the bin centre (cancellation makes the difference meaningless there). Here
    the difference is taken in log space through an exact identity instead, valid for every x and scale::

        sigmoid(p) - sigmoid(m) = sigmoid(p) * sigmoid(-m) * (1 - e^(m - p)),   p > m

    with p - m = 2 / (255 s) known without cancellation; logsigmoid / expm1 keep every term finite, so
    tiny probabilities (far tails, very small scales) and huge scales are both exact and no bin-centre
    approximation is needed. The first bin integrates from -inf (log sigmoid(p)); the last to +inf
    (log sigmoid(-m) = -softplus(m)).
    """
    inv_s = torch.exp(-log_scale)
    centred = x - mean
    plus_in = inv_s * (centred + HALF_BIN)
    min_in = inv_s * (centred - HALF_BIN)
    log_cdf_plus = F.logsigmoid(plus_in)  # first bin: P(X < x + 1/255)
    log_one_minus_cdf_min = F.logsigmoid(-min_in)  # last bin: P(X > x - 1/255)
    width = inv_s * (2.0 * HALF_BIN)  # p - m > 0
    log_delta = log_cdf_plus + log_one_minus_cdf_min + torch.log(-torch.expm1(-width))
    return torch.where(x < -_EDGE, log_cdf_plus, torch.where(x > _EDGE, log_one_minus_cdf_min, log_delta))


def _lightness(L: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """L as (B, 1, *spatial) so it broadcasts against (B, K, *spatial)."""
    if L.ndim == like.ndim - 1:
        L = L.unsqueeze(1)
    if L.ndim != like.ndim or L.shape[1] != 1:
        raise ValueError(f"L must be (B, *spatial) or (B, 1, *spatial), got {tuple(L.shape)}")
    return L


def log_prob(params: torch.Tensor, L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """log p(a, b | params, L) in nats per pixel.

    Args:
        params: (B, 8K, *spatial) raw mixture parameters (see the module docstring).
        L: (B, 1, *spatial) or (B, *spatial) normalized lightness ``(L* - 50) / 50`` in [-1, 1].
        ab: (B, 2, *spatial) chroma on PIC's grid (``ab_to_pic``), values 2k/255 - 1.

    Returns:
        (B, *spatial) log-probabilities (<= 0).
    """
    p = split_params(params)
    L = _lightness(L, p.mu_a)
    if ab.shape[1] != 2:
        raise ValueError(f"ab must be (B, 2, ...), got {tuple(ab.shape)}")
    a, b = ab[:, :1], ab[:, 1:2]
    mean_a = p.mu_a + p.c0 * L
    mean_b = p.mu_b + p.c1 * L + p.c2 * a
    per_component = (
        _log_bin_prob(a, mean_a, p.log_s_a) + _log_bin_prob(b, mean_b, p.log_s_b) + torch.log_softmax(p.logits, dim=1)
    )
    return torch.logsumexp(per_component, dim=1)


def nll(params: torch.Tensor, L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of the summed negative log-likelihood per image, in nats (a scalar)."""
    lp = log_prob(params, L, ab)
    return -lp.reshape(lp.shape[0], -1).sum(1).mean()


# ---------------------------------------------------------------------------------------------- sampling
def draw_uniforms(
    shape: Sequence[int], generator: torch.Generator | Sequence[torch.Generator] | None, device: torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Uniform noise (B, 3, *spatial) for :func:`sample_from_uniforms` (component, a, b).

    With a sequence of B generators, row i comes from generator i alone (a sample depends only on its
    own generator, whatever the batch); with one generator the whole tensor is drawn from it.
    """
    batch, *spatial = shape
    if generator is None or isinstance(generator, torch.Generator):
        gen_device = generator.device if generator is not None else torch.device("cpu")
        u = torch.rand((batch, 3, *spatial), generator=generator, device=gen_device, dtype=dtype)
    else:
        if len(generator) != batch:
            raise ValueError(f"{len(generator)} generators for a batch of {batch}")
        u = torch.stack([torch.rand((3, *spatial), generator=g, device=g.device, dtype=dtype) for g in generator])
    return u.to(device) if device is not None else u


def _to_grid(x: torch.Tensor) -> torch.Tensor:
    """Continuous values -> the centre of their bin on the 256-level grid (the edge bins absorb the tails)."""
    level = torch.round((x + 1.0) * ((LEVELS - 1) / 2.0)).clamp(0, LEVELS - 1)
    return level * (2.0 / (LEVELS - 1)) - 1.0


def sample_from_uniforms(params: torch.Tensor, L: torch.Tensor, u: torch.Tensor, temperature: float = 1.0,
                         truncation: Truncation | None = None) -> torch.Tensor:
    """Sample (a, b) given uniform noise: a deterministic function of ``u``, so two samplers (fast, naive)
    that feed the same noise to the same pixel give the same value.

    Component k by inverting the CDF of softmax(logits / T) with ``u[:, 0]``; then a from its logistic (scale
    multiplied by T) by the inverse CDF with ``u[:, 1]``, snapped to its bin; then b given that a with
    ``u[:, 2]``. Sampling a continuous logistic value and taking its bin (edge bins open) draws exactly from
    the discretized pmf of :func:`log_prob` when T = 1. T = 0 takes the most probable component and the bins
    of its (L- and a-dependent) means: a deterministic, mode-like value.

    ``truncation`` (:class:`Truncation`) removes outliers and keeps the rest of the distribution: components
    whose (tempered) weight is below ``min_weight`` are dropped (the heaviest is always kept), and each
    logistic is sampled within its central quantiles [tail, 1 - tail] (the inverse CDF of a uniform
    rescaled to that range). Still a deterministic function of ``u``.

    Args:
        params: (B, 8K, *spatial); L: (B, 1, *spatial) or (B, *spatial); u: (B, 3, *spatial) in [0, 1).
        temperature: >= 0.
        truncation: None (or ``Truncation()``) samples the full mixture.

    Returns:
        (B, 2, *spatial) values on the 256-level grid in [-1, 1].
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if params.ndim < 2 or params.shape[1] % PARAMS_PER_COMPONENT:
        raise ValueError(f"params must be (B, 8K, ...), got shape {tuple(params.shape)}")
    # Called once per pixel by the samplers: few, batched ops (one gather of the chosen component's 8
    # parameters, constraints applied to those only) keep the per-pixel overhead small.
    batch, spatial = params.shape[0], params.shape[2:]
    components = params.shape[1] // PARAMS_PER_COMPONENT
    blocks = params.reshape(batch, PARAMS_PER_COMPONENT, components, *spatial)
    logits = blocks[:, 0]
    L = _lightness(L, logits)[:, 0]
    truncation = truncation or Truncation()
    if temperature == 0:
        k = logits.argmax(dim=1, keepdim=True)
    else:
        weights = torch.softmax(logits / temperature, dim=1)
        if truncation.min_weight > 0:
            keep = (weights >= truncation.min_weight) | (weights == weights.amax(dim=1, keepdim=True))
            weights = weights * keep
            weights = weights / weights.sum(dim=1, keepdim=True)
        cdf = weights.cumsum(dim=1)
        # first component whose CDF exceeds u; the clamp guards against a last CDF value of 0.99999 < u
        k = (cdf <= u[:, :1]).sum(dim=1, keepdim=True).clamp_(max=components - 1)
    chosen = blocks.gather(2, k.unsqueeze(1).expand(batch, PARAMS_PER_COMPONENT, 1, *spatial)).squeeze(2)
    mu_a, mu_b = chosen[:, 1], chosen[:, 2]
    c0, c1, c2 = torch.tanh(chosen[:, 5:8]).unbind(1)
    mean_a = mu_a + c0 * L
    if temperature == 0:
        a = _to_grid(mean_a)
        return torch.stack([a, _to_grid(mu_b + c1 * L + c2 * a)], dim=1)
    # inverse CDF of the logistic: mean + scale * logit(u), scale = T * e^log_s
    scales = torch.exp(chosen[:, 3:5].clamp(MIN_LOG_SCALE, MAX_LOG_SCALE)) * temperature
    u_ab = u[:, 1:3]
    if truncation.tail > 0:
        # the logistic's quantile function on [tail, 1 - tail] only: no draw beyond its central range
        u_ab = truncation.tail + (1.0 - 2.0 * truncation.tail) * u_ab
    noise = torch.logit(u_ab, eps=_UNIFORM_EPS) * scales
    a = _to_grid(mean_a + noise[:, 0])
    b = _to_grid(mu_b + c1 * L + c2 * a + noise[:, 1])
    return torch.stack([a, b], dim=1)


def sample(
    params: torch.Tensor,
    L: torch.Tensor,
    generator: torch.Generator | Sequence[torch.Generator] | None = None,
    temperature: float = 1.0,
    truncation: Truncation | None = None,
) -> torch.Tensor:
    """Sample (a, b) for every pixel of ``params`` (B, 8K, *spatial): (B, 2, *spatial) on the grid.

    ``generator``: one generator for the batch, or one per batch row (see :func:`draw_uniforms`).
    """
    u = draw_uniforms((params.shape[0], *params.shape[2:]), generator, params.device, params.dtype)
    return sample_from_uniforms(params, L, u, temperature, truncation)


def pmf_grid(params: torch.Tensor, L: torch.Tensor) -> torch.Tensor:
    """The full pmf of one pixel over all 256 x 256 (a, b) levels: (256, 256) probabilities, [a, b].

    Args:
        params: (8K,) parameters of the pixel; L: scalar tensor (normalized lightness).
    """
    grid = torch.arange(LEVELS, device=params.device, dtype=params.dtype) * (2.0 / (LEVELS - 1)) - 1.0
    a, b = torch.meshgrid(grid, grid, indexing="ij")
    ab = torch.stack([a, b])[None]  # (1, 2, 256, 256)
    full = params.reshape(1, -1, 1, 1).expand(1, params.numel(), LEVELS, LEVELS)
    lightness = torch.as_tensor(L, dtype=params.dtype, device=params.device).reshape(1, 1, 1, 1).expand(1, 1, LEVELS, LEVELS)
    return log_prob(full, lightness, ab)[0].exp()


def bits_per_dim(nll_nats_total: float, n_dims: int) -> float:
    """Negative log-likelihood in bits per dimension: ``nll_nats_total / (n_dims * ln 2)``.

    For PIC, ``n_dims`` counts the subsampled chroma grid only (H' * W' * 2; CIFAR: 512), L not counted.
    """
    if n_dims <= 0:
        raise ValueError(f"n_dims must be positive, got {n_dims}")
    return float(nll_nats_total) / (n_dims * math.log(2.0))
