"""The colour panel: bias toward a hue (a dial over the Lab hue ring) and reference colour transfer."""

from __future__ import annotations

from typing import cast

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QConicalGradient, QImage, QPainter, QPen, QPixmap, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QDial,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from colorstudio.color import lab_to_rgb
from colorstudio.engine.session import Session
from colorstudio.gui.images import rgb_to_qimage, swatch_icon
from colorstudio.gui.panels._common import gesture_ids, icon_button, make_secondary

__all__ = ["AdjustPanel", "DEFAULT_HUE_STRENGTH", "HueDial", "lab_hue_color"]

DEFAULT_HUE_STRENGTH = 0.5  # strength given when the dial is turned while the strength is zero


def lab_hue_color(angle_deg: float, lightness: float = 65.0, chroma: float = 45.0) -> str:
    """'#rrggbb' of the Lab hue ``angle_deg`` at a mid lightness and chroma (for the dial's swatch)."""
    rad = np.radians(angle_deg)
    rgb = np.clip(lab_to_rgb(np.array([[lightness, chroma * np.cos(rad), chroma * np.sin(rad)]], np.float32))[0], 0, 1)
    return "#" + "".join(f"{int(round(float(v) * 255)):02x}" for v in rgb)


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
        angles = np.radians(np.arange(steps + 1) * 360.0 / steps)
        lab = np.stack([np.full_like(angles, 65.0), 45.0 * np.cos(angles), 45.0 * np.sin(angles)], -1)
        rgb = np.clip(lab_to_rgb(lab[None].astype(np.float32))[0], 0, 1)
        # Conical gradients run counter-clockwise from 3 o'clock; dial value v sits at (270 - v) degrees.
        return [((360.0 - k * 360.0 / steps) % 360.0 / 360.0 if k % steps else (1.0 if k else 0.0),
                 QColor.fromRgbF(*map(float, rgb[k]))) for k in range(steps + 1)]

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
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
        self.ref_load = icon_button("mdi6.image-plus", "Load…", "Load a reference image whose colours to transfer")
        self.ref_clear = icon_button("mdi6.image-remove", "Clear", "Stop using the reference")
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
