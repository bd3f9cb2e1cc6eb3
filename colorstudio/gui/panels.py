"""Side panels: samples gallery, hints and colour picker, hue bias + reference, uncertainty overlay.

Each panel gets the session in its constructor, follows its events to show the current state, and
reports user input through signals (the window wraps them in undo commands). Panels hold no truth.
"""

from __future__ import annotations

import itertools
from typing import cast

import numpy as np
import qtawesome as qta
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPalette, QPixmap, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDial,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from colorstudio.color import lab_to_rgb
from colorstudio.engine.session import MAX_SAMPLES, Session
from colorstudio.gui.images import COLORMAPS, colormap_bar, rgb_to_qimage, sample_qimage, swatch_icon, thumbnail_icon

__all__ = ["SamplesPanel", "HintsPanel", "AdjustPanel", "UncertaintyPanel", "ElidedProgressBar", "gesture_ids"]

THUMB = 160  # default thumbnail size; the panel's slider sets it from THUMB_RANGE
THUMB_RANGE = (64, 384)
DEFAULT_HUE_STRENGTH = 0.5  # strength given when the dial is turned while the strength is zero
gesture_ids = itertools.count(1)  # shared counter: each slider/dial drag gets its own merge id


def lab_hue_color(angle_deg: float, lightness: float = 65.0, chroma: float = 45.0) -> str:
    """'#rrggbb' of the Lab hue ``angle_deg`` at a mid lightness and chroma (for the dial's swatch)."""
    import numpy as np


    rad = np.radians(angle_deg)
    rgb = np.clip(lab_to_rgb(np.array([[lightness, chroma * np.cos(rad), chroma * np.sin(rad)]], np.float32))[0], 0, 1)
    return "#" + "".join(f"{int(round(float(v) * 255)):02x}" for v in rgb)


def make_secondary(label: QLabel) -> None:
    """Secondary (note) text: the theme's text colour, a little faded; palette(mid) was too faint to read."""
    palette = label.palette()
    color = palette.color(QPalette.ColorRole.WindowText)
    color.setAlpha(175)
    palette.setColor(QPalette.ColorRole.WindowText, color)
    label.setPalette(palette)


def _icon_button(icon: str, text: str, tooltip: str) -> QPushButton:
    button = QPushButton(qta.icon(icon), text)
    button.setToolTip(tooltip)
    return button


