"""What the model-family trainers (``train_histogram``, ``train_pixcolor``, ``train_pic``, ``train_gan``) share.

A training run folder holds, beside the shared loop's ``checkpoints/`` and ``log.jsonl``:

- ``model_config.json``: the family's architecture config (``Config.to_dict()``); on resume it wins over
  the config passed in, so a run always continues with the network it started with.
- ``run_info.json``: data sets, image counts, whether hints were simulated, the settings, threads.

This module opens a run's training images, writes and reads those two files, starts the shared loop,
measures a model's cost, evaluates a colorizer built from a checkpoint, loads a model from a run's
checkpoint, starts a run from an installed model and exports a run to a model folder with its card. The
settings every run has are :class:`colorstudio.training.loop.TrainSettings`; the command-line front door
is :mod:`colorstudio.training.command`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

import numpy as np
import torch

from colorstudio.color import to_uint
from colorstudio.engine.pipeline import predict_full_resolution
from colorstudio.errors import ColorStudioError
from colorstudio.evaluation.protocol import evaluate, load_eval_set
from colorstudio.models.histogram import FAMILY as HISTOGRAM_FAMILY, HistogramColorizer, HistogramConfig
from colorstudio.models.registry import CARD_NAME, ModelCard, find_model_dir, load_model
from colorstudio.training.checkpoint import export_checkpoint_to_model, load_checkpoint
from colorstudio.training.data import ColorDataset
from colorstudio.training.loop import TrainSettings, train

__all__ = [
    "MODEL_CONFIG_JSON",
    "RESEARCH_LICENSE_NOTE",
    "RUN_INFO_JSON",
    "RunFolder",
    "build_run_info",
    "evaluate_colorizer",
    "export_run",
    "forward_flops",
    "histogram_network_config",
    "frozen_histogram_run_info",
    "warm_start_run_info",
    "config_of_model",
    "load_frozen_histogram",
    "load_run_model",
    "median_train_step_s",
    "open_run",
    "prepare_run_dir",
    "read_run_info",
    "resolve_config_on_resume",
    "run_card",
    "run_dir_of",
    "settings_to_json",
    "start_training",
    "training_dataset",
    "write_run_files",
]

MODEL_CONFIG_JSON = "model_config.json"  # the family config of a run, beside the shared loop's checkpoints/
RUN_INFO_JSON = "run_info.json"
RESEARCH_LICENSE_NOTE = "Trained on research-only photo sets (see shared/data/README.md): research use only."


class _FamilyConfig(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


class _FamilyConfigClass(Protocol):
    def from_dict(self, data: dict[str, Any]) -> _FamilyConfig: ...


ConfigT = TypeVar("ConfigT")
ModelT = TypeVar("ModelT", bound=torch.nn.Module)
SettingsT = TypeVar("SettingsT", bound="TrainSettings")


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
    """A settings dataclass as a JSON-ready dict (tuples as lists, paths as text)."""
    return {k: str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v
            for k, v in asdict(settings).items()}


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


# ---------------------------------------------------------------------------------------------- training
def training_dataset(data_paths: Sequence[str | Path], settings: TrainSettings, limit: int | None = None,
                     **options: Any):
    """A run's training images (a :class:`colorstudio.training.data.ColorDataset` of random
    ``settings.crop`` crops, seeded by ``settings.seed``); ``options`` go to the dataset.

    Torch's thread count is set to ``settings.threads`` first, so the whole run (dataset and model
    construction included) uses it."""

    if settings.threads:
        torch.set_num_threads(settings.threads)
    return ColorDataset([str(p) for p in data_paths], settings.crop, train=True, seed=settings.seed, limit=limit,
                        crop_scale=settings.crop_scale, balance_sources=settings.balance_sources, **options)


def start_training(model: torch.nn.Module, dataset: Any, config: _FamilyConfig, settings: TrainSettings,
                   data_paths: Sequence[str | Path], out_dir: Path, resume: bool, *, progress=None, cancel=None,
                   **run_info: Any):
    """Write the run's ``model_config.json`` and ``run_info.json`` (``run_info`` entries first) and train
    ``model`` on ``dataset`` with the shared loop. Returns the loop's ``TrainResult``."""
    hints_enabled = cast(bool, model.train_with_hints)  # a plain attribute of every family's network
    info = build_run_info(data_paths, dataset, hints_enabled, settings, **run_info)
    write_run_files(out_dir, config, info, resume)
    return train(model, dataset, replace(settings, out_dir=out_dir, resume=resume), progress=progress, cancel=cancel)


