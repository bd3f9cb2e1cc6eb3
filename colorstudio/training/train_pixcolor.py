"""Train, measure and export PixColor (:mod:`colorstudio.models.pixcolor`).

Entry points:
- :func:`train_pixcolor` (what ``colorstudio train pixcolor`` calls): data -> checkpoints in ``out_dir``
  through the shared loop :func:`colorstudio.training.loop.train` (AdamW, warmup + cosine, EMA,
  safetensors checkpoints every few minutes, ``resume``). One run trains the conditioning net, the
  PixelCNN (teacher-forced cross-entropy) and the refinement net (L1 on ground-truth grid chroma)
  together; their losses share no parameters, so this equals training them separately.
- :func:`export_pixcolor_model`: a run's EMA weights -> ``models/pixcolor/`` with its card.
- :func:`evaluate_checkpoint` (``--eval-only CKPT``): the DESIGN.md protocol (sample 0, best of N,
  diversity, sweep hints) on the first K validation images.
- :func:`measure_cost` (``--measure``): FLOPs per image and training images/s per part.
- :data:`TRAINER`: what ``colorstudio train pixcolor --help`` lists and runs (``python -m
  colorstudio.training.train_pixcolor`` is an alias).

On a shared CPU set ``OMP_WAIT_POLICY=PASSIVE`` before starting Python (see train_histogram.py).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import torch

from colorstudio.engine.pixcolor_colorizer import PixColorColorizer
from colorstudio.errors import ColorStudioError
from colorstudio.models.histogram import FAMILY as HISTOGRAM
from colorstudio.models.pixcolor import (
    CONDITIONINGS,
    FAMILY,
    HISTOGRAM_CONDITIONING,
    HistogramConditioning,
    PixColor,
    PixColorConfig,
    chroma_of_rgb,
)
from colorstudio.models.registry import find_model_dir
from colorstudio.training import command
from colorstudio.training.command import Trainer, parse_hint_counts, settings_from_args
from colorstudio.training.family import (
    MODEL_CONFIG_JSON,
    config_of_model,
    evaluate_colorizer,
    export_run,
    forward_flops,
    frozen_histogram_run_info,
    histogram_network_config,
    load_frozen_histogram,
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

__all__ = [
    "DEFAULT_CONFIG",
    "MODEL_CONFIG_JSON",
    "PixColorTrainSettings",
    "evaluate_checkpoint",
    "export_pixcolor_model",
    "histogram_conditioned_config",
    "load_histogram_encoder",
    "load_checkpoint_model",
    "main",
    "measure_cost",
    "train_pixcolor",
    "TRAINER",
]

DEFAULT_CONFIG = PixColorConfig(refine_hints=True)


@dataclass(frozen=True)
class PixColorTrainSettings(TrainSettings):
    """PixColor's defaults of :class:`~colorstudio.training.family.TrainSettings`."""

    steps: int = 3000
    crop: int = 112  # = grid * grid_stride: the 28-cell grid at the working resolution
    # random-resized crops (side 70-100 % of the 128 px photo, resized to `crop`): mostly whole scenes,
    # like an evaluation image seen at the working resolution
    crop_scale: tuple[float, float] | None = (0.7, 1.0)
    betas: tuple[float, float] = (0.95, 0.9995)  # PIC / PixelCNN++ settings


