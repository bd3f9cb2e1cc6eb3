"""The one training loop every model family uses.

A trainable model is an ``nn.Module`` with ``training_loss(batch) -> (loss, metrics)``: ``batch`` is the
dataset's dict of tensors already on the device (plus ``"seed"``, an int64 scalar that is a pure function
of (config seed, step, rank) for models that want a reproducible generator), ``loss`` a scalar tensor,
``metrics`` a dict of Python floats for the log.

``train(model, dataset, cfg)`` runs AdamW with linear warmup then cosine (or constant) learning rate, an
EMA (Polyak) copy of the weights, gradient clipping, and writes checkpoints (safetensors + JSON, never
pickles) every ``cfg.checkpoint_every_s`` seconds, at the end, and on SIGTERM/SIGINT or ``cancel()``.
``resume=True`` continues the last checkpoint of ``out_dir`` at the same step with the same optimizer
state, EMA, RNG state and data position, so an interrupted run ends with the same weights as an
uninterrupted one (on the CPU).

Distributed: started by ``torchrun`` (``RANK``/``WORLD_SIZE`` in the environment), the same call joins the
process group (gloo on CPU, nccl on CUDA), wraps the model in DistributedDataParallel and shards every
epoch with a DistributedSampler; only rank 0 logs and writes checkpoints::

    torchrun --nproc_per_node 2 -m colorstudio train histogram --data ...
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sized
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from colorstudio.devices import describe_device, resolve_device
from colorstudio.errors import ColorStudioError
from colorstudio.training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint

__all__ = ["TrainSettings", "TrainResult", "TrainableModel", "EMA", "lr_at", "train", "LOG_NAME"]

LOG_NAME = "log.jsonl"
Progress = Callable[[float, str], None]
Cancel = Callable[[], bool]


class TrainableModel(Protocol):
    def training_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]: ...


@dataclass(frozen=True)
class TrainSettings:
    """Everything that shapes a training run but the network's own config: the one settings class of a run.

    Each family's trainer subclasses it, redeclaring only the defaults its recipe changes; the field names
    are recorded in every run's ``run_info.json``: keep them.

    ``steps`` counts optimizer steps; ``batch_size`` is per process (the global batch is
    ``batch_size * world_size``). ``lr`` rises linearly over ``warmup`` steps and then follows ``schedule``:
    ``"cosine"`` (down to ``lr * min_lr_fraction`` at ``steps``) or ``"constant"``. ``ema_decay`` 0 disables
    the EMA. ``grad_clip`` None or <= 0 disables clipping. ``threads`` sets torch's intra-op threads (None:
    leave them as set). ``crop``, ``crop_scale`` and ``balance_sources`` shape the training images
    (:func:`colorstudio.training.family.training_dataset`).
    """

    steps: int = 10_000
    batch_size: int = 16
    crop: int = 112  # side of the square training crops, in pixels
    crop_scale: tuple[float, float] | None = (0.7, 1.0)  # random-resized crop side range; None = plain crops
    lr: float = 1e-3
    weight_decay: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.99)
    warmup: int = 500
    schedule: str = "cosine"
    min_lr_fraction: float = 0.05
    ema_decay: float = 0.999
    grad_clip: float | None = 1.0
    checkpoint_every_s: float = 300.0
    keep_checkpoints: int = 1
    log_every: int = 50
    out_dir: Path = Path("runs/default")
    resume: bool = False
    device: str = "auto"
    ddp_backend: str = "auto"
    ddp_find_unused_parameters: bool = False  # True when some parameters get no gradient in some steps
    seed: int = 0
    num_workers: int = 0
    threads: int | None = 2
    balance_sources: bool = False  # every training source fills the same share of an epoch

    def __post_init__(self) -> None:
        object.__setattr__(self, "out_dir", Path(self.out_dir))
        object.__setattr__(self, "betas", tuple(self.betas))
        if self.steps < 0 or self.batch_size < 1 or self.log_every < 1 or self.keep_checkpoints < 1:
            raise ColorStudioError("steps >= 0, batch_size >= 1, log_every >= 1 and keep_checkpoints >= 1 are required")
        if self.schedule not in ("cosine", "constant"):
            raise ColorStudioError(f"unknown learning-rate schedule {self.schedule!r} (cosine or constant)")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ColorStudioError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.ddp_backend not in ("auto", "gloo", "nccl"):
            raise ColorStudioError(f"unknown DDP backend {self.ddp_backend!r} (auto, gloo or nccl)")

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples as lists, the folder as text)."""
        return {k: str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v
                for k, v in asdict(self).items()}


