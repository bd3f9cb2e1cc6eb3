"""Train and quickly evaluate the histogram colorizer (:mod:`colorstudio.models.histogram`).

Entry points:
- :func:`train_histogram` (what ``colorstudio train histogram`` calls): data -> checkpoints in ``out_dir``
  through the shared loop :func:`colorstudio.training.loop.train` (AdamW, warmup + cosine, EMA,
  safetensors checkpoints every few minutes, ``resume``).
- :func:`export_histogram_model`: a run's EMA weights -> ``models/histogram/`` with its card.
- :func:`evaluate_model` (``--eval-only CKPT --val PATH``): automatic PSNR on N validation images (evenly
  spaced, :func:`colorstudio.evaluation.protocol.load_eval_set`) vs the gray and constant-tint baselines
  (DESIGN.md protocol: short side 256, centre crop, uint8 sRGB).
- :func:`measure_cost`: FLOPs per image and training images/s of a configuration.
- :data:`TRAINER`: what ``colorstudio train histogram --help`` lists and runs (``python -m
  colorstudio.training.train_histogram`` is an alias). Data are always given there, never assumed: ``--data``
  folders/tars of training photos to train, ``--val`` with ``--eval-only``.

On a shared CPU set ``OMP_WAIT_POLICY=PASSIVE`` in the environment before starting Python: with the
default (spinning) OpenMP threads, a 2-thread step was measured 5-20x slower when other processes
compete for the two cores.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from colorstudio.color import lab_to_rgb, normalize_ab, normalize_l, rgb_to_lab, to_uint
from colorstudio.errors import ColorStudioError
from colorstudio.evaluation.metrics import psnr
from colorstudio.evaluation.protocol import (
    EVAL_SIZE,
    TRAINING_MEDIAN_AB,
    constant_tint_baseline,
    gray_baseline,
    load_eval_set,
)
from colorstudio.models.encoder import PACKAGE, convert_package_weights, default_pretrained_path, load_pretrained_weights
from colorstudio.models.hint_sim import sweep_hints
from colorstudio.models.histogram import ENCODERS, FAMILY, HINT_POOLINGS, HistogramColorizer, HistogramConfig, decode_ab
from colorstudio.models.registry import sha256_file
from colorstudio.training import command
from colorstudio.training.checkpoint import load_checkpoint
from colorstudio.training.command import Trainer, parse_hint_counts, settings_from_args
from colorstudio.training.family import (  # noqa: F401  (MODEL_CONFIG_JSON re-exported)
    MODEL_CONFIG_JSON,
    export_run,
    forward_flops,
    load_run_model,
    median_train_step_s,
    open_run,
    prepare_run_dir,
    read_run_info,
    resolve_config_on_resume,
    run_card,
    start_training,
    training_dataset,
    warm_start_run_info,
)
from colorstudio.training.loop import TrainSettings

__all__ = [
    "HistogramTrainSettings",
    "train_histogram",
    "DEFAULT_CONFIG",
    "export_histogram_model",
    "predict_ab",
    "evaluate_model",
    "measure_cost",
    "load_checkpoint_model",
    "main",
    "TRAINER",
]

# The configuration chosen from the measurements in the model card: the ImageNet-trained encoder, a
# 128-channel hypercolumn and one residual block at 1/4 resolution, GroupNorm in the new layers.
# the encoder frozen: measured better on ImageNet's objects than fine-tuned at 0.1 x, and 1.5 x faster
DEFAULT_CONFIG = HistogramConfig(encoder="efficientnet_lite0", encoder_lr_scale=0.0, norm="group",
                                 hypercolumn_channels=128, head_blocks=1, hint_branch_channels=0,
                                 hint_attention_dim=32, p_no_hints=0.3)
# the trunk trained from scratch (the models before the encoder)
SCRATCH_CONFIG = HistogramConfig(width=32, stage_blocks=(0, 1, 2, 3), norm="group", hypercolumn_channels=256)


@dataclass(frozen=True)
class HistogramTrainSettings(TrainSettings):
    """The histogram family's defaults of :class:`~colorstudio.training.family.TrainSettings`."""

    steps: int = 6000
    batch_size: int = 32
    crop: int = 128
    # random-resized crops (side 50-100 % of the 128 px photo, resized to `crop`): scale augmentation that
    # spans the object sizes of 128 px training photos and of 256 px evaluation images
    crop_scale: tuple[float, float] | None = (0.5, 1.0)
    lr: float = 1e-3
    warmup: int = 200
    ema_decay: float = 0.998
    balance_sources: bool = True


