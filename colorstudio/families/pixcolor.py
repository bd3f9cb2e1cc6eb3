"""The PixColor family (Guadarrama et al. 2017): diverse samples from a conditional PixelCNN.

Network: :mod:`colorstudio.models.pixcolor`; colorizer: :mod:`colorstudio.engine.pixcolor_colorizer`;
trainer: :mod:`colorstudio.training.train_pixcolor`.
"""

from __future__ import annotations

from colorstudio.engine.pixcolor_colorizer import PixColorColorizer
from colorstudio.families.registry import REGISTRY, Family
from colorstudio.models.pixcolor import FAMILY, PixColor, PixColorConfig
from colorstudio.training.train_pixcolor import TRAINER

__all__ = ["PIXCOLOR"]

PIXCOLOR = REGISTRY.register(Family(
    name=FAMILY,
    description="PixColor (Guadarrama et al. 2017): diverse samples from a conditional PixelCNN",
    colorizer=PixColorColorizer,
    config=PixColorConfig,
    network=PixColor,
    trainer=TRAINER,
))
