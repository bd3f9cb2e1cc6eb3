"""Train, evaluate (bits/dim) and export PIC models (:mod:`colorstudio.models.pic`).

Two presets (:data:`PRESETS`):

- ``pic-cifar``: 32 x 32 CIFAR-10 (``shared/data/train/cifar10-train.tar.gz``), chroma grid 16 x 16; bits/dim
  on ``shared/data/val/cifar10-test.tar.gz`` (every test image, near-gray ones included).
- ``pic``: the 128 px photo tars (``shared/data/train/*-128.tar``), working resolution 128, chroma 32 x 32.

Data locations are never assumed: ``--data`` (training folders/tars) and ``--val`` (bits/dim) are given.

Entry points:
- :func:`train_pic` (what ``colorstudio train pic`` calls): the shared loop :func:`colorstudio.training.loop.train`
  (AdamW, warmup + cosine, EMA/Polyak weights, safetensors checkpoints every few minutes, ``resume``).
- :func:`export_pic_model`: a run's EMA weights -> ``models/<name>/`` with its card.
- :func:`evaluate_bpd` (``--eval-only CKPT --val PATH``): bits/dim of a model or checkpoint (EMA weights).
- :func:`measure_cost`: FLOPs per image and training images/s of a preset.
- :data:`TRAINER`: what ``colorstudio train pic --help`` lists and runs (``python -m
  colorstudio.training.train_pic`` is an alias).

On a shared CPU set ``OMP_WAIT_POLICY=PASSIVE`` before starting Python (see train_histogram).

Sizing (``--measure``; 2 CPU cores shared with other jobs, load 3.5-4.5, so upper bounds on time):

=========  ==========  ================  ==========================  =================
preset     params      GFLOPs fwd/image  (of which embedding)        train images/s
=========  ==========  ================  ==========================  =================
pic-cifar  1.58 M      0.89              0.35                        20-27 (1-2 threads)
pic        1.81 M      4.08              1.91                        3.1-3.9
=========  ==========  ================  ==========================  =================

A training step costs about 3x the forward FLOPs. Smoke run (pic-cifar, 300 steps of 32, one thread,
8.5 min, warmup 50 and cosine over the 300 steps): training bpd 9.0 -> 3.82, still falling ~0.1 per 25
steps; EMA weights 3.85 bpd on 1000 CIFAR test images (evenly spaced). Plan for <= 3.0 bpd: the preset's
12 000 steps (384 000 images, 7.7 epochs) take 4-5 h here; evaluate the EMA weights on 1000 test images at
3000 steps (``--eval-only runs/pic-cifar --val .../cifar10-test.tar.gz --eval-limit 1000``): above ~3.3
there, widen the decoder to 96 channels (+80 % decoder FLOPs) instead of
training longer. The photo preset costs ~4.5x more per image: 8000 steps of 16 (5 epochs of the 24 000
photos) take ~9 h; it is judged on samples (PSNR, diversity), not bits/dim.
"""

from __future__ import annotations

import argparse
import io
import itertools
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from colorstudio.io.sources import ImageSource
from colorstudio.models.pic import (
    FAMILY,
    PIC,
    PIC_CIFAR_CONFIG,
    PIC_PHOTO_CONFIG,
    PICConfig,
    bits_per_dim,
)
from colorstudio.training import command
from colorstudio.training.command import Trainer, settings_from_args
from colorstudio.training.data import evaluation_dataset
from colorstudio.training.family import (  # noqa: F401  (*_JSON kept importable from here)
    MODEL_CONFIG_JSON,
    RUN_INFO_JSON,
    config_of_model,
    export_run,
    forward_flops,
    frozen_histogram_run_info,
    histogram_network_config,
    load_run_model,
    median_train_step_s,
    open_run,
    prepare_run_dir,
    read_run_info,
    resolve_config_on_resume,
    run_card,
    run_dir_of,
    start_training,
    training_dataset,
    warm_start_run_info,
)
from colorstudio.training.loop import TrainSettings

FROZEN_ENCODER_PREFIX = "embedding.encoder."  # state-dict keys of the frozen histogram copy

