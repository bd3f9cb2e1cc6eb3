"""The histogram family (Larsson et al. 2016): per-cell hue and chroma distributions from hypercolumns.

One colorization per image, an uncertainty map, hue bias and reference transfer by energy minimization.
Network: :mod:`colorstudio.models.histogram`; colorizer: :mod:`colorstudio.engine.histogram_colorizer`;
trainer: :mod:`colorstudio.training.train_histogram`.
"""

from __future__ import annotations

from colorstudio.engine.histogram_colorizer import HistogramModelColorizer
from colorstudio.families.registry import REGISTRY, Family
from colorstudio.models.histogram import FAMILY, HistogramColorizer, HistogramConfig
from colorstudio.training.train_histogram import TRAINER

__all__ = ["HISTOGRAM"]

HISTOGRAM = REGISTRY.register(Family(
    name=FAMILY,
    description="Larsson et al. 2016: hue/chroma histograms, uncertainty, hue bias, reference transfer",
    colorizer=HistogramModelColorizer,
    config=HistogramConfig,
    network=HistogramColorizer,
    trainer=TRAINER,
))
