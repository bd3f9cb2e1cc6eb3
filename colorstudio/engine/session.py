"""The editing session: the one observable truth that the GUI (and tests, and scripts) drive.

No Qt here. Widgets connect to :class:`Session.events` and call the session's methods; long work is
described by request snapshots (``*_request()``), run by a job from :mod:`colorstudio.engine.jobs` on any
thread, and handed back with ``accept_*``. Every request carries a revision: a result computed for an
older revision is dropped, so a newer request always supersedes an older one.

A result is a pure function of (image, model, seeds, temperature, hints, chosen sample, hue bias,
reference), which is exactly what a session file stores (:mod:`colorstudio.engine.session_file`).

Samples of a ranking model (``Capabilities.ranked``) are kept best first: each arrives with its
plausibility score and the gallery is re-sorted around it; the chosen sample stays chosen wherever it
moves, and until the user picks one the best sample is shown. After a hint (or a new model) a sampler
with ``Capabilities.draft`` first shows its conditioner's own colorization (:meth:`Session.draft_request`,
tens of milliseconds), which the samples replace as they arrive.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from colorstudio.color import lab_to_lch, lab_to_rgb, lch_to_lab
from colorstudio.engine.catalog import ModelCatalog, ModelChoice
from colorstudio.engine.hints import load_hints, save_hints
from colorstudio.engine.histogram_edit import suggested_colors
from colorstudio.engine.jobs import (
    ColorizerCache,
    DraftJob,
    DraftRequest,
    Edits,
    ExportRequest,
    ExportSettings,
    HueBias,
    LoadedImage,
    LoadedReference,
    OpenImageJob,
    OpenReferenceJob,
    PredictJob,
    PredictRequest,
    PreviewJob,
    PreviewRequest,
    PreviewResult,
    ReferenceSettings,
    SampleResult,
)
from colorstudio.engine.limits import MAX_SAMPLES, MAX_SEED
from colorstudio.engine.pipeline import Colorizer, ColorizeRequest
from colorstudio.errors import ColorStudioError

__all__ = [
    "ModelCatalog",
    "ModelChoice",
    "Session",
    "SessionEvents",
    "Signal",
    "SampleSlot",
    "default_hint_radius",
]

SWATCH_LIGHTNESS = (45.0, 80.0)  # L* range in which suggested colours are shown
NEUTRAL_CHROMA = 6.0  # a*b* chroma below which a suggestion counts as gray


class Signal:
    """A minimal observer list (napari-style per-field events, without Qt)."""

    def __init__(self) -> None:
        self._slots: list[Callable[..., None]] = []

    def connect(self, slot: Callable[..., None]) -> None:
        self._slots.append(slot)

    def disconnect(self, slot: Callable[..., None]) -> None:
        self._slots.remove(slot)

    def emit(self, *args: Any) -> None:
        for slot in list(self._slots):
            slot(*args)


class SessionEvents:
    """One signal per part of the state; each is emitted after the state changed."""

    def __init__(self) -> None:
        self.image = Signal()  # () new source image (everything else was reset)
        self.model = Signal()  # () model name, sample count, temperature or seed changed
        self.samples = Signal()  # () slots added/cleared/reordered or a sample arrived
        self.chosen = Signal()  # (index | None)
        self.hints = Signal()  # () hint list changed
        self.hue_bias = Signal()  # (HueBias)
        self.reference = Signal()  # (ReferenceSettings)
        self.export_settings = Signal()  # (ExportSettings)
        self.result = Signal()  # () a new preview result is available
        self.stale = Signal()  # (what: "predict" | "preview" | "draft") recomputation is needed
        self.dirty = Signal()  # (bool) unsaved changes flag
        self.path = Signal()  # (Path | None) session file name


def default_hint_radius(source_size: tuple[int, int]) -> float:
    """About 1% of the long side, at least 2 px: visible on the canvas, small enough to be local."""
    return float(max(2, round(max(source_size) / 100)))


@dataclass
class SampleSlot:
    """A place in the gallery: the seed is known at once, the sample arrives later (None until then)."""

    seed: int
    sample: SampleResult | None = None
    stale: bool = False  # computed for older hints/model; kept on screen until replaced
    revision: int = 0  # predict revision the slot (or its sample) belongs to; older results are dropped


class Session:
    """The editing state of one image. All methods are called from one thread (the GUI's)."""

    def __init__(
        self,
        *,
        device: torch.device | None = None,
        catalog: ModelCatalog | None = None,
        colorizers: ColorizerCache | None = None,
        models_dir: Path | None = None,
        model: str | None = None,
        extra_models: Sequence[ModelChoice] = (),
    ) -> None:
        """``catalog`` lists and loads the models (the families' registry, :data:`colorstudio.families.REGISTRY`);
        ``colorizers`` may load them instead (a custom loader may provide ``extra_models`` beyond the catalog)."""
        self.events = SessionEvents()
        self.device = device if device is not None else torch.device("cpu")
        self.catalog = catalog
        self.models_dir = models_dir
        self.colorizers = colorizers or ColorizerCache(self._load_colorizer)
        self._extra_models = tuple(extra_models)
        self.model_choices = self._list_models()
        self.model = model or self._default_model()
        self.sample_count = 4
        self.temperature = self._model_temperature(self.model)
        self.base_seed = 0
        self.image: LoadedImage | None = None
        self.slots: list[SampleSlot] = []
        self.chosen: int | None = None
        self.hints: tuple = ()
        self.hue_bias = HueBias()
        self.reference = ReferenceSettings()
        self.reference_image: LoadedReference | None = None
        self.export_settings = ExportSettings()
        self.result: PreviewResult | None = None
        self.path: Path | None = None
        self.dirty = False
        self.predict_revision = 0
        self.preview_revision = 0
        self._warm: Any = None  # solver state of the last preview, for warm starts
        self.draft: SampleResult | None = None  # the conditioner's colorization for draft_revision
        self.draft_revision = -1
        self._draft_wanted = False  # the hints (or the model) changed: a draft would show them at once
        self._follow_best = True  # until the user picks a sample, the best one is shown

    # ------------------------------------------------------------------ model
    def _list_models(self) -> list[ModelChoice]:
        """The models offered for photos: a model whose card says it is for tiny images (``pic-cifar``) is
        left out (the CLI still runs it)."""
        listed = self.catalog.model_choices(self.models_dir) if self.catalog is not None else []
        return [choice for choice in [*self._extra_models, *listed] if choice.for_photos]

    def _load_colorizer(self, name: str, device: torch.device) -> Colorizer:
        if self.catalog is None:
            raise ColorStudioError(f"model {name!r} cannot be loaded: this session has no model catalog")
        return self.catalog.load_colorizer(name, device, self.models_dir)

    def _default_model(self) -> str:
        available = [c.name for c in self.model_choices if c.available]
        if self.catalog is not None:
            return self.catalog.default_model(available)
        if not available:
            raise ColorStudioError("no model is available")
        return available[0]

    def _model_temperature(self, name: str) -> float:
        choice = self.choice(name)
        return choice.temperature if choice is not None else 1.0

    def refresh_models(self) -> None:
        self.model_choices = self._list_models()
        self.events.model.emit()

    def choice(self, name: str) -> ModelChoice | None:
        return next((c for c in self.model_choices if c.name == name), None)

    def set_model(self, name: str) -> None:
        choice = self.choice(name)
        if choice is None:
            raise ColorStudioError(f"unknown model {name!r}")
        if not choice.available:
            raise ColorStudioError(f"model {name!r} cannot be used: {choice.reason}")
        if name == self.model:
            return
        self.model = name
        self.temperature = choice.temperature  # each model starts at the temperature its card recommends
        if self.slots:
            # The gallery follows the model: N samples for a sampler, one result for a single-sample model
            # (its seeds would give N identical copies).
            self._new_gallery()
        self._invalidate_predictions(draft=True)
        self.events.model.emit()

    def supports_samples(self) -> bool:
        """Whether seeds matter for the current model (known once it is loaded; assumed otherwise)."""
        colorizer = self.colorizers.cached(self.model, self.device)
        if colorizer is not None:
            return colorizer.capabilities.samples
        choice = self.choice(self.model)
        return choice.samples if choice is not None else True

    def set_sample_count(self, count: int) -> None:
        if not 1 <= count <= MAX_SAMPLES:
            raise ColorStudioError(f"number of samples must be between 1 and {MAX_SAMPLES}, got {count}")
        self.sample_count = int(count)
        self.events.model.emit()

    def set_temperature(self, temperature: float) -> None:
        self.temperature = ColorizeRequest.check_temperature(temperature)
        self._invalidate_predictions()
        self.events.model.emit()

    def set_base_seed(self, seed: int) -> None:
        if not 0 <= seed <= MAX_SEED:
            raise ColorStudioError(f"seed must be an integer from 0 to {MAX_SEED}, got {seed}")
        self.base_seed = int(seed)
        self.events.model.emit()

    # ------------------------------------------------------------------ image
    def open_image(self, path: str | Path) -> None:
        """Open synchronously (scripts and tests); the GUI runs :class:`OpenImageJob` and calls set_image."""
        self.set_image(OpenImageJob().run(Path(path)))

    def set_image(self, image: LoadedImage) -> None:
        """Start editing a new image: samples, hints and edits (hue bias, reference) are reset."""
        self.image = image
        self.slots = []
        self.chosen = None
        self.hints = ()
        self.hue_bias = HueBias()
        self.reference = ReferenceSettings()
        self.reference_image = None
        self.result = None
        self._warm = None
        self.path = None
        self.predict_revision += 1
        self.preview_revision += 1
        self._clear_draft()
        self._follow_best = True
        self.dirty = False
        self.events.image.emit()
        self.events.samples.emit()
        self.events.hints.emit()
        self.events.hue_bias.emit(self.hue_bias)
        self.events.reference.emit(self.reference)
        self.events.result.emit()
        self.events.path.emit(None)
        self.events.dirty.emit(False)

    @property
    def has_image(self) -> bool:
        return self.image is not None

    @property
    def source_size(self) -> tuple[int, int]:
        """(W, H) of the source image."""
        if self.image is None:
            raise ColorStudioError("no image is open")
        return self.image.size

    @property
    def source_path(self) -> Path | None:
        return None if self.image is None else Path(self.image.source.path)

    # ------------------------------------------------------------------ predictions
    def _require_image(self) -> LoadedImage:
        if self.image is None:
            raise ColorStudioError("open an image first")
        return self.image

    def _predict_request(self, seeds: Sequence[int]) -> PredictRequest:
        image = self._require_image()
        return PredictRequest(request=self.request, device=self.device, lightness=image.lightness,
                              seeds=tuple(int(s) for s in seeds), revision=self.predict_revision)

    @property
    def request(self) -> ColorizeRequest:
        """The session's settings as the one request type the CLI builds too (seeds come with each job)."""
        return ColorizeRequest(model=self.model, seed=self.base_seed, temperature=self.temperature,
                               hints=tuple(self.hints), hue_bias=self.hue_bias, reference=self.reference,
                               device=str(self.device))

    def begin_colorize(self) -> PredictRequest:
        """New gallery of ``sample_count`` seeds starting at ``base_seed``; returns the work to run."""
        self._require_image()
        self._new_gallery()
        return self._predict_request([slot.seed for slot in self.slots])

    def _new_gallery(self) -> None:
        """Empty slots for ``sample_count`` seeds from ``base_seed`` (one for a single-sample model)."""
        count = self.sample_count if self.supports_samples() else 1
        self.predict_revision += 1
        self.slots = [SampleSlot(self.base_seed + k, revision=self.predict_revision) for k in range(count)]
        self.chosen = 0
        self._follow_best = True
        self._mark_changed()
        self.events.samples.emit()
        self.events.chosen.emit(self.chosen)

    def begin_more_samples(self, count: int | None = None) -> PredictRequest:
        """Append ``count`` new seeds (after the largest one so far); returns the work for them only."""
        self._require_image()
        if not self.slots:
            return self.begin_colorize()
        count = count or self.sample_count
        start = max(slot.seed for slot in self.slots) + 1
        new = [SampleSlot(start + k, revision=self.predict_revision) for k in range(count)]
        self.slots.extend(new)
        self._mark_changed()
        self.events.samples.emit()
        return self._predict_request([slot.seed for slot in new])

    def refresh_request(self) -> PredictRequest | None:
        """Work for every slot that is missing or stale, the chosen one first (it is on screen)."""
        if self.image is None:
            return None
        if not self.slots:
            if not self.hints:
                return None
            # A first hint with nothing predicted yet: colorize one sample so the hint shows.
            self.slots = [SampleSlot(self.base_seed, revision=self.predict_revision)]
            self.chosen = 0
            self._follow_best = True
            self.events.samples.emit()
            self.events.chosen.emit(0)
        order = [i for i, slot in enumerate(self.slots) if slot.sample is None or slot.stale]
        if self.chosen in order:
            order.remove(self.chosen)
            order.insert(0, self.chosen)
        if not order:
            return None
        return self._predict_request([self.slots[i].seed for i in order])

    def accept_sample(self, revision: int, sample: SampleResult) -> bool:
        """Store an arrived sample in the slot of its seed.

        A sample for the current revision makes the slot up to date. One computed for older hints is
        still shown (it is closer than what the slot holds: live feedback while a hint is dragged) but
        the slot stays stale; anything older than what the slot already holds is dropped.
        """
        for slot in self.slots:
            if slot.seed != sample.seed:
                continue
            if revision < slot.revision or (slot.sample is not None and not slot.stale):
                return False
            shown = self.displayed_sample
            slot.sample = sample
            slot.revision = revision
            slot.stale = revision != self.predict_revision
            self._rank_slots()
            self.events.samples.emit()
            if self.displayed_sample is not shown:
                self._invalidate_preview()
            return True
        return False

    def _rank_slots(self) -> None:
        """Best first (samples with a score, by score), then the slots still waiting, in seed order; the
        chosen slot stays chosen, or the best one is when the user has not picked one."""
        if not any(slot.sample is not None and slot.sample.score is not None for slot in self.slots):
            return  # a model that does not rank keeps seed order

        def key(slot: SampleSlot) -> tuple[int, float, int]:
            if slot.sample is None or slot.sample.score is None:
                return (1, 0.0, slot.seed)
            return (0, -slot.sample.score, slot.seed)

        chosen = self.slots[self.chosen] if self.chosen is not None and self.chosen < len(self.slots) else None
        self.slots.sort(key=key)
        if self._follow_best and self.slots[0].sample is not None:
            index: int | None = 0
        else:
            index = next((i for i, slot in enumerate(self.slots) if slot is chosen), None)
        if index != self.chosen:
            self.chosen = index
            self._warm = None
            self.events.chosen.emit(index)

    def slot_index(self, seed: int) -> int | None:
        """Where the sample of ``seed`` is in the gallery now (the order follows the ranking)."""
        return next((i for i, slot in enumerate(self.slots) if slot.seed == seed), None)

    def discard_unfinished(self) -> None:
        """Drop the slots whose sample never arrived (a cancelled or failed prediction); the others stay."""
        kept = [slot for slot in self.slots if slot.sample is not None]
        if len(kept) == len(self.slots):
            return
        shown = self.slots[self.chosen] if self.chosen is not None and self.chosen < len(self.slots) else None
        self.slots = kept
        index = next((i for i, slot in enumerate(kept) if slot is shown), None)
        self.events.samples.emit()
        if index is None and kept:
            self.chosen = None
            self.choose_sample(0)  # what was shown never arrived: show the first sample that did
        else:
            self.chosen = index
            self.events.chosen.emit(index)

    def _invalidate_predictions(self, draft: bool = False) -> None:
        """The samples are out of date; ``draft``: the change (hints, model) is worth a draft meanwhile."""
        self.predict_revision += 1
        for slot in self.slots:
            slot.stale = True
        self._draft_wanted = draft
        self._mark_changed()
        if self.image is not None and (self.slots or self.hints):
            if draft and self.supports_samples():
                self.events.stale.emit("draft")
            self.events.stale.emit("predict")

    @property
    def samples_pending(self) -> bool:
        return any(slot.sample is None or slot.stale for slot in self.slots)

    @property
    def current_sample(self) -> SampleResult | None:
        if self.chosen is None or not 0 <= self.chosen < len(self.slots):
            return None
        return self.slots[self.chosen].sample

    @property
    def draft_current(self) -> bool:
        """Whether the draft was made for the current hints and model."""
        return self.draft is not None and self.draft_revision == self.predict_revision

    @property
    def displayed_sample(self) -> SampleResult | None:
        """What the preview shows: the chosen sample when it is up to date, else the draft for the current
        hints while the samples are drawn, else the chosen sample computed for older hints."""
        slot = self.slots[self.chosen] if self.chosen is not None and 0 <= self.chosen < len(self.slots) else None
        if slot is not None and slot.sample is not None and not slot.stale:
            return slot.sample
        if self.draft_current:
            return self.draft
        return None if slot is None else slot.sample

    @property
    def histograms_available(self) -> bool:
        """Whether hue bias, energy transfer, uncertainty and suggested colours can work right now."""
        sample = self.current_sample
        return sample is not None and sample.histograms is not None

    def choose_sample(self, index: int | None) -> None:
        if index is not None and not 0 <= index < len(self.slots):
            raise ColorStudioError(f"no sample number {index}")
        self._follow_best = False  # the user's pick stays chosen while later samples are ranked around it
        if index == self.chosen:
            return
        self.chosen = index
        self._warm = None
        self._mark_changed()
        self.events.chosen.emit(index)
        self._invalidate_preview()

    # ------------------------------------------------------------------ hints
    def _check_hint(self, hint: Any) -> None:
        width, height = self.source_size
        if not (0 <= hint.x <= width and 0 <= hint.y <= height):
            raise ColorStudioError(f"hint at ({hint.x:.1f}, {hint.y:.1f}) lies outside the {width}x{height} image")
        if hint.radius <= 0:
            raise ColorStudioError(f"hint radius must be positive, got {hint.radius}")

    def _set_hints(self, hints: Iterable[Any]) -> None:
        self.hints = tuple(hints)
        self.events.hints.emit()
        self._invalidate_predictions(draft=True)

    def add_hint(self, hint: Any) -> int:
        """Append a hint (a :class:`colorstudio.engine.hints.Hint`); returns its index."""
        self.insert_hint(len(self.hints), hint)
        return len(self.hints) - 1

    def insert_hint(self, index: int, hint: Any) -> None:
        self._check_hint(hint)
        hints = list(self.hints)
        hints.insert(index, hint)
        self._set_hints(hints)

    def replace_hint(self, index: int, hint: Any) -> None:
        self._check_hint(hint)
        hints = list(self.hints)
        hints[index] = hint
        self._set_hints(hints)

    def move_hint(self, index: int, x: float, y: float) -> None:
        width, height = self.source_size
        x, y = float(np.clip(x, 0, width)), float(np.clip(y, 0, height))
        self.replace_hint(index, dataclasses.replace(self.hints[index], x=x, y=y))

    def set_hint_radius(self, index: int, radius: float) -> None:
        self.replace_hint(index, dataclasses.replace(self.hints[index], radius=float(radius)))

    def set_hint_color(self, index: int, color: str) -> None:
        self.replace_hint(index, dataclasses.replace(self.hints[index], color=color))

    def remove_hint(self, index: int) -> Any:
        hints = list(self.hints)
        removed = hints.pop(index)
        self._set_hints(hints)
        return removed

    def set_hints(self, hints: Sequence[Any]) -> None:
        for hint in hints:
            self._check_hint(hint)
        self._set_hints(hints)

    def hint_at(self, x: float, y: float, tolerance: float = 0.0) -> int | None:
        """Index of the topmost hint whose disc (radius + ``tolerance`` source px) contains (x, y)."""
        for index in range(len(self.hints) - 1, -1, -1):
            hint = self.hints[index]
            if (hint.x - x) ** 2 + (hint.y - y) ** 2 <= (max(hint.radius, 0.0) + tolerance) ** 2:
                return index
        return None

    def load_hints(self, path: str | Path) -> None:
        self.set_hints(load_hints(Path(path), image_size=self.source_size))

    def save_hints(self, path: str | Path) -> Path:
        save_hints(Path(path), list(self.hints))
        return Path(path)

    def suggested_colors(self, x: float, y: float, limit: int = 6) -> list[str]:
        """Colours to offer at source pixel (x, y): the histogram model's modes, else each sample's colour."""
        if self.image is None:
            return []
        width, height = self.source_size
        sample = self.current_sample
        if sample is not None and sample.histograms is not None:
            # The histograms live on the model's own output grid, which may be coarser than work_size.
            h, w = sample.histograms.hue.shape[-2:]
            col, row = min(int(x * w / width), w - 1), min(int(y * h / height), h - 1)
            lightness = float(self.image.lightness[min(int(y), height - 1), min(int(x), width - 1)])
            # Swatches at the pixel's own L* are near black on dark pixels; a hint uses only the colour's
            # chroma (L comes from the photo), so show them at a lightness where hues are recognisable.
            modes = suggested_colors(sample.histograms.hue, sample.histograms.chroma, col, row,
                                     float(np.clip(lightness, *SWATCH_LIGHTNESS)), k=limit)
            return [color for color, _weight in modes]
        return self._sample_colors_at(x, y)[:limit]

    def _sample_colors_at(self, x: float, y: float) -> list[str]:
        """The main colours of the samples around (x, y), most frequent hue first, vivid before gray.

        A single pixel of a sampler's result is often nearly gray even where colour is close by (the issue
        where all of PixColor's suggestions were gray), so every sample's a*b* in a window of ~5% of the
        image around the point is grouped by hue (30 degree sectors); each sector gives its median colour.
        """

        width, height = self.source_size
        lightness = float(self._require_image().lightness[min(int(y), height - 1), min(int(x), width - 1)])
        patches = []
        for slot in self.slots:
            if slot.sample is None:
                continue
            w, h = slot.sample.work_size
            col, row = min(int(x * w / width), w - 1), min(int(y * h / height), h - 1)
            r = max(1, round(0.025 * max(w, h)))
            patches.append(slot.sample.ab[max(0, row - r):row + r + 1, max(0, col - r):col + r + 1].reshape(-1, 2))
        if not patches:
            return []
        ab = np.concatenate(patches).astype(np.float64)
        lab = np.concatenate([np.full((len(ab), 1), 50.0), ab], axis=1)
        _, chroma, hue = lab_to_lch(lab)  # hue in turns
        vivid = chroma >= NEUTRAL_CHROMA
        groups: list[tuple[float, np.ndarray]] = []
        sector = np.floor(hue * 12).astype(int) % 12
        for k in range(12):
            members = vivid & (sector == k)
            if members.any():
                groups.append((float(members.sum()), np.median(ab[members], axis=0)))
        groups.sort(key=lambda group: -group[0])
        if (~vivid).any():  # one neutral entry, after the colours, when the area has gray in it
            groups.append((0.0, np.median(ab[~vivid], axis=0)))
        colors: list[str] = []
        # Shown at a mid lightness so dark pixels still give a recognisable swatch; chroma is reduced
        # (hue kept) until the colour fits sRGB, as for the histogram model's suggestions.
        shown_l = float(np.clip(lightness, *SWATCH_LIGHTNESS))
        for _, (a, b) in groups:
            _, c, h_turns = lab_to_lch(np.array([[shown_l, a, b]]))
            candidates = lch_to_lab(np.full(21, shown_l), c[0] * np.linspace(1.0, 0.0, 21), np.full(21, h_turns[0]))
            rgb = lab_to_rgb(candidates, clip=False)
            inside = np.all((rgb >= -1e-4) & (rgb <= 1 + 1e-4), axis=-1)
            chosen = np.clip(rgb[int(np.argmax(inside)) if inside.any() else -1], 0, 1)
            color = "#{:02x}{:02x}{:02x}".format(*(int(round(v * 255)) for v in chosen))
            if color not in colors:
                colors.append(color)
        return colors

    # ------------------------------------------------------------------ edits
    def set_hue_bias(self, bias: HueBias) -> None:
        if bias == self.hue_bias:
            return
        self.hue_bias = bias
        self._mark_changed()
        self.events.hue_bias.emit(bias)
        self._invalidate_preview()

    def set_reference(self, settings: ReferenceSettings, image: LoadedReference | None = None) -> None:
        """Set the reference settings; ``image`` must be given when the path changes (None clears it)."""
        if settings.path is None:
            image = None
        elif image is None:
            if self.reference_image is None or str(self.reference_image.path) != settings.path:
                raise ColorStudioError("the reference image must be loaded before it is used", settings.path)
            image = self.reference_image
        else:
            settings = dataclasses.replace(settings, path=str(image.path), sha256=image.sha256)
        if settings == self.reference and image is self.reference_image:
            return
        self.reference = settings
        self.reference_image = image
        # No reset of the warm start: apply_edits itself ignores a warm state from another reference.
        self._mark_changed()
        self.events.reference.emit(settings)
        self._invalidate_preview()

    def load_reference(self, path: str | Path) -> None:
        """Load (synchronously) and use a reference image, keeping strength and method."""
        image = OpenReferenceJob().run(Path(path))
        self.set_reference(dataclasses.replace(self.reference, path=str(image.path)), image)

    def set_export_settings(self, settings: ExportSettings) -> None:
        settings.validate()
        if settings != self.export_settings:
            self.export_settings = settings
            self._mark_changed()
            self.events.export_settings.emit(settings)

    @property
    def edits(self) -> Edits:
        """The edits the shown sample can take. A sample without histograms gets no hue bias and quantile
        matching for an energy reference, so settings kept from a histogram model never block its preview
        or export; the settings themselves stay as they are for when such a model is chosen again."""
        edits = self.request.edits(self.reference_image)
        sample = self.displayed_sample
        return edits if sample is None else edits.fitted(histograms=sample.histograms is not None)

    # ------------------------------------------------------------------ draft
    def _clear_draft(self) -> None:
        self.draft = None
        self.draft_revision = -1
        self._draft_wanted = False

    def draft_request(self) -> DraftRequest | None:
        """The draft to compute now (after a hint or a new model, with a sampling model), else None."""
        if self.image is None or not self._draft_wanted or self.draft_current or not self.supports_samples():
            return None
        return DraftRequest(request=self.request, device=self.device, lightness=self.image.lightness,
                            revision=self.predict_revision)

    def accept_draft(self, revision: int, draft: SampleResult | None) -> bool:
        """Keep the conditioner's colorization for ``revision``: it is shown while the chosen sample for
        these hints has not arrived. A draft for older hints is dropped (False)."""
        if revision != self.predict_revision:
            return False
        self._draft_wanted = False  # asked and answered (None: this model has no draft)
        if draft is None:
            return False
        shown = self.displayed_sample
        self.draft, self.draft_revision = draft, revision
        if self.displayed_sample is not shown:
            self._invalidate_preview()
        return True

    # ------------------------------------------------------------------ preview
    def _invalidate_preview(self) -> None:
        self.preview_revision += 1
        if self.displayed_sample is not None:
            self.events.stale.emit("preview")

    def preview_request(self) -> PreviewRequest | None:
        """The preview to compute now, or None when there is no sample (nor draft) to show yet."""
        sample = self.displayed_sample
        if self.image is None or sample is None:
            return None
        return PreviewRequest(
            lightness=self.image.preview_lightness, sample=sample, edits=self.edits, warm=self._warm,
            revision=self.preview_revision,
        )

    def accept_preview(self, result: PreviewResult) -> bool:
        """Show a computed preview unless a newer one is already shown (older results are dropped)."""
        if self.result is not None and result.revision < self.result.revision:
            return False
        self.result = result
        self._warm = result.warm
        self.events.result.emit()
        return True

    @property
    def preview_current(self) -> bool:
        return self.result is not None and self.result.revision == self.preview_revision

    # ------------------------------------------------------------------ export
    def export_request(self, target: str | Path, settings: ExportSettings | None = None) -> ExportRequest:
        image = self._require_image()
        if self.chosen is None or not self.slots:
            raise ColorStudioError("nothing to export yet: colorize the image first")
        if self.samples_pending:
            raise ColorStudioError("samples are still being computed; export when they have arrived")
        settings = settings or self.export_settings
        return ExportRequest(
            target=Path(target), source_path=Path(image.source.path), lightness=image.lightness,
            samples=tuple(cast(SampleResult, slot.sample) for slot in self.slots),  # none pending: all there
            chosen=self.chosen, edits=self.edits,
            settings=settings, icc_profile=getattr(image.source, "icc_profile", None),
        )

    # ------------------------------------------------------------------ synchronous driving
    def run_draft(self) -> None:
        """Compute and show the draft, if one is wanted, in this thread (scripts, tests and the bench)."""
        request = self.draft_request()
        if request is not None:
            self.accept_draft(request.revision, DraftJob(self.colorizers).run(request))
            preview = self.preview_request()
            if preview is not None and not self.preview_current:
                self.accept_preview(PreviewJob().run(preview))

    def run_pending(self, progress: Any = None, cancel: Any = None) -> None:
        """Compute everything that is stale, in this thread (scripts and tests; the GUI uses workers):
        the draft first, then the samples."""
        self.run_draft()
        if self.samples_pending or (self.hints and not self.slots):
            request = self.refresh_request()
            if request is not None:
                for sample in PredictJob(self.colorizers).run(request, progress, cancel):
                    self.accept_sample(request.revision, sample)
        preview = self.preview_request()
        if preview is not None and not self.preview_current:
            self.accept_preview(PreviewJob().run(preview, progress, cancel))

    def colorize(self, progress: Any = None, cancel: Any = None) -> None:
        """Synchronous Colorize: a new gallery, predicted and previewed."""
        request = self.begin_colorize()
        for sample in PredictJob(self.colorizers).run(request, progress, cancel):
            self.accept_sample(request.revision, sample)
        self.run_pending(progress, cancel)

    # ------------------------------------------------------------------ restoring a saved session
    def restore(
        self,
        image: LoadedImage,
        *,
        model: str,
        temperature: float,
        sample_count: int,
        base_seed: int,
        seeds: Sequence[int],
        chosen: int | None,
        hints: Sequence[Any],
        hue_bias: HueBias,
        reference: ReferenceSettings,
        reference_image: LoadedReference | None,
        export_settings: ExportSettings,
        path: Path | None = None,
    ) -> None:
        """Replace the whole state (used by session files); the samples are then pending."""
        choice = self.choice(model)
        if choice is None or not choice.available:
            reason = "unknown model" if choice is None else choice.reason
            raise ColorStudioError(f"the session uses model {model!r}, which cannot be used here: {reason}")
        self.set_image(image)
        self.model = model
        self.temperature = float(temperature)
        self.sample_count = int(sample_count)
        self.base_seed = int(base_seed)
        for hint in hints:
            self._check_hint(hint)
        self.hints = tuple(hints)
        self.slots = [SampleSlot(int(seed), revision=self.predict_revision + 1) for seed in seeds]
        self.chosen = chosen if self.slots else None
        self._follow_best = chosen == 0  # the saved order was best first: a pick further down stays picked
        self.hue_bias = hue_bias
        self.reference = reference if reference_image is not None else ReferenceSettings()
        self.reference_image = reference_image
        self.export_settings = export_settings
        self.predict_revision += 1
        self.preview_revision += 1
        self.path = path
        self.dirty = False
        for signal in (self.events.model, self.events.samples, self.events.hints):
            signal.emit()
        self.events.chosen.emit(self.chosen)
        self.events.hue_bias.emit(self.hue_bias)
        self.events.reference.emit(self.reference)
        self.events.export_settings.emit(self.export_settings)
        self.events.path.emit(path)
        self.events.dirty.emit(False)
        if self.slots or self.hints:
            self.events.stale.emit("predict")

    # ------------------------------------------------------------------ bookkeeping
    def _mark_changed(self) -> None:
        if not self.dirty:
            self.dirty = True
            self.events.dirty.emit(True)

    def mark_unsaved(self) -> None:
        """Flag the state as not saved anywhere (e.g. recovered from an autosave)."""
        self._mark_changed()

    def mark_saved(self, path: Path | None) -> None:
        self.path = path
        self.dirty = False
        self.events.path.emit(path)
        self.events.dirty.emit(False)
