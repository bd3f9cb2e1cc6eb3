"""The propagation family: Levin, Lischinski, Weiss 2004 hint propagation, the non-learned baseline."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from colorstudio.color import denormalize_ab
from colorstudio.engine.pipeline import Capabilities, Prediction, check_cancel, fit_working_size
from colorstudio.families.registry import REGISTRY, Family
from colorstudio.models.propagation import propagate_hints

__all__ = ["PROPAGATION", "PropagationColorizer"]


class PropagationColorizer:
    """Spreads hint colours to pixels of similar luminance; no learning, so without hints the result is gray."""

    capabilities = Capabilities()
    long_side = 256

    def __init__(self, name: str, network: Any, card: dict[str, Any], device: torch.device) -> None:
        self.name = name
        self.card = card

    def working_size(self, source_size: tuple[int, int]) -> tuple[int, int]:
        return fit_working_size(source_size, self.long_side)

    def predict(self, lightness: np.ndarray, hint_ab: np.ndarray, hint_mask: np.ndarray, *, samples: int = 1,
                seed: int = 0, temperature: float = 1.0, sampler: str = "fast", progress=None, cancel=None) -> Prediction:
        check_cancel(cancel)
        if progress is not None:
            progress(0.0, "propagating hints")
        ab = propagate_hints(lightness, denormalize_ab(hint_ab), hint_mask)
        if progress is not None:
            progress(1.0, "propagated")
        h, w = lightness.shape
        return Prediction(ab_samples=[ab], seeds=[seed], work_size=(w, h))


PROPAGATION = REGISTRY.register(Family(
    name="propagation",
    description="Non-learned baseline: spreads hint colours to pixels of similar luminance "
                "(Levin, Lischinski, Weiss 2004). Without hints the result is gray.",
    colorizer=PropagationColorizer,
    builtin=True,
))
