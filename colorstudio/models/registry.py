"""Installed models: the model folders, their cards, and loading and saving their weights.

A model folder ``models/NAME/`` holds ``weights.safetensors`` (never pickles) and ``card.json`` (a
:class:`ModelCard`: family, architecture config, training and evaluation facts, SHA-256 of the weights).

Which network a card's ``family`` builds is not known here: :func:`load_model` takes the builder, and
:mod:`colorstudio.families` (the one list of families) passes its family's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from colorstudio.errors import ColorStudioError, ColorStudioWarning
from colorstudio.models.logistic_mixture import Truncation
from colorstudio.resources import bundled_models_dir, user_models_dir

__all__ = [
    "CARD_NAME",
    "default_temperature",
    "default_truncation",
    "for_photos",
    "WEIGHTS_NAME",
    "ModelCard",
    "Builder",
    "models_dirs",
    "default_models_dir",
    "list_models",
    "scan_models",
    "find_model_dir",
    "load_model",
    "save_model",
    "sha256_file",
]

CARD_NAME = "card.json"
WEIGHTS_NAME = "weights.safetensors"
_PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle")
# Card fields other code formats or computes with; a wrong type must fail here, naming the card.
_CARD_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,), "family": (str,), "steps": (int,), "wall_time_s": (int, float), "hardware": (str,),
    "eval_command": (str,), "weights_sha256": (str,), "license_note": (str,),
}
_MAX_WORKING_RESOLUTION = 16384

Builder = Callable[["ModelCard"], nn.Module]  # an untrained network for a card (its family's, from its config)


@dataclass
class ModelCard:
    """What a trained model is; stored as ``card.json`` beside its weights.

    ``config`` is the family's architecture config (what its builder takes); ``working_resolution`` the
    side in pixels of the grid the network sees; ``training_data`` the sets and image counts (and what was
    held out); ``evaluation`` the numbers with ``eval_command``, the command that produced them. Keys this
    version does not know are kept in ``extra`` and written back unchanged.
    """

    name: str
    family: str
    config: dict[str, Any] = field(default_factory=dict)
    working_resolution: int | None = None
    training_data: dict[str, Any] = field(default_factory=dict)
    steps: int = 0
    wall_time_s: float = 0.0
    hardware: str = ""
    evaluation: dict[str, Any] = field(default_factory=dict)
    eval_command: str = ""
    weights_sha256: str = ""
    license_note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; ``extra`` keys are written at the top level, known fields win on clashes."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return {**self.extra, **d}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str | Path | None = None) -> ModelCard:
        """Build a card from a dict; ``name`` and ``family`` are required, unknown keys go to ``extra``."""
        if not isinstance(data, Mapping):
            raise ColorStudioError("a model card must be a JSON object", source)
        missing = [k for k in ("name", "family") if not data.get(k)]
        if missing:
            raise ColorStudioError(f"model card lacks {', '.join(missing)}", source)
        known = {f.name for f in fields(cls)} - {"extra"}
        extra = dict(data.get("extra", {})) if isinstance(data.get("extra"), Mapping) else {}
        extra.update({k: v for k, v in data.items() if k not in known and k != "extra"})
        kwargs = {k: v for k, v in data.items() if k in known}
        for key in ("config", "training_data", "evaluation"):
            if key in kwargs and not isinstance(kwargs[key], dict):
                raise ColorStudioError(f"model card field {key!r} must be an object", source)
        for key, kinds in _CARD_FIELD_TYPES.items():
            value = kwargs.get(key)
            if key in kwargs and (isinstance(value, bool) or not isinstance(value, kinds)
                                  or (isinstance(value, float) and not math.isfinite(value))):
                raise ColorStudioError(f"model card field {key!r} has the wrong type ({type(value).__name__})", source)
        if not isinstance(data.get("for_photos", True), bool):
            raise ColorStudioError("model card field 'for_photos' must be true or false", source)
        resolution = kwargs.get("working_resolution")
        if resolution is not None and (isinstance(resolution, bool) or not isinstance(resolution, int)
                                       or not 1 <= resolution <= _MAX_WORKING_RESOLUTION):
            raise ColorStudioError(
                f"model card field 'working_resolution' must be an integer from 1 to {_MAX_WORKING_RESOLUTION}", source)
        try:
            return cls(**kwargs, extra=extra)
        except TypeError as exc:
            raise ColorStudioError(f"bad model card ({exc})", source) from exc

    @classmethod
    def from_json(cls, text: str | Mapping[str, Any], *, source: str | Path | None = None) -> ModelCard:
        """Parse JSON text (or an already-parsed dict); bad JSON is a ColorStudioError naming ``source``."""
        if isinstance(text, Mapping):
            return cls.from_dict(text, source=source)
        try:
            data = json.loads(text)
        except RecursionError:
            raise ColorStudioError("model card is not valid JSON (nested too deeply)", source) from None
        except ValueError as exc:
            raise ColorStudioError(f"model card is not valid JSON ({exc})", source) from None
        return cls.from_dict(data, source=source)

    @classmethod
    def load(cls, path: str | Path) -> ModelCard:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ColorStudioError(f"cannot read model card ({exc.strerror or exc})", path) from exc
        except UnicodeDecodeError:
            raise ColorStudioError("model card is not UTF-8 text", path) from None
        return cls.from_json(text, source=path)

    def updated(self, **changes: Any) -> ModelCard:
        """A copy with fields replaced; unknown keys go to ``extra``."""
        known = {f.name for f in fields(self)}
        extra = {**self.extra, **{k: v for k, v in changes.items() if k not in known}}
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if k in known and k != "extra"},
                                   extra={**extra, **changes.get("extra", {})})


# -- folders ----------------------------------------------------------------------------------------------
def models_dirs() -> list[Path]:
    """The folders searched for models, in order (the first holding a name wins): the folders in
    ``$COLORSTUDIO_MODELS`` (``os.pathsep``-separated) if set; else the per-user data folder, where
    user-trained models go, then the models shipped with the app (the checkout's ``models/`` when running
    from a checkout)."""
    if env := os.environ.get("COLORSTUDIO_MODELS"):
        return [Path(part) for part in env.split(os.pathsep) if part]
    return [user_models_dir(), bundled_models_dir()]


def default_models_dir() -> Path:
    """Where new models go: the first of :func:`models_dirs` (the per-user data folder unless
    ``$COLORSTUDIO_MODELS`` says otherwise)."""
    return models_dirs()[0]


def default_temperature(card: ModelCard | Mapping[str, Any] | None) -> float:
    """The sampling temperature a model's card recommends (``"sampling": {"temperature": T}``, chosen with
    its evaluation), else 1.0; what the CLI and the GUI start from."""
    data = card.to_dict() if isinstance(card, ModelCard) else dict(card or {})
    sampling = data.get("sampling")
    value = sampling.get("temperature") if isinstance(sampling, Mapping) else None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
        return float(value)
    return 1.0


def default_truncation(card: ModelCard | Mapping[str, Any] | None) -> Truncation:
    """The outlier removal a logistic-mixture sampler's card recommends, chosen with its evaluation:
    ``"sampling": {"truncation": tail, "min_weight": w}`` (:class:`~colorstudio.models.logistic_mixture.
    Truncation`; each absent = 0, off). A value out of range is an error naming the model, not ignored."""
    data = card.to_dict() if isinstance(card, ModelCard) else dict(card or {})
    sampling = data.get("sampling")
    sampling = sampling if isinstance(sampling, Mapping) else {}
    values = {}
    for field_name, key in (("tail", "truncation"), ("min_weight", "min_weight")):
        value = sampling.get(key, 0.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ColorStudioError(f"model {data.get('name')!r}: sampling.{key} must be a number, got {value!r}")
        values[field_name] = float(value)
    try:
        return Truncation(**values)
    except ValueError as exc:
        raise ColorStudioError(f"model {data.get('name')!r}: sampling: {exc}") from None


def for_photos(card: ModelCard | Mapping[str, Any] | None) -> bool:
    """Whether a model is meant for photographs (the card's ``"for_photos"``, default true). A model for
    tiny images (``pic-cifar``: 32 px CIFAR-10, kept for its bits/dim) says false: the CLI still runs it,
    the GUI does not offer it for photos."""
    data = card.to_dict() if isinstance(card, ModelCard) else dict(card or {})
    value = data.get("for_photos", True)
    if not isinstance(value, bool):
        raise ColorStudioError(f"model {data.get('name')!r}: for_photos must be true or false, got {value!r}")
    return value


def _roots(models_dir: str | Path | None) -> list[Path]:
    return [Path(models_dir)] if models_dir is not None else models_dirs()


def scan_models(models_dir: str | Path | None = None) -> tuple[list[ModelCard], dict[str, ColorStudioError]]:
    """The readable cards in ``models_dir`` (default: every folder of :func:`models_dirs`, a name found in
    an earlier folder hiding the same name in later ones; sorted by name; a card's ``name`` is its folder
    name) and, by folder name, why each other model folder's card cannot be used. One bad folder spoils
    no other."""
    cards: dict[str, ModelCard] = {}
    broken: dict[str, ColorStudioError] = {}
    for root in _roots(models_dir):
        if not root.is_dir():
            continue
        for card_path in sorted(root.glob(f"*/{CARD_NAME}")):
            name = card_path.parent.name
            if name in cards or name in broken:
                continue
            try:
                card = ModelCard.load(card_path)
            except ColorStudioError as exc:
                broken[name] = exc
                continue
            cards[name] = card if card.name == name else card.updated(name=name)
    return [cards[name] for name in sorted(cards)], broken


def list_models(models_dir: str | Path | None = None) -> list[ModelCard]:
    """Cards of the models installed in ``models_dir`` (default: every folder of :func:`models_dirs`),
    sorted by name; unreadable cards are skipped with a warning. A card's ``name`` is its folder name."""
    cards, broken = scan_models(models_dir)
    for exc in broken.values():
        warnings.warn(f"skipping model: {exc}", ColorStudioWarning, stacklevel=2)
    return cards


def find_model_dir(name: str | Path, models_dir: str | Path | None = None) -> Path:
    """The folder of model ``name`` in ``models_dir`` (default: the first of :func:`models_dirs` that
    holds it), or ``name`` itself when it is a model folder."""
    roots = _roots(models_dir)
    for root in roots:
        candidate = root / str(name)
        if (candidate / CARD_NAME).is_file():
            return candidate
    direct = Path(name)
    if (direct / CARD_NAME).is_file():
        return direct
    known = ", ".join(c.name for c in list_models(models_dir)) or "none"
    where = " or ".join(str(root) for root in roots)
    raise ColorStudioError(f"model {str(name)!r} not found in {where} (installed: {known})")


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _check_weights_file(folder: Path) -> Path:
    weights = folder / WEIGHTS_NAME
    if weights.is_file():
        return weights
    pickles = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in _PICKLE_SUFFIXES)
    if pickles:
        raise ColorStudioError(
            f"refusing to load pickled weights ({', '.join(pickles)}): pickles can run code; "
            f"convert them to {WEIGHTS_NAME}", folder,
        )
    raise ColorStudioError(f"model weights missing (expected {WEIGHTS_NAME})", weights)


