"""Train, measure and export the cGAN colorizer (:mod:`colorstudio.models.gan`).

Entry points:
- :func:`train_gan` (what ``colorstudio train gan`` calls): data -> checkpoints in ``out_dir`` through the
  shared loop (one AdamW step trains generator and critic, see the model's docstring; warmup + cosine,
  EMA, safetensors checkpoints every few minutes, ``resume``). By default the generator builds on the
  installed ``histogram`` model (frozen), as PixColor does.
- :func:`export_gan_model`: a run's EMA weights -> ``models/gan/`` with its card.
- :func:`measure_cost` (``--measure``): FLOPs per image and training images/s.
- ``--eval-only CKPT --val DATA``: the DESIGN.md protocol on a checkpoint (``colorstudio evaluate --model
  gan`` for an installed model).
- :data:`TRAINER`: what ``colorstudio train gan --help`` lists and runs (``python -m
  colorstudio.training.train_gan`` is an alias).

On a shared CPU set ``OMP_WAIT_POLICY=PASSIVE`` before starting Python (see train_histogram.py).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from colorstudio.engine.gan_colorizer import GANColorizer
from colorstudio.errors import ColorStudioError
from colorstudio.models.gan import FAMILY, CGANColorizer, GANConfig
from colorstudio.models.histogram import FAMILY as HISTOGRAM
from colorstudio.models.registry import find_model_dir
from colorstudio.training import command
from colorstudio.training.command import Trainer, parse_hint_counts, settings_from_args
from colorstudio.training.family import (
    config_of_model,
    evaluate_colorizer,
    export_run,
    forward_flops,
    frozen_histogram_run_info,
    histogram_network_config,
    load_run_model,
    median_train_step_s,
    open_run,
    prepare_run_dir,
    resolve_config_on_resume,
    run_card,
    start_training,
    training_dataset,
    warm_start_run_info,
)
from colorstudio.training.loop import TrainSettings

__all__ = ["GANTrainSettings", "TRAINER", "export_gan_model", "load_checkpoint_model", "main", "measure_cost",
           "train_gan"]

FROZEN_ENCODER_PREFIX = "encoder."  # state-dict keys of the frozen histogram copy
WORKING_RESOLUTION = 128  # long side the generator sees: the scale of the 128 px training photos


@dataclass(frozen=True)
class GANTrainSettings(TrainSettings):
    """The cGAN's defaults of :class:`~colorstudio.training.family.TrainSettings`."""

    steps: int = 4000
    lr: float = 2e-4  # pix2pix: Adam 2e-4, beta1 0.5
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.5, 0.999)
    warmup: int = 200
    grad_clip: float | None = None  # one global norm over both networks would let the L1 term throttle the critic


def _config_for(histogram_model: str | Path | None, base: GANConfig = GANConfig(), residual: bool = False) -> GANConfig:
    if histogram_model is None:
        if residual:
            raise ColorStudioError("needs a histogram network to correct, not --from-scratch", "--histogram-residual")
        return base
    # one replace: the config refuses a residual without its histogram network
    return replace(base, histogram=histogram_network_config(histogram_model), histogram_residual=residual)


def default_histogram_model() -> str | None:
    """The installed histogram model's name when there is one (the generator builds on it), else None
    (from scratch)."""
    try:
        find_model_dir(HISTOGRAM)
    except ColorStudioError:
        return None
    return HISTOGRAM


def _new_run_config(histogram_model: str | Path | None, init_model: str | Path | None) -> tuple[GANConfig, str | Path | None]:
    """A new run's config and the histogram model it builds on: ``init_model``'s architecture (or the
    default one), on ``histogram_model`` or else the installed ``histogram`` when the architecture has one."""
    base = config_of_model(init_model, GANConfig) if init_model is not None else GANConfig()
    if init_model is not None and not base.histogram:
        if histogram_model is not None:
            raise ColorStudioError("the --init model does not build on a histogram network", init_model)
        return base, None
    histogram_model = histogram_model if histogram_model is not None else default_histogram_model()
    # the --init model's residual mode is part of its architecture: its generator was trained to it
    return _config_for(histogram_model, base, base.histogram_residual), histogram_model


# ---------------------------------------------------------------------------------------------- cost
def measure_cost(config: GANConfig, crop: int = 112, batch_size: int = 16, steps: int = 3, threads: int = 2) -> dict[str, float]:
    """Forward GFLOPs per image (generator; generator + 3 critic passes in training) and training images/s,
    timed on random tensors after one warm-up step."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = CGANColorizer(config).train()
    gen = torch.Generator().manual_seed(0)
    batch = {"L": torch.rand(batch_size, 1, crop, crop, generator=gen) * 2 - 1,
             "ab": torch.randn(batch_size, 2, crop, crop, generator=gen) * 0.2}
    flops = {"generator": forward_flops(lambda: model(batch["L"][:1])) / 1e9,
             "critic": forward_flops(lambda: model.discriminator(batch["L"][:1], batch["ab"][:1])) / 1e9}
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    step_s = median_train_step_s(lambda: model.training_loss(batch, hints=False)[0], opt, steps)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"crop": crop, "batch": batch_size, "threads": torch.get_num_threads(),
            "trainable_params_M": trainable / 1e6, "generator_gflops_fwd": flops["generator"],
            "critic_gflops_fwd": flops["critic"], "train_images_per_s": batch_size / step_s}


# ---------------------------------------------------------------------------------------------- checkpoints
def load_checkpoint_model(path: str | Path, use_ema: bool = True) -> CGANColorizer:
    """A model (eval mode) from a training checkpoint: a run folder (latest checkpoint) or a step folder."""
    return load_run_model(path, GANConfig, CGANColorizer, use_ema)


def export_gan_model(run_dir: str | Path, out_dir: str | Path = "models/gan", card_updates: dict[str, Any] | None = None):
    """Copy a run's latest EMA weights to a model folder with a card; evaluation numbers come from the
    caller (``card_updates``)."""
    run = open_run(run_dir)
    config = GANConfig.from_dict(run.config)
    source = run.info.get("conditioned_on")
    if config.histogram:
        note = (f"U-Net generator on the frozen histogram network ({(source or {}).get('name', 'histogram')} at step "
                f"{(source or {}).get('steps', '?')}), whose 1/4-resolution features enter at that level; "
                "PatchGAN critic kept in the file for fine-tuning.")
    else:
        note = "U-Net generator and PatchGAN critic trained from scratch."
    card = {**run_card(run, FAMILY, WORKING_RESOLUTION), "architecture_note": note, **(card_updates or {})}
    return export_run(run, out_dir, card)


# ---------------------------------------------------------------------------------------------- eval
def evaluate_checkpoint(path: str | Path, val_path: str | Path, limit: int = 100,
                        hint_counts: Sequence[int] = (0, 10)) -> dict[str, Any]:
    """DESIGN.md protocol on ``limit`` validation images for a checkpoint's EMA weights."""
    colorizer = GANColorizer("gan-checkpoint", load_checkpoint_model(path), {}, torch.device("cpu"))
    return evaluate_colorizer(colorizer, val_path, limit, hint_counts, samples=1)


