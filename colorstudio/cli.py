"""`colorstudio` command line: a thin layer that parses into the engine's dataclasses and calls it.

Models and families come from the families' registry (:mod:`colorstudio.families`); nothing here names one.
"""

from __future__ import annotations

import os

# Spinning OpenMP threads made 2-thread torch steps 5-20x slower whenever anything else wanted a core
# (the GUI thread, a second job); it must be set before torch is first imported, which the imports below do.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import contextlib
import difflib
import multiprocessing
import re
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import torch

from colorstudio import __version__
from colorstudio.bench import run_bench
from colorstudio.color import to_uint
from colorstudio.devices import resolve_device
from colorstudio.engine.batch import check_no_overwrites, colorize_files, plan_batch
from colorstudio.engine.limits import MAX_SAMPLES
from colorstudio.engine.pipeline import (
    ORDERS,
    Colorizer,
    ColorizeRequest,
    HueBias,
    ReferenceSettings,
    predict_full_resolution,
)
from colorstudio.errors import CancelledError, ColorStudioError
from colorstudio.evaluation.protocol import evaluate, format_table, load_eval_set, merge_reports, write_json
from colorstudio.families import DEFAULT_MODEL, REGISTRY, Family
from colorstudio.models.registry import default_temperature, default_truncation, models_dirs, scan_models
from colorstudio.training import command as train_command
from colorstudio.training.data import evaluation_dataset

__all__ = ["main", "build_parser"]

COMMANDS = ("gui", "colorize", "evaluate", "train", "models", "bench")
_DEVICE_NAME = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
DEVICE_HELP = "auto (CUDA, then MPS, then CPU; the default), cpu, cuda, cuda:N or mps"
TRUNCATION_HELP = ("logistic-mixture samplers (PIC): sample each logistic within its central quantiles [T, 1 - T], "
                   "0 <= T < 0.5 (default: the model card's choice, else 0 = off)")
MIN_WEIGHT_HELP = ("logistic-mixture samplers (PIC): drop the mixture components whose weight (after the temperature) "
                   "is below W, 0 <= W < 1; the heaviest always stays. Removes outlier colours (default: the model "
                   "card's choice, else 0 = off)")


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line usage error that says where to look, instead of the whole usage text."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _device(text: str) -> str:
    name = text.strip().lower()
    if _DEVICE_NAME.fullmatch(name) is None:
        raise argparse.ArgumentTypeError(f"unknown device {text!r}: use {DEVICE_HELP}")
    return name