__all__ = [
    "PRESETS",
    "PICPreset",
    "PICTrainSettings",
    "TRAINER",
    "choose_preset",
    "evaluate_bpd",
    "export_pic_model",
    "load_checkpoint_model",
    "main",
    "measure_cost",
    "train_pic",
]


@dataclass(frozen=True)
class PICTrainSettings(TrainSettings):
    """PIC's defaults of :class:`~colorstudio.training.family.TrainSettings`, and which images it keeps.

    Paper: Adam betas (0.95, 0.9995), lr 1e-3 with per-step decay 0.99995, Polyak/EMA 0.999; here AdamW
    without weight decay and warmup + cosine to ``min_lr_fraction`` (the shared loop's schedule).
    """

    steps: int = 20000
    batch_size: int = 32
    crop: int = 32  # working resolution of training crops
    crop_scale: tuple[float, float] | None = None
    lr: float = 2e-3
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.95, 0.9995)
    warmup: int = 300
    min_colorfulness: float = 0.0  # keep near-gray images: they are part of the test distribution


@dataclass(frozen=True)
class PICPreset:
    """A named recipe: architecture, training settings, working resolution, and the data it is meant for."""

    name: str
    config: PICConfig
    settings: PICTrainSettings
    working_resolution: int
    description: str
    data: str  # which sets (shared/data) it trains and is evaluated on, for the card and --help
    for_photos: bool = True  # False: the card says so, and the GUI does not offer the model for photos


PRESETS: dict[str, PICPreset] = {
    "pic-cifar": PICPreset(
        name="pic-cifar",
        config=PIC_CIFAR_CONFIG,
        settings=PICTrainSettings(steps=12000, batch_size=32, crop=32, lr=2e-3),
        working_resolution=32,
        description="CIFAR-10 32x32, chroma 16x16 (PIC paper's CIFAR setting, scaled to CPU training)",
        data="train: train/cifar10-train.tar.gz; bits/dim: val/cifar10-test.tar.gz (all 10 000)",
        for_photos=False,
    ),
    "pic": PICPreset(
        name="pic",
        config=PIC_PHOTO_CONFIG,
        settings=PICTrainSettings(steps=8000, batch_size=16, crop=128, lr=2e-3, min_colorfulness=2 / 255),
        working_resolution=128,
        description="photos at 128 px, chroma 32x32 (PIC paper's ILSVRC 128 px setting, scaled to CPU training)",
        data="train: train/*-128.tar (the seven photo sets); evaluation: val/imagenet-samples-256.tar",
    ),
}


def _smallest_side(path: str | Path) -> int | None:
    """Short side of the first image of a folder / tar (None when none can be read)."""
    first = ImageSource(Path(path)).first_image_bytes()
    if first is None:
        return None
    try:
        with Image.open(io.BytesIO(first[1])) as img:
            return min(img.size)
    except OSError:
        return None


def choose_preset(data_paths: Sequence[str | Path]) -> str:
    """``pic-cifar`` when the training images are tiny (short side <= 48 px, e.g. CIFAR), else ``pic``."""
    sides = [_smallest_side(p) for p in data_paths]
    known = [s for s in sides if s is not None]
    return "pic-cifar" if known and max(known) <= 48 else "pic"


# ---------------------------------------------------------------------------------------------- cost
def measure_cost(config: PICConfig, crop: int, batch_size: int = 16, steps: int = 4, threads: int = 2) -> dict[str, float]:
    """FLOPs per image (forward at ``crop``; a training step is about 3x) and training images/s here.

    Timed on random tensors with the real loss (hints simulated as in training) after one warm-up step.
    """
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = PIC(config)
    gen = torch.Generator().manual_seed(0)
    batch = {
        "L": torch.rand(batch_size, 1, crop, crop, generator=gen) * 2 - 1,
        "ab": torch.randn(batch_size, 2, crop, crop, generator=gen) * 0.2,
    }
    model.eval()
    flops = forward_flops(lambda: model.training_loss({k: v[:1] for k, v in batch.items()}))
    embed_flops = forward_flops(lambda: model.embed(batch["L"][:1]))
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    seeds = itertools.count()  # a new hint simulation each step, as in training
    step_s = median_train_step_s(lambda: model.training_loss({**batch, "seed": torch.tensor(next(seeds))})[0], opt, steps)
    return {
        "params_M": sum(p.numel() for p in model.parameters()) / 1e6,
        "gflops_fwd_per_image": flops / 1e9,
        "gflops_fwd_embedding_per_image": embed_flops / 1e9,
        "train_images_per_s": batch_size / step_s,
        "step_s": step_s,
        "batch_size": batch_size,
        "threads": threads,
    }


