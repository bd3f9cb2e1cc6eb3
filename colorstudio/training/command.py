"""The one training front door: ``colorstudio train FAMILY --data ... [options]``.

A family declares its :class:`Trainer` (its own options, how they train, export, evaluate and measure);
this module adds the options every family shares and runs the one the command line asks for. The
``python -m colorstudio.training.train_<family>`` modules are thin aliases of the same front door.

Shared options: ``--data`` (folders/tars of training photos, never ``val/``), ``--run-dir`` (checkpoints,
default ``runs/FAMILY``), ``--out`` (a model folder to export to when training ends; a bare NAME goes to
the user's models folder), ``--steps``, ``--resume``, ``--init MODEL``, the settings options (``--crop``,
``--batch-size``, ``--lr``, ``--checkpoint-every``, ``--log-every``, ``--threads``, ``--device``),
``--limit``, and the other actions: ``--export MODEL_DIR`` (export the run and stop), ``--eval-only CKPT
--val DATA [--eval-limit N]`` and ``--measure``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import torch

from colorstudio.errors import ColorStudioError
from colorstudio.models.registry import ModelCard, default_models_dir
from colorstudio.training.data import refuse_validation_source
from colorstudio.training.loop import TrainResult, TrainSettings

__all__ = [
    "DefaultsHelpFormatter",
    "Trainer",
    "add_train_arguments",
    "build_parser",
    "main",
    "parse_hint_counts",
    "run",
    "settings_from_args",
]

SettingsT = TypeVar("SettingsT", bound=TrainSettings)

# command-line option (argparse dest) -> settings field it overrides
_SETTINGS_OF_OPTIONS = {
    "steps": "steps", "batch_size": "batch_size", "crop": "crop", "lr": "lr", "checkpoint_every": "checkpoint_every_s",
    "log_every": "log_every", "threads": "threads", "device": "device",
}


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Help that ends with each option's default, where it has one."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.option_strings and action.default not in (None, False, argparse.SUPPRESS) and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


@dataclass(frozen=True)
class Trainer:
    """How ``colorstudio train FAMILY`` trains one family; the family declares it (:mod:`colorstudio.families`).

    ``settings``: the defaults the shared options show (None: chosen later, e.g. by a preset).
    ``add_options(parser)``: the family's own options. ``train(args)``: train with the parsed options
    (``args.run_dir`` is resolved); returns the loop's result. ``export(run_dir, model_dir)``: the run's
    latest EMA weights to a model folder with its card. ``evaluate(args)`` (``--eval-only``) and
    ``measure(args)`` (``--measure``) return JSON-ready reports (one per line for ``measure``).
    ``run_dir(args)``: the default run folder (else ``runs/FAMILY``). ``crop``: whether ``--crop`` is an
    option. ``eval_limit``: the default of ``--eval-limit``.
    """

    settings: TrainSettings | None
    add_options: Callable[[Any], None]  # given an argparse group: add_argument(...) as on a parser
    train: Callable[[argparse.Namespace], TrainResult]
    export: Callable[[Path, Path], ModelCard]
    evaluate: Callable[[argparse.Namespace], dict[str, Any]] | None = None
    measure: Callable[[argparse.Namespace], Iterable[dict[str, Any]]] | None = None
    run_dir: Callable[[argparse.Namespace], Path] | None = None
    crop: bool = True
    eval_limit: int | None = 100


def add_train_arguments(parser: argparse.ArgumentParser, trainer: Trainer) -> None:
    """The shared options (defaults from ``trainer.settings``), then the family's own."""

    def default(field: str) -> Any:
        return None if trainer.settings is None else getattr(trainer.settings, field)

    run = parser.add_argument_group("run")
    run.add_argument("--data", type=Path, nargs="+", default=None,
                     help="training folders/tars of colour photos (never val/); required to train")
    run.add_argument("--run-dir", type=Path, default=None, help="checkpoint folder (default runs/FAMILY)")
    run.add_argument("--out", type=Path, default=None,
                     help="model folder to export to when training ends: a bare NAME goes to the user's models "
                          "folder (see `colorstudio models`)")
    run.add_argument("--steps", type=int, default=default("steps"), help="optimizer steps in all")
    run.add_argument("--resume", action="store_true", help="continue the run in --run-dir where it stopped")
    run.add_argument("--init", default=None, metavar="MODEL",
                     help="start a new run from this installed model's architecture and weights (same family)")
    run.add_argument("--limit", type=int, default=None, help="use at most this many training images")
    settings = parser.add_argument_group("settings")
    if trainer.crop:
        settings.add_argument("--crop", type=int, default=default("crop"), help="side of the training crops, pixels")
    settings.add_argument("--batch-size", type=int, default=default("batch_size"), help="images per step (per process)")
    settings.add_argument("--lr", type=float, default=default("lr"), help="peak learning rate (warmup, then cosine)")
    settings.add_argument("--checkpoint-every", type=float, default=default("checkpoint_every_s"), help="seconds")
    settings.add_argument("--log-every", type=int, default=default("log_every"), help="steps between log lines")
    settings.add_argument("--threads", type=int, default=default("threads"), help="torch threads")
    settings.add_argument("--device", default=default("device"), help="auto, cpu, cuda, cuda:N or mps")
    other = parser.add_argument_group("instead of training")
    other.add_argument("--export", type=Path, metavar="MODEL_DIR",
                       help="export the latest checkpoint of --run-dir to MODEL_DIR and stop")
    if trainer.evaluate is not None:
        other.add_argument("--eval-only", type=Path, metavar="CKPT", help="evaluate a checkpoint (run or step folder)")
        other.add_argument("--val", type=Path, default=None,
                           help="evaluation images (folder/tar, never trained on); required with --eval-only")
        other.add_argument("--eval-limit", type=int, default=trainer.eval_limit, help="evaluation images to use")
    if trainer.measure is not None:
        other.add_argument("--measure", action="store_true", help="print FLOPs and training images/s and stop")
    trainer.add_options(parser.add_argument_group("family options"))