# ---------------------------------------------------------------------------------------------- cost
def measure_cost(config: HistogramConfig, crop: int, batch_size: int = 16, steps: int = 5, threads: int = 2) -> dict[str, float]:
    """FLOPs per image (forward, at ``crop`` and at 256) and training images/s on this machine.

    Training speed is timed on random tensors with the real loss (hints off) after one warm-up step.
    """
    torch.set_num_threads(threads)
    model = HistogramColorizer(config)
    model.eval()
    flops = {side: forward_flops(lambda: model(torch.zeros(1, config.in_channels, side, side))) for side in (crop, 256)}
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    gen = torch.Generator().manual_seed(0)
    batch = {
        "L": torch.rand(batch_size, 1, crop, crop, generator=gen) * 2 - 1,
        "ab": torch.randn(batch_size, 2, crop, crop, generator=gen) * 0.2,
    }
    step_s = median_train_step_s(lambda: model.training_loss(batch, hints=False)[0], opt, steps)
    return {
        "params_M": sum(p.numel() for p in model.parameters()) / 1e6,
        "gflops_fwd_per_image_at_crop": flops[crop] / 1e9,
        "gflops_fwd_per_image_at_256": flops[256] / 1e9,
        "train_images_per_s": batch_size / step_s,
        "step_s": step_s,
    }