class ElidedProgressBar(QProgressBar):
    """A progress bar whose text is one line that fits: the message elided, then the percentage; the full
    message is the tooltip (file names in messages are long, and the bar is narrow)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRange(0, 1000)
        self.setTextVisible(True)
        self._message = ""
        self.reset_idle()

    def reset_idle(self) -> None:
        self._message = ""
        self.setValue(0)
        self.setFormat("idle")
        self.setToolTip("")

    def show_progress(self, fraction: float, message: str) -> None:
        self._message = message.replace("%", "\uff05")  # a '%' would start a format code (%p, %v, %m)
        self.setValue(int(min(max(fraction, 0.0), 1.0) * 1000))
        self.setToolTip(message)
        self._refit()

    def _refit(self) -> None:
        if not self._message:
            return
        metrics = self.fontMetrics()
        room = self.contentsRect().width() - 8 - metrics.horizontalAdvance(" – 100%")
        text = metrics.elidedText(self._message, Qt.TextElideMode.ElideRight, max(room, 0))
        self.setFormat(f"{text} – %p%" if text else "%p%")

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._refit()


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
        self.colorize_button = _icon_button("mdi6.palette", "Colorize", "Predict new samples (Ctrl+R)")
        self.colorize_button.setDefault(True)
        self.more_button = _icon_button("mdi6.plus-box-multiple", "More samples", "Add samples with new seeds")
        self.cancel_button = _icon_button("mdi6.close-circle-outline", "Cancel", "Stop the running prediction")
        self.cancel_button.setEnabled(False)
        self.progress = ElidedProgressBar()
        self._busy = False
        self.gallery = QListWidget()
        self.gallery.setViewMode(QListWidget.ViewMode.IconMode)
        self.gallery.setResizeMode(QListWidget.ResizeMode.Adjust)  # the grid reflows as the dock is resized
        self.gallery.setMovement(QListWidget.Movement.Static)
        self.gallery.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.gallery.setWordWrap(True)
        self.gallery.setToolTip("Click a sample to make it the current result")
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
        self.compare_button = _icon_button("mdi6.compare", "Compare…", "Show two samples side by side, large")
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
        from PySide6.QtCore import QEvent

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
            key = (slot.seed, id(slot.sample), slot.stale, sampling, self._busy, self.thumb_size)
            if item.data(Qt.ItemDataRole.UserRole) == key:
                continue
            item.setData(Qt.ItemDataRole.UserRole, key)
            name = f"seed {slot.seed}" if sampling else self.session.model
            if slot.sample is None:
                item.setIcon(qta.icon("mdi6.timer-sand", color="#888888"))
                item.setText(f"{name}\ncomputing…")
            else:
                item.setIcon(self._thumbnail(slot.sample))
                # A stale sample is being replaced while work runs; after a cancel it stays outdated.
                item.setText(name + (("\nupdating…" if self._busy else "\noutdated") if slot.stale else ""))
            item.setToolTip(f"Sample {row + 1}, seed {slot.seed} (model {self.session.model}); "
                            "the thumbnail shows the prediction before hue bias and reference")
        self.compare_button.setEnabled(sum(slot.sample is not None for slot in slots) >= 2)
        self.show_chosen(self.session.chosen)

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


class SwatchRow(QWidget):
    """A row of colour buttons; ``picked(color)`` when one is clicked."""

    picked = Signal(str)

    def __init__(self, slots: int = 8, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        self.buttons: list[QToolButton] = []
        for _ in range(slots):
            button = QToolButton()
            button.setFixedSize(24, 24)
            button.setIconSize(QSize(18, 18))
            button.clicked.connect(lambda _=False, b=button: self.picked.emit(b.property("color")))
            layout.addWidget(button)
            self.buttons.append(button)
        layout.addStretch(1)
        self.set_colors([])

    def set_colors(self, colors: list[str]) -> None:
        for i, button in enumerate(self.buttons):
            if i < len(colors):
                button.setIcon(swatch_icon(colors[i], 18))
                button.setProperty("color", colors[i])
                button.setToolTip(colors[i])
                button.setVisible(True)
            else:
                button.setVisible(False)

    def colors(self) -> list[str]:
        return [b.property("color") for b in self.buttons if b.isVisibleTo(self)]


class HintsPanel(QWidget):
    """The selected hint: its colour (suggested, recent, the picker with the gamut chart), its radius."""

    color_chosen = Signal(str)  # a swatch gave a colour for the selected hint
    radius_changed = Signal(float)
    picker_requested = Signal()  # the colour swatch: open the picker beside the selected hint

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.current_color = "#c0504d"
        self.current_button = QToolButton()
        self.current_button.setFixedSize(44, 44)
        self.current_button.setIconSize(QSize(38, 38))
        self.current_button.setToolTip("Colour of the selected hint – click for its suggestions and the a*b* "
                                       "gamut chart beside it on the photo")
        self.current_label = QLabel()
        self.suggested = SwatchRow(6)
        self.suggested_label = QLabel("Click the photo to see suggestions")
        self.suggested_label.setWordWrap(True)
        self.recent = SwatchRow(8)
        self.radius_spin = QDoubleSpinBox()
        self.radius_spin.setRange(1.0, 500.0)
        self.radius_spin.setSuffix(" px")
        self.radius_spin.setToolTip("Radius of the selected hint (or the wheel over a hint)")
        self.radius_spin.setEnabled(False)
        self.count_label = QLabel()
        self.help = QLabel(
            "Click the photo: pick a colour for a new hint (suggestions, gamut; Esc cancels) · Click a hint: "
            "recolour · Drag: move · Right-click / Del: remove · Wheel over a hint: radius · "
            "Space-drag / middle button: pan"
        )
        self.help.setWordWrap(True)
        make_secondary(self.help)

        top = QHBoxLayout()
        top.addWidget(self.current_button)
        top.addWidget(self.current_label, 1)
        form = QFormLayout()
        form.addRow("Suggested", self.suggested)
        form.addRow("", self.suggested_label)
        form.addRow("Recent", self.recent)
        form.addRow("Radius", self.radius_spin)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(form)
        layout.addWidget(self.count_label)
        layout.addWidget(self.help)
        layout.addStretch(1)

        self.current_button.clicked.connect(self.picker_requested)
        self.suggested.picked.connect(self.pick)
        self.recent.picked.connect(self.pick)
        self.radius_spin.editingFinished.connect(lambda: self.radius_changed.emit(self.radius_spin.value()))
        session.events.hints.connect(self.show_hints)
        self.show_current()
        self.show_hints()

    def show_current(self) -> None:
        self.current_button.setIcon(swatch_icon(self.current_color, 38))
        self.current_label.setText(f"Hint colour {self.current_color}")

    def set_current(self, color: str) -> None:
        """Show ``color`` (the selected hint's, or the last one picked) without applying it."""
        self.current_color = color
        self.show_current()

    def pick(self, color: str) -> None:
        self.set_current(color)
        self.color_chosen.emit(color)

    def set_recent(self, colors: list[str]) -> None:
        self.recent.set_colors(colors)

    def set_suggestions(self, colors: list[str], note: str) -> None:
        self.suggested.set_colors(colors)
        self.suggested_label.setText(note)

    def show_selected(self, index: int) -> None:
        hints = self.session.hints
        valid = 0 <= index < len(hints)
        self.radius_spin.setEnabled(valid)
        if valid:
            self.radius_spin.blockSignals(True)
            self.radius_spin.setValue(hints[index].radius)
            self.radius_spin.blockSignals(False)

    def show_hints(self) -> None:
        n = len(self.session.hints)
        self.count_label.setText(f"{n} hint{'s' if n != 1 else ''}")


class HueDial(QDial):
    """A wrapping 0..359 dial with a ring of the Lab hues it selects, so the angle has a visible meaning.

    QDial (wrapping) puts value 0 at the bottom and grows clockwise; the ring follows the same mapping.
    """

    RING_WIDTH = 7

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRange(0, 359)
        self.setWrapping(True)
        self.setNotchesVisible(False)
        self._gradient_stops = self._hue_stops()

    @staticmethod
    def _hue_stops(steps: int = 24) -> list[tuple[float, QColor]]:
        import numpy as np


        angles = np.radians(np.arange(steps + 1) * 360.0 / steps)
        lab = np.stack([np.full_like(angles, 65.0), 45.0 * np.cos(angles), 45.0 * np.sin(angles)], -1)
        rgb = np.clip(lab_to_rgb(lab[None].astype(np.float32))[0], 0, 1)
        # Conical gradients run counter-clockwise from 3 o'clock; dial value v sits at (270 - v) degrees.
        return [((360.0 - k * 360.0 / steps) % 360.0 / 360.0 if k % steps else (1.0 if k else 0.0),
                 QColor.fromRgbF(*map(float, rgb[k]))) for k in range(steps + 1)]

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        from PySide6.QtCore import QPointF, QRectF
        from PySide6.QtGui import QConicalGradient, QPainter, QPen

        side = min(self.width(), self.height())
        inset = self.RING_WIDTH / 2 + 1
        rect = QRectF((self.width() - side) / 2 + inset, (self.height() - side) / 2 + inset, side - 2 * inset, side - 2 * inset)
        gradient = QConicalGradient(QPointF(rect.center()), 270.0)
        for position, color in sorted(self._gradient_stops, key=lambda stop: stop[0]):
            gradient.setColorAt(position, color)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if not self.isEnabled():
            painter.setOpacity(0.35)
        painter.setPen(QPen(gradient, self.RING_WIDTH))
        painter.drawEllipse(rect)
        painter.end()
        super().paintEvent(event)


class AdjustPanel(QWidget):
    """Hue bias (dial + strength) and reference transfer (image, strength, method)."""

    hue_changed = Signal(float, float, int)  # angle, strength, gesture id (0 = a single step)
    reference_load_requested = Signal()
    reference_clear_requested = Signal()
    reference_changed = Signal(float, str, int)  # strength, method, gesture id

    METHODS = (("energy", "Energy minimization"), ("quantile", "Quantile matching"))

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._gesture = 0
        self.dial = HueDial()
        self.dial.setFixedSize(104, 104)
        self.dial.setToolTip("Bias toward this hue (the hue on the ring; Lab hue: 0° = red/magenta, 90° = yellow, "
                             "180° = green, 270° = blue).\nPixels whose colour the model is unsure of move toward it; "
                             "confident ones barely move.\nIt is not a rotation of every hue (as the CLI's "
                             "--hue-shift). Turning it from zero strength sets the strength to "
                             f"{DEFAULT_HUE_STRENGTH:.0%}.")
        self.angle_label = QLabel("0°")
        self.angle_swatch = QLabel()
        self.angle_swatch.setFixedSize(18, 18)
        self.hue_strength = QSlider(Qt.Orientation.Horizontal)
        self.hue_strength.setRange(0, 100)
        self.hue_strength.setToolTip("How strongly uncertain pixels are pulled toward the hue (0 = off); "
                                     "confident ones barely move")
        self.hue_note = QLabel()
        self.hue_note.setWordWrap(True)
        make_secondary(self.hue_note)

        self.ref_thumb = QLabel("No reference")
        self.ref_thumb.setFixedSize(96, 72)
        self.ref_thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.ref_thumb.setStyleSheet("border: 1px solid palette(mid);")
        self.ref_load = _icon_button("mdi6.image-plus", "Load…", "Load a reference image whose colours to transfer")
        self.ref_clear = _icon_button("mdi6.image-remove", "Clear", "Stop using the reference")
        self.ref_strength = QSlider(Qt.Orientation.Horizontal)
        self.ref_strength.setRange(0, 100)
        self.ref_method = QComboBox()
        for key, text in self.METHODS:
            self.ref_method.addItem(text, key)
        self.ref_note = QLabel()
        self.ref_note.setWordWrap(True)
        make_secondary(self.ref_note)

        hue_box = QGroupBox("Bias toward a hue")
        hue_box.setToolTip("Pulls the colours the model is unsure of toward one hue; not a hue rotation")
        hue_layout = QGridLayout(hue_box)
        hue_layout.addWidget(self.dial, 0, 0, 2, 1)
        angle_row = QHBoxLayout()
        angle_row.addWidget(QLabel("Toward"))
        angle_row.addWidget(self.angle_swatch)
        angle_row.addWidget(self.angle_label, 1)
        hue_layout.addLayout(angle_row, 0, 1)
        strength_row = QHBoxLayout()
        strength_row.addWidget(QLabel("Strength"))
        strength_row.addWidget(self.hue_strength, 1)
        hue_layout.addLayout(strength_row, 1, 1)
        hue_layout.addWidget(self.hue_note, 2, 0, 1, 2)

        ref_box = QGroupBox("Reference")
        ref_layout = QGridLayout(ref_box)
        ref_layout.addWidget(self.ref_thumb, 0, 0, 2, 1)
        ref_layout.addWidget(self.ref_load, 0, 1)
        ref_layout.addWidget(self.ref_clear, 1, 1)
        ref_form = QFormLayout()
        ref_form.addRow("Strength", self.ref_strength)
        ref_form.addRow("Method", self.ref_method)
        ref_layout.addLayout(ref_form, 2, 0, 1, 2)
        ref_layout.addWidget(self.ref_note, 3, 0, 1, 2)

        layout = QVBoxLayout(self)
        layout.addWidget(hue_box)
        layout.addWidget(ref_box)
        layout.addStretch(1)

        self.dial.sliderPressed.connect(self._begin_gesture)
        self.dial.sliderReleased.connect(self._end_gesture)
        self.hue_strength.sliderPressed.connect(self._begin_gesture)
        self.hue_strength.sliderReleased.connect(self._end_gesture)
        self.ref_strength.sliderPressed.connect(self._begin_gesture)
        self.ref_strength.sliderReleased.connect(self._end_gesture)
        self.dial.valueChanged.connect(self._hue_input)
        self.hue_strength.valueChanged.connect(self._hue_input)
        self.ref_strength.valueChanged.connect(self._reference_input)
        self.ref_method.activated.connect(lambda _i: self._reference_input())
        self.ref_load.clicked.connect(self.reference_load_requested)
        self.ref_clear.clicked.connect(self.reference_clear_requested)
        for signal in (session.events.hue_bias, session.events.reference, session.events.chosen, session.events.samples):
            signal.connect(lambda *_: self.show_state())
        self.show_state()

    @staticmethod
    def dial_to_angle(value: int) -> float:
        """Dial value (0..359) -> Lab hue angle in degrees (the dial shows the number it sends)."""
        return float(value % 360)

    def _begin_gesture(self) -> None:
        self._gesture = next(gesture_ids)

    def _end_gesture(self) -> None:
        self._gesture = 0

    def _hue_input(self, *_args) -> None:
        angle = self.dial_to_angle(self.dial.value())
        if self.sender() is self.dial and self.hue_strength.value() == 0:
            # A dial turned at zero strength would change nothing visible: give it a useful strength.
            self.hue_strength.blockSignals(True)
            self.hue_strength.setValue(round(DEFAULT_HUE_STRENGTH * 100))
            self.hue_strength.blockSignals(False)
        self._show_angle(angle)
        self.hue_changed.emit(angle, self.hue_strength.value() / 100.0, self._gesture)

    def _show_angle(self, angle: float) -> None:
        self.angle_label.setText(f"{angle:.0f}°")
        self.angle_swatch.setPixmap(swatch_icon(lab_hue_color(angle), 18).pixmap(18, 18))

    def _slider_to_strength(self, method: str) -> float:
        # The CLI's --reference-strength: lambda of eq. 6 (useful 0.1..10) or the quantile blend (0..1).
        value = self.ref_strength.value() / 100.0
        return value * 10.0 if method == "energy" else value

    def _reference_input(self, *_args) -> None:
        method = self.ref_method.currentData()
        self.reference_changed.emit(self._slider_to_strength(method), method, self._gesture)

    def show_state(self) -> None:
        s = self.session
        bias = s.hue_bias
        values = ((self.dial, int(round(bias.angle_deg)) % 360), (self.hue_strength, int(round(bias.strength * 100))))
        for widget, value in values:
            if widget.value() != value:
                widget.blockSignals(True)
                widget.setValue(value)
                widget.blockSignals(False)
        self._show_angle(bias.angle_deg)
        histograms = s.histograms_available
        ready = s.current_sample is not None
        self.dial.setEnabled(histograms)
        self.hue_strength.setEnabled(histograms)
        if not ready:
            self.hue_note.setText("Colorize first.")
        elif not histograms:
            self.hue_note.setText("Bias toward a hue needs a model that predicts colour histograms (the 'histogram' "
                                  "model); it is not applied to this model's result.")
        else:
            self.hue_note.setText("Uncertain pixels move toward the hue; confident ones barely move.")
        ref = s.reference
        method_row = self.ref_method.findData(ref.method)
        self.ref_method.blockSignals(True)
        self.ref_method.setCurrentIndex(max(0, method_row))
        energy_item = cast(QStandardItemModel, self.ref_method.model()).item(0)  # a combo box's own model
        energy_item.setEnabled(histograms or not ready)
        self.ref_method.blockSignals(False)
        slider = int(round(ref.strength * (10 if ref.method == "energy" else 100)))
        if self.ref_strength.value() != slider:
            self.ref_strength.blockSignals(True)
            self.ref_strength.setValue(min(100, slider))
            self.ref_strength.blockSignals(False)
        reference_image = s.reference_image
        has_ref = reference_image is not None
        self.ref_clear.setEnabled(has_ref)
        self.ref_strength.setEnabled(has_ref)
        self.ref_method.setEnabled(has_ref)
        if reference_image is not None:
            self.ref_thumb.setPixmap(self._reference_pixmap(reference_image.rgb))
            self.ref_thumb.setToolTip(str(reference_image.path))
        else:
            self.ref_thumb.setPixmap(QPixmap())
            self.ref_thumb.setText("No reference")
        if has_ref and ref.method == "energy" and ready and not histograms:
            self.ref_note.setText("Energy minimization needs the histogram model; this model's result uses "
                                  "quantile matching instead.")
        else:
            self.ref_note.setText("")

    def _reference_pixmap(self, rgb: np.ndarray) -> QPixmap:
        image: QImage = rgb_to_qimage(rgb)
        return QPixmap.fromImage(image.scaled(
            self.ref_thumb.width() - 2, self.ref_thumb.height() - 2,
            Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation,
        ))


class UncertaintyPanel(QWidget):
    """Overlay toggle, colormap, contrast and opacity, and the legend; view settings only (not undone).

    The stretch and the colour maps are :mod:`colorstudio.io.maps`'s, the same that written maps use.
    """

    changed = Signal()

    CONTRASTS = (("auto", "Stretched to this photo"), ("fixed", "Fixed scale 0 – 0.5"))
    LEGEND_WIDTH = 220

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.show_box = QCheckBox("Show uncertainty overlay")
        self.show_box.setToolTip("Where the model is unsure (hue entropy x chroma): good places for hints (U)")
        self.colormap = QComboBox()
        self.colormap.addItems(list(COLORMAPS))
        self.contrast = QComboBox()
        for key, text in self.CONTRASTS:
            self.contrast.addItem(text, key)
        self.contrast.setToolTip(
            "Stretched: the colours span this photo's range (2nd–98th percentile), so the least certain\n"
            "regions stand out. Fixed: 0 – 0.5 for every photo, so photos can be compared.\n"
            "Exported maps (and the CLI's --uncertainty) are stretched to the photo, in the inferno colour map;\n"
            "their range is written into the PNG as its legend."
        )
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(70)
        self.legend_bar = QLabel()
        self.legend_bar.setFixedHeight(14)
        self.legend_bar.setScaledContents(True)
        self.legend_bar.setStyleSheet("border: 1px solid palette(mid);")
        self.legend_low = QLabel()
        self.legend_high = QLabel()
        self.legend_high.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.note = QLabel()
        self.note.setWordWrap(True)
        make_secondary(self.note)
        form = QFormLayout()
        form.addRow(self.show_box)
        form.addRow("Colormap", self.colormap)
        form.addRow("Contrast", self.contrast)
        form.addRow("Opacity", self.opacity)
        legend = QGridLayout()
        legend.setVerticalSpacing(2)
        legend.addWidget(self.legend_bar, 0, 0, 1, 2)
        legend.addWidget(self.legend_low, 1, 0)
        legend.addWidget(self.legend_high, 1, 1)
        self.legend_box = QGroupBox("Legend")
        self.legend_box.setLayout(legend)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.legend_box)
        layout.addWidget(self.note)
        layout.addStretch(1)
        self.show_box.toggled.connect(self.changed)
        self.colormap.currentTextChanged.connect(self.changed)
        self.colormap.currentTextChanged.connect(lambda _t: self._paint_bar())
        self.contrast.currentIndexChanged.connect(lambda _i: self.changed.emit())
        self.opacity.valueChanged.connect(self.changed)
        for signal in (session.events.chosen, session.events.samples, session.events.result):
            signal.connect(lambda *_: self.show_state())
        self._paint_bar()
        self.set_legend(None)
        self.show_state()

    @property
    def contrast_mode(self) -> str:
        return self.contrast.currentData()

    def _paint_bar(self) -> None:
        self.legend_bar.setPixmap(colormap_bar(self.colormap.currentText(), self.LEGEND_WIDTH, 14))

    def set_legend(self, value_range: tuple[float, float] | None) -> None:
        """Label the colour bar with the uncertainty values at its ends (None: no map yet)."""
        if value_range is None:
            self.legend_low.setText("confident")
            self.legend_high.setText("unsure")
            return
        lo, hi = value_range
        self.legend_low.setText(f"≤ {lo:.2f}  confident")
        self.legend_high.setText(f"unsure  ≥ {hi:.2f}")

    def show_state(self) -> None:
        available = self.session.histograms_available
        for widget in (self.show_box, self.colormap, self.contrast, self.opacity, self.legend_box):
            widget.setEnabled(available)
        if available:
            self.note.setText("Uncertainty is the entropy of the predicted hue × chroma distribution (0 = certain, "
                              "1 = anything goes). Bright areas are where hints help most.")
        else:
            self.note.setText("The uncertainty map needs the histogram model.")