# ---------------------------------------------------------------------------------------------- checkpoints
def load_checkpoint_model(path: str | Path, use_ema: bool = True) -> PIC:
    """A model (eval mode) from a training checkpoint (run folder = latest checkpoint, or a step folder);
    EMA (Polyak) weights unless ``use_ema`` is False."""
    return load_run_model(path, PICConfig, PIC, use_ema)


def evaluate_bpd(
    model: PIC | str | Path,
    val_path: str | Path,
    *,
    working_resolution: int | None = None,
    limit: int | None = None,
    batch_size: int = 100,
    progress=None,
) -> dict[str, Any]:
    """Bits/dim on a validation folder / tar; ``model`` is a PIC or a checkpoint / run folder (EMA weights).

    ``working_resolution`` defaults to the run's preset (32 for pic-cifar, 128 for pic). ``limit`` keeps
    that many images, evenly spaced (None: all, e.g. the 10 000 CIFAR test images).
    """
    preset = None
    if not isinstance(model, PIC):
        preset = PRESETS.get(read_run_info(run_dir_of(model)).get("preset", ""))
        model = load_checkpoint_model(model)
    if preset is None:
        preset = PRESETS["pic-cifar" if model.config.chroma_stride == 2 else "pic"]
    working_resolution = working_resolution or preset.working_resolution
    dataset = evaluation_dataset(val_path, working_resolution, limit)
    report = bits_per_dim(model, dataset, batch_size=batch_size, progress=progress)
    return {**report, "data": str(val_path), "working_resolution": working_resolution}


def export_pic_model(run_dir: str | Path, out_dir: str | Path | None = None, card_updates: dict[str, Any] | None = None):
    """Copy a run's latest EMA weights to a model folder (default ``models/<preset>``) with a card.

    Evaluation numbers are added by the caller (``card_updates={"evaluation": ..., "eval_command": ...}``).
    """
    run = open_run(run_dir)
    preset = PRESETS.get(run.info.get("preset", ""), PRESETS["pic"])
    out_dir = Path(out_dir) if out_dir is not None else Path("models") / preset.name
    card: dict[str, Any] = {
        **run_card(run, FAMILY, preset.working_resolution,
                   license_note="Trained on research-only image sets (see shared/data/README.md): research use only.",
                   hints_enabled=run.info.get("hints_enabled")),
        "description": preset.description,
        "for_photos": preset.for_photos,
        "preset_data": preset.data,
        **(card_updates or {}),
    }
    if preset.name == "pic-cifar":
        card.setdefault("comparability", (
            "The CIFAR-10 files here are JPEG (quality 75, 4:2:0 chroma): their chroma is already subsampled "
            "2x and quantized, so it is smoother than lossless CIFAR-10's and bits/dim are not directly "
            "comparable with the paper's 2.72 (likely lower for the same model)."))
    return export_run(run, out_dir, card)


