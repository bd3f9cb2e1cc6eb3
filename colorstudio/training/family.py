"""What the model-family trainers (``train_histogram``, ``train_pixcolor``, ``train_pic``, ``train_gan``) share.

A training run folder holds, beside the shared loop's ``checkpoints/`` and ``log.jsonl``:

- ``model_config.json``: the family's architecture config (``Config.to_dict()``); on resume it wins over
  the config passed in, so a run always continues with the network it started with.
- ``run_info.json``: data sets, image counts, whether hints were simulated, the settings, threads.

This module holds the settings every family has (:class:`TrainSettings`, which each family subclasses
with its own defaults) and their command-line options; it opens a run's training images, writes and reads
those two files, starts the shared loop, measures a model's cost, evaluates a colorizer built from a
checkpoint, loads a model from a run's checkpoint and exports a run to a model folder with its card.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

import numpy as np
import torch

__all__ = [
    "MODEL_CONFIG_JSON",
    "RESEARCH_LICENSE_NOTE",
    "RUN_INFO_JSON",
    "RunFolder",
    "TrainSettings",
    "add_run_arguments",
    "build_run_info",
    "evaluate_colorizer",
    "export_run",
    "forward_flops",
    "hints_available",
    "histogram_network_config",
    "frozen_histogram_run_info",
    "warm_start_run_info",
    "config_of_model",
    "load_frozen_histogram",
    "load_run_model",
    "loop_config",
    "median_train_step_s",
    "open_run",
    "parse_hint_counts",
    "prepare_run_dir",
    "read_run_info",
    "require_val",
    "resolve_config_on_resume",
    "run_card",
    "run_dir_of",
    "settings_from_args",
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


@dataclass(frozen=True)
class TrainSettings:
    """Data and optimisation settings of a run; mapped onto the shared loop's ``TrainConfig``.

    The defaults are what most families use; each family subclasses this, redeclaring only the fields
    its recipe changes. The field names are recorded in every run's ``run_info.json``: keep them.
    """

    steps: int = 10000
    batch_size: int = 16
    crop: int = 112  # side of the square training crops, in pixels
    crop_scale: tuple[float, float] | None = (0.7, 1.0)  # random-resized crop side range; None = plain crops
    lr: float = 1e-3
    weight_decay: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.99)
    warmup: int = 500
    min_lr_fraction: float = 0.05
    ema_decay: float = 0.999
    grad_clip: float | None = 1.0
    checkpoint_every_s: float = 300.0
    log_every: int = 50
    seed: int = 0
    threads: int = 2
    device: str = "auto"
    balance_sources: bool = False  # every training source fills the same share of an epoch


def hints_available() -> bool:
    """True when the training hint simulator can be imported."""
    try:
        from colorstudio.training.hint_sim import simulate_training_hints_torch  # noqa: F401
    except ImportError:
        return False
    return True


# ---------------------------------------------------------------------------------------------- command line
# command-line option (argparse dest) -> settings field it overrides
_SETTINGS_OF_OPTIONS = {
    "steps": "steps", "batch_size": "batch_size", "crop": "crop", "lr": "lr", "checkpoint_every": "checkpoint_every_s",
    "log_every": "log_every", "threads": "threads", "device": "device",
}


def add_run_arguments(parser: argparse.ArgumentParser, defaults: TrainSettings | None, *, out: str | None,
                      eval_only_help: str, eval_limit: int | None, out_help: str = "checkpoint folder",
                      measure_help: str = "print FLOPs and training images/s and exit", threads_help: str | None = None,
                      crop: bool = True) -> None:
    """The options every trainer has: ``--data``, ``--out``, ``--steps``, ``--resume``, the settings options
    (``--crop`` unless ``crop`` is False, ``--batch-size``, ``--lr``, ``--checkpoint-every``, ``--log-every``,
    ``--threads``, ``--device``), ``--limit``, ``--eval-only``/``--eval-limit``/``--val``, ``--export`` and
    ``--measure``. Their defaults come from ``defaults``; with None they default to None, so a value
    chosen later (e.g. by a preset) applies unless the option is given."""

    def default(field: str) -> Any:
        return None if defaults is None else getattr(defaults, field)

    parser.add_argument("--data", nargs="+", default=None, help="training folders/tars (never val/); required to train")
    parser.add_argument("--out", default=out, help=out_help)
    parser.add_argument("--steps", type=int, default=default("steps"))
    parser.add_argument("--resume", action="store_true")
    if crop:
        parser.add_argument("--crop", type=int, default=default("crop"))
    parser.add_argument("--batch-size", type=int, default=default("batch_size"))
    parser.add_argument("--lr", type=float, default=default("lr"))
    parser.add_argument("--limit", type=int, default=None, help="use at most this many training images")
    parser.add_argument("--checkpoint-every", type=float, default=default("checkpoint_every_s"), help="seconds")
    parser.add_argument("--log-every", type=int, default=default("log_every"))
    parser.add_argument("--threads", type=int, default=default("threads"), help=threads_help)
    parser.add_argument("--device", default=default("device"))
    parser.add_argument("--eval-only", metavar="CKPT", help=eval_only_help)
    parser.add_argument("--eval-limit", type=int, default=eval_limit)
    parser.add_argument("--val", default=None,
                        help="evaluation images (folder/tar, never trained on); required with --eval-only")
    parser.add_argument("--export", metavar="MODEL_DIR", help="export the latest checkpoint of --out to MODEL_DIR and exit")
    parser.add_argument("--measure", action="store_true", help=measure_help)


def settings_from_args(settings: type[SettingsT] | SettingsT, args: argparse.Namespace) -> SettingsT:
    """``settings`` (a settings class, i.e. its defaults, or an instance such as a preset's) with the
    settings options of :func:`add_run_arguments` that ``args`` holds; options that are None keep the
    settings' value."""
    base = settings() if isinstance(settings, type) else settings
    given = {field: getattr(args, dest, None) for dest, field in _SETTINGS_OF_OPTIONS.items()}
    return replace(base, **{field: value for field, value in given.items() if value is not None})


def require_val(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Exit with a usage error when ``--eval-only`` is given without ``--val``."""
    if not args.val:
        parser.error("--eval-only needs --val (a folder or tar of evaluation images)")


def parse_hint_counts(text: str) -> list[int]:
    """``"0,10"`` -> ``[0, 10]`` (the ``--eval-hints`` option; ``""`` -> none)."""
    return [int(n) for n in text.split(",") if n]


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


def loop_config(settings: TrainSettings, out_dir: Path, resume: bool):
    """The shared loop's ``TrainConfig`` from a family settings dataclass (warmup + cosine, no workers)."""
    from colorstudio.training.loop import TrainConfig

    s = settings
    return TrainConfig(
        steps=s.steps, batch_size=s.batch_size, lr=s.lr, weight_decay=s.weight_decay, betas=s.betas,
        warmup_steps=s.warmup, schedule="cosine", min_lr_ratio=s.min_lr_fraction, ema_decay=s.ema_decay,
        grad_clip=s.grad_clip, checkpoint_every_s=s.checkpoint_every_s, log_every=s.log_every,
        out_dir=out_dir, resume=resume, device=s.device, seed=s.seed, num_workers=0, threads=s.threads,
    )


# ---------------------------------------------------------------------------------------------- training
def training_dataset(data_paths: Sequence[str | Path], settings: TrainSettings, limit: int | None = None,
                     **options: Any):
    """A run's training images (a :class:`colorstudio.training.data.ColorDataset` of random
    ``settings.crop`` crops, seeded by ``settings.seed``); ``options`` go to the dataset.

    Torch's thread count is set to ``settings.threads`` first, so the whole run (dataset and model
    construction included) uses it."""
    from colorstudio.training.data import ColorDataset

    torch.set_num_threads(settings.threads)
    return ColorDataset([str(p) for p in data_paths], settings.crop, train=True, seed=settings.seed, limit=limit,
                        crop_scale=settings.crop_scale, balance_sources=settings.balance_sources, **options)


def start_training(model: torch.nn.Module, dataset: Any, config: _FamilyConfig, settings: TrainSettings,
                   data_paths: Sequence[str | Path], out_dir: Path, resume: bool, *, progress=None, cancel=None,
                   **run_info: Any):
    """Write the run's ``model_config.json`` and ``run_info.json`` (``run_info`` entries first) and train
    ``model`` on ``dataset`` with the shared loop. Returns the loop's ``TrainResult``."""
    from colorstudio.training.loop import train

    hints_enabled = cast(bool, model.train_with_hints)  # a plain attribute of every family's network
    info = build_run_info(data_paths, dataset, hints_enabled, settings, **run_info)
    write_run_files(out_dir, config, info, resume)
    return train(model, dataset, loop_config(settings, out_dir, resume), progress=progress, cancel=cancel)


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
    from colorstudio.color import to_uint
    from colorstudio.engine.pipeline import predict_full_resolution
    from colorstudio.evaluation.protocol import evaluate, load_eval_set

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
