"""The PIC model (Royer et al. 2017) as an engine :class:`Colorizer`: N seeded chroma samples per image.

The network samples (a, b) on its chroma grid (1/4 of the working resolution; 1/2 for CIFAR models);
each sample is brought to the working resolution by guided upsampling with the working-resolution L*
(:func:`colorstudio.engine.composite.upsample_ab`), and the pipeline's composite takes it to full
resolution with the original L*.

A model built on a histogram network (``config.histogram``) ranks its samples and drafts with it
(:class:`~colorstudio.engine.conditioner.HistogramConditioner`). Sampling may remove outliers
(:class:`~colorstudio.models.logistic_mixture.Truncation`): ``predict(..., truncation=t, min_weight=w)``,
each None = the card's ``"sampling": {"truncation": t, "min_weight": w}``, else off.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from colorstudio.color import normalize_l, pic_to_ab
from colorstudio.engine.composite import upsample_ab
from colorstudio.engine.conditioner import HistogramConditioner
from colorstudio.engine.pipeline import Capabilities, NetworkColorizer, Prediction, check_cancel
from colorstudio.errors import ColorStudioError
from colorstudio.models.logistic_mixture import Truncation
from colorstudio.models.pic import bits_per_dim
from colorstudio.models.registry import default_truncation

if TYPE_CHECKING:
    from colorstudio.models.pic import PIC

__all__ = ["DEFAULT_LONG_SIDE", "PICColorizer"]

# PIC's photo model works at 128 px (chroma 32 x 32), as the paper's ILSVRC model; the card's
# working_resolution overrides this.
DEFAULT_LONG_SIDE = 128


class PICColorizer(NetworkColorizer):
    """Wraps a trained :class:`colorstudio.models.pic.PIC`; ``sampler`` ("fast" or "naive") is the default
    for :meth:`predict` calls that do not name one."""

    capabilities = Capabilities(samples=True, likelihood=True, ranked=True, draft=True, truncation=True)
    default_long_side = DEFAULT_LONG_SIDE
    network: PIC

    def __init__(self, name: str, network: torch.nn.Module, card: dict, device: torch.device, sampler: str = "fast") -> None:
        super().__init__(name, network, card, device)
        self.sampler = sampler
        self.working_multiple = int(self.network.config.chroma_stride)  # whole chroma cells
        self.truncation = default_truncation(card)
        self.conditioner = HistogramConditioner.of(self.network.histogram_network, device)
        if self.conditioner is None:  # nothing to rank or draft with
            self.capabilities = dataclasses.replace(type(self).capabilities, ranked=False, draft=False)

    def sample_grid(self, lightness: np.ndarray, hint_ab: np.ndarray, hint_mask: np.ndarray, *, samples: int = 1,
                    seed: int = 0, temperature: float = 1.0, sampler: str | None = None, progress=None,
                    cancel=None, truncation: float | None = None, min_weight: float | None = None) -> np.ndarray:
        """Samples on the chroma grid: (N, h', w', 2) a*, b* for an (h, w) L* map and its hint channels;
        ``truncation`` (the tail) and ``min_weight`` None = the card's."""
        mask = np.asarray(hint_mask, np.float32).reshape(1, 1, *lightness.shape)
        L_norm = torch.from_numpy(normalize_l(np.asarray(lightness, np.float32)))[None, None].to(self.device)
        hint = None
        if mask.any():
            hint_np = np.concatenate([np.asarray(hint_ab, np.float32).reshape(1, 2, *lightness.shape) * mask, mask], axis=1)
            hint = torch.from_numpy(hint_np).to(self.device)
        outliers = Truncation(tail=self.truncation.tail if truncation is None else truncation,
                              min_weight=self.truncation.min_weight if min_weight is None else min_weight)
        grid = self.network.sample(L_norm, hint, n=samples, seed=seed, temperature=temperature,
                                   sampler=sampler or self.sampler, progress=progress, cancel=cancel,
                                   truncation=outliers)
        return pic_to_ab(grid).permute(0, 2, 3, 1).float().cpu().numpy()

    def predict(self, lightness, hint_ab, hint_mask, *, samples=1, seed=0, temperature=1.0, sampler=None,
                progress=None, cancel=None, truncation: float | None = None, min_weight: float | None = None
                ) -> Prediction:
        check_cancel(cancel)

        def sampling_progress(fraction: float, message: str) -> None:
            if progress is not None:
                progress(0.9 * fraction, message)

        grids = self.sample_grid(lightness, hint_ab, hint_mask, samples=samples, seed=seed, temperature=temperature,
                                 sampler=sampler, progress=sampling_progress, cancel=cancel, truncation=truncation,
                                 min_weight=min_weight)
        ab_samples = []
        for grid in grids:
            check_cancel(cancel)
            ab_samples.append(upsample_ab(np.asarray(lightness, np.float32), grid))
        scores = None if self.conditioner is None else self.conditioner.scores(lightness, hint_ab, hint_mask, ab_samples)
        if progress is not None:
            progress(1.0, "sampled")
        h, w = lightness.shape
        return Prediction(ab_samples=ab_samples, seeds=[seed + k for k in range(samples)], work_size=(w, h),
                          scores=scores)

    def draft(self, lightness: np.ndarray, hint_ab: np.ndarray, hint_mask: np.ndarray) -> Prediction:
        """The conditioner's instant colorization (``capabilities.draft``)."""
        if self.conditioner is None:
            raise ColorStudioError(f"model {self.name!r} has no histogram network to draft with")
        return self.conditioner.draft(lightness, hint_ab, hint_mask)

    def bits_per_dim(self, dataset: Any, *, batch_size: int = 100, progress=None) -> dict[str, Any]:
        """The model's bits per dimension (no hints) on ``dataset``: items of each image's centred square at
        the working resolution (:func:`colorstudio.training.data.evaluation_dataset`), NLL over its chroma
        grid (h' x w' x 2 dims). Returns ``{"bpd", "nll_nats_per_image", "images", "dims_per_image",
        "working_resolution"}``."""
        report = bits_per_dim(self.network, dataset, batch_size=batch_size, device=self.device, progress=progress)
        return {**report, "working_resolution": self.long_side}
