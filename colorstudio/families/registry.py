"""The one list of model families, and what the front ends ask it.

A family is one :class:`Family` object, registered once (``register(Family(...))``) in its own module of
this package; :func:`families` finds those modules itself, so adding a family means adding one module.
Everything else asks the registry: the CLI (``colorstudio models``, ``colorize --model``, ``train
FAMILY``), the GUI (through the engine's :class:`~colorstudio.engine.catalog.ModelCatalog`, which
:data:`REGISTRY` is), evaluation and bench. Nothing outside a family's own modules names it by string.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from colorstudio.engine.catalog import ModelChoice
from colorstudio.engine.pipeline import Capabilities, Colorizer
from colorstudio.errors import ColorStudioError
from colorstudio.models.registry import (
    ModelCard,
    default_temperature,
    for_photos,
    load_model as load_weights,
    scan_models,
)
from colorstudio.training.command import Trainer

__all__ = [
    "DEFAULT_MODEL",
    "REGISTRY",
    "Family",
    "FamilyConfig",
    "FamilyRegistry",
]

# The model the front ends start with when it is installed (else the first available one).
DEFAULT_MODEL = "histogram"


class FamilyConfig(Protocol):
    """An architecture config dataclass: what a card's ``config`` holds."""

    def to_dict(self) -> dict[str, Any]: ...


class ColorizerClass(Protocol):
    """A family's colorizer: built from a model's name, network (None for a built-in method), card and device."""

    capabilities: Capabilities

    def __call__(self, name: str, network: Any, card: dict[str, Any], device: torch.device) -> Colorizer: ...


@dataclass(frozen=True)
class Family:
    """Everything the app knows about one model family, declared in one place.

    ``config``: the architecture config class (``from_dict`` of a card's config); ``network(config)``
    builds the untrained network; ``colorizer`` wraps a trained one for prediction and says what it
    supports (``colorizer.capabilities``); ``trainer``: how ``colorstudio train NAME`` trains it (None: not
    trainable). ``builtin``: a non-learned method, always available as a model named after the family,
    without weights (``config`` and ``network`` then None).
    """

    name: str
    description: str
    colorizer: ColorizerClass
    config: Any = None  # type[FamilyConfig] with a from_dict classmethod
    network: Callable[[Any], nn.Module] | None = None
    trainer: Trainer | None = None
    builtin: bool = False

    @property
    def capabilities(self) -> Capabilities:
        return self.colorizer.capabilities

    def build(self, card: ModelCard) -> nn.Module:
        """An untrained network of the architecture in ``card`` (its weights are loaded afterwards)."""
        if self.network is None or self.config is None:
            raise ColorStudioError(f"family {self.name!r} has no trained network to load")
        return self.network(self.config.from_dict(dict(card.config)))