# ---------------------------------------------------------------------------------------------- training
def train_pic(
    data_paths: Sequence[str | Path],
    out_dir: str | Path = "runs/pic",
    steps: int | None = None,
    resume: bool = False,
    config: PICConfig | None = None,
    *,
    preset: str = "auto",
    settings: PICTrainSettings | None = None,
    limit: int | None = None,
    progress=None,
    cancel=None,
    histogram_model: str | Path | None = None,
    init_model: str | Path | None = None,
):
    """Train PIC with the shared loop; checkpoints and ``log.jsonl`` go to ``out_dir``.

    ``data_paths``: training folders / tars (never val/). ``preset``: ``"pic-cifar"``, ``"pic"`` or
    ``"auto"`` (``pic-cifar`` for tiny images, see :func:`choose_preset`); it supplies the config and the
    settings unless given. ``histogram_model`` (a trained histogram model's name or folder): its network,
    frozen, becomes the embedding's lower levels (:class:`colorstudio.models.pic.HistogramEmbedding`).
    ``init_model`` (an installed PIC): a new run takes its architecture and starting weights, all but the
    frozen histogram copy. On resume the run's stored config and preset win. Returns the loop's
    ``TrainResult``.
    """
    out_dir = prepare_run_dir(out_dir)
    if resume:
        preset = read_run_info(out_dir).get("preset", preset)
    if not data_paths:
        raise ValueError("train_pic needs training data (folders or tar files of colour images)")
    if preset == "auto":
        preset = choose_preset(data_paths)
    if preset not in PRESETS:
        raise ValueError(f"unknown PIC preset {preset!r}; choose from {', '.join(PRESETS)} or auto")
    recipe = PRESETS[preset]
    data_paths = [str(p) for p in data_paths]
    config = config_of_model(init_model, PICConfig) if init_model is not None else config or recipe.config
    if histogram_model is not None:
        config = replace(config, histogram=histogram_network_config(histogram_model))
    config = resolve_config_on_resume(out_dir, config, PICConfig, resume)
    s = settings or recipe.settings
    if steps is not None:
        s = replace(s, steps=steps)
    dataset = training_dataset(data_paths, s, limit, min_colorfulness=s.min_colorfulness)
    model = PIC(config)
    extra = frozen_histogram_run_info(getattr(model.embedding, "encoder", None), histogram_model, out_dir, resume)
    extra |= warm_start_run_info(model, init_model, out_dir, resume, keep_prefixes=(FROZEN_ENCODER_PREFIX,))
    return start_training(model, dataset, config, s, data_paths, out_dir, resume, progress=progress, cancel=cancel,
                          preset=preset, **extra)


# ---------------------------------------------------------------------------------------------- CLI
def add_options(p) -> None:
    """PIC's own options of ``colorstudio train pic``; the shared settings options default to the preset's."""
    p.add_argument("--preset", default="auto", choices=("auto", *PRESETS),
                   help="recipe: pic-cifar for tiny (CIFAR) images, pic for photos; auto picks by the data")
    p.add_argument("--histogram-model", default=None,
                   help="build the embedding on this trained histogram model (name or folder), frozen")


def _preset_of(args: argparse.Namespace) -> str:
    return args.preset if args.preset != "auto" else choose_preset(args.data) if args.data else FAMILY


def _train(args: argparse.Namespace):
    preset = _preset_of(args)
    settings = settings_from_args(PRESETS[preset].settings, args)
    return train_pic(args.data, args.run_dir, settings.steps, args.resume, preset=preset, settings=settings,
                     limit=args.limit, histogram_model=args.histogram_model, init_model=args.init)


def _evaluate(args: argparse.Namespace) -> dict[str, Any]:
    return evaluate_bpd(args.eval_only, args.val, limit=args.eval_limit)


def _measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    reports = []
    for name in list(PRESETS) if args.preset == "auto" else [args.preset]:
        recipe = PRESETS[name]
        batch = args.batch_size or recipe.settings.batch_size
        config = recipe.config
        if args.histogram_model:
            config = replace(config, histogram=histogram_network_config(args.histogram_model))
        reports.append({"preset": name, "crop": recipe.settings.crop, "histogram_embedding": bool(config.histogram),
                        **measure_cost(config, recipe.settings.crop, batch, threads=args.threads or 2)})
    return reports


# No setting defaults: the preset's apply unless an option is given; the run folder is runs/<preset>.
TRAINER = Trainer(settings=None, add_options=add_options, train=_train, export=export_pic_model, evaluate=_evaluate,
                  measure=_measure, run_dir=lambda args: Path("runs") / _preset_of(args), crop=False, eval_limit=None)


def main(argv: list[str] | None = None) -> int:
    """``python -m colorstudio.training.train_pic``: an alias of ``colorstudio train pic``."""
    return command.main(FAMILY, TRAINER, argv, prog="python -m colorstudio.training.train_pic",
                        description=__doc__.split("\n")[0])


if __name__ == "__main__":
    sys.exit(main())
