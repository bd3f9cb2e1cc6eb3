"""Device selection: chosen once, then passed explicitly."""

from __future__ import annotations

import torch

from colorstudio.errors import ColorStudioError

__all__ = ["resolve_device", "describe_device"]


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """Map ``auto|cpu|cuda|cuda:N|mps`` to a ``torch.device``; ``auto`` prefers CUDA, then MPS, then CPU."""
    if isinstance(name, torch.device):
        return name
    name = name.strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ColorStudioError(f"unknown device {name!r} (use auto, cpu, cuda or mps)") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ColorStudioError(f"device {name!r} requested but CUDA is not available on this machine")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ColorStudioError(f"device {name!r} does not exist: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ColorStudioError(f"device {name!r} requested but MPS is not available on this machine")
    return device


def describe_device(device: torch.device) -> str:
    """A short human-readable name, e.g. for the status bar."""
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "GPU: Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"
