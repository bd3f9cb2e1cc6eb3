"""The samples panel: model chooser, N, seed, temperature, Colorize / More / Cancel, progress, gallery."""

from __future__ import annotations

import qtawesome as qta
from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from colorstudio.engine.session import MAX_SAMPLES, Session
from colorstudio.gui.images import sample_qimage, thumbnail_icon
from colorstudio.gui.panels._common import ElidedProgressBar, icon_button, make_secondary

__all__ = ["SamplesPanel", "THUMB", "THUMB_RANGE"]

THUMB = 160  # default thumbnail size; the panel's slider sets it from THUMB_RANGE
THUMB_RANGE = (64, 384)


class SamplesPanel(QWidget):
    """Model chooser, N, seed, Colorize / More samples / Cancel, progress, and the gallery."""

    colorize_requested = Signal()
    more_requested = Signal()
    cancel_requested = Signal()
    sample_clicked = Signal(int)
    model_requested = Signal(str)
    compare_requested = Signal()

    SEED_TIP = "First seed; sample k uses seed + k, so any sample can be reproduced"
    TEMPERATURE_TIP = "Sampling temperature: lower is safer, higher is more varied"

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.model_combo = QComboBox()
        self.model_combo.setToolTip("Colorization model; models without trained weights are shown disabled")
        self.count_spin = QSpinBox()
        self.count_spin.setRange(1, MAX_SAMPLES)
        self.count_spin.setToolTip("Number of samples to draw (sampling models only)")
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setToolTip(self.SEED_TIP)
        self.temperature_spin = QDoubleSpinBox()
        self.temperature_spin.setRange(0.05, 2.0)
        self.temperature_spin.setSingleStep(0.05)
        self.temperature_spin.setToolTip(self.TEMPERATURE_TIP)
        self.colorize_button = icon_button("mdi6.palette", "Colorize", "Predict new samples (Ctrl+R)")
        self.colorize_button.setDefault(True)
        self.more_button = icon_button("mdi6.plus-box-multiple", "More samples", "Add samples with new seeds")
        self.cancel_button = icon_button("mdi6.close-circle-outline", "Cancel", "Stop the running prediction")
        self.cancel_button.setEnabled(False)
        self.progress = ElidedProgressBar()
        self._busy = False
        self.gallery = QListWidget()
        self.gallery.setViewMode(QListWidget.ViewMode.IconMode)
        self.gallery.setResizeMode(QListWidget.ResizeMode.Adjust)  # the grid reflows as the dock is resized
        self.gallery.setMovement(QListWidget.Movement.Static)
        self.gallery.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.gallery.setWordWrap(True)
        self.gallery.setToolTip("Click a sample to make it the current result; models that rank their samples "
                                "show the most plausible first, with its score")
        self.thumb_slider = QSlider(Qt.Orientation.Horizontal)
        self.thumb_slider.setRange(*THUMB_RANGE)
        self.thumb_slider.setSingleStep(16)
        self.thumb_slider.setPageStep(64)
        self.thumb_slider.setValue(THUMB)
        self.thumb_slider.setToolTip("Thumbnail size; Fit sizes them so that every sample shows (drag the dock's "
                                     "edge or float it for a larger grid)")
        self.fit_button = QToolButton()
        self.fit_button.setText("Fit")
        self.fit_button.setCheckable(True)
        self.fit_button.setChecked(True)
        self.fit_button.setToolTip("Size the thumbnails so that all samples fit the gallery without scrolling")
        self.compare_button = icon_button("mdi6.compare", "Compare…", "Show two samples side by side, large")
        self._set_thumb_size(THUMB)
        self.gallery.installEventFilter(self)  # a resized gallery re-fits its thumbnails
        self.single_note = QLabel("Single-sample model: one result per image (N, seed and T do not apply).")
        self.single_note.setWordWrap(True)
        make_secondary(self.single_note)

        form = QFormLayout()
        form.addRow("Model", self.model_combo)
        row = QHBoxLayout()
        row.addWidget(QLabel("N"))
        row.addWidget(self.count_spin)
        row.addWidget(QLabel("Seed"))
        row.addWidget(self.seed_spin, 1)
        row.addWidget(QLabel("T"))
        row.addWidget(self.temperature_spin)
        form.addRow(row)
        buttons = QHBoxLayout()
        for button in (self.colorize_button, self.more_button, self.cancel_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.single_note)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        view_row = QHBoxLayout()
        view_row.addWidget(self.compare_button)
        view_row.addSpacing(8)
        view_row.addWidget(QLabel("Size"))
        view_row.addWidget(self.thumb_slider, 1)
        view_row.addWidget(self.fit_button)
        layout.addLayout(view_row)
        layout.addWidget(self.gallery, 1)

        self.colorize_button.clicked.connect(self.colorize_requested)
        self.more_button.clicked.connect(self.more_requested)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.compare_button.clicked.connect(self.compare_requested)
        self.thumb_slider.valueChanged.connect(self._thumb_slider_moved)
        self.fit_button.toggled.connect(lambda on: self.fit_thumbnails() if on else None)
        self.gallery.itemClicked.connect(lambda item: self.sample_clicked.emit(self.gallery.row(item)))
        self.model_combo.activated.connect(self._model_activated)
        self.count_spin.valueChanged.connect(lambda v: session.set_sample_count(v))
        self.seed_spin.valueChanged.connect(lambda v: session.set_base_seed(v))
        self.temperature_spin.valueChanged.connect(lambda v: session.set_temperature(v))
        session.events.model.connect(self.show_model)
        session.events.samples.connect(self.show_samples)
        session.events.chosen.connect(self.show_chosen)
        session.events.image.connect(self.show_model)
        session.events.image.connect(lambda: self._set_thumb_size(self.thumb_size, force=True))
        self.show_model()
        self.show_samples()

    def _model_activated(self, row: int) -> None:
        name = self.model_combo.itemData(row)
        if name and name != self.session.model:
            self.model_requested.emit(name)

    def show_model(self) -> None:
        s = self.session
        model = QStandardItemModel(self)
        for choice in s.model_choices:
            item = QStandardItem(choice.name if choice.available else f"{choice.name} (not installed)")
            item.setData(choice.name, Qt.ItemDataRole.UserRole)
            item.setToolTip(choice.description if choice.available else f"{choice.description}\n{choice.reason}")
            if not choice.available:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled & ~Qt.ItemFlag.ItemIsSelectable)
            model.appendRow(item)
        self.model_combo.blockSignals(True)
        self.model_combo.setModel(model)
        self.model_combo.setCurrentIndex(max(0, self.model_combo.findData(s.model)))
        self.model_combo.blockSignals(False)
        sampling = s.supports_samples()
        # A single-sample model shows N = 1 (what it will compute), not the count kept for samplers.
        for spin, value in ((self.count_spin, s.sample_count if sampling else 1), (self.seed_spin, s.base_seed)):
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)
        self.temperature_spin.blockSignals(True)
        self.temperature_spin.setValue(s.temperature)
        self.temperature_spin.blockSignals(False)
        for widget in (self.count_spin, self.seed_spin, self.temperature_spin):
            widget.setEnabled(sampling)
        self.more_button.setEnabled(sampling and s.has_image)
        self.colorize_button.setEnabled(s.has_image)
        current = s.choice(s.model)
        self.model_combo.setToolTip("Colorization model; models without trained weights are shown disabled"
                                    + ("" if current is None else f"\n{s.model}: {current.description}"))
        if sampling:
            self.count_spin.setToolTip("Number of samples to draw, shown side by side")
            self.seed_spin.setToolTip(self.SEED_TIP)
            self.temperature_spin.setToolTip(self.TEMPERATURE_TIP)
            self.more_button.setToolTip("Add samples with new seeds (Ctrl+M)")
        else:
            why = (f"Model '{s.model}' predicts one colour distribution per pixel and turns it into one image: "
                   "there is nothing to sample, so N is 1 and seed and temperature do not apply.\n"
                   "Steer it with hints, hue bias or a reference instead; PixColor and PIC draw several samples.")
            for widget in (self.count_spin, self.seed_spin, self.temperature_spin):
                widget.setToolTip(why)
            self.more_button.setToolTip(
                f"Model '{s.model}' gives a single result; choose a sampling model (PixColor, PIC) for more")
        self.single_note.setVisible(not sampling)

    @property
    def thumb_size(self) -> int:
        """The thumbnails' long side in px."""
        return self._thumb_size

    def _box(self, size: int) -> QSize:
        """The icon box for long side ``size``: the photo's shape, so no row height is spent on padding."""
        if self.session.image is None:
            return QSize(size, size)
        w, h = self.session.source_size
        return QSize(size, max(1, round(size * h / w))) if w >= h else QSize(max(1, round(size * w / h)), size)

    def _thumb_slider_moved(self, size: int) -> None:
        self.fit_button.setChecked(False)  # the user chose a size: keep it
        self._set_thumb_size(size)

    def _set_thumb_size(self, size: int, force: bool = False) -> None:
        if size == getattr(self, "_thumb_size", None) and not force:
            return
        self._thumb_size = size
        box = self._box(size)
        self.gallery.setIconSize(box)
        self.gallery.setGridSize(QSize(box.width() + 16, box.height() + 40))  # room for two lines of text
        self.gallery.setMinimumHeight(THUMB_RANGE[0] + 48)  # one row at least
        if self.thumb_slider.value() != size:
            self.thumb_slider.blockSignals(True)
            self.thumb_slider.setValue(size)
            self.thumb_slider.blockSignals(False)
        if self.gallery.count():
            self.show_samples()

    def fit_thumbnails(self) -> None:
        """The largest thumbnails (within THUMB_RANGE) with which every sample shows without scrolling."""
        if not self.fit_button.isChecked():
            return
        area = self.gallery.contentsRect()  # not the viewport: a scroll bar coming or going must not re-fit
        count = max(1, len(self.session.slots))
        low, high = THUMB_RANGE
        best = low
        for size in range(high, low - 1, -8):
            box = self._box(size)
            columns = max(1, (area.width() - 4) // (box.width() + 16))
            rows = -(-count // columns)
            if rows * (box.height() + 40) <= area.height() - 4:
                best = size
                break
        self._set_thumb_size(best)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt API
        if watched is self.gallery and event.type() == QEvent.Type.Resize:
            self.fit_thumbnails()
        return super().eventFilter(watched, event)

    def show_samples(self) -> None:
        slots = self.session.slots
        if len(slots) != self.gallery.count():
            self.fit_thumbnails()  # may call back here with the new size; the keys make that cheap
        sampling = self.session.supports_samples()
        while self.gallery.count() > len(slots):
            self.gallery.takeItem(self.gallery.count() - 1)
        while self.gallery.count() < len(slots):
            self.gallery.addItem(QListWidgetItem())
        for row, slot in enumerate(slots):
            item = self.gallery.item(row)
            key = (row, slot.seed, id(slot.sample), slot.stale, sampling, self._busy, self.thumb_size)
            if item.data(Qt.ItemDataRole.UserRole) == key:
                continue
            item.setData(Qt.ItemDataRole.UserRole, key)
            name = f"seed {slot.seed}" if sampling else self.session.model
            score = None if slot.sample is None else slot.sample.score
            if score is not None:
                name += f" · {score:.2f}"
            if slot.sample is None:
                item.setIcon(qta.icon("mdi6.timer-sand", color="#888888"))
                item.setText(f"{name}\ncomputing…")
            else:
                item.setIcon(self._thumbnail(slot.sample))
                # A stale sample is being replaced while work runs; after a cancel it stays outdated.
                item.setText(name + (("\nupdating…" if self._busy else "\noutdated") if slot.stale else ""))
            item.setToolTip(self._tooltip(row, slot.seed, score))
        self.compare_button.setEnabled(sum(slot.sample is not None for slot in slots) >= 2)
        self.show_chosen(self.session.chosen)

    def _tooltip(self, row: int, seed: int, score: float | None) -> str:
        text = f"Sample {row + 1}, seed {seed} (model {self.session.model})"
        if score is not None:
            text += (f"\nPlausibility {score:.2f}: the mean log-likelihood per cell of its colours under the model's "
                     "colour histograms (and its agreement with your hints); higher is more plausible. "
                     "The gallery shows the most plausible first.")
        return text + "\nThe thumbnail shows the prediction before hue bias and reference"

    def _thumbnail(self, sample) -> QIcon:
        size = self.thumb_size
        image = self.session.image
        assert image is not None  # samples exist only for an open image
        return thumbnail_icon(sample_qimage(image.preview_lightness, sample.ab, size), self._box(size))

    def show_chosen(self, index: int | None) -> None:
        self.gallery.blockSignals(True)
        if index is None or index >= self.gallery.count():
            self.gallery.clearSelection()
        else:
            self.gallery.setCurrentRow(index)
        self.gallery.blockSignals(False)

    def set_busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)
        if not busy:
            self.progress.reset_idle()
        if busy != self._busy:
            self._busy = busy
            self.show_samples()

    def set_progress(self, fraction: float, message: str) -> None:
        self.progress.show_progress(fraction, message)