@dataclass
class TrainResult:
    step: int  # optimizer steps done in total (including earlier runs when resumed)
    wall_time_s: float  # total training wall time, including earlier runs when resumed
    loss: float | None  # mean loss of the last logging window
    checkpoint: Path | None  # last checkpoint written (None on ranks other than 0)
    log_path: Path
    interrupted: bool = False  # stopped early by a signal or cancel(); a checkpoint was written
    images_per_s: float = 0.0  # over the whole run, all ranks together
    ema: dict[str, torch.Tensor] | None = field(default=None, repr=False)  # final EMA weights, CPU


def lr_at(step: int, cfg: TrainSettings) -> float:
    """Learning rate for optimizer step ``step`` (0-based): linear warmup, then cosine or constant."""
    if cfg.warmup > 0 and step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    if cfg.schedule == "constant":
        return cfg.lr
    span = max(1, cfg.steps - cfg.warmup)
    progress = min(1.0, (step - cfg.warmup) / span)
    floor = cfg.lr * cfg.min_lr_fraction
    return floor + (cfg.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


class EMA:
    """Exponential moving average of a model's floating-point state (parameters and buffers).

    The decay ramps up as ``min(decay, (1 + n) / (10 + n))`` so early averages are not dominated by the
    random initialization; integer buffers (e.g. BatchNorm counters) are copied.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        decay = min(self.decay, (1.0 + step) / (10.0 + step))
        current = model.state_dict()
        floats_ema, floats_new = [], []
        for k, v in self.state.items():
            if v.is_floating_point():
                floats_ema.append(v)
                floats_new.append(current[k].detach())
            else:
                v.copy_(current[k])
        if floats_ema:
            torch._foreach_lerp_(floats_ema, floats_new, 1.0 - decay)

    def load(self, state: Mapping[str, torch.Tensor]) -> None:
        for k, v in self.state.items():
            v.copy_(state[k])


# -- distributed setup ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Dist:
    rank: int
    world_size: int
    device: torch.device
    owns_group: bool  # we initialized the process group, so we tear it down

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def _setup_distributed(cfg: TrainSettings) -> _Dist:
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1 and not (dist.is_available() and dist.is_initialized()):
        return _Dist(0, 1, resolve_device(cfg.device), False)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(cfg.device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    owns = False
    if not dist.is_initialized():
        backend = cfg.ddp_backend if cfg.ddp_backend != "auto" else ("nccl" if device.type == "cuda" else "gloo")
        dist.init_process_group(backend=backend)
        owns = True
    return _Dist(dist.get_rank(), dist.get_world_size(), device, owns)


class _LossModule(nn.Module):
    """Routes DDP's forward to ``training_loss`` so gradients are all-reduced by DDP's hooks."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        return cast(TrainableModel, self.model).training_loss(batch)  # train() checked that it has one


# -- data ---------------------------------------------------------------------------------------------
def _batches(
    dataset: Dataset, cfg: TrainSettings, ctx: _Dist, epoch: int, skip: int
) -> Iterator[tuple[int, int, dict[str, torch.Tensor]]]:
    """Endless ``(epoch, batch index in epoch, batch)``; every epoch is a new seeded shuffle, sharded by rank."""
    while True:
        sampler: DistributedSampler[int] = DistributedSampler(
            dataset, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=cfg.seed, drop_last=True
        )
        sampler.set_epoch(epoch)
        indices = list(sampler)
        per_epoch = len(indices) // cfg.batch_size
        if per_epoch == 0:
            raise ColorStudioError(
                f"the dataset has {len(cast(Sized, dataset))} images, "
                f"fewer than one batch ({cfg.batch_size} x {ctx.world_size} processes)"
            )
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)  # before the loader copies the dataset into its workers
        loader = DataLoader(
            dataset,
            batch_size=cfg.batch_size,
            sampler=indices[skip * cfg.batch_size :],  # resuming mid-epoch: skip consumed batches unread
            num_workers=cfg.num_workers,
            drop_last=True,
            pin_memory=ctx.device.type == "cuda",
            # Own generator: creating the iterator must not consume the global RNG (resume exactness).
            generator=torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch),
        )
        for k, batch in enumerate(loader, start=skip):
            yield epoch, k, batch
        epoch, skip = epoch + 1, 0


# -- signals and stopping -------------------------------------------------------------------------------
@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM/SIGINT set ``stop`` (a second one acts as usual); only possible in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def handler(signum: int, frame: Any) -> None:
        stop.set()
        signal.signal(signum, previous[signum])

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _agree(flags: list[bool], ctx: _Dist) -> list[bool]:
    """Logical OR of per-rank flags, so all ranks stop / checkpoint at the same step."""
    if not ctx.enabled:
        return flags
    t = torch.tensor([float(f) for f in flags], device=ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(v) for v in t.tolist()]


def _mean_over_ranks(value: float, ctx: _Dist) -> float:
    if not ctx.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64 if ctx.device.type != "mps" else torch.float32, device=ctx.device)
    dist.all_reduce(t)
    return float(t.item()) / ctx.world_size


