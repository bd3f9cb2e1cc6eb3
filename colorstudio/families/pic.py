"""The PIC family (Royer et al. 2017): diverse samples from a PixelCNN++ over a*b*, with exact likelihood.

Network: :mod:`colorstudio.models.pic`; colorizer: :mod:`colorstudio.engine.pic_colorizer`; trainer
(presets ``pic`` and ``pic-cifar``): :mod:`colorstudio.training.train_pic`.
"""

from __future__ import annotations

from colorstudio.engine.pic_colorizer import PICColorizer
from colorstudio.families.registry import REGISTRY, Family
from colorstudio.models.pic import FAMILY, PIC, PICConfig
from colorstudio.training.train_pic import TRAINER

__all__ = ["PIC_FAMILY"]

PIC_FAMILY = REGISTRY.register(Family(
    name=FAMILY,
    description="PIC (Royer et al. 2017): diverse samples, PixelCNN++ over ab",
    colorizer=PICColorizer,
    config=PICConfig,
    network=PIC,
    trainer=TRAINER,
))
