"""The histogram network a sampler is conditioned on, as the engine uses it (issue 14).

PixColor's conditioning and PIC's embedding are built on a frozen trained histogram network
(:class:`~colorstudio.models.histogram.FrozenHistogramNetwork`). Its per-cell hue and chroma
distributions, for the same L* and hints the sampler sees, serve twice here:

- **best first**: each sample's plausibility (:func:`colorstudio.models.plausibility.plausibility`), by
  which the pipeline orders the samples;
- **the draft**: decoded as the histogram family decodes (Larsson et al. 2016), the conditioner's own
  colorization, tens of milliseconds at the working size: what the session shows at once after a hint
  while the samples are drawn.

Arrays are those of a colorizer's ``predict``: ``lightness`` (h, w) L* at the working size, ``hint_ab``
(2, h, w) normalized a*b*, ``hint_mask`` (1, h, w) in {0, 1}; a*b* samples (h, w, 2).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from colorstudio.color import normalize_ab, normalize_l
from colorstudio.engine.pipeline import HistogramPrediction, Prediction
from colorstudio.models.decoding import PAPER_DECODING, decode_ab
from colorstudio.models.histogram import FrozenHistogramNetwork
from colorstudio.models.plausibility import plausibility

__all__ = ["HistogramConditioner"]


class HistogramConditioner:
    """A sampler's frozen histogram network on ``device``: its distributions, sample scores and draft."""

    def __init__(self, network: FrozenHistogramNetwork, device: torch.device) -> None:
        self.network = network
        self.device = device

    @classmethod
    def of(cls, network: FrozenHistogramNetwork | None, device: torch.device) -> HistogramConditioner | None:
        """The conditioner of a sampler whose ``histogram_network`` is ``network`` (None: it has none)."""
        return None if network is None else cls(network, device)

    def _inputs(self, lightness: np.ndarray, hint_ab: np.ndarray, hint_mask: np.ndarray
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(1, 1, h, w) normalized L* and the (1, 3, h, w) hint channels (None without hints)."""
        h, w = lightness.shape
        L_norm = torch.from_numpy(normalize_l(np.asarray(lightness, np.float32)))[None, None].to(self.device)
        mask = np.asarray(hint_mask, np.float32).reshape(1, h, w)
        if not mask.any():
            return L_norm, None
        hint = np.concatenate([np.asarray(hint_ab, np.float32).reshape(2, h, w) * mask, mask])[None]
        return L_norm, torch.from_numpy(np.ascontiguousarray(hint)).to(self.device)

    def distributions(self, lightness: np.ndarray, hint_ab: np.ndarray, hint_mask: np.ndarray) -> HistogramPrediction:
        """Hue and chroma distributions (K, ceil(h/4), ceil(w/4)) for the sampler's inputs."""
        L_norm, hint = self._inputs(lightness, hint_ab, hint_mask)
        with torch.inference_mode():
            hue, chroma = self.network.predict_distributions(L_norm, hint)
        return HistogramPrediction(hue=hue[0].float().cpu().numpy(), chroma=chroma[0].float().cpu().numpy())

    def scores(self, lightness: np.ndarray, hint_ab: np.ndarray, hint_mask: np.ndarray,
               ab_samples: Sequence[np.ndarray], histograms: HistogramPrediction | None = None) -> list[float]:
        """The plausibility of each (h, w, 2) a*b* sample (higher = more plausible), from ``histograms``
        (the :meth:`distributions` of these inputs; computed when not given)."""
        if not ab_samples:
            return []
        histograms = histograms or self.distributions(lightness, hint_ab, hint_mask)
        L_norm, hint = self._inputs(lightness, hint_ab, hint_mask)
        ab = np.stack([np.asarray(sample, np.float32) for sample in ab_samples])  # (N, h, w, 2)
        ab_norm = torch.from_numpy(normalize_ab(ab)).permute(0, 3, 1, 2).to(self.device)
        with torch.inference_mode():
            values = plausibility(torch.from_numpy(histograms.hue)[None], torch.from_numpy(histograms.chroma)[None],
                                  L_norm, ab_norm, hint, self.network.hue_smooth, self.network.chroma_smooth,
                                  cell=self.network.config.output_stride)
        return [float(v) for v in values.cpu()]

    def draft(self, lightness: np.ndarray, hint_ab: np.ndarray, hint_mask: np.ndarray, seed: int = 0) -> Prediction:
        """The conditioner's own colorization (the histogram family's decoding) as a one-sample prediction;
        no histograms are attached, so it takes the same edits as the samples that will replace it."""
        histograms = self.distributions(lightness, hint_ab, hint_mask)
        ab = decode_ab(histograms.hue, histograms.chroma, decoding=PAPER_DECODING)
        h, w = lightness.shape
        return Prediction(ab_samples=[np.asarray(ab, np.float32)], seeds=[seed], work_size=(w, h))
