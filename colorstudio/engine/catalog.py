"""What the engine needs to know about the models it can run, without knowing any family.

The families (:mod:`colorstudio.families`) sit above the engine; a front end hands their registry to the
engine as a :class:`ModelCatalog` (``Session(catalog=...)``), so the engine lists, describes and loads
models by asking it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

from colorstudio.engine.pipeline import Colorizer

__all__ = ["ModelCatalog", "ModelChoice"]


@dataclass(frozen=True)
class ModelChoice:
    """A model the user can pick; ``reason`` says why one is disabled."""

    name: str
    description: str
    available: bool
    reason: str = ""
    samples: bool = True  # draws different samples per seed (False: one deterministic prediction)
    temperature: float = 1.0  # the card's recommended sampling temperature
    histograms: bool = False  # predicts hue/chroma histograms (uncertainty, hue bias, energy transfer)
    builtin: bool = False  # a non-learned method, available without weights
    for_photos: bool = True  # False: a model for tiny images (its card says so), not offered for photos


class ModelCatalog(Protocol):
    """The models a session can offer and load (implemented by :mod:`colorstudio.families`)."""

    def model_choices(self, models_dir: Path | None = None) -> list[ModelChoice]:
        """Installed and built-in models, then broken folders and families not installed yet (disabled)."""
        ...

    def load_colorizer(self, name: str, device: torch.device, models_dir: Path | None = None) -> Colorizer:
        """The colorizer of model ``name``; ColorStudioError for an unknown or unusable model."""
        ...

    def default_model(self, available: Sequence[str]) -> str:
        """The model to start with, among the ``available`` names."""
        ...
