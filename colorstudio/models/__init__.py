"""The networks (one module per family), their shared blocks, and the installed model folders (registry)."""

from colorstudio.models.registry import (
    ModelCard,
    default_models_dir,
    list_models,
    load_model,
    models_dirs,
    save_model,
)

__all__ = [
    "ModelCard",
    "default_models_dir",
    "list_models",
    "load_model",
    "models_dirs",
    "save_model",
]
