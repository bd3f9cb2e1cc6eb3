"""The main window's size, position and dock layout: remembered between runs, always on the screen."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QRect, QSettings, QSize
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMainWindow

__all__ = ["GeometryKeeper", "PREFERRED_SIZE", "SCREEN_FILL"]

PREFERRED_SIZE = QSize(1400, 900)
SCREEN_FILL = 0.9  # a first start takes at most this share of the available screen


class GeometryKeeper:
    """Restores ``window``'s geometry and dock layout from ``settings`` and saves them on close."""

    def __init__(self, window: QMainWindow, settings: QSettings) -> None:
        self.window = window
        self.settings = settings
        self._chosen_size: QSize | None = None

    def restore(self) -> None:
        """The last session's geometry and dock layout, else a size that suits the screen; either way
        fitted into the screen's available area (a smaller screen, other scaling, a monitor gone)."""
        window = self.window
        geometry = self.settings.value("window/geometry")
        if not (isinstance(geometry, QByteArray) and window.restoreGeometry(geometry)):
            available = self._available_area()
            window.resize(min(PREFERRED_SIZE.width(), int(available.width() * SCREEN_FILL)),
                          min(PREFERRED_SIZE.height(), int(available.height() * SCREEN_FILL)))
            window.move(available.center() - window.rect().center())
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray):
            window.restoreState(state)
        self.fit_to_screen()
        self._chosen_size = window.size()  # re-fitted on the first show unless resized since

    def _available_area(self) -> QRect:
        window = self.window
        screen = QGuiApplication.screenAt(window.geometry().center()) or window.screen() or QGuiApplication.primaryScreen()
        return screen.availableGeometry()

    def fit_to_screen(self) -> None:
        window = self.window
        available = self._available_area()
        frame = window.frameGeometry()
        extra_w, extra_h = frame.width() - window.width(), frame.height() - window.height()  # title bar, borders
        width = min(window.width(), available.width() - extra_w)
        height = min(window.height(), available.height() - extra_h)
        if (width, height) != (window.width(), window.height()):
            window.resize(width, height)
        frame = window.frameGeometry()
        x = min(max(frame.x(), available.left()), available.right() + 1 - frame.width())
        y = min(max(frame.y(), available.top()), available.bottom() + 1 - frame.height())
        if (x, y) != (frame.x(), frame.y()):
            window.move(x, y)

    def shown(self) -> None:
        """Call from the window's showEvent: the frame's size is known once the window is shown. A size set
        by code after construction (a screenshot, a test) is left as it was asked for."""
        if self._chosen_size is not None and self._chosen_size == self.window.size():
            self.fit_to_screen()
        self._chosen_size = None

    def save(self) -> None:
        self.settings.setValue("window/geometry", self.window.saveGeometry())
        self.settings.setValue("window/state", self.window.saveState())
