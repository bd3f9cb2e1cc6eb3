"""Model families: each declared once, as a :class:`Family` in its own module of this package.

The registry (:data:`REGISTRY`) is the only list of families; the CLI, the GUI (through the engine's
``ModelCatalog``), evaluation, bench and training ask it. To add a family, add a module here that calls
``register(Family(...))``; nothing else needs to change.
"""

from colorstudio.families.registry import DEFAULT_MODEL, REGISTRY, Family, FamilyRegistry

__all__ = [
    "DEFAULT_MODEL",
    "REGISTRY",
    "Family",
    "FamilyRegistry",
    "families",
    "get_family",
    "load_colorizer",
    "load_model",
    "register",
    "unregister",
]

register = REGISTRY.register
unregister = REGISTRY.unregister
families = REGISTRY.families
get_family = REGISTRY.get
load_model = REGISTRY.load_model
load_colorizer = REGISTRY.load_colorizer