def build_parser(family: str, trainer: Trainer, prog: str | None = None,
                 description: str | None = None) -> argparse.ArgumentParser:
    """A parser for ``colorstudio train FAMILY`` (used standalone by the module aliases)."""
    parser = argparse.ArgumentParser(prog=prog or f"colorstudio train {family}", description=description,
                                     formatter_class=DefaultsHelpFormatter)
    add_train_arguments(parser, trainer)
    return parser


def settings_from_args(settings: type[SettingsT] | SettingsT, args: argparse.Namespace) -> SettingsT:
    """``settings`` (a settings class, i.e. its defaults, or an instance such as a preset's) with the
    settings options that ``args`` holds; options that are None keep the settings' value."""
    base = settings() if isinstance(settings, type) else settings
    given = {field: getattr(args, dest, None) for dest, field in _SETTINGS_OF_OPTIONS.items()}
    return replace(base, **{field: value for field, value in given.items() if value is not None})


def parse_hint_counts(text: str) -> list[int]:
    """``"0,10"`` -> ``[0, 10]`` (the ``--eval-hints`` option; ``""`` -> none)."""
    try:
        return [int(n) for n in text.split(",") if n]
    except ValueError as exc:
        raise ColorStudioError(f"hint counts are comma-separated integers, got {text!r}") from exc


def _model_folder(out: Path) -> Path:
    return default_models_dir() / out if len(out.parts) == 1 else out


def run(family: str, trainer: Trainer, args: argparse.Namespace) -> int:
    """Carry out parsed ``colorstudio train FAMILY`` options; returns the exit status."""
    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    if trainer.measure is not None and args.measure:
        for report in trainer.measure(args):
            print(json.dumps(report))
        return 0
    if trainer.evaluate is not None and args.eval_only is not None:
        if args.val is None:
            raise ColorStudioError("--eval-only needs --val (a folder or tar of evaluation images)")
        print(json.dumps(trainer.evaluate(args)))
        return 0
    if not args.data:
        if args.export is None:
            raise ColorStudioError("training needs --data (folders or tar files of colour photos, never val/)")
    else:
        for path in args.data:
            if not path.exists():
                raise ColorStudioError("training data not found", path)
            refuse_validation_source(path)
    if args.run_dir is None:
        args.run_dir = trainer.run_dir(args) if trainer.run_dir is not None else Path("runs") / family
    if args.export is not None:
        print(json.dumps(trainer.export(args.run_dir, args.export).to_dict(), indent=1))
        return 0
    result = trainer.train(args)
    if os.environ.get("RANK", "0") != "0":
        return 1 if result.interrupted else 0  # under torchrun only rank 0 reports and exports
    print(f"trained to step {result.step} in {result.wall_time_s / 60:.1f} min; checkpoints in {args.run_dir}")
    if args.out is not None:
        out = _model_folder(args.out)
        card = trainer.export(args.run_dir, out)
        print(f"exported {card.name} to {out}")
    return 1 if result.interrupted else 0


def main(family: str, trainer: Trainer, argv: Sequence[str] | None = None, *, prog: str | None = None,
         description: str | None = None) -> int:
    """``colorstudio train FAMILY ARGV``, standalone (the ``python -m colorstudio.training.train_*`` aliases)."""
    args = build_parser(family, trainer, prog, description).parse_args(argv)
    try:
        return run(family, trainer, args)
    except ColorStudioError as exc:
        print(f"{prog or 'colorstudio train'}: error: {exc}", file=sys.stderr)
        return 2
