"""Training checkpoints without pickles: safetensors for every tensor, JSON for everything else.

Layout of a run folder::

    OUT/checkpoints/step-00001234/model.safetensors      raw weights (model.state_dict())
                                  ema.safetensors        EMA (Polyak) weights, same keys
                                  optimizer.safetensors  optimizer state, flattened: "state.<param>.<name>",
                                                         plus "rng.torch_cpu" / "rng.torch_cuda"
                                  state.json             step, epoch position, wall time, config, param groups
    OUT/checkpoints/latest                               name of the newest complete checkpoint folder

A checkpoint folder is written under a temporary name and renamed when complete; ``latest`` is replaced
atomically afterwards, so an interruption at any moment leaves the previous checkpoint usable.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from colorstudio.errors import ColorStudioError
from colorstudio.models.registry import CARD_NAME, ModelCard, save_model

__all__ = [
    "Checkpoint",
    "export_checkpoint_to_model",
    "save_checkpoint",
    "load_checkpoint",
    "find_checkpoint",
    "latest_checkpoint",
    "optimizer_state_to_tensors",
    "optimizer_state_from_tensors",
    "state_dict_to_cpu",
]

CHECKPOINTS = "checkpoints"
LATEST = "latest"
STATE_JSON = "state.json"


@dataclass
class Checkpoint:
    """A loaded checkpoint; tensors on the CPU."""

    path: Path
    model: dict[str, torch.Tensor]
    ema: dict[str, torch.Tensor] | None
    optimizer: dict[str, Any] | None  # ready for optimizer.load_state_dict
    rng: dict[str, torch.Tensor]
    state: dict[str, Any]  # step, epoch, batch_in_epoch, wall_time_s, config, ...

    @property
    def step(self) -> int:
        return int(self.state["step"])


def state_dict_to_cpu(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # Copies, so tied weights do not share storage (safetensors refuses shared tensors).
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in state.items()}


def optimizer_state_to_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Flatten ``optimizer.state_dict()`` into safetensors-ready tensors + JSON-ready metadata."""
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for pid, per_param in sd["state"].items():
        for name, value in per_param.items():
            if torch.is_tensor(value):
                tensors[f"state.{pid}.{name}"] = value.detach().to("cpu", copy=True).contiguous()
            else:
                scalars[f"{pid}.{name}"] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def optimizer_state_from_tensors(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`optimizer_state_to_tensors`: a dict for ``optimizer.load_state_dict``."""
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("state."):
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = value
    for key, value in meta.get("scalars", {}).items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = value
    groups = []
    for group in meta["param_groups"]:
        group = dict(group)
        if isinstance(group.get("betas"), list):
            group["betas"] = tuple(group["betas"])  # JSON turned the tuple into a list
        groups.append(group)
    return {"state": state, "param_groups": groups}


def _rng_tensors(device: torch.device | None) -> dict[str, torch.Tensor]:
    rng = {"rng.torch_cpu": torch.get_rng_state()}
    if device is not None and device.type == "cuda":
        rng["rng.torch_cuda"] = torch.cuda.get_rng_state(device)
    return rng


def save_checkpoint(
    out_dir: str | Path,
    *,
    step: int,
    model_state: Mapping[str, torch.Tensor],
    ema_state: Mapping[str, torch.Tensor] | None,
    optimizer: torch.optim.Optimizer | None,
    state: Mapping[str, Any],
    device: torch.device | None = None,
    keep: int = 1,
) -> Path:
    """Write ``OUT/checkpoints/step-XXXXXXXX/`` atomically, point ``latest`` at it, keep the newest ``keep``."""
    root = Path(out_dir) / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:08d}"
    tmp = root / f".{final.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_file(state_dict_to_cpu(model_state), str(tmp / "model.safetensors"))
    if ema_state is not None:
        save_file(state_dict_to_cpu(ema_state), str(tmp / "ema.safetensors"))
    meta: dict[str, Any] = dict(state)
    meta["step"] = int(step)
    opt_tensors: dict[str, torch.Tensor] = {}
    if optimizer is not None:
        opt_tensors, meta["optimizer"] = optimizer_state_to_tensors(optimizer)
    save_file({**opt_tensors, **_rng_tensors(device)}, str(tmp / "optimizer.safetensors"))
    (tmp / STATE_JSON).write_text(json.dumps(meta, indent=1, default=_json_default))
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    pointer_tmp = root / f".{LATEST}.{os.getpid()}.tmp"
    pointer_tmp.write_text(final.name)
    os.replace(pointer_tmp, root / LATEST)
    old = sorted(p for p in root.glob("step-*") if p.is_dir() and p != final)
    for path in old[: max(0, len(old) - (keep - 1))]:
        shutil.rmtree(path, ignore_errors=True)
    return final


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, tuple):
        return list(obj)
    if torch.is_tensor(obj) and obj.numel() == 1:
        return obj.item()
    raise TypeError(f"cannot store {type(obj).__name__} in a checkpoint's JSON")


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The newest complete checkpoint folder of a run, or ``None`` if there is none."""
    root = Path(out_dir) / CHECKPOINTS
    pointer = root / LATEST
    if pointer.is_file():
        path = root / pointer.read_text().strip()
        if (path / STATE_JSON).is_file():
            return path
    complete = sorted(p for p in root.glob("step-*") if (p / STATE_JSON).is_file())
    return complete[-1] if complete else None


def find_checkpoint(path: str | Path) -> Path:
    """Accept a checkpoint folder, a run's ``checkpoints/`` folder or the run folder itself."""
    path = Path(path)
    if (path / STATE_JSON).is_file():
        return path
    if (found := latest_checkpoint(path)) is not None:  # a run folder
        return found
    if path.name == CHECKPOINTS and (found := latest_checkpoint(path.parent)) is not None:
        return found
    raise ColorStudioError("no training checkpoint found (expected checkpoints/latest or state.json)", path)


def _load_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise ColorStudioError(f"cannot read checkpoint tensors ({exc})", path) from exc


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Load a checkpoint folder (or the latest of a run folder) onto the CPU."""
    path = find_checkpoint(path)
    try:
        state = json.loads((path / STATE_JSON).read_text())
    except (OSError, ValueError) as exc:
        raise ColorStudioError(f"cannot read checkpoint state ({exc})", path / STATE_JSON) from exc
    model = _load_tensors(path / "model.safetensors")
    ema = _load_tensors(path / "ema.safetensors") if (path / "ema.safetensors").is_file() else None
    extra = _load_tensors(path / "optimizer.safetensors") if (path / "optimizer.safetensors").is_file() else {}
    rng = {k.removeprefix("rng."): v for k, v in extra.items() if k.startswith("rng.")}
    opt_meta = state.pop("optimizer", None)
    optimizer = None
    if opt_meta is not None:
        optimizer = optimizer_state_from_tensors({k: v for k, v in extra.items() if k.startswith("state.")}, opt_meta)
    return Checkpoint(path, model, ema, optimizer, rng, state)


def export_checkpoint_to_model(
    checkpoint_dir: str | Path,
    out_dir: str | Path,
    card_updates: Mapping[str, Any] | ModelCard | None = None,
) -> ModelCard:
    """Copy a training checkpoint's EMA weights (raw weights if it has no EMA) into a model folder.

    The card is ``out_dir/card.json`` if one exists, else built from ``card_updates`` (which then needs
    ``family``; ``name`` defaults to the folder name); ``card_updates`` are applied on top, and ``steps``,
    ``wall_time_s`` and ``hardware`` come from the checkpoint unless given. ``checkpoint_dir`` may be a
    checkpoint folder or a training run folder (its latest checkpoint is used).
    """
    out_dir = Path(out_dir)
    ckpt = load_checkpoint(checkpoint_dir)
    updates = card_updates.to_dict() if isinstance(card_updates, ModelCard) else dict(card_updates or {})
    card_path = out_dir / CARD_NAME
    if card_path.is_file():
        card = ModelCard.load(card_path)
    else:
        card = ModelCard.from_dict({"name": out_dir.name, **updates}, source=card_path)
    from_checkpoint = {
        "steps": ckpt.step,
        "wall_time_s": round(float(ckpt.state.get("wall_time_s", 0.0)), 1),
        "hardware": ckpt.state.get("hardware", card.hardware),
    }
    card = card.updated(**{**from_checkpoint, **updates, "weights_sha256": ""})
    return save_model(ckpt.ema if ckpt.ema is not None else ckpt.model, card, out_dir)
