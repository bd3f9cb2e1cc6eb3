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

On a shared CPU set ``OMP_WAIT_POLICY=PASSIVE`` before starting Python (see train_histogram.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from colorstudio.errors import ColorStudioError
from colorstudio.models.gan import CGANColorizer, GANConfig
from colorstudio.training.family import (
    build_run_info,
    config_of_model,
    export_run,
    frozen_histogram_run_info,
    hints_available,
    histogram_network_config,
    load_run_model,
    loop_config,
    open_run,
    prepare_run_dir,
    resolve_config_on_resume,
    run_card,
    warm_start_run_info,
    write_run_files,
)

__all__ = ["GANTrainSettings", "export_gan_model", "load_checkpoint_model", "main", "measure_cost", "train_gan"]

FROZEN_ENCODER_PREFIX = "encoder."  # state-dict keys of the frozen histogram copy
WORKING_RESOLUTION = 128  # long side the generator sees: the scale of the 128 px training photos


@dataclass(frozen=True)
class GANTrainSettings:
    """Data and optimisation settings; mapped onto the shared loop's ``TrainConfig``."""

    steps: int = 4000
    batch_size: int = 16
    crop: int = 112
    crop_scale: tuple[float, float] | None = (0.7, 1.0)
    lr: float = 2e-4  # pix2pix: Adam 2e-4, beta1 0.5
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.5, 0.999)
    warmup: int = 200
    min_lr_fraction: float = 0.05
    ema_decay: float = 0.999
    grad_clip: float | None = None  # one global norm over both networks would let the L1 term throttle the critic
    checkpoint_every_s: float = 300.0
    log_every: int = 50
    seed: int = 0
    threads: int = 2
    device: str = "auto"


def _config_for(histogram_model: str | Path | None, base: GANConfig = GANConfig()) -> GANConfig:
    return replace(base, histogram=histogram_network_config(histogram_model)) if histogram_model is not None else base


def default_histogram_model() -> str | None:
    """``histogram`` when that model is installed (the generator builds on it), else None (from scratch)."""
    from colorstudio.models.registry import find_model_dir

    try:
        find_model_dir("histogram")
    except ColorStudioError:
        return None
    return "histogram"


def _new_run_config(histogram_model: str | Path | None, init_model: str | Path | None) -> tuple[GANConfig, str | Path | None]:
    """A new run's config and the histogram model it builds on: ``init_model``'s architecture (or the
    default one), on ``histogram_model`` or else the installed ``histogram`` when the architecture has one."""
    base = config_of_model(init_model, GANConfig) if init_model is not None else GANConfig()
    if init_model is not None and not base.histogram:
        if histogram_model is not None:
            raise ColorStudioError("the --init model does not build on a histogram network", init_model)
        return base, None
    histogram_model = histogram_model if histogram_model is not None else default_histogram_model()
    return _config_for(histogram_model, base), histogram_model


# ---------------------------------------------------------------------------------------------- cost
def measure_cost(config: GANConfig, crop: int = 112, batch_size: int = 16, steps: int = 3, threads: int = 2) -> dict[str, float]:
    """Forward GFLOPs per image (generator; generator + 3 critic passes in training) and training images/s,
    timed on random tensors after one warm-up step."""
    from torch.utils.flop_counter import FlopCounterMode

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = CGANColorizer(config).train()
    gen = torch.Generator().manual_seed(0)
    batch = {"L": torch.rand(batch_size, 1, crop, crop, generator=gen) * 2 - 1,
             "ab": torch.randn(batch_size, 2, crop, crop, generator=gen) * 0.2}
    flops = {}
    with torch.no_grad():
        for name, fn in (("generator", lambda: model(batch["L"][:1])),
                         ("critic", lambda: model.discriminator(batch["L"][:1], batch["ab"][:1]))):
            with FlopCounterMode(display=False) as counter:
                fn()
            flops[name] = counter.get_total_flops() / 1e9
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    times = []
    for _ in range(steps + 1):
        t0 = time.perf_counter()
        loss, _ = model.training_loss(batch, hints=False)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"crop": crop, "batch": batch_size, "threads": torch.get_num_threads(),
            "trainable_params_M": trainable / 1e6, "generator_gflops_fwd": flops["generator"],
            "critic_gflops_fwd": flops["critic"], "train_images_per_s": batch_size / float(np.median(times[1:]))}


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
    card = {**run_card(run, "gan", WORKING_RESOLUTION), "architecture_note": note, **(card_updates or {})}
    return export_run(run, out_dir, card)