class _Terminated(KeyboardInterrupt):
    """SIGTERM as an exception: the work unwinds as on Ctrl+C, and temporary files are removed."""


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """Turn the first SIGTERM into :class:`_Terminated` (a second one ends the process as usual)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set in the main thread
        return
    previous = signal.getsignal(signal.SIGTERM)

    def handler(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise _Terminated()

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="colorstudio", description="Colorize grayscale photographs with local models.")
    parser.add_argument("--version", action="version", version=f"colorstudio {__version__}")
    sub = parser.add_subparsers(dest="command")

    gui = sub.add_parser("gui", help="open the desktop application")
    gui.add_argument("file", nargs="?", help="image or *.colorstudio.json session to open")

    col = sub.add_parser(
        "colorize", help="colorize images and write PNG/TIFF",
        description="Colorize images. Nothing the command reads (inputs, hints, reference) is ever written "
                    "over: such a run is refused before any model time is spent.")
    col.add_argument("inputs", nargs="+", type=Path, help="image files or folders")
    col.add_argument("-o", "--output", type=Path, required=True, metavar="OUT", help="output file (one input) or folder")
    col.add_argument("--model", default=None,
                     help=f"model name from `colorstudio models` (default: {DEFAULT_MODEL} if installed)")
    col.add_argument("--samples", type=int, default=1, metavar="N",
                     help=f"samples per input, 1 to {MAX_SAMPLES} (models that draw samples, see `colorstudio "
                          "models`); "
                          "several are written as NAME_s0 ... NAME_s{N-1}, the most plausible first for models "
                          "that rank their samples (see --order; default 1)")
    col.add_argument("--seed", type=int, default=0, metavar="S",
                     help="first seed, 0 or more; sample k uses seed + k, and the same seed and options give "
                          "the same bytes (default 0)")
    col.add_argument("--temperature", type=float, default=None, metavar="T",
                     help="sampling temperature, a positive number (default: the one the model's card recommends, else 1)")
    col.add_argument("--sampler", choices=("fast", "naive"), default="fast",
                     help="PixelCNN sampler: fast (cached; the default) or naive (a full pass per pixel, slow); "
                          "both give the same samples")
    col.add_argument("--order", choices=ORDERS, default="plausibility",
                     help="order of several samples: plausibility (the default: _s0 is the sample the model's "
                          "histogram network finds most plausible, for models that rank) or seed (_sK has seed S + K); "
                          "the log names each file's seed and score")
    col.add_argument("--truncation", type=float, default=None, metavar="T", help=TRUNCATION_HELP)
    col.add_argument("--min-weight", type=float, default=None, metavar="W", help=MIN_WEIGHT_HELP)
    col.add_argument("--hints", type=Path, metavar="HINTS", help="hints file, or a folder of <stem>.hints.json")
    col.add_argument("--reference", type=Path, metavar="REF_IMAGE", help="reference image whose colours to transfer")
    col.add_argument("--reference-strength", type=float, default=1.0, metavar="X",
                     help="0 or more (default 1; 0 = off): energy method: lambda of Larsson et al. eq. 6, "
                          "useful from 0.1 to 10; quantile method: blend from 0 to 1 (more acts as 1)")
    col.add_argument("--reference-method", choices=("energy", "quantile"), default=None,
                     help="energy minimization (models that predict colour histograms; their default) or quantile "
                          "matching (any model; the default of the others)")
    col.add_argument("--hue-shift", type=float, default=None, metavar="DEG",
                     help="bias toward hue DEG (a Lab hue angle: 0 red, 90 yellow, 180 green, 270 blue; histogram "
                          "models): uncertain pixels move toward that hue, confident ones barely; not a rotation "
                          "of every hue")
    col.add_argument("--hue-strength", type=float, default=1.0, metavar="X",
                     help="hue-bias strength from 0 to 10 (default 1; 0 = off); used with --hue-shift")
    col.add_argument("--uncertainty", type=Path, metavar="MAP",
                     help="write the uncertainty map (a .png file; a folder for several inputs); models that predict "
                          "colour histograms")
    col.add_argument("--format", choices=("png", "tiff"), default=None,
                     help="png or tiff; default: from the output file's extension (.png, .tif, .tiff), png for a "
                          "folder. An extension that names another format (e.g. -o out.jpg) is refused, so a "
                          "file's bytes always match its name")
    col.add_argument("--bit-depth", type=int, choices=(8, 16), default=8, help="bits per channel (default 8)")
    col.add_argument("--device", type=_device, default="auto", metavar="DEVICE", help=DEVICE_HELP)

    ev = sub.add_parser("evaluate", help="evaluate a model with the project's protocol")
    ev.add_argument("data", type=Path, help="folder or tar of ground-truth colour images")
    ev.add_argument("--model", default=None)
    ev.add_argument("--hints-sweep", default="0", help="comma-separated hint counts, e.g. 0,1,2,5,10,20")
    ev.add_argument("--samples", type=int, default=1)
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--temperature", type=float, default=None,
                    help="sampling temperature (default: the one the model's card recommends, else 1)")
    ev.add_argument("--order", choices=ORDERS, default="plausibility",
                    help="which sample is sample 0 (PSNR, SSIM, ... columns): the most plausible (the default, as "
                         "colorize writes _s0) or seed S's")
    ev.add_argument("--truncation", type=float, default=None, metavar="T", help=TRUNCATION_HELP)
    ev.add_argument("--min-weight", type=float, default=None, metavar="W", help=MIN_WEIGHT_HELP)
    ev.add_argument("--limit", type=int, default=None)
    ev.add_argument("--size", type=int, default=256, help="evaluation crop size (32 for CIFAR)")
    ev.add_argument("--json", type=Path, default=None)
    ev.add_argument("--reference-gt", action="store_true",
                    help="also score reference transfer with each ground-truth image as its own reference")
    ev.add_argument("--reference-strength", type=float, default=1.0)
    ev.add_argument("--reference-method", choices=("energy", "quantile"), default=None)
    ev.add_argument("--device", type=_device, default="auto", help=DEVICE_HELP)
    ev.add_argument("--jobs", type=int, default=1, help="evaluate in this many processes (one CPU thread each)")

    _add_train_parser(sub)

    sub.add_parser("models", help="list installed models and their cards")

    bench = sub.add_parser("bench", help="speed and memory figures")
    bench.add_argument("what", nargs="*", default=[], help="benchmarks to run (default: all)")
    bench.add_argument("--repeats", type=int, default=5)
    bench.add_argument("--list", action="store_true", help="list the benchmarks")
    return parser


def _add_train_parser(sub: Any) -> None:
    """``colorstudio train FAMILY [options]``: one subcommand per trainable family, each with the shared
    options and its own; ``colorstudio train --help`` lists them all."""
    trainable = REGISTRY.trainable()
    tr = sub.add_parser("train", help="train a model family on folders or tar files of photos",
                        description="Train a model family on folders or tar files of colour photos. "
                                    "`colorstudio train FAMILY --help` explains each option.",
                        epilog=_train_epilog(trainable), formatter_class=argparse.RawDescriptionHelpFormatter)
    families = tr.add_subparsers(dest="family", metavar="FAMILY", required=True)
    for family in trainable:
        assert family.trainer is not None  # trainable() keeps only these
        fp = families.add_parser(family.name, help=family.description, description=family.description,
                                 formatter_class=train_command.DefaultsHelpFormatter)
        train_command.add_train_arguments(fp, family.trainer)


def _train_epilog(trainable: Sequence[Family]) -> str:
    """Every option of every family, for `colorstudio train --help`: the shared ones, then each family's own."""
    options = {family.name: _option_strings(family) for family in trainable}
    shared = set.intersection(*options.values()) if options else set()
    lines = ["options of every family:", "  " + " ".join(sorted(shared))]
    for family in trainable:
        lines += [f"options of {family.name} (`colorstudio train {family.name} --help`):",
                  "  " + " ".join(sorted(options[family.name] - shared))]
    return "\n".join(lines)


