"""The hint colour picker that opens beside a clicked point (as in Zhang et al. 2017's interactive tool).

It shows the model's suggested colours for that point and an a*b* gamut chart at the point's own L*;
nothing is committed until a colour is picked (click, or Enter on the focused swatch / chart cursor);
Escape cancels. All colour math is :mod:`colorstudio.color`'s.
"""

from __future__ import annotations

from typing import cast

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QKeyEvent, QMouseEvent, QPainter, QPen
from PySide6.QtWidgets import (
    QColorDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from colorstudio.color import lab_to_lch, lab_to_rgb, lch_to_lab, rgb_to_lab
from colorstudio.gui.images import swatch_icon

__all__ = ["GamutChart", "HintPicker", "hex_to_ab", "in_gamut_hex"]

AB_RANGE = 100.0  # the chart spans a*, b* in [-AB_RANGE, AB_RANGE]
GAMUT_SAMPLES = 161  # chart resolution before scaling (a*, b* step 1.25)
OUT_OF_GAMUT = (0.42, 0.42, 0.42)  # sRGB shown where (L*, a*, b*) has no sRGB colour
_GAMUT_EPS = 1e-4


def _hex(rgb: np.ndarray) -> str:
    return "#" + "".join(f"{int(round(float(v) * 255)):02x}" for v in np.clip(rgb, 0.0, 1.0))


def hex_to_ab(color: str) -> tuple[float, float]:
    """The a*, b* of an sRGB '#rrggbb' (its L* is the photo's anyway)."""
    c = QColor(color)
    lab = rgb_to_lab(np.array([[c.redF(), c.greenF(), c.blueF()]], np.float64))[0]
    return float(lab[1]), float(lab[2])


def in_gamut_hex(lightness: float, a: float, b: float) -> str:
    """'#rrggbb' of (L*, a*, b*); outside sRGB the chroma is reduced (hue and L* kept) until it fits."""
    _, chroma, hue = lab_to_lch(np.array([[lightness, a, b]], np.float64))
    scales = np.linspace(1.0, 0.0, 41)
    lab = lch_to_lab(np.full(41, lightness), chroma[0] * scales, np.full(41, hue[0]))
    rgb = lab_to_rgb(lab, clip=False)
    inside = np.all((rgb >= -_GAMUT_EPS) & (rgb <= 1.0 + _GAMUT_EPS), axis=-1)
    return _hex(rgb[int(np.argmax(inside)) if inside.any() else -1])


class GamutChart(QWidget):
    """The a*b* plane at one L*: a* to the right, b* up; colours outside sRGB are grey.

    Mouse: press/drag moves the cursor, release picks. Keys: arrows move the cursor (Shift: finer),
    Enter / Space pick. ``picked(hex)`` when a colour is picked; ``cursor_moved(hex)`` while choosing.
    """

    picked = Signal(str)
    cursor_moved = Signal(str)

    def __init__(self, size: int = 184, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedSize(size, size)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("a*b* colours at this pixel's lightness (grey: not displayable). Click to pick; "
                        "arrows move, Enter picks")
        self.lightness = 50.0
        self.cursor_ab = (0.0, 0.0)
        self.marks: list[tuple[float, float]] = []
        self._image = QImage()
        self._inside = np.zeros((GAMUT_SAMPLES, GAMUT_SAMPLES), bool)
        self._pressed = False

    def set_lightness(self, lightness: float) -> None:
        self.lightness = float(np.clip(lightness, 0.0, 100.0))
        axis = np.linspace(-AB_RANGE, AB_RANGE, GAMUT_SAMPLES)
        a, b = np.meshgrid(axis, axis[::-1])  # row 0 is the top: b* = +AB_RANGE
        lab = np.stack([np.full_like(a, self.lightness), a, b], axis=-1)
        rgb = lab_to_rgb(lab, clip=False)
        self._inside = np.all((rgb >= -_GAMUT_EPS) & (rgb <= 1.0 + _GAMUT_EPS), axis=-1)
        shown = np.where(self._inside[..., None], np.clip(rgb, 0.0, 1.0), np.array(OUT_OF_GAMUT))
        data = np.ascontiguousarray(np.rint(shown * 255).astype(np.uint8))
        self._image = QImage(data.data, GAMUT_SAMPLES, GAMUT_SAMPLES, 3 * GAMUT_SAMPLES,
                             QImage.Format.Format_RGB888).copy()
        self.update()

    # ------------------------------------------------------------------ geometry
    def ab_at(self, pos: QPointF | QPoint) -> tuple[float, float]:
        """a*, b* under a widget position."""
        a = (pos.x() / max(self.width() - 1, 1)) * 2 * AB_RANGE - AB_RANGE
        b = AB_RANGE - (pos.y() / max(self.height() - 1, 1)) * 2 * AB_RANGE
        return float(np.clip(a, -AB_RANGE, AB_RANGE)), float(np.clip(b, -AB_RANGE, AB_RANGE))

    def position_of(self, a: float, b: float) -> QPoint:
        x = (a + AB_RANGE) / (2 * AB_RANGE) * (self.width() - 1)
        y = (AB_RANGE - b) / (2 * AB_RANGE) * (self.height() - 1)
        return QPoint(round(x), round(y))

    def in_gamut(self, a: float, b: float) -> bool:
        step = 2 * AB_RANGE / (GAMUT_SAMPLES - 1)
        col = int(round((a + AB_RANGE) / step))
        row = int(round((AB_RANGE - b) / step))
        return bool(self._inside[min(max(row, 0), GAMUT_SAMPLES - 1), min(max(col, 0), GAMUT_SAMPLES - 1)])

    def color_at(self, a: float, b: float) -> str:
        """The colour a pick at (a*, b*) gives: exact in gamut, else the nearest displayable of that hue."""
        return in_gamut_hex(self.lightness, a, b)

    def chart_image(self) -> QImage:
        return self._image

    # ------------------------------------------------------------------ interaction
    def _move_cursor(self, a: float, b: float) -> None:
        self.cursor_ab = (float(np.clip(a, -AB_RANGE, AB_RANGE)), float(np.clip(b, -AB_RANGE, AB_RANGE)))
        self.update()
        self.cursor_moved.emit(self.color_at(*self.cursor_ab))

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        if event.button() == Qt.MouseButton.LeftButton:
            self._pressed = True
            self._move_cursor(*self.ab_at(event.position()))
            event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        if self._pressed:
            self._move_cursor(*self.ab_at(event.position()))
            event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        if self._pressed and event.button() == Qt.MouseButton.LeftButton:
            self._pressed = False
            self._move_cursor(*self.ab_at(event.position()))
            self.picked.emit(self.color_at(*self.cursor_ab))
            event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        step = 1.0 if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else 5.0
        a, b = self.cursor_ab
        moves: dict[int, tuple[float, float]] = {  # event.key() is an int; Qt.Key members are ints too
            Qt.Key.Key_Left: (-step, 0), Qt.Key.Key_Right: (step, 0), Qt.Key.Key_Up: (0, step), Qt.Key.Key_Down: (0, -step)}
        if event.key() in moves:
            da, db = moves[event.key()]
            self._move_cursor(a + da, b + db)
        elif event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.picked.emit(self.color_at(a, b))
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawImage(self.rect(), self._image)
        centre = self.position_of(0.0, 0.0)
        painter.setPen(QPen(QColor(0, 0, 0, 70), 1))
        painter.drawLine(0, centre.y(), self.width(), centre.y())
        painter.drawLine(centre.x(), 0, centre.x(), self.height())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for a, b in self.marks:  # where the suggestions lie
            painter.setPen(QPen(QColor(255, 255, 255), 1.5))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(QPointF(self.position_of(a, b)), 4, 4)
        cursor = QPointF(self.position_of(*self.cursor_ab))
        painter.setPen(QPen(QColor(0, 0, 0), 3))
        painter.drawEllipse(cursor, 6, 6)
        painter.setPen(QPen(QColor(255, 255, 255), 1.5))
        painter.drawEllipse(cursor, 6, 6)
        if self.hasFocus():
            painter.setPen(QPen(self.palette().highlight().color(), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(self.rect().adjusted(1, 1, -1, -1))
        painter.end()


class HintPicker(QFrame):
    """A small panel over the canvas, beside the clicked point; ``picked(hex)`` or ``cancelled()``."""

    picked = Signal(str)
    cancelled = Signal()

    SWATCHES = 6

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.title = QLabel()
        self.title.setWordWrap(True)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Cancel (Esc): no hint is added")
        close.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        close.clicked.connect(self.cancel)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.suggestion_buttons = [self._swatch_button() for _ in range(self.SWATCHES)]
        self.recent_buttons = [self._swatch_button() for _ in range(self.SWATCHES)]
        self.recent_label = QLabel("Recent")
        self.gamut = GamutChart()
        self.preview = QLabel()
        self.preview.setFixedSize(22, 22)
        self.preview_text = QLabel()
        self.other = QToolButton()
        self.other.setText("Other…")
        self.other.setToolTip("Any colour, from the full colour dialog")
        self.other.clicked.connect(self._other)

        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        suggested = QHBoxLayout()
        suggested.setSpacing(3)
        for button in self.suggestion_buttons:
            suggested.addWidget(button)
        suggested.addStretch(1)
        recent = QHBoxLayout()
        recent.setSpacing(3)
        for button in self.recent_buttons:
            recent.addWidget(button)
        recent.addStretch(1)
        foot = QHBoxLayout()
        foot.addWidget(self.preview)
        foot.addWidget(self.preview_text, 1)
        foot.addWidget(self.other)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 8)
        layout.setSpacing(4)
        layout.addLayout(head)
        layout.addWidget(QLabel("Suggested"))
        layout.addLayout(suggested)
        layout.addWidget(self.note)
        layout.addWidget(self.recent_label)
        layout.addLayout(recent)
        grid = QGridLayout()
        grid.addWidget(self.gamut, 0, 0)
        layout.addLayout(grid)
        layout.addLayout(foot)
        self.gamut.picked.connect(self.pick)
        self.gamut.cursor_moved.connect(self._show_preview)
        self.setFixedWidth(self.gamut.width() + 16)
        self.hide()

    def _swatch_button(self) -> QToolButton:
        button = QToolButton()
        button.setFixedSize(26, 26)
        button.setIconSize(QSize(20, 20))
        button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        button.clicked.connect(lambda _=False, b=button: self.pick(b.property("color")))
        button.installEventFilter(self)
        return button

    # ------------------------------------------------------------------ content
    def show_for(self, anchor: QPoint, title: str, lightness: float, suggestions: list[str], note: str,
                 recent: list[str], current: str | None = None) -> None:
        """Open beside ``anchor`` (parent coordinates) for a pixel of ``lightness`` L*."""
        self.title.setText(title)
        self.note.setText(note)
        self._fill(self.suggestion_buttons, suggestions)
        self._fill(self.recent_buttons, recent)
        self.recent_label.setVisible(bool(recent))
        self.gamut.set_lightness(lightness)
        self.gamut.marks = [hex_to_ab(c) for c in suggestions]
        start = current or (suggestions[0] if suggestions else None)
        self.gamut.cursor_ab = hex_to_ab(start) if start else (0.0, 0.0)
        self._show_preview(self.gamut.color_at(*self.gamut.cursor_ab))
        self.adjustSize()
        self.place(anchor)
        self.show()
        self.raise_()
        first = self.visible_suggestions()
        (first[0] if first else self.gamut).setFocus(Qt.FocusReason.PopupFocusReason)

    def _fill(self, buttons: list[QToolButton], colors: list[str]) -> None:
        for i, button in enumerate(buttons):
            if i < len(colors):
                button.setIcon(swatch_icon(colors[i], 20))
                button.setProperty("color", colors[i])
                button.setToolTip(f"{colors[i]} (Enter picks)")
                button.show()
            else:
                button.hide()

    def visible_suggestions(self) -> list[QToolButton]:
        return [b for b in self.suggestion_buttons if not b.isHidden()]

    def suggestion_colors(self) -> list[str]:
        return [b.property("color") for b in self.visible_suggestions()]

    def place(self, anchor: QPoint) -> None:
        """Beside ``anchor`` (right, left, below, above: the first that fits), inside the parent, and never
        over the point itself when the parent has room anywhere around it."""
        parent = self.parentWidget()
        bounds = parent.rect() if parent is not None else QRect(0, 0, 10_000, 10_000)
        w, h, gap = self.width(), self.height(), 18
        x_mid, y_mid = anchor.x() - w // 2, anchor.y() - h // 3
        candidates = [QPoint(anchor.x() + gap, y_mid), QPoint(anchor.x() - gap - w, y_mid),
                      QPoint(x_mid, anchor.y() + gap), QPoint(x_mid, anchor.y() - gap - h)]

        def clamp(point: QPoint) -> QRect:
            x = min(max(point.x(), bounds.left()), max(bounds.left(), bounds.right() + 1 - w))
            y = min(max(point.y(), bounds.top()), max(bounds.top(), bounds.bottom() + 1 - h))
            return QRect(x, y, w, h)

        placed = [clamp(point) for point in candidates]
        free = [rect for rect in placed if not rect.adjusted(-4, -4, 4, 4).contains(anchor)]
        self.move((free[0] if free else placed[0]).topLeft())

    def _show_preview(self, color: str) -> None:
        self.preview.setPixmap(swatch_icon(color, 22).pixmap(22, 22))
        self.preview_text.setText(color)

    # ------------------------------------------------------------------ outcome
    def pick(self, color: str) -> None:
        if color:
            self.hide()
            self.picked.emit(color)

    def cancel(self) -> None:
        if self.isVisible():
            self.hide()
            self.cancelled.emit()

    def _other(self) -> None:
        color = QColorDialog.getColor(QColor(self.preview_text.text() or "#808080"), self, "Hint colour")
        if color.isValid():
            self.pick(color.name())

    # ------------------------------------------------------------------ keyboard
    def _handles(self, event: QKeyEvent) -> bool:
        return event.key() in (Qt.Key.Key_Escape, Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Left,
                               Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_Delete)

    def event(self, event: QEvent) -> bool:
        # The window's shortcuts (Esc = Cancel work, Del = delete hint) must not take these keys from us.
        # (A ShortcutOverride event is a QKeyEvent.)
        if event.type() == QEvent.Type.ShortcutOverride and self._handles(cast(QKeyEvent, event)):
            event.accept()
            return True
        return super().event(event)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt API
        if event.type() == QEvent.Type.ShortcutOverride and self._handles(event):
            event.accept()
            return True
        if event.type() == QEvent.Type.KeyPress and watched in self.suggestion_buttons + self.recent_buttons:
            if self._swatch_key(watched, event):
                return True
        return super().eventFilter(watched, event)

    def _swatch_key(self, button: QToolButton, event: QKeyEvent) -> bool:
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            button.click()
            return True
        row = self.suggestion_buttons if button in self.suggestion_buttons else self.recent_buttons
        shown = [b for b in row if not b.isHidden()]
        if key in (Qt.Key.Key_Left, Qt.Key.Key_Right) and shown:
            step = 1 if key == Qt.Key.Key_Right else -1
            shown[(shown.index(button) + step) % len(shown)].setFocus(Qt.FocusReason.TabFocusReason)
            return True
        if key == Qt.Key.Key_Escape:
            self.cancel()
            return True
        return False

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        if event.key() == Qt.Key.Key_Escape:
            self.cancel()
            event.accept()
            return
        super().keyPressEvent(event)