# ---------------------------------------------------------------------------------------------- cost
def measure_cost(config: PixColorConfig = DEFAULT_CONFIG, crop: int = 112, batch_size: int = 16, steps: int = 3,
                 threads: int = 2) -> dict[str, float]:
    """FLOPs per image (forward) and training images/s of each part and of the whole model at ``crop``.

    Timed on random tensors after one warm-up step: forward + backward + AdamW step. The PixelCNN part
    includes the conditioning net (it is trained through the PixelCNN's loss).
    """
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = PixColor(config).train()
    gen = torch.Generator().manual_seed(0)
    rgb = torch.rand(batch_size, 3, crop, crop, generator=gen)
    L = torch.rand(batch_size, 1, crop, crop, generator=gen) * 2 - 1
    batch = {"L": L, "ab": torch.randn(batch_size, 2, crop, crop, generator=gen) * 0.2, "rgb": rgb}
    grid = model.grid_size(crop, crop)
    bins = model.grid_bins(chroma_of_rgb(rgb), grid)
    x1, L1, cond1 = model.bins_to_input(bins[:1]), L[:1], None
    up = torch.rand(batch_size, 2, crop, crop, generator=gen)
    with torch.no_grad():
        cond1 = model.condition(L1, None, grid)
    flops = {
        "conditioning": forward_flops(lambda: model.condition(L1, None, grid)),
        "pixelcnn": forward_flops(lambda: model.pixelcnn(x1, cond1)),
        "refinement": forward_flops(lambda: model.refinement(L1, up[:1])),
    }
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)

    def pixelcnn_loss() -> torch.Tensor:
        feats = model.pixelcnn(model.bins_to_input(bins), model.condition(L, None, grid))
        feats = feats.permute(0, 2, 3, 1).reshape(-1, config.head_channels)
        cr = bins[:, 0].reshape(-1)
        return model.cr_logits(feats).logsumexp(-1).mean() + model.cb_logits(feats, cr).logsumexp(-1).mean()

    times = {
        "pixelcnn": median_train_step_s(pixelcnn_loss, opt, steps),
        "refinement": median_train_step_s(lambda: model.refinement(L, up).abs().mean(), opt, steps),
        "total": median_train_step_s(lambda: model.training_loss(batch, hints=False)[0], opt, steps),
    }
    params = {
        "conditioning": model.conditioning, "pixelcnn": model.pixelcnn, "refinement": model.refinement,
    }
    report: dict[str, float] = {"crop": crop, "grid": grid[0], "batch": batch_size, "threads": torch.get_num_threads()}
    for name, module in params.items():
        report[f"{name}_params_M"] = sum(p.numel() for p in module.parameters()) / 1e6
        report[f"{name}_gflops_fwd"] = flops[name] / 1e9
    report["total_gflops_fwd"] = sum(flops.values()) / 1e9
    for name, seconds in times.items():
        report[f"{name}_train_images_per_s"] = batch_size / seconds
    return report


# ---------------------------------------------------------------------------------------------- checkpoints
def load_checkpoint_model(path: str | Path, use_ema: bool = True) -> PixColor:
    """A model (eval mode) from a training checkpoint: a run folder (latest checkpoint) or a step folder."""
    return load_run_model(path, PixColorConfig, PixColor, use_ema)


def export_pixcolor_model(run_dir: str | Path, out_dir: str | Path = "models/pixcolor",
                          card_updates: dict[str, Any] | None = None):
    """Copy a run's latest EMA weights to a model folder with a card (family, config, data, steps...).

    Evaluation numbers and the benchmark output are added by the caller (``card_updates``).
    """
    run = open_run(run_dir)
    config = PixColorConfig.from_dict(run.config)
    if config.conditioning == HISTOGRAM_CONDITIONING:
        source = run.info.get("conditioned_on") or {}
        note = ("Conditioning: the trained histogram model's network "
                f"({source.get('name', 'histogram')} at step {source.get('steps', '?')}, weights SHA-256 "
                f"{source.get('weights_sha256', '?')}), frozen, in the role of the paper's pretrained ResNet-101, "
                "+ an adaptation net trained with the PixelCNN; its weights are inside this model's file.")
    else:
        note = "Conditioning net trained from scratch (not the paper's ResNet-101); no weights shared with the histogram model."
    card = {
        **run_card(run, FAMILY, config.working_short_side),
        "architecture_note": note,
        **(card_updates or {}),
    }
    return export_run(run, out_dir, card)


# ---------------------------------------------------------------------------------------------- eval
def evaluate_checkpoint(path: str | Path, val_path: str | Path, limit: int = 50, samples: int = 8,
                        hint_counts: Sequence[int] = (0, 10), seed: int = 0, temperature: float = 1.0) -> dict[str, Any]:
    """DESIGN.md protocol on the first ``limit`` validation images for a checkpoint's EMA weights."""
    colorizer = PixColorColorizer("pixcolor-checkpoint", load_checkpoint_model(path), {}, torch.device("cpu"))
    return evaluate_colorizer(colorizer, val_path, limit, hint_counts, samples, seed, temperature=temperature)


