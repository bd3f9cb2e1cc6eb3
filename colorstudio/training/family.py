"""What the model-family trainers (``train_histogram``, ``train_pixcolor``, ``train_pic``) share.

A training run folder holds, beside the shared loop's ``checkpoints/`` and ``log.jsonl``:

- ``model_config.json``: the family's architecture config (``Config.to_dict()``); on resume it wins over
  the config passed in, so a run always continues with the network it started with.
- ``run_info.json``: data sets, image counts, whether hints were simulated, the settings, threads.

This module writes and reads those two files, builds the loop's ``TrainConfig`` from a family's settings
dataclass, loads a model from a run's checkpoint and exports a run to a model folder with its card.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import torch

__all__ = [
    "MODEL_CONFIG_JSON",
    "RESEARCH_LICENSE_NOTE",
    "RUN_INFO_JSON",
    "RunFolder",
    "build_run_info",
    "export_run",
    "hints_available",
    "histogram_network_config",
    "frozen_histogram_run_info",
    "warm_start_run_info",
    "config_of_model",
    "load_frozen_histogram",
    "load_run_model",
    "loop_config",
    "open_run",
    "prepare_run_dir",
    "read_run_info",
    "resolve_config_on_resume",
    "run_card",
    "run_dir_of",
    "settings_to_json",
    "write_run_files",
]

MODEL_CONFIG_JSON = "model_config.json"  # the family config of a run, beside the shared loop's checkpoints/
RUN_INFO_JSON = "run_info.json"
RESEARCH_LICENSE_NOTE = "Trained on research-only photo sets (see shared/data/README.md): research use only."


class _FamilyConfig(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


ConfigT = TypeVar("ConfigT")
ModelT = TypeVar("ModelT", bound=torch.nn.Module)


def hints_available() -> bool:
    """True when the training hint simulator can be imported."""
    try:
        from colorstudio.training.hint_sim import simulate_training_hints_torch  # noqa: F401
    except ImportError:
        return False
    return True


# ---------------------------------------------------------------------------------------------- run folder
def run_dir_of(path: str | Path) -> Path:
    """The run folder (holding model_config.json) of a run / checkpoints / step folder path."""
    path = Path(path)
    for candidate in (path, *path.parents):
        if (candidate / MODEL_CONFIG_JSON).is_file():
            return candidate
    raise FileNotFoundError(f"{MODEL_CONFIG_JSON} not found in {path} or its parents")


def read_run_info(run_dir: Path) -> dict[str, Any]:
    """``run_info.json`` of a run folder ({} when the run has none)."""
    path = run_dir / RUN_INFO_JSON
    return json.loads(path.read_text()) if path.is_file() else {}


def prepare_run_dir(out_dir: str | Path) -> Path:
    """``out_dir`` as a Path, created if missing."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


def resolve_config_on_resume(out_dir: Path, config: ConfigT, config_cls: type[ConfigT], resume: bool) -> ConfigT:
    """The run's stored config when resuming a run that has one, else ``config``."""
    config_path = out_dir / MODEL_CONFIG_JSON
    if resume and config_path.is_file():
        return config_cls.from_dict(json.loads(config_path.read_text()))  # type: ignore[attr-defined]
    return config