def load_model(
    name: str | Path, device: torch.device | str = "cpu", models_dir: str | Path | None = None, *, build: Builder
) -> tuple[nn.Module, ModelCard]:
    """Build model ``name`` with ``build(card)``, load and verify its safetensors weights, move it to ``device``.

    Returns ``(module in eval mode, card)``. Raises :class:`ColorStudioError` naming the file for a
    missing model or weights, pickled weights, bad card JSON, a SHA-256 mismatch, a config the builder
    cannot build (``build`` raises ColorStudioError itself for a family it does not know) or weights that
    do not fit the architecture.
    """
    folder = find_model_dir(name, models_dir)
    card_path = folder / CARD_NAME
    card = ModelCard.load(card_path)
    weights = _check_weights_file(folder)
    if not card.weights_sha256:
        raise ColorStudioError("model card has no weights_sha256, so the weights cannot be verified", card_path)
    actual = sha256_file(weights)
    if actual.lower() != card.weights_sha256.lower():
        raise ColorStudioError(
            f"weights do not match the card's SHA-256 (card {card.weights_sha256[:12]}..., file {actual[:12]}...); "
            "the file is damaged or was replaced", weights,
        )
    try:
        module = build(card)
    except ColorStudioError as exc:  # e.g. a family nobody registered: the card is the file to name
        raise ColorStudioError(exc.reason, exc.path or card_path) from None
    except (TypeError, ValueError, KeyError, RuntimeError, OverflowError) as exc:
        raise ColorStudioError(f"cannot build a {card.family!r} network from the card's config ({exc})", card_path) from exc
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as exc:
        raise ColorStudioError(f"cannot read weights ({exc})", weights) from exc
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ColorStudioError(f"weights do not fit the {card.family!r} architecture in the card ({exc})", weights) from exc
    module.to(torch.device(device) if isinstance(device, str) else device)
    module.eval()
    return module, card


def _atomic_write_bytes(path: Path, write: Callable[[Path], object]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_model(
    model: nn.Module | Mapping[str, torch.Tensor], card: ModelCard, out_dir: str | Path
) -> ModelCard:
    """Write ``weights.safetensors`` and ``card.json`` into ``out_dir`` atomically; returns the card with
    ``weights_sha256`` filled in. ``model`` may be a module or a state dict."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = model.state_dict() if isinstance(model, nn.Module) else model
    # Copies on the CPU, so tied weights do not share storage (safetensors refuses shared tensors).
    tensors = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in state.items()}
    weights = out_dir / WEIGHTS_NAME
    digest: list[str] = []

    def write_weights(tmp: Path) -> None:
        # One metadata key only: safetensors writes a metadata map in random order, and the same weights
        # must give the same bytes (and SHA-256) on every export.
        save_file(tensors, str(tmp), metadata={"colorstudio": f"{card.family}:{card.name}"})
        digest.append(sha256_file(tmp))

    _atomic_write_bytes(weights, write_weights)
    final = card.updated(weights_sha256=digest[0])
    _atomic_write_bytes(out_dir / CARD_NAME, lambda tmp: tmp.write_text(final.to_json(), encoding="utf-8"))
    return final