# ---------------------------------------------------------------------------------------------- eval
def _compose(L: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """L* (H, W) + a*b* (H, W, 2) -> uint8 sRGB (H, W, 3)."""
    return to_uint(lab_to_rgb(np.concatenate([L[..., None], ab], axis=-1).astype(np.float32)), 8)


@torch.no_grad()
def predict_ab(
    model: HistogramColorizer,
    L: np.ndarray,
    work_size: int | None = None,
    hint: np.ndarray | None = None,
    device: torch.device = torch.device("cpu"),
    mode: str = "median",
) -> np.ndarray:
    """a*b* (H, W, 2) for an L* image (H, W): network at ``work_size`` (None = as given), 1/4-res
    distributions decoded, bilinearly upsampled to (H, W). (The app composites with the guided filter.)

    ``hint``: optional (3, H, W) = (ab_norm * mask, mask) channels, resized with nearest neighbours.
    ``mode``: :func:`decode_ab` mode (``median`` = Larsson, ``mean`` = expected a*b*).
    """
    x = torch.from_numpy(normalize_l(L.astype(np.float32)))[None, None].to(device)
    h = None if hint is None else torch.from_numpy(np.ascontiguousarray(hint, dtype=np.float32))[None].to(device)
    if work_size is not None and work_size != L.shape[0]:
        x = F.interpolate(x, size=(work_size, work_size), mode="area" if work_size < L.shape[0] else "bilinear")
        h = None if h is None else F.interpolate(h, size=(work_size, work_size), mode="nearest")
    hue, chroma = model.predict_distributions(x, h)
    ab = decode_ab(hue, chroma, mode=mode)  # (1, 2, h, w)
    ab = F.interpolate(ab, size=L.shape, mode="bilinear", align_corners=False)
    return ab[0].permute(1, 2, 0).cpu().numpy()


def evaluate_model(
    model: HistogramColorizer,
    val_path: str | Path,
    limit: int = 100,
    tint_ab: tuple[float, float] | None = None,
    work_sizes: Iterable[int | None] = (None,),
    hint_counts: Iterable[int] = (),
    modes: Iterable[str] = ("median",),
) -> dict[str, Any]:
    """Mean PSNR (dB, uint8 sRGB) of the model (automatic, and with Zhang et al. sweep hints for each
    count in ``hint_counts``) vs gray (and constant tint when given), on ``limit`` images of ``val_path``
    spread evenly through the sorted set (the protocol's :func:`load_eval_set`)."""
    model.eval()
    work_sizes, hint_counts, modes = list(work_sizes), list(hint_counts), list(modes)
    scores: dict[str, list[float]] = {"gray": [], **({"tint": []} if tint_ab else {})}
    for index, (_, gt) in enumerate(load_eval_set(val_path, limit, size=EVAL_SIZE)):
        lab = rgb_to_lab(gt.astype(np.float32) / 255.0)
        L = lab[..., 0]
        scores["gray"].append(psnr(gt, gray_baseline(gt)))
        if tint_ab:
            scores["tint"].append(psnr(gt, constant_tint_baseline(gt, tint_ab)))
        for ws, mode in itertools.product(work_sizes, modes):
            name = f"model@{ws or 'native'}/{mode}"
            scores.setdefault(name, []).append(psnr(gt, _compose(L, predict_ab(model, L, ws, mode=mode))))
            for n in hint_counts:
                hint_ab, mask = sweep_hints(np.moveaxis(normalize_ab(lab[..., 1:]), -1, 0), n, seed=index)
                hint = np.concatenate([hint_ab, mask], axis=0)
                scores.setdefault(f"{name}+{n}hints", []).append(psnr(gt, _compose(L, predict_ab(model, L, ws, hint, mode=mode))))
    report = {k: float(np.mean(v)) for k, v in scores.items()}
    report["images"] = len(scores["gray"])
    return report


# ---------------------------------------------------------------------------------------------- checkpoints
def load_checkpoint_model(path: str | Path, use_ema: bool = True) -> HistogramColorizer:
    """A model (eval mode) from a training checkpoint: a run folder (latest checkpoint) or a step folder."""
    return load_run_model(path, HistogramConfig, HistogramColorizer, use_ema)


def export_histogram_model(run_dir: str | Path, out_dir: str | Path = "models/histogram", card_updates: dict[str, Any] | None = None):
    """Copy a run's latest EMA weights to a model folder with a card (family, config, data, steps...).

    Evaluation numbers are added by the caller (``card_updates={"evaluation": ..., "eval_command": ...}``).
    """
    run = open_run(run_dir)
    # the network sees the long side at 128 px (the training photos' scale); measured better than 256
    card = {**run_card(run, FAMILY, working_resolution=128), **(card_updates or {})}
    return export_run(run, out_dir, card)


# ---------------------------------------------------------------------------------------------- training
def train_histogram(
    data_paths: Sequence[str | Path],
    out_dir: str | Path = "runs/histogram",
    steps: int = HistogramTrainSettings.steps,
    resume: bool = False,
    config: HistogramConfig = DEFAULT_CONFIG,
    settings: HistogramTrainSettings | None = None,
    limit: int | None = None,
    progress=None,
    cancel=None,
    init: str | Path | None = None,
    reset_encoder: bool = False,
):
    """Train the histogram colorizer with the shared loop; checkpoints and ``log.jsonl`` go to ``out_dir``.

    On resume the configuration stored in ``out_dir/model_config.json`` wins over ``config``. With ``init``,
    ``reset_encoder`` puts the encoder back to its ImageNet weights and keeps the rest of the warm start
    (a frozen-encoder run on a trained head). Returns the loop's ``TrainResult``.
    """
    if reset_encoder and init is None and not resume:
        raise ColorStudioError("--reset-encoder: needs --init (a new run already starts from the ImageNet weights)")
    s = replace(settings or HistogramTrainSettings(), steps=steps)
    out_dir = prepare_run_dir(out_dir)
    config = resolve_config_on_resume(out_dir, config, HistogramConfig, resume)
    dataset = training_dataset(data_paths, s, limit)
    model = HistogramColorizer(config)
    # a reset encoder is not taken from the warm start, so its head may be one the source model lacked
    info = warm_start_run_info(model, init, out_dir, resume, keep_prefixes=("encoder.",) if reset_encoder else ())
    info.update(pretrained_encoder_run_info(model, out_dir, resume or (init is not None and not reset_encoder)))
    return start_training(model, dataset, config, s, data_paths, out_dir, resume, progress=progress, cancel=cancel,
                          **info)


def pretrained_encoder_run_info(model: HistogramColorizer, out_dir: Path, weights_given: bool) -> dict[str, Any]:
    """A new run on the encoder starts from its ImageNet weights (converted once, see
    :mod:`colorstudio.models.encoder`); the ``run_info.json`` entry names them. A resumed or warm-started
    run takes every weight from its checkpoint or model and keeps its own entry."""
    if model.config.encoder == "none":
        return {}
    if weights_given:
        previous = read_run_info(out_dir).get("encoder_pretrained")
        return {"encoder_pretrained": previous} if previous else {}
    path = default_pretrained_path()
    if not path.is_file():  # the one conversion, on first use
        convert_package_weights(path)
    load_pretrained_weights(model.encoder, path)
    return {"encoder_pretrained": {"source": PACKAGE, "weights_sha256": sha256_file(path)}}


# ---------------------------------------------------------------------------------------------- CLI
def add_options(p) -> None:
    """The histogram family's own options of ``colorstudio train histogram``."""
    p.add_argument("--encoder", default=DEFAULT_CONFIG.encoder, choices=ENCODERS,
                   help="the trunk: the ImageNet-trained encoder, or 'none' to train one from scratch")
    p.add_argument("--encoder-lr-scale", type=float, default=DEFAULT_CONFIG.encoder_lr_scale,
                   help="the encoder's learning rate relative to --lr (0 = frozen)")
    p.add_argument("--encoder-frozen-blocks", type=int, default=DEFAULT_CONFIG.encoder_frozen_blocks,
                   help="partly frozen: the stem and this many of the encoder's 16 blocks keep their ImageNet "
                        "weights; the rest learn at --encoder-lr-scale")
    p.add_argument("--reset-encoder", action="store_true",
                   help="with --init: the encoder starts again from its ImageNet weights (the head is kept)")
    p.add_argument("--encoder-head", action="store_true",
                   help="also the encoder's ImageNet head (1280 channels, what its classifier reads) in the hypercolumn")
    p.add_argument("--hypercolumn-channels", type=int, default=DEFAULT_CONFIG.hypercolumn_channels, help="width of h_fc1")
    p.add_argument("--head-blocks", type=int, default=DEFAULT_CONFIG.head_blocks,
                   help="residual blocks after the hypercolumn, at 1/4 resolution")
    p.add_argument("--hint-stem", action="store_true", help="also add the hints to the encoder's stem output")
    p.add_argument("--hint-branch-channels", type=int, default=DEFAULT_CONFIG.hint_branch_channels,
                   help="width of the hint branch injected into the encoder (0 = none)")
    p.add_argument("--hint-attention-dim", type=int, default=DEFAULT_CONFIG.hint_attention_dim,
                   help="query/key width of the hint attention that carries hints over their objects (0 = off)")
    p.add_argument("--hint-pooling", default=DEFAULT_CONFIG.hint_pooling, choices=HINT_POOLINGS,
                   help="how an attended hint enters a cell's distributions: mixture, or product (neighbours of a "
                        "hint grow more certain)")
    p.add_argument("--p-no-hints", type=float, default=DEFAULT_CONFIG.p_no_hints,
                   help="share of training images without simulated hints")
    p.add_argument("--no-balance", action="store_true", help="train on the sources' own mix instead of equal shares")
    p.add_argument("--width", type=int, default=SCRATCH_CONFIG.width, help="scratch trunk width (--encoder none)")
    p.add_argument("--norm", default=DEFAULT_CONFIG.norm, choices=("batch", "group", "none"), help="normalization layers")
    p.add_argument("--eval-sizes", default="native,128", help="working sizes for --eval-only, e.g. native,128")
    p.add_argument("--eval-modes", default="median,mean", help="decode modes for --eval-only (median, mean)")
    p.add_argument("--eval-hints", default="", help="sweep hint counts for --eval-only, e.g. 1,10")


def _train(args: argparse.Namespace):
    settings = replace(settings_from_args(HistogramTrainSettings, args), balance_sources=not args.no_balance)
    return train_histogram(args.data, args.run_dir, settings.steps, args.resume, _config_from_args(args), settings,
                           args.limit, init=args.init, reset_encoder=args.reset_encoder)


def _evaluate(args: argparse.Namespace) -> dict[str, Any]:
    sizes = [None if s == "native" else int(s) for s in args.eval_sizes.split(",")]
    counts = parse_hint_counts(args.eval_hints)
    report = evaluate_model(load_checkpoint_model(args.eval_only), args.val, args.eval_limit, TRAINING_MEDIAN_AB, sizes,
                            counts, args.eval_modes.split(","))
    report["step"] = load_checkpoint(args.eval_only).step
    report["tint_ab"] = list(TRAINING_MEDIAN_AB)
    return report


def _measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    cfg = _config_from_args(args)
    return [{**cfg.to_dict(), "crop": args.crop, "batch": args.batch_size,
             **measure_cost(cfg, args.crop, args.batch_size, threads=args.threads)}]


def _config_from_args(args: argparse.Namespace) -> HistogramConfig:
    base = DEFAULT_CONFIG if args.encoder != "none" else SCRATCH_CONFIG
    return replace(base, encoder=args.encoder, encoder_lr_scale=args.encoder_lr_scale, norm=args.norm,
                   hypercolumn_channels=args.hypercolumn_channels, head_blocks=args.head_blocks, width=args.width,
                   hint_stem=args.hint_stem, p_no_hints=args.p_no_hints,
                   hint_branch_channels=args.hint_branch_channels, hint_attention_dim=args.hint_attention_dim,
                   hint_pooling=args.hint_pooling, encoder_head=args.encoder_head,
                   encoder_frozen_blocks=args.encoder_frozen_blocks)


TRAINER = Trainer(settings=HistogramTrainSettings(), add_options=add_options, train=_train,
                  export=export_histogram_model, evaluate=_evaluate, measure=_measure)


def main(argv: list[str] | None = None) -> int:
    """``python -m colorstudio.training.train_histogram``: an alias of ``colorstudio train histogram``."""
    return command.main(FAMILY, TRAINER, argv, prog="python -m colorstudio.training.train_histogram",
                        description=__doc__.split("\n")[0])


if __name__ == "__main__":
    sys.exit(main())