# ---------------------------------------------------------------------------------------------- cost
def forward_flops(fn: Callable[[], Any]) -> float:
    """FLOPs counted while ``fn()`` runs (without autograd)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        fn()
    return float(counter.get_total_flops())


def median_train_step_s(loss_fn: Callable[[], torch.Tensor], optimizer: torch.optim.Optimizer, steps: int) -> float:
    """Median seconds of ``steps`` training steps (``loss_fn()``, backward, optimizer step), after one more
    that is not counted: the first step pays for allocations and lazy initialisation."""
    times = []
    for _ in range(steps + 1):
        t0 = time.perf_counter()
        loss = loss_fn()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - t0)
    return float(np.median(times[1:]))


# ---------------------------------------------------------------------------------------------- eval
def evaluate_colorizer(colorizer: Any, val_path: str | Path, limit: int, hint_counts: Sequence[int], samples: int,
                       seed: int = 0, **predict_options: Any) -> dict[str, Any]:
    """The DESIGN.md protocol (:func:`colorstudio.evaluation.protocol.evaluate`) on ``limit`` validation
    images for an engine colorizer, predicting at full resolution as the app does; ``predict_options``
    go to :func:`colorstudio.engine.pipeline.predict_full_resolution` (e.g. ``temperature``)."""

    def predict(L, hint_ab, hint_mask, n, s):
        # the same 8-bit conversion as `colorstudio evaluate`, so a checkpoint scores as its exported model
        rgb = predict_full_resolution(L, hint_ab, hint_mask, colorizer, samples=n, seed=s, **predict_options)
        return [to_uint(x, 8) for x in rgb]

    report = evaluate(predict, load_eval_set(val_path, limit=limit), hint_counts=hint_counts, samples=samples, seed=seed)
    return report.to_dict()


# ---------------------------------------------------------------------------------------------- checkpoints
def load_run_model(path: str | Path, config_cls: _FamilyConfigClass, model_cls: type[ModelT],
                   use_ema: bool = True) -> ModelT:
    """A model (eval mode) from a training checkpoint: a run folder (latest checkpoint) or a step folder;
    EMA weights unless ``use_ema`` is False (or the checkpoint has none)."""

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
    return export_checkpoint_to_model(run.path, out_dir, card)


# ---------------------------------------------------------------------------------------------- pretrained parts
def histogram_network_config(histogram_model: str | Path) -> dict[str, Any]:
    """The architecture config (card) of a trained histogram model, a name in models/ or a folder, for a
    family that builds on it (PixColor's conditioning, PIC's embedding)."""
    card = ModelCard.load(find_model_dir(histogram_model) / CARD_NAME)
    if card.family != HISTOGRAM_FAMILY:
        raise ColorStudioError(f"a histogram model is needed here, got family {card.family!r}", histogram_model)
    return dict(card.config)


def load_frozen_histogram(network: torch.nn.Module, histogram_model: str | Path) -> dict[str, Any]:
    """Copy a trained histogram model's weights (SHA-256 checked) into ``network`` (a
    ``FrozenHistogramNetwork`` of the same config); returns the source's name, steps and weights SHA-256,
    for run_info.json and the card."""
    source, card = load_model(histogram_model, build=_build_histogram)
    network.load_state_dict(source.state_dict())
    return {"name": card.name, "steps": card.steps, "weights_sha256": card.weights_sha256}


def _build_histogram(card: ModelCard) -> torch.nn.Module:
    if card.family != HISTOGRAM_FAMILY:
        raise ColorStudioError(f"a histogram model is needed here, got family {card.family!r}", card.name)
    return HistogramColorizer(HistogramConfig.from_dict(card.config))


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
    return config_cls.from_dict(ModelCard.load(find_model_dir(name) / CARD_NAME).config)  # type: ignore[attr-defined]


def warm_start(model: torch.nn.Module, init_model: str | Path, keep_prefixes: Sequence[str] = (),
               fresh_on_resize: Sequence[str] = ()) -> dict[str, Any]:
    """Copy an installed model's weights into a new run's ``model`` (same family, same shapes), except
    the tensors under ``keep_prefixes`` (e.g. a frozen histogram copy the run takes from elsewhere).
    A tensor under ``fresh_on_resize`` whose shape differs keeps its fresh initialization (e.g. the layer
    that reads a newer histogram network's wider features); the result lists those under ``"fresh"``.

    Returns the source's name, steps and weights SHA-256 for run_info.json and the card."""
    def build(card: ModelCard) -> torch.nn.Module:
        config_cls = type(cast(Any, model).config)  # every family's network keeps its config dataclass
        try:
            return type(model)(config_cls.from_dict(card.config))
        except (TypeError, ValueError) as exc:  # another family's config has other fields
            raise ColorStudioError(f"--init needs a {type(model).__name__} model, got a {card.family!r} one",
                                   init_model) from exc

    source, card = load_model(init_model, build=build)

    def kept(key: str) -> bool:
        return any(key.startswith(prefix) for prefix in keep_prefixes)

    own = model.state_dict()
    copied = {k: v for k, v in source.state_dict().items() if not kept(k)}
    fresh = sorted(k for k, v in copied.items() if k in own and own[k].shape != v.shape
                   and any(k.startswith(prefix) for prefix in fresh_on_resize))
    copied = {k: v for k, v in copied.items() if k not in fresh}
    mismatched = sorted(k for k, v in copied.items() if k not in own or own[k].shape != v.shape)
    # a layer the source lacks may start at zero (a new branch that adds nothing yet): the run then
    # begins exactly where the source model stood
    missing = sorted(k for k in own if not kept(k) and k not in copied and k not in fresh and bool(own[k].ne(0).any()))
    if mismatched or missing:
        raise ColorStudioError(f"--init: the model's architecture differs ({len(mismatched)} tensors of other "
                               f"shapes, {len(missing)} missing, e.g. {(mismatched + missing)[0]})", init_model)
    model.load_state_dict(copied, strict=False)
    info = {"name": card.name, "steps": card.steps, "weights_sha256": card.weights_sha256}
    return info | ({"fresh": fresh} if fresh else {})


def warm_start_run_info(model: torch.nn.Module, init_model: str | Path | None, out_dir: Path, resume: bool,
                        keep_prefixes: Sequence[str] = (), fresh_on_resize: Sequence[str] = ()) -> dict[str, Any]:
    """The ``run_info.json`` entry naming the model a run started from (:func:`warm_start` on a new run;
    on resume the run's own entry, the weights coming from the checkpoint). ``{}`` for a run from scratch."""
    if resume:
        source = read_run_info(out_dir).get("initialized_from")
    elif init_model is not None:
        source = warm_start(model, init_model, keep_prefixes, fresh_on_resize)
    else:
        source = None
    return {"initialized_from": source} if source else {}
