"""Small widgets and helpers the side panels share."""

from __future__ import annotations

import itertools

import qtawesome as qta
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QWidget

__all__ = ["ElidedProgressBar", "gesture_ids", "icon_button", "make_secondary"]

gesture_ids = itertools.count(1)  # shared counter: each slider/dial drag gets its own merge id


def make_secondary(label: QLabel) -> None:
    """Secondary (note) text: the theme's text colour, a little faded; palette(mid) was too faint to read."""
    palette = label.palette()
    color = palette.color(QPalette.ColorRole.WindowText)
    color.setAlpha(175)
    palette.setColor(QPalette.ColorRole.WindowText, color)
    label.setPalette(palette)


def icon_button(icon: str, text: str, tooltip: str) -> QPushButton:
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