def _step_seed(cfg: TrainSettings, step: int, rank: int) -> int:
    return (cfg.seed * 1_000_003 + step) * 1_009 + rank


# -- the loop -------------------------------------------------------------------------------------------
def train(
    model: nn.Module,
    dataset: Dataset,
    cfg: TrainSettings,
    *,
    on_checkpoint: Callable[[Path], None] | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> TrainResult:
    """Train ``model`` (which must define ``training_loss``) on ``dataset`` for ``cfg.steps`` steps.

    ``on_checkpoint(path)`` is called on rank 0 after each checkpoint. ``progress(fraction, message)``
    is called every logging window; ``cancel()`` returning True stops the run like SIGTERM does: a
    checkpoint is written and the result has ``interrupted=True``. The model is left on the training
    device with the raw (not EMA) weights.
    """
    if not callable(getattr(model, "training_loss", None)):
        raise ColorStudioError(f"{type(model).__name__} has no training_loss(batch) method, so it cannot be trained")
    threads_before = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    ctx = _setup_distributed(cfg)
    try:
        return _train(model, dataset, cfg, ctx, on_checkpoint, progress, cancel)
    finally:
        torch.set_num_threads(threads_before)
        if ctx.owns_group:
            dist.destroy_process_group()


def _train(model, dataset, cfg, ctx: _Dist, on_checkpoint, progress, cancel) -> TrainResult:
    out_dir = cfg.out_dir
    log_path = out_dir / LOG_NAME
    start = _prepare_start(cfg, ctx)
    if ctx.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)

    model.to(ctx.device)
    model.train()
    if start is not None:
        model.load_state_dict(start.model)
    optimizer = torch.optim.AdamW(_param_groups(model, cfg.weight_decay), lr=lr_at(0, cfg), betas=cfg.betas)
    ema = EMA(model, cfg.ema_decay) if cfg.ema_decay > 0 else None
    step, epoch, batch_in_epoch, wall_before = 0, 0, 0, 0.0
    if start is not None:
        if start.optimizer is not None:
            optimizer.load_state_dict(start.optimizer)
        if ema is not None and start.ema is not None:
            ema.load(start.ema)
        step, wall_before = start.step, float(start.state.get("wall_time_s", 0.0))
        epoch, batch_in_epoch = int(start.state.get("epoch", 0)), int(start.state.get("batch_in_epoch", 0))
        _restore_rng(start.rng, ctx, cfg, step)
    else:
        torch.manual_seed(cfg.seed + ctx.rank)

    net: nn.Module = _LossModule(model)
    if ctx.enabled:
        net = nn.parallel.DistributedDataParallel(
            net, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None,
            find_unused_parameters=cfg.ddp_find_unused_parameters,
        )

    stop = threading.Event()
    t0 = time.monotonic()
    last_ckpt_t = t0
    start_step = step
    window: dict[str, float] = {}
    window_n, window_t, window_images = 0, t0, 0
    last_loss: float | None = None
    last_ckpt: Path | None = None
    pbar = _progress_bar(cfg, ctx, step)

    def checkpoint(epoch_pos: int, batch_pos: int) -> None:
        nonlocal last_ckpt, last_ckpt_t
        last_ckpt_t = time.monotonic()
        if not ctx.is_main:
            return
        last_ckpt = save_checkpoint(
            out_dir, step=step, model_state=model.state_dict(), ema_state=None if ema is None else ema.state,
            optimizer=optimizer, device=ctx.device, keep=cfg.keep_checkpoints,
            state={"epoch": epoch_pos, "batch_in_epoch": batch_pos, "wall_time_s": wall_before + time.monotonic() - t0,
                   "world_size": ctx.world_size, "seed": cfg.seed, "config": cfg.to_json(),
                   "hardware": _hardware(ctx),
                   "model_class": type(model).__name__},
        )
        if on_checkpoint is not None:
            on_checkpoint(last_ckpt)

    interrupted = False
    data = _batches(dataset, cfg, ctx, epoch, batch_in_epoch)
    next_pos = (epoch, batch_in_epoch)
    with _stop_on_signals(stop):
        while step < cfg.steps:
            epoch_now, k, batch = next(data)
            next_pos = (epoch_now, k + 1)
            batch = {name: v.to(ctx.device, non_blocking=True) for name, v in batch.items()}
            batch["seed"] = torch.tensor(_step_seed(cfg, step, ctx.rank), dtype=torch.int64)
            lr = lr_at(step, cfg)
            for group in optimizer.param_groups:
                group["lr"] = lr * group.get("lr_scale", 1.0)
            loss, metrics = net(batch)
            if not torch.isfinite(loss):
                raise ColorStudioError(f"the training loss became {loss.item()} at step {step}; lower the learning rate")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip is not None and cfg.grad_clip > 0:
                metrics = {**metrics, "grad_norm": float(nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip))}
            optimizer.step()
            step += 1
            if ema is not None:
                ema.update(model, step)

            window_n += 1
            window_images += len(batch["L"]) if "L" in batch else cfg.batch_size
            for name, value in {"loss": float(loss.detach()), **metrics}.items():
                window[name] = window.get(name, 0.0) + float(value)
            if pbar is not None:
                pbar.update(1)
            cancelled = cancel is not None and cancel()
            want_stop = cancelled or stop.is_set()
            due = time.monotonic() - last_ckpt_t >= cfg.checkpoint_every_s
            want_stop, due = _agree([want_stop, due], ctx)
            if step % cfg.log_every == 0 or step == cfg.steps or want_stop:
                last_loss = _mean_over_ranks(window["loss"] / window_n, ctx)
                now = time.monotonic()
                record = {
                    "step": step, "epoch": epoch_now, "loss": last_loss,
                    **{n: v / window_n for n, v in window.items() if n != "loss"},
                    "lr": lr, "images_per_s": window_images * ctx.world_size / max(now - window_t, 1e-9),
                    "elapsed_s": wall_before + now - t0,
                }
                if ctx.is_main:
                    with log_path.open("a") as fh:
                        fh.write(json.dumps(record) + "\n")
                    if pbar is not None:
                        pbar.set_postfix(loss=f"{last_loss:.4g}", lr=f"{lr:.2e}")
                    if progress is not None:
                        progress(step / max(cfg.steps, 1), f"step {step}/{cfg.steps}, loss {last_loss:.4g}")
                window, window_n, window_t, window_images = {}, 0, now, 0

            if want_stop:
                interrupted = step < cfg.steps
                break
            if due and step < cfg.steps:
                checkpoint(*next_pos)
        if last_ckpt is None or int(last_ckpt.name.split("-")[-1]) != step:
            checkpoint(*next_pos)
    if pbar is not None:
        pbar.close()
    if ctx.enabled:
        dist.barrier()  # nobody tears the group down while rank 0 is still writing
    wall = wall_before + time.monotonic() - t0
    images = (step - start_step) * cfg.batch_size * ctx.world_size
    return TrainResult(
        step=step, wall_time_s=wall, loss=last_loss, checkpoint=last_ckpt, log_path=log_path,
        interrupted=interrupted, images_per_s=images / max(time.monotonic() - t0, 1e-9),
        ema=None if ema is None else {k: v.detach().cpu().clone() for k, v in ema.state.items()},
    )