# ---------------------------------------------------------------------------------------------- training
def histogram_conditioned_config(histogram_model: str | Path, base: PixColorConfig = DEFAULT_CONFIG) -> PixColorConfig:
    """``base`` with conditioning by the trained histogram model's network (its card's config)."""
    return replace(base, conditioning=HISTOGRAM_CONDITIONING, histogram=histogram_network_config(histogram_model))


FROZEN_ENCODER_PREFIX = "conditioning.encoder."  # state-dict keys of the frozen histogram copy
# the adaptation layer that reads the histogram network's features: a newer network may give more of them
ADAPTER_INPUT_PREFIX = "conditioning.adapt.0."


def _config_of_init_model(init_model: str | Path, histogram_model: str | Path) -> PixColorConfig:
    """The architecture of ``init_model``, conditioned on ``histogram_model`` when it was before."""
    config = config_of_model(init_model, PixColorConfig)
    if config.conditioning == HISTOGRAM_CONDITIONING:
        config = histogram_conditioned_config(histogram_model, config)
    return config


def load_histogram_encoder(model: PixColor, histogram_model: str | Path) -> dict[str, Any]:
    """Copy the trained histogram model's weights into ``model``'s frozen encoder; returns that model's
    name, steps and weights SHA-256 for the card."""
    if model.config.conditioning != HISTOGRAM_CONDITIONING:
        raise ColorStudioError("this PixColor config is not conditioned on a histogram network", histogram_model)
    conditioning = cast(HistogramConditioning, model.conditioning)  # conditioned on a histogram network, checked above
    return load_frozen_histogram(conditioning.encoder, histogram_model)


def _default_config(histogram_model: str | Path | None,
                    base: PixColorConfig = DEFAULT_CONFIG) -> tuple[PixColorConfig, str | Path | None]:
    """``base`` conditioned on ``histogram_model`` (default: the installed histogram model) when it exists."""
    try:
        source = find_model_dir(histogram_model or HISTOGRAM)
    except ColorStudioError:
        if histogram_model is not None:
            raise
        return base, None
    return histogram_conditioned_config(source, base), source


def train_pixcolor(
    data_paths: Sequence[str | Path],
    out_dir: str | Path = "runs/pixcolor",
    steps: int = PixColorTrainSettings.steps,
    resume: bool = False,
    config: PixColorConfig | None = None,
    settings: PixColorTrainSettings | None = None,
    limit: int | None = None,
    progress=None,
    cancel=None,
    histogram_model: str | Path | None = None,
    init_model: str | Path | None = None,
):
    """Train PixColor with the shared loop; checkpoints and ``log.jsonl`` go to ``out_dir``.

    On resume the configuration stored in ``out_dir/model_config.json`` wins over ``config``. With
    ``config.conditioning == HISTOGRAM_CONDITIONING`` a new run starts its frozen encoder from the trained
    ``histogram_model`` (a model name or folder; see :func:`histogram_conditioned_config`). Without a
    ``config`` (``colorstudio train pixcolor``) the installed ``histogram`` model conditions the new
    network when there is one, else the conditioning net is trained from scratch. ``init_model`` (an
    installed PixColor of the same architecture) gives a new run its starting weights, all but the frozen
    histogram copy, so a run can build on a newer histogram model without starting over. Returns the
    loop's ``TrainResult``.
    """
    s = replace(settings or PixColorTrainSettings(), steps=steps)
    out_dir = prepare_run_dir(out_dir)
    if config is None:
        config, histogram_model = _default_config(histogram_model)
    config = resolve_config_on_resume(out_dir, config, PixColorConfig, resume)
    dataset = training_dataset(data_paths, s, limit)
    model = PixColor(config)
    if histogram_model is not None and not resume and config.conditioning != HISTOGRAM_CONDITIONING:
        raise ColorStudioError("this PixColor config is not conditioned on a histogram network", histogram_model)
    extra = frozen_histogram_run_info(getattr(model.conditioning, "encoder", None), histogram_model, out_dir, resume)
    extra |= warm_start_run_info(model, init_model, out_dir, resume, keep_prefixes=(FROZEN_ENCODER_PREFIX,),
                                 fresh_on_resize=(ADAPTER_INPUT_PREFIX,))
    return start_training(model, dataset, config, s, data_paths, out_dir, resume, progress=progress, cancel=cancel,
                          **extra)


