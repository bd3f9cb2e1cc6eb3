"""The cGAN colorizer (:mod:`colorstudio.models.gan`) as an engine :class:`Colorizer`: one vivid image.

The generator runs at the working resolution (the card's ``working_resolution`` on the long side); the
engine composites its a*b* with the full-resolution L* like every family's.
"""

from __future__ import annotations

import numpy as np
import torch

from colorstudio.color import denormalize_ab, normalize_l
from colorstudio.engine.pipeline import NetworkColorizer, Prediction, check_cancel, single_sample_message
from colorstudio.errors import ColorStudioError

__all__ = ["GANColorizer"]


class GANColorizer(NetworkColorizer):
    """Wraps a trained :class:`CGANColorizer`; one deterministic result per image."""

    default_long_side = 128  # the scale of the training photos

    def predict(self, lightness, hint_ab, hint_mask, *, samples=1, seed=0, temperature=1.0, sampler="fast",
                progress=None, cancel=None) -> Prediction:
        """``lightness`` (h, w) L*, ``hint_ab`` (2, h, w) normalized a*b*, ``hint_mask`` (1, h, w) -> one
        Lab a*b* map (h, w, 2)."""
        if samples != 1:
            raise ColorStudioError(single_sample_message(self.name))
        check_cancel(cancel)
        if progress is not None:
            progress(0.0, "colorizing")
        h, w = lightness.shape
        mask = np.asarray(hint_mask, np.float32).reshape(1, h, w)
        hint = np.concatenate([np.asarray(hint_ab, np.float32).reshape(2, h, w) * mask, mask])[None]
        L_norm = torch.from_numpy(normalize_l(np.asarray(lightness, np.float32)))[None, None].to(self.device)
        with torch.inference_mode():
            ab_norm = self.network(L_norm, torch.from_numpy(np.ascontiguousarray(hint)).to(self.device))
        ab = denormalize_ab(ab_norm[0].permute(1, 2, 0).float().cpu().numpy())
        if progress is not None:
            progress(1.0, "colorized")
        return Prediction(ab_samples=[np.ascontiguousarray(ab, dtype=np.float32)], seeds=[seed], work_size=(w, h))