def _prepare_start(cfg: TrainSettings, ctx: _Dist):
    """The checkpoint to resume from (or None); refuses to silently overwrite an earlier run."""
    found = latest_checkpoint(cfg.out_dir)
    if found is None:
        return None
    if not cfg.resume:
        raise ColorStudioError("this folder already holds a training run; resume it or choose another output folder", cfg.out_dir)
    return load_checkpoint(found)


def _restore_rng(rng: Mapping[str, torch.Tensor], ctx: _Dist, cfg: TrainSettings, step: int) -> None:
    # The saved generator state is rank 0's; other ranks get a fresh stream derived from the step.
    if ctx.rank == 0 and "torch_cpu" in rng:
        torch.set_rng_state(rng["torch_cpu"])
        if ctx.device.type == "cuda" and "torch_cuda" in rng:
            torch.cuda.set_rng_state(rng["torch_cuda"], ctx.device)
    else:
        torch.manual_seed(_step_seed(cfg, step, ctx.rank))


def _hardware(ctx: _Dist) -> str:
    one = describe_device(ctx.device)
    return one if ctx.world_size == 1 else f"{ctx.world_size} processes x {one}"


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups: weight decay on matrices and kernels only (biases and normalization gains are not
    decayed); a model's optional ``lr_scale(name)`` gives parameters their own learning-rate multiplier
    (a pretrained encoder fine-tuned slower than its new head). A multiplier of 0 freezes a parameter."""
    scale_of = getattr(model, "lr_scale", None)
    groups: dict[tuple[bool, float], list[nn.Parameter]] = {}
    for name, p in model.named_parameters():
        scale = float(scale_of(name)) if callable(scale_of) else 1.0
        if p.requires_grad and scale > 0:
            groups.setdefault((p.ndim >= 2, scale), []).append(p)
    return [{"params": params, "weight_decay": weight_decay if decays else 0.0, "lr_scale": scale}
            for (decays, scale), params in sorted(groups.items(), key=lambda kv: (not kv[0][0], -kv[0][1]))]


def _progress_bar(cfg: TrainSettings, ctx: _Dist, step: int):
    if not ctx.is_main or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=cfg.steps, initial=step, unit="step", dynamic_ncols=True)