# ---------------------------------------------------------------------------------------------- CLI
def add_options(p) -> None:
    """PixColor's own options of ``colorstudio train pixcolor``."""
    p.add_argument("--channels", type=int, default=DEFAULT_CONFIG.pixelcnn_channels, help="PixelCNN width")
    p.add_argument("--blocks", type=int, default=DEFAULT_CONFIG.pixelcnn_blocks, help="PixelCNN block pairs")
    p.add_argument("--cond-width", type=int, default=DEFAULT_CONFIG.cond_width, help="conditioning net width")
    p.add_argument("--refine-width", type=int, default=DEFAULT_CONFIG.refine_width, help="refinement net width")
    p.add_argument("--conditioning", choices=CONDITIONINGS, default=None,
                   help="own: conditioning net from scratch; histogram: the trained --histogram-model, frozen "
                        "(default: histogram when that model is installed, else own)")
    p.add_argument("--histogram-model", default=None,
                   help=f"histogram model name or folder to condition on (default: the installed {HISTOGRAM!r})")
    p.add_argument("--p-no-hints", type=float, default=None,
                   help=f"fraction of training images without simulated hints (default: --init's, else "
                        f"{DEFAULT_CONFIG.p_no_hints}); a resumed run keeps its own")
    p.add_argument("--refine-hints", action=argparse.BooleanOptionalAction, default=None,
                   help="the refinement net also sees the hints' colours (default: --init's, else "
                        f"{DEFAULT_CONFIG.refine_hints}); --init of a model without it starts the branch at zero")
    p.add_argument("--eval-samples", type=int, default=8, help="samples per image for --eval-only")
    p.add_argument("--eval-hints", default="0,10", help="sweep hint counts, e.g. 0,10")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature for --eval-only")


def _config_from_args(args: argparse.Namespace) -> tuple[PixColorConfig, str | Path | None]:
    """The run's architecture and the histogram model it is conditioned on (None: its own conditioning net)."""
    histogram_model = args.histogram_model or HISTOGRAM
    if args.init:
        config = _config_of_init_model(args.init, histogram_model)
    else:
        base = replace(DEFAULT_CONFIG, pixelcnn_channels=args.channels, pixelcnn_blocks=args.blocks,
                       cond_width=args.cond_width, refine_width=args.refine_width)
        if args.conditioning is None:  # the installed histogram model when there is one
            config, source = _default_config(args.histogram_model, base)
            histogram_model = source or histogram_model
        elif args.conditioning == HISTOGRAM_CONDITIONING:
            config = histogram_conditioned_config(histogram_model, base)
        else:
            config = base
    if args.p_no_hints is not None:
        config = replace(config, p_no_hints=args.p_no_hints)
    if args.refine_hints is not None:
        config = replace(config, refine_hints=args.refine_hints)
    return config, histogram_model if config.conditioning == HISTOGRAM_CONDITIONING else None


def _train(args: argparse.Namespace):
    settings = settings_from_args(PixColorTrainSettings, args)
    config, histogram_model = _config_from_args(args)
    return train_pixcolor(args.data, args.run_dir, settings.steps, args.resume, config, settings, args.limit,
                          histogram_model=histogram_model, init_model=args.init)


def _evaluate(args: argparse.Namespace) -> dict[str, Any]:
    return evaluate_checkpoint(args.eval_only, args.val, args.eval_limit, args.eval_samples,
                               parse_hint_counts(args.eval_hints), temperature=args.temperature)


def _measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    config, _ = _config_from_args(args)
    return [{"channels": args.channels, "blocks": args.blocks,
             **measure_cost(config, args.crop, args.batch_size, threads=args.threads)}]


TRAINER = Trainer(settings=PixColorTrainSettings(), add_options=add_options, train=_train,
                  export=export_pixcolor_model, evaluate=_evaluate, measure=_measure, eval_limit=50)


def main(argv: list[str] | None = None) -> int:
    """``python -m colorstudio.training.train_pixcolor``: an alias of ``colorstudio train pixcolor``."""
    return command.main(FAMILY, TRAINER, argv, prog="python -m colorstudio.training.train_pixcolor",
                        description=__doc__.split("\n")[0])


if __name__ == "__main__":
    sys.exit(main())