# ---------------------------------------------------------------------------------------------- eval
def evaluate_checkpoint(path: str | Path, val_path: str | Path, limit: int = 100,
                        hint_counts: Sequence[int] = (0, 10)) -> dict[str, Any]:
    """DESIGN.md protocol on ``limit`` validation images for a checkpoint's EMA weights."""
    from colorstudio.engine.gan_colorizer import GANColorizer
    from colorstudio.engine.pipeline import predict_full_resolution
    from colorstudio.evaluation.protocol import evaluate, load_eval_set

    colorizer = GANColorizer("gan-checkpoint", load_checkpoint_model(path), {}, torch.device("cpu"))

    def predict(L, hint_ab, hint_mask, n, s):
        rgb = predict_full_resolution(L, hint_ab, hint_mask, colorizer, samples=n, seed=s)
        return [np.clip(np.round(x * 255.0), 0, 255).astype(np.uint8) for x in rgb]

    return evaluate(predict, load_eval_set(val_path, limit=limit), hint_counts=hint_counts, samples=1).to_dict()


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
    from colorstudio.training.data import ColorDataset
    from colorstudio.training.loop import train

    s = replace(settings or GANTrainSettings(), steps=steps)
    out_dir = prepare_run_dir(out_dir)
    if config is None and not resume:
        config, histogram_model = _new_run_config(histogram_model, init_model)
    config = resolve_config_on_resume(out_dir, config or GANConfig(), GANConfig, resume)
    if histogram_model is not None and not resume and not config.histogram:
        raise ColorStudioError("this cGAN config does not build on a histogram network", histogram_model)
    torch.set_num_threads(s.threads)
    dataset = ColorDataset([str(p) for p in data_paths], s.crop, train=True, seed=s.seed, limit=limit,
                           crop_scale=s.crop_scale)
    model = CGANColorizer(config)
    extra = frozen_histogram_run_info(model.encoder, histogram_model, out_dir, resume)
    extra |= warm_start_run_info(model, init_model, out_dir, resume, keep_prefixes=(FROZEN_ENCODER_PREFIX,))
    model.train_with_hints = hints_available()
    write_run_files(out_dir, config, build_run_info(data_paths, dataset, model.train_with_hints, s, **extra), resume)
    return train(model, dataset, loop_config(s, out_dir, resume), progress=progress, cancel=cancel)


# ---------------------------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m colorstudio.training.train_gan", description=__doc__.split("\n")[0])
    p.add_argument("--data", nargs="+", default=None, help="training folders/tars (never val/); required to train")
    p.add_argument("--out", default="runs/gan", help="checkpoint folder")
    p.add_argument("--steps", type=int, default=GANTrainSettings.steps)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--width", type=int, default=GANConfig.width, help="generator width")
    p.add_argument("--histogram-model", default=None,
                   help="build the generator on this trained histogram model (default: the installed one)")
    p.add_argument("--from-scratch", action="store_true", help="no histogram network: train the whole generator")
    p.add_argument("--init", metavar="MODEL", default=None, help="start a new run from this installed cGAN's weights")
    p.add_argument("--crop", type=int, default=GANTrainSettings.crop)
    p.add_argument("--batch-size", type=int, default=GANTrainSettings.batch_size)
    p.add_argument("--lr", type=float, default=GANTrainSettings.lr)
    p.add_argument("--limit", type=int, default=None, help="use at most this many training images")
    p.add_argument("--checkpoint-every", type=float, default=GANTrainSettings.checkpoint_every_s, help="seconds")
    p.add_argument("--log-every", type=int, default=GANTrainSettings.log_every)
    p.add_argument("--threads", type=int, default=GANTrainSettings.threads)
    p.add_argument("--device", default="auto")
    p.add_argument("--eval-only", metavar="CKPT", help="evaluate a checkpoint (run or step folder) and exit")
    p.add_argument("--eval-limit", type=int, default=100)
    p.add_argument("--eval-hints", default="0,10", help="sweep hint counts, e.g. 0,10")
    p.add_argument("--val", default=None, help="evaluation images (folder/tar, never trained on); required with --eval-only")
    p.add_argument("--export", metavar="MODEL_DIR", help="export the latest checkpoint of --out to MODEL_DIR and exit")
    p.add_argument("--measure", action="store_true", help="print FLOPs and training images/s and exit")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.init:  # train_gan takes the architecture from the model and finds the histogram model
        config, histogram_model = None, None if args.from_scratch else args.histogram_model
    else:
        histogram_model = None if args.from_scratch else args.histogram_model or default_histogram_model()
        config = _config_for(histogram_model, GANConfig(width=args.width))
    if args.measure:
        measured = config or _new_run_config(histogram_model, args.init)[0]
        print(json.dumps(measure_cost(measured, args.crop, args.batch_size, threads=args.threads)))
        return 0
    if args.eval_only:
        if not args.val:
            p.error("--eval-only needs --val (a folder or tar of evaluation images)")
        counts = [int(n) for n in args.eval_hints.split(",") if n]
        print(json.dumps(evaluate_checkpoint(args.eval_only, args.val, args.eval_limit, counts)))
        return 0
    if args.export:
        print(json.dumps(export_gan_model(args.out, args.export).to_dict(), indent=1))
        return 0
    if not args.data:
        p.error("training needs --data (folders or tar files of colour images, never val/)")
    settings = GANTrainSettings(steps=args.steps, batch_size=args.batch_size, crop=args.crop, lr=args.lr,
                                checkpoint_every_s=args.checkpoint_every, log_every=args.log_every,
                                threads=args.threads, device=args.device)
    train_gan(args.data, args.out, args.steps, args.resume, config, settings, args.limit,
              histogram_model=None if args.resume else histogram_model, init_model=args.init)
    return 0


if __name__ == "__main__":
    sys.exit(main())
