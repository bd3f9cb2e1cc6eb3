"""The histogram model (Larsson et al. 2016) as an engine :class:`Colorizer`.

The network predicts per-cell hue and chroma distributions at 1/4 of the working resolution; the
engine keeps them (for the uncertainty map, hue bias and reference transfer) and decodes a point
estimate with :func:`colorstudio.models.decoding.decode_ab`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from colorstudio.color import normalize_l
from colorstudio.engine.pipeline import (
    Capabilities,
    HistogramPrediction,
    NetworkColorizer,
    Prediction,
    check_cancel,
    single_sample_message,
)
from colorstudio.errors import ColorStudioError
from colorstudio.models.decoding import Decoding, decode_ab

if TYPE_CHECKING:
    from colorstudio.models.histogram import HistogramColorizer

__all__ = ["HistogramModelColorizer", "DEFAULT_LONG_SIDE"]

# The network is fully convolutional; it was trained on 128 px photos, so very large working sizes
# only change the scale of objects it sees. The card's working_resolution overrides this.
DEFAULT_LONG_SIDE = 256


class HistogramModelColorizer(NetworkColorizer):
    """Wraps a trained ``HistogramColorizer`` network; one result per image (no sampling)."""

    capabilities = Capabilities(histograms=True)
    default_long_side = DEFAULT_LONG_SIDE
    network: HistogramColorizer

    @property
    def decoding(self) -> Decoding:
        """The card's ``decoding`` (chroma quantile, fading threshold), else the paper's."""
        given = self.card.get("decoding") or {}
        if not isinstance(given, dict):
            raise ColorStudioError(f"model {self.name!r}: decoding must be an object, got {given!r}")
        unknown = set(given) - {"fading_threshold", "chroma_quantile"}
        if unknown:
            raise ColorStudioError(f"model {self.name!r}: unknown decoding fields {sorted(unknown)}")
        try:
            return Decoding(**given)
        except ColorStudioError as exc:
            raise ColorStudioError(f"model {self.name!r}: {exc}") from None

    def distributions(self, lightness: np.ndarray, hint_ab: np.ndarray, hint_mask: np.ndarray) -> HistogramPrediction:
        """Hue and chroma distributions (K, ceil(h/4), ceil(w/4)) for an (h, w) L* map and its hints."""
        mask = np.asarray(hint_mask, np.float32).reshape(1, *lightness.shape)
        hint = np.concatenate([np.asarray(hint_ab, np.float32) * mask, mask])[None]
        L_norm = torch.from_numpy(normalize_l(np.asarray(lightness, np.float32)))[None, None].to(self.device)
        with torch.inference_mode():
            hue, chroma = self.network.predict_distributions(L_norm, torch.from_numpy(hint).to(self.device))
        return HistogramPrediction(hue=hue[0].float().cpu().numpy(), chroma=chroma[0].float().cpu().numpy(),
                                   decoding=self.decoding)

    def predict(self, lightness, hint_ab, hint_mask, *, samples=1, seed=0, temperature=1.0, sampler="fast",
                progress=None, cancel=None) -> Prediction:
        if samples != 1:
            raise ColorStudioError(single_sample_message(self.name))
        check_cancel(cancel)
        if progress is not None:
            progress(0.0, "predicting colour distributions")
        histograms = self.distributions(lightness, hint_ab, hint_mask)
        if progress is not None:
            progress(1.0, "predicted")
        h, w = lightness.shape
        ab = decode_ab(histograms.hue, histograms.chroma, decoding=histograms.decoding)
        return Prediction(ab_samples=[ab], seeds=[seed],
                          work_size=(w, h), histograms=histograms)