# ---------------------------------------------------------------------------------------------- training
def train_gan(
    data_paths: Sequence[str | Path],
    out_dir: str | Path = "runs/gan",
    steps: int = GANTrainSettings.steps,
    resume: bool = False,
    config: GANConfig | None = None,
    settings: GANTrainSettings | None = None,
    limit: int | None = None,
    progress=None,
    cancel=None,
    histogram_model: str | Path | None = None,
    init_model: str | Path | None = None,
):
    """Train the cGAN with the shared loop; checkpoints and ``log.jsonl`` go to ``out_dir``.

    Without a ``config`` the generator builds on ``histogram_model`` (default: the installed ``histogram``,
    if any). ``init_model`` (an installed cGAN) gives a new run its architecture and starting weights, all
    but the frozen histogram copy. On resume the run's stored config wins. Returns the loop's ``TrainResult``.
    """
    s = replace(settings or GANTrainSettings(), steps=steps)
    out_dir = prepare_run_dir(out_dir)
    if config is None and not resume:
        config, histogram_model = _new_run_config(histogram_model, init_model)
    config = resolve_config_on_resume(out_dir, config or GANConfig(), GANConfig, resume)
    if histogram_model is not None and not resume and not config.histogram:
        raise ColorStudioError("this cGAN config does not build on a histogram network", histogram_model)
    dataset = training_dataset(data_paths, s, limit)
    model = CGANColorizer(config)
    extra = frozen_histogram_run_info(model.encoder, histogram_model, out_dir, resume)
    extra |= warm_start_run_info(model, init_model, out_dir, resume, keep_prefixes=(FROZEN_ENCODER_PREFIX,))
    return start_training(model, dataset, config, s, data_paths, out_dir, resume, progress=progress, cancel=cancel,
                          **extra)


# ---------------------------------------------------------------------------------------------- CLI
def add_options(p) -> None:
    """The cGAN's own options of ``colorstudio train gan``."""
    p.add_argument("--width", type=int, default=GANConfig.width, help="generator width")
    p.add_argument("--histogram-model", default=None,
                   help="build the generator on this trained histogram model (default: the installed one)")
    p.add_argument("--from-scratch", action="store_true", help="no histogram network: train the whole generator")
    p.add_argument("--histogram-residual", action="store_true",
                   help="the generator corrects the histogram network's expected colours instead of drawing its own")
    p.add_argument("--eval-hints", default="0,10", help="sweep hint counts, e.g. 0,10")


def _config_from_args(args: argparse.Namespace) -> tuple[GANConfig | None, str | None]:
    """The run's config (None: ``train_gan`` takes ``--init``'s architecture) and its histogram model."""
    if args.init:  # train_gan takes the architecture from the model and finds the histogram model
        return None, None if args.from_scratch else args.histogram_model
    histogram_model = None if args.from_scratch else args.histogram_model or default_histogram_model()
    return _config_for(histogram_model, GANConfig(width=args.width), args.histogram_residual), histogram_model


def _train(args: argparse.Namespace):
    config, histogram_model = _config_from_args(args)
    settings = settings_from_args(GANTrainSettings, args)
    return train_gan(args.data, args.run_dir, settings.steps, args.resume, config, settings, args.limit,
                     histogram_model=None if args.resume else histogram_model, init_model=args.init)


def _evaluate(args: argparse.Namespace) -> dict[str, Any]:
    return evaluate_checkpoint(args.eval_only, args.val, args.eval_limit, parse_hint_counts(args.eval_hints))


def _measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    config, histogram_model = _config_from_args(args)
    measured = config or _new_run_config(histogram_model, args.init)[0]
    return [measure_cost(measured, args.crop, args.batch_size, threads=args.threads)]


TRAINER = Trainer(settings=GANTrainSettings(), add_options=add_options, train=_train, export=export_gan_model,
                  evaluate=_evaluate, measure=_measure)


def main(argv: list[str] | None = None) -> int:
    """``python -m colorstudio.training.train_gan``: an alias of ``colorstudio train gan``."""
    return command.main(FAMILY, TRAINER, argv, prog="python -m colorstudio.training.train_gan",
                        description=__doc__.split("\n")[0])


if __name__ == "__main__":
    sys.exit(main())
