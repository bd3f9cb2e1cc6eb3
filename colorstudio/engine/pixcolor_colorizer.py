"""PixColor (:mod:`colorstudio.models.pixcolor`) as an engine :class:`Colorizer`.

The network samples (Cr, Cb) on a 28-cell grid, refines them to the working resolution (112 px on the
short side by default, the scale of the training photos) and returns Lab a*b* there; the engine then
composites with the full-resolution L* (guided upsampling, exact lightness). A model conditioned on a
histogram network ranks its samples and drafts with it
(:class:`~colorstudio.engine.conditioner.HistogramConditioner`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from colorstudio.color import normalize_l
from colorstudio.engine.conditioner import HistogramConditioner
from colorstudio.engine.pipeline import Capabilities, Prediction, check_cancel
from colorstudio.errors import ColorStudioError
from colorstudio.models.pixcolor import SAMPLERS, PixColor

__all__ = ["PixColorColorizer"]


class PixColorColorizer:
    """Wraps a trained :class:`PixColor`; several seeded samples per image.

    ``predict(..., sampler="fast"|"naive")``: the pipeline passes ``ColorizeRequest.sampler``; both give the
    same samples, naive is the O(n^2) reference.
    """

    capabilities = Capabilities(samples=True, ranked=True, draft=True)

    def __init__(self, name: str, network: PixColor, card: dict[str, Any], device: torch.device) -> None:
        self.name = name
        self.network = network.eval()
        self.card = card
        self.device = device
        self.short_side = int(card.get("working_resolution") or network.config.working_short_side)
        self.conditioner = HistogramConditioner.of(network.histogram_network, device)
        if self.conditioner is None:  # own conditioning: nothing to rank or draft with
            self.capabilities = dataclasses.replace(type(self).capabilities, ranked=False, draft=False)

    def working_size(self, source_size: tuple[int, int]) -> tuple[int, int]:
        return self.network.working_size(source_size, self.short_side)

    def predict(self, lightness, hint_ab, hint_mask, *, samples=1, seed=0, temperature=1.0, sampler="fast",
                progress=None, cancel=None) -> Prediction:
        """``lightness`` (h, w) L*, ``hint_ab`` (2, h, w) normalized a*b*, ``hint_mask`` (1, h, w) in {0, 1}
        -> ``samples`` Lab a*b* maps (h, w, 2) with seeds ``seed .. seed + samples - 1`` (a request has
        checked count and temperature; the sampler is checked here for callers that pass no request)."""
        if sampler not in SAMPLERS:
            raise ColorStudioError(f"unknown sampler {sampler!r} ({' or '.join(SAMPLERS)})")
        check_cancel(cancel)
        h, w = lightness.shape
        mask = np.asarray(hint_mask, np.float32).reshape(1, h, w)
        hint = np.concatenate([np.asarray(hint_ab, np.float32).reshape(2, h, w) * mask, mask])[None]
        L_norm = torch.from_numpy(normalize_l(np.asarray(lightness, np.float32)))[None, None].to(self.device)
        hint_t = torch.from_numpy(np.ascontiguousarray(hint)).to(self.device) if mask.any() else None
        with torch.inference_mode():
            out = self.network.sample(L_norm, hint_t, n=samples, seed=seed, temperature=temperature,
                                      sampler=sampler, progress=progress, cancel=cancel)
        ab_samples = [np.ascontiguousarray(a) for a in out.ab.permute(0, 2, 3, 1).float().cpu().numpy()]
        scores = None if self.conditioner is None else self.conditioner.scores(lightness, hint_ab, hint_mask, ab_samples)
        return Prediction(ab_samples=ab_samples, seeds=out.seeds, work_size=(w, h), scores=scores)

    def draft(self, lightness: np.ndarray, hint_ab: np.ndarray, hint_mask: np.ndarray) -> Prediction:
        """The conditioner's instant colorization (``capabilities.draft``)."""
        if self.conditioner is None:
            raise ColorStudioError(f"model {self.name!r} has no histogram network to draft with")
        return self.conditioner.draft(lightness, hint_ab, hint_mask)

