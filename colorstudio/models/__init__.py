"""Network families (one module each) and the registry that finds, loads and saves trained models."""

from colorstudio.models.registry import (
    ModelCard,
    default_models_dir,
    export_checkpoint_to_model,
    list_models,
    load_model,
    models_dirs,
    register_family,
    save_model,
)

__all__ = [
    "ModelCard",
    "default_models_dir",
    "export_checkpoint_to_model",
    "list_models",
    "load_model",
    "models_dirs",
    "register_family",
    "save_model",
]
