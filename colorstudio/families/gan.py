"""The cGAN family (Isola et al. 2017 style): a U-Net generator and a PatchGAN critic; one vivid image.

Network: :mod:`colorstudio.models.gan`; colorizer: :mod:`colorstudio.engine.gan_colorizer`; trainer:
:mod:`colorstudio.training.train_gan`.
"""

from __future__ import annotations

from colorstudio.engine.gan_colorizer import GANColorizer
from colorstudio.families.registry import REGISTRY, Family
from colorstudio.models.gan import FAMILY, CGANColorizer, GANConfig
from colorstudio.training.train_gan import TRAINER

__all__ = ["GAN"]

GAN = REGISTRY.register(Family(
    name=FAMILY,
    description="cGAN (Isola et al. 2017 style): one vivid image",
    colorizer=GANColorizer,
    config=GANConfig,
    network=CGANColorizer,
    trainer=TRAINER,
))
