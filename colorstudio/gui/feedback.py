"""How the window tells the user what happened: error notices, status messages and the last timings.

Every controller reports through one :class:`Feedback`, so a failure looks the same wherever it comes from
and is counted once (for the log and the tests).
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox

__all__ = ["Feedback", "duration"]

KEPT_TIMINGS = 3


def duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


class Feedback(QObject):
    """Errors (a non-modal box, each shown once per user action), status-bar messages and timings."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self._status_bar = window.statusBar()
        self.time_label = QLabel("")
        self.last_error: str | None = None
        self.error_notices: list[str] = []  # every notice shown, "title: text" (for the log and tests)
        self._errors_shown: set[tuple[str, str]] = set()  # shown since the user's last action
        self._timings: dict[str, str] = {}
        self.error_box = QMessageBox(QMessageBox.Icon.Critical, "ColorStudio", "", QMessageBox.StandardButton.Ok, window)
        self.error_box.setModal(False)  # a repeated failure must never block the next click

    def show_error(self, title: str, message: str) -> None:
        """Every user-facing failure ends here: a clear, non-modal notice, never a traceback.

        The same failure repeated before the user's next action (each sample click re-running a failing
        preview) is shown once; the status bar still tells each time.
        """
        self.last_error = message
        self.set_status(f"{title}: {message}")
        if (title, message) in self._errors_shown:
            return
        self._errors_shown.add((title, message))
        self.error_notices.append(f"{title}: {message}")
        self._present_error(title, message)

    def _present_error(self, title: str, message: str) -> None:
        box = self.error_box
        box.setWindowTitle(title)
        box.setText(message)
        box.show()
        box.raise_()

    def new_action(self) -> None:
        """A new user action: failures it meets are news again."""
        self._errors_shown.clear()

    def set_status(self, text: str, timeout_ms: int = 8000) -> None:
        self._status_bar.showMessage(text, timeout_ms)

    def timed(self, what: str, seconds: float) -> None:
        """Show the last timing of each kind of work (a fast preview must not hide the colorize time)."""
        self._timings[what] = f"{what} {duration(seconds)}"
        self._timings = dict(list(self._timings.items())[-KEPT_TIMINGS:])
        self.time_label.setText(" · ".join(self._timings.values()))

    def clear_timings(self) -> None:
        """Timings of the previous photo meant that photo."""
        self._timings.clear()
        self.time_label.setText("")