def settings_to_json(settings: Any) -> dict[str, Any]:
    """A settings dataclass as a JSON-ready dict (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(settings).items()}


def build_run_info(data_paths: Sequence[str | Path], dataset: Any, hints_enabled: bool, settings: Any,
                   **leading: Any) -> dict[str, Any]:
    """The ``run_info.json`` dict; ``leading`` keys (e.g. ``preset``) come first."""
    return {
        **leading,
        "data": [str(p) for p in data_paths],
        "train_images": len(dataset),
        "dropped_images": getattr(dataset, "dropped", None),
        "hints_enabled": hints_enabled,
        "settings": settings_to_json(settings),
        "torch_threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    }


def write_run_files(out_dir: Path, config: _FamilyConfig, info: Mapping[str, Any], resume: bool) -> None:
    """Write ``model_config.json`` and ``run_info.json`` and print the JSON ``start`` event line."""
    (out_dir / MODEL_CONFIG_JSON).write_text(json.dumps(config.to_dict(), indent=1))
    (out_dir / RUN_INFO_JSON).write_text(json.dumps(info, indent=1))
    print(json.dumps({"event": "start", "resume": resume, **info}), flush=True)


def loop_config(settings: Any, out_dir: Path, resume: bool):
    """The shared loop's ``TrainConfig`` from a family settings dataclass (warmup + cosine, no workers)."""
    from colorstudio.training.loop import TrainConfig

    s = settings
    return TrainConfig(
        steps=s.steps, batch_size=s.batch_size, lr=s.lr, weight_decay=s.weight_decay, betas=s.betas,
        warmup_steps=s.warmup, schedule="cosine", min_lr_ratio=s.min_lr_fraction, ema_decay=s.ema_decay,
        grad_clip=s.grad_clip, checkpoint_every_s=s.checkpoint_every_s, log_every=s.log_every,
        out_dir=out_dir, resume=resume, device=s.device, seed=s.seed, num_workers=0, threads=s.threads,
    )


# ---------------------------------------------------------------------------------------------- checkpoints
def load_run_model(path: str | Path, config_cls: type, model_cls: type[ModelT], use_ema: bool = True) -> ModelT:
    """A model (eval mode) from a training checkpoint: a run folder (latest checkpoint) or a step folder;
    EMA weights unless ``use_ema`` is False (or the checkpoint has none)."""
    from colorstudio.training.checkpoint import load_checkpoint

    path = Path(path)
    config = config_cls.from_dict(json.loads((run_dir_of(path) / MODEL_CONFIG_JSON).read_text()))
    ckpt = load_checkpoint(path)
    model = model_cls(config)
    model.load_state_dict(ckpt.ema if use_ema and ckpt.ema is not None else ckpt.model)
    return model.eval()


@dataclass(frozen=True)
class RunFolder:
    """A training run found from any path inside it: its folder, ``run_info.json`` and stored config."""

    path: Path
    info: dict[str, Any]
    config: dict[str, Any]


def open_run(path: str | Path) -> RunFolder:
    """The run folder of a run / checkpoints / step folder path, with its info and config dicts."""
    run_dir = run_dir_of(path)
    return RunFolder(run_dir, read_run_info(run_dir), json.loads((run_dir / MODEL_CONFIG_JSON).read_text()))


def run_card(run: RunFolder, family: str, working_resolution: int | None, *,
             license_note: str = RESEARCH_LICENSE_NOTE, **training_data_extra: Any) -> dict[str, Any]:
    """The card fields every family's export shares: family, config, resolution, training data, licence."""
    info = run.info
    return {
        "family": family,
        "config": run.config,
        "working_resolution": working_resolution,
        "training_data": {"sets": [_short_path(p) for p in info.get("data", [])], "images": info.get("train_images"),
                          "held_out": "val/ (never trained on)", "crop": info.get("settings", {}).get("crop"),
                          **training_data_extra},
        "license_note": license_note,
        # steps count from the started-from model's weights, which had their own training
        **({"initialized_from": info["initialized_from"]} if info.get("initialized_from") else {}),
    }


def _short_path(path: str) -> str:
    """The last two parts of a data path (``train/pets-128.tar``): what the set was, not where this
    machine keeps it."""
    return "/".join(Path(path).parts[-2:])


def export_run(run: RunFolder, out_dir: str | Path, card: Mapping[str, Any]):
    """Copy the run's latest EMA weights to ``out_dir`` with ``card`` (a ``ModelCard`` is returned)."""
    from colorstudio.models.registry import export_checkpoint_to_model

    return export_checkpoint_to_model(run.path, out_dir, card)