def _option_strings(family: Family) -> set[str]:
    """The long options ``colorstudio train FAMILY`` takes."""
    assert family.trainer is not None
    parser = argparse.ArgumentParser(add_help=False)
    train_command.add_train_arguments(parser, family.trainer)
    return {option for action in parser._actions for option in action.option_strings if option.startswith("--")}


def _normalize_argv(argv: list[str]) -> list[str]:
    """`colorstudio FILE` and a bare `colorstudio` open the GUI; `colorstudio help [COMMAND]` is --help.
    A first word that is neither a command nor an existing file is a typo, not a file for the GUI."""
    if not argv:
        return ["gui"]
    first = argv[0]
    if first in COMMANDS or first.startswith("-"):
        return argv
    if first == "help":
        return [argv[1], "--help"] if len(argv) > 1 and argv[1] in COMMANDS else ["--help"]
    if os.path.lexists(first):
        return ["gui", *argv]
    close = difflib.get_close_matches(first, [*COMMANDS, "help"], n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}?" if close else f"commands: {', '.join(COMMANDS)}"
    raise ColorStudioError(f"{first!r} is neither a command nor an existing file; {hint}")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        argv = _normalize_argv(list(sys.argv[1:] if argv is None else argv))
    except ColorStudioError as exc:
        print(f"colorstudio: error: {exc}", file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    # Only colorize writes user-visible files; the GUI and training handle SIGTERM themselves, and
    # evaluate --jobs would wait for its worker processes instead of ending.
    unwind = _sigterm_unwinds() if args.command == "colorize" else contextlib.nullcontext()
    try:
        with unwind:
            return _dispatch(args)
    except CancelledError:
        print("colorstudio: cancelled", file=sys.stderr)
        return 130
    except _Terminated:
        print("colorstudio: terminated; no partial output was left", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("colorstudio: interrupted", file=sys.stderr)
        return 130
    except ColorStudioError as exc:
        print(f"colorstudio: error: {exc}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "gui":
        from colorstudio.gui.app import run  # deferred: Qt (PySide6) loads only for the GUI, and may be missing

        return run(args.file)
    if args.command == "colorize":
        return _run_colorize(args)
    if args.command == "evaluate":
        return _run_evaluate(args)
    if args.command == "train":
        return _run_train(args)
    if args.command == "models":
        return _run_models()
    if args.command == "bench":
        if args.repeats < 1:
            raise ColorStudioError(f"--repeats must be at least 1, got {args.repeats}")
        return run_bench(args.what, repeats=args.repeats, list_only=args.list)
    raise AssertionError(args.command)


def _default_model(requested: str | None) -> str:
    if requested is not None:
        if not requested.strip():
            raise ColorStudioError("--model needs a model name (see `colorstudio models`)")
        return requested
    return REGISTRY.default_model(REGISTRY.available_model_names())


def _temperature(requested: float | None, colorizer: Colorizer) -> float:
    """``--temperature``, else the model card's recommendation (1 for cards without one)."""
    return requested if requested is not None else default_temperature(colorizer.card)


def _truncation(args: argparse.Namespace, colorizer: Colorizer) -> tuple[float | None, float | None]:
    """(``--truncation``, ``--min-weight``), each else the model card's choice for samplers that truncate
    (None for the others, which refuse them)."""
    if not colorizer.capabilities.truncation:
        if args.truncation is not None or args.min_weight is not None:
            raise ColorStudioError(f"--truncation and --min-weight are settings of logistic-mixture samplers; model "
                                   f"{colorizer.name!r} has none (see `colorstudio models`)")
        return None, None
    card = default_truncation(colorizer.card)
    return (card.tail if args.truncation is None else args.truncation,
            card.min_weight if args.min_weight is None else args.min_weight)


def _reference_method(requested: str | None, colorizer: Colorizer) -> str:
    """``--reference-method``, else the model's own default (energy minimization where it predicts
    histograms, quantile matching elsewhere)."""
    return requested or colorizer.capabilities.reference_methods[0]


def _hue_bias(args: argparse.Namespace) -> HueBias:
    """``--hue-shift DEG --hue-strength X`` as the GUI's hue bias (strength 0, off, without --hue-shift)."""
    bias = HueBias(0.0 if args.hue_shift is None else args.hue_shift, args.hue_strength)  # both checked here
    return bias if args.hue_shift is not None else replace(bias, strength=0.0)


def _check_capabilities(args: argparse.Namespace, colorizer: Colorizer) -> None:
    """Refuse, naming the flag, what the model cannot do (asked for at all, even at strength 0)."""
    capabilities = colorizer.capabilities
    if args.hue_shift is not None and not capabilities.hue_bias:
        raise ColorStudioError(f"--hue-shift needs a model that predicts colour histograms; model {colorizer.name!r} "
                               "does not (see `colorstudio models`)")
    if args.reference is not None and args.reference_method not in (None, *capabilities.reference_methods):
        raise ColorStudioError(f"--reference-method {args.reference_method} needs a model that predicts colour "
                               f"histograms; model {colorizer.name!r} does not (use --reference-method "
                               f"{capabilities.reference_methods[0]}, its default)")


def _run_colorize(args: argparse.Namespace) -> int:
    model = _default_model(args.model)
    # Options and files are checked before a model is loaded; the model's own defaults come after.
    request = ColorizeRequest(
        model=model, samples=args.samples, seed=args.seed,
        temperature=1.0 if args.temperature is None else args.temperature, sampler=args.sampler,
        order=args.order, truncation=args.truncation, min_weight=args.min_weight, hue_bias=_hue_bias(args),
        device=args.device,
        reference=ReferenceSettings(path=None if args.reference is None else str(args.reference),
                                    strength=args.reference_strength, method=args.reference_method or "quantile"),
    )
    plan = plan_batch(args.inputs, args.output, samples=args.samples, fmt=args.format, hints=args.hints,
                      reference=args.reference, uncertainty=args.uncertainty)
    colorizer = REGISTRY.load_colorizer(model, resolve_device(args.device))
    _check_capabilities(args, colorizer)
    truncation, min_weight = _truncation(args, colorizer)
    request = replace(request, temperature=_temperature(args.temperature, colorizer),
                      truncation=truncation, min_weight=min_weight,
                      reference=replace(request.reference, method=_reference_method(args.reference_method, colorizer)))
    written = colorize_files(plan, request, colorizer, bit_depth=args.bit_depth, log=lambda m: print(m, file=sys.stderr))
    for path in written:
        print(path)
    return 0


def _run_models() -> int:
    listed: set[str] = set()
    for folder in models_dirs():  # the first folder holding a name wins, as when loading
        print(f"models folder: {folder}{'' if folder.is_dir() else ' (none yet)'}")
        cards, broken = scan_models(folder)
        for card in cards:
            hidden = " (hidden by the one above)" if card.name in listed else ""
            print(f"  {card.name:<14} {card.family:<12} steps={card.steps:<7} {_card_summary(card.evaluation or {})}{hidden}")
        for name, problem in broken.items():  # listed, not fatal: the other models still work
            hidden = " (hidden by the one above)" if name in listed else ""
            print(f"  {name:<14} {'BROKEN':<12} {problem.reason} ({problem.path}){hidden}")
        listed.update(card.name for card in cards)
        listed.update(broken)
    for family in REGISTRY.families():
        if family.builtin:
            print(f"  {family.name:<14} {'built-in':<12} {family.description} (always available)")
    print("families:")
    for family in REGISTRY.families():
        trains = f"; `colorstudio train {family.name}`" if family.trainer is not None else ""
        print(f"  {family.name:<14} {_supports(family)}{trains}")
        print(f"  {'':<14} {family.description}")
    return 0


def _supports(family: Family) -> str:
    """What a family's models can do, in a few words."""
    caps = family.capabilities
    parts = ["samples" if caps.samples else "one result", *(["best first"] if caps.ranked else []),
             *(["instant draft"] if caps.draft else []), *(["truncation"] if caps.truncation else []),
             *(["hints"] if caps.hints else []),
             *(["uncertainty", "hue bias"] if caps.histograms else []),
             f"reference: {', '.join(caps.reference_methods)}", *(["bits/dim"] if caps.likelihood else [])]
    return ", ".join(parts)


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _card_summary(evaluation: dict) -> str:
    """The headline number of a card's evaluation, for `colorstudio models`."""
    automatic, bpd = evaluation.get("automatic", {}), evaluation.get("bits_per_dim", {})
    if isinstance(automatic, dict) and _number(automatic.get("psnr")):
        return f"automatic PSNR {automatic['psnr']:.2f} dB"
    if isinstance(bpd, dict) and _number(bpd.get("bpd")):
        return f"{bpd['bpd']:.3f} bits/dim"
    return "see card.json"


def _parse_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise ColorStudioError(f"--hints-sweep takes comma-separated integers, got {text!r}") from exc
    if not counts or any(c < 0 for c in counts):
        raise ColorStudioError(f"--hints-sweep takes non-negative integers, got {text!r}")
    return counts


@dataclass(frozen=True)
class _EvalJob:
    """What one evaluation process needs (picklable, for ``--jobs``)."""

    model: str
    data: Path
    limit: int | None
    size: int
    counts: tuple[int, ...]
    samples: int
    seed: int
    temperature: float
    order: str
    truncation: float | None
    min_weight: float | None
    reference_strength: float
    reference_method: str
    reference_gt: bool
    device: str
    shard: int = 0
    shards: int = 1
    threads: int | None = None


def _evaluate_job(job: _EvalJob, progress=None, colorizer=None):
    """Evaluate shard ``job.shard`` of ``job.shards`` (images i with i % shards == shard) of the set, with
    ``colorizer`` if it is already loaded."""
    if job.threads:
        torch.set_num_threads(job.threads)
    if colorizer is None:
        colorizer = REGISTRY.load_colorizer(job.model, resolve_device(job.device))
    images = load_eval_set(job.data, limit=job.limit, size=job.size)
    indices = list(range(job.shard, len(images), job.shards))

    def predict(lightness, hint_ab, hint_mask, samples, seed, reference=None):
        outputs = predict_full_resolution(lightness, hint_ab, hint_mask, colorizer, samples=samples, seed=seed,
                                          temperature=job.temperature, order=job.order, truncation=job.truncation,
                                          min_weight=job.min_weight,
                                          reference_rgb=None if reference is None else reference.astype(np.float32) / 255.0,
                                          reference_strength=job.reference_strength, reference_method=job.reference_method)
        return [to_uint(rgb, 8) for rgb in outputs]

    return evaluate(predict, [images[i] for i in indices], indices=indices, hint_counts=job.counts,
                    samples=job.samples, seed=job.seed, method=job.model, progress=progress,
                    reference_fn=predict if job.reference_gt else None)


def _run_evaluate(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise ColorStudioError(f"--jobs must be >= 1, got {args.jobs}")
    if args.limit is not None and args.limit < 1:
        raise ColorStudioError(f"--limit must be at least 1, got {args.limit}")
    if args.size < 8:
        raise ColorStudioError(f"--size must be at least 8 pixels, got {args.size}")
    ColorizeRequest(samples=args.samples, seed=args.seed, reference=ReferenceSettings(strength=args.reference_strength),
                    temperature=1.0 if args.temperature is None else args.temperature, order=args.order,
                    truncation=args.truncation, min_weight=args.min_weight)  # checks them
    if args.json is not None:
        check_no_overwrites([(args.data, "evaluation data")], [(args.json, "report")])
    model = _default_model(args.model)
    colorizer = REGISTRY.load_colorizer(model, resolve_device(args.device))
    truncation, min_weight = _truncation(args, colorizer)
    job = _EvalJob(model=model, data=args.data, limit=args.limit, size=args.size, counts=tuple(_parse_counts(args.hints_sweep)),
                   samples=args.samples, seed=args.seed, temperature=_temperature(args.temperature, colorizer),
                   order=args.order, truncation=truncation, min_weight=min_weight,
                   reference_strength=args.reference_strength,
                   reference_method=_reference_method(args.reference_method, colorizer),
                   reference_gt=args.reference_gt, device=args.device)
    bpd = None
    if colorizer.capabilities.likelihood:
        # Likelihood models: bits/dim over the subsampled chroma grid at the model's own resolution.
        dataset = evaluation_dataset(args.data, colorizer.long_side, args.limit)  # type: ignore[attr-defined]
        bpd = {**colorizer.bits_per_dim(dataset), "data": str(args.data)}  # type: ignore[attr-defined]
        print(f"{model}: {bpd['bpd']:.4f} bits/dim over {bpd['images']} images of {args.data} "
              f"({bpd['dims_per_image']} chroma dims each, working resolution {bpd['working_resolution']})")

    def progress(fraction: float, message: str) -> None:
        if sys.stderr.isatty():
            print(f"\r[{fraction:6.1%}] {message[:70]:<70}", end="", file=sys.stderr, flush=True)

    if args.jobs == 1:
        report = _evaluate_job(job, progress, colorizer)
    else:
        # spawn, not fork: forked OpenMP/torch thread pools can deadlock
        with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            shards = [replace(job, shard=i, shards=args.jobs, threads=1) for i in range(args.jobs)]
            report = merge_reports(list(pool.map(_evaluate_job, shards)))
    print(file=sys.stderr)
    report.settings.update(temperature=job.temperature, order=job.order, truncation=job.truncation,
                           min_weight=job.min_weight)
    print(format_table(report))
    if colorizer.capabilities.samples:  # each --jobs process loaded its own copy
        outliers = ("" if job.truncation is None or job.min_weight is None
                    else f", truncation {job.truncation:g}, min weight {job.min_weight:g}")
        first = (f"the most plausible of the {job.samples}" if colorizer.capabilities.ranked and job.order == "plausibility"
                 else f"seed {job.seed}'s")
        print(f"sampling temperature {job.temperature:g}{outliers}; sample 0 (PSNR, SSIM, ...) is {first}")
    if args.json is not None:
        if bpd is not None:
            report.settings["bits_per_dim"] = bpd
        write_json(report, args.json)
        print(f"wrote {args.json}")
    return 0


def _run_train(args: argparse.Namespace) -> int:
    family = REGISTRY.get(args.family)
    assert family.trainer is not None  # only trainable families have a subcommand
    return train_command.run(family.name, family.trainer, args)