class FamilyRegistry:
    """The registered families, found on first use; also the engine's :class:`ModelCatalog`."""

    def __init__(self, package: str = __package__ or "colorstudio.families") -> None:
        self._package = package
        self._families: dict[str, Family] = {}
        self._discovered = False

    # ------------------------------------------------------------------ families
    def register(self, family: Family) -> Family:
        """Add ``family`` (a family's module calls this once); the same name again replaces it (reloads)."""
        self._families[family.name] = family
        return family

    def unregister(self, name: str) -> None:
        self._families.pop(name, None)

    def _discover(self) -> None:
        # Each module of this package declares one family; importing it registers that family.
        if self._discovered:
            return
        self._discovered = True
        folder = Path(__file__).parent
        for module in pkgutil.iter_modules([str(folder)]):
            if not module.name.startswith("_") and module.name != "registry":
                importlib.import_module(f"{self._package}.{module.name}")

    def families(self) -> list[Family]:
        """Every registered family, by name."""
        self._discover()
        return [self._families[name] for name in sorted(self._families)]

    def get(self, name: str, source: str | Path | None = None) -> Family:
        """The family called ``name``; ColorStudioError (naming ``source``, e.g. a card) when there is none."""
        self._discover()
        if name not in self._families:
            known = ", ".join(sorted(self._families)) or "none"
            raise ColorStudioError(f"unknown model family {name!r} (known families: {known})", source)
        return self._families[name]

    def trainable(self) -> list[Family]:
        return [family for family in self.families() if family.trainer is not None]

    # ------------------------------------------------------------------ models
    def _builtin(self) -> dict[str, Family]:
        return {family.name: family for family in self.families() if family.builtin}

    def build_network(self, card: ModelCard) -> nn.Module:
        """The untrained network for an installed model's card (what ``load_model`` fills with weights)."""
        return self.get(card.family).build(card)

    def load_model(self, name: str | Path, device: torch.device | str = "cpu",
                   models_dir: str | Path | None = None) -> tuple[nn.Module, ModelCard]:
        """Installed model ``name`` (its family's network, weights verified), in eval mode on ``device``."""
        return load_weights(name, device, models_dir, build=self.build_network)

    def available_model_names(self, models_dir: Path | None = None) -> list[str]:
        """Installed models, then the built-in methods."""
        return [card.name for card in scan_models(models_dir)[0]] + sorted(self._builtin())

    def load_colorizer(self, name: str, device: torch.device, models_dir: Path | None = None) -> Colorizer:
        """The colorizer of model ``name``: a built-in method, or an installed model of a known family."""
        builtin = self._builtin()
        if name in builtin:
            family = builtin[name]
            builtin_card = {"name": name, "family": family.name, "description": family.description}
            return family.colorizer(name, None, builtin_card, device)
        installed, broken = scan_models(models_dir)  # other models' broken cards do not concern this one
        cards = {card.name: card for card in installed}
        if name in broken:
            raise ColorStudioError(f"model {name!r} cannot be used: {broken[name]}")
        if name not in cards:
            known = ", ".join(sorted([*cards, *builtin]))
            raise ColorStudioError(f"unknown model {name!r}; installed models: {known}")
        family = self.get(cards[name].family)
        network, card = self.load_model(name, device, models_dir)
        return family.colorizer(name, network, card.to_dict(), device)

    def model_choices(self, models_dir: Path | None = None) -> list[ModelChoice]:
        """Installed models, then the built-in methods, then broken model folders and the families not
        installed yet (both disabled, with the reason)."""
        try:
            cards, broken = scan_models(models_dir)
        except ColorStudioError as exc:
            cards, broken, registry_problem = [], {}, str(exc)
        else:
            registry_problem = ""
        self._discover()
        choices: list[ModelChoice] = []
        installed: set[str] = set()
        for card in cards:
            installed.add(card.name)
            family = self._families.get(card.family)
            if family is None:
                choices.append(ModelChoice(card.name, f"{card.family} model", False,
                                           f"family {card.family!r} is unknown to this version"))
                continue
            choices.append(self._choice(family, card.name, temperature=default_temperature(card),
                                        for_photos=for_photos(card)))
        for family in self._builtin().values():
            installed.add(family.name)
            choices.append(self._choice(family, family.name))
        for name, problem in broken.items():  # shown disabled with the reason; the other models still work
            installed.add(name)
            choices.append(ModelChoice(name, "model folder with an unusable card", False, f"broken: {problem}"))
        for family in self.families():
            if family.name not in installed and family.network is not None:
                reason = registry_problem or f"not installed: no trained weights in models/{family.name}/ yet"
                choices.append(self._choice(family, family.name, available=False, reason=reason))
        return choices

    @staticmethod
    def _choice(family: Family, name: str, *, available: bool = True, reason: str = "",
                temperature: float = 1.0, for_photos: bool = True) -> ModelChoice:
        caps = family.capabilities
        return ModelChoice(name, family.description, available, reason, samples=caps.samples, temperature=temperature,
                           histograms=caps.histograms, builtin=family.builtin, for_photos=for_photos)

    def default_model(self, available: Sequence[str]) -> str:
        """:data:`DEFAULT_MODEL` when it is available, else the first available model."""
        if not available:
            raise ColorStudioError("no model is available")
        return DEFAULT_MODEL if DEFAULT_MODEL in available else available[0]


REGISTRY = FamilyRegistry()