# ---------------------------------------------------------------------------------------------- pretrained parts
def histogram_network_config(histogram_model: str | Path) -> dict[str, Any]:
    """The architecture config (card) of a trained histogram model, a name in models/ or a folder, for a
    family that builds on it (PixColor's conditioning, PIC's embedding)."""
    from colorstudio.errors import ColorStudioError
    from colorstudio.models.registry import CARD_NAME, ModelCard, find_model_dir

    card = ModelCard.load(find_model_dir(histogram_model) / CARD_NAME)
    if card.family != "histogram":
        raise ColorStudioError(f"a histogram model is needed here, got family {card.family!r}", histogram_model)
    return dict(card.config)


def load_frozen_histogram(network: torch.nn.Module, histogram_model: str | Path) -> dict[str, Any]:
    """Copy a trained histogram model's weights (SHA-256 checked) into ``network`` (a
    ``FrozenHistogramNetwork`` of the same config); returns the source's name, steps and weights SHA-256,
    for run_info.json and the card."""
    from colorstudio.models.registry import load_model

    source, card = load_model(histogram_model)
    network.load_state_dict(source.state_dict())
    return {"name": card.name, "steps": card.steps, "weights_sha256": card.weights_sha256}


def frozen_histogram_run_info(network: torch.nn.Module | None, histogram_model: str | Path | None, out_dir: Path,
                              resume: bool) -> dict[str, Any]:
    """The ``run_info.json`` entry naming the histogram model a run builds on: on a new run the trained
    ``histogram_model`` is loaded into ``network`` (its frozen copy); on resume the run's own entry is kept
    (the weights come from the checkpoint). ``{}`` when the run builds on none."""
    if resume:
        source = read_run_info(out_dir).get("conditioned_on")
    elif histogram_model is not None and network is not None:
        source = load_frozen_histogram(network, histogram_model)
    else:
        source = None
    return {"conditioned_on": source} if source else {}


def config_of_model(name: str | Path, config_cls: type[ConfigT]) -> ConfigT:
    """The architecture config of installed model ``name`` (from its card)."""
    from colorstudio.models.registry import CARD_NAME, ModelCard, find_model_dir

    return config_cls.from_dict(ModelCard.load(find_model_dir(name) / CARD_NAME).config)  # type: ignore[attr-defined]


def warm_start(model: torch.nn.Module, init_model: str | Path, keep_prefixes: Sequence[str] = ()) -> dict[str, Any]:
    """Copy an installed model's weights into a new run's ``model`` (same family, same shapes), except
    the tensors under ``keep_prefixes`` (e.g. a frozen histogram copy the run takes from elsewhere).

    Returns the source's name, steps and weights SHA-256 for run_info.json and the card."""
    from colorstudio.errors import ColorStudioError
    from colorstudio.models.registry import load_model

    source, card = load_model(init_model)
    if type(source) is not type(model):
        raise ColorStudioError(f"--init needs a {type(model).__name__} model, got a {card.family!r} one", init_model)

    def kept(key: str) -> bool:
        return any(key.startswith(prefix) for prefix in keep_prefixes)

    own = model.state_dict()
    copied = {k: v for k, v in source.state_dict().items() if not kept(k)}
    mismatched = sorted(k for k, v in copied.items() if k not in own or own[k].shape != v.shape)
    missing = sorted(k for k in own if not kept(k) and k not in copied)
    if mismatched or missing:
        raise ColorStudioError(f"--init: the model's architecture differs ({len(mismatched)} tensors of other "
                               f"shapes, {len(missing)} missing, e.g. {(mismatched + missing)[0]})", init_model)
    model.load_state_dict(copied, strict=False)
    return {"name": card.name, "steps": card.steps, "weights_sha256": card.weights_sha256}


def warm_start_run_info(model: torch.nn.Module, init_model: str | Path | None, out_dir: Path, resume: bool,
                        keep_prefixes: Sequence[str] = ()) -> dict[str, Any]:
    """The ``run_info.json`` entry naming the model a run started from (:func:`warm_start` on a new run;
    on resume the run's own entry, the weights coming from the checkpoint). ``{}`` for a run from scratch."""
    if resume:
        source = read_run_info(out_dir).get("initialized_from")
    elif init_model is not None:
        source = warm_start(model, init_model, keep_prefixes)
    else:
        source = None
    return {"initialized_from": source} if source else {}
