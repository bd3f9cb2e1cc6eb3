"""Autosave and crash recovery: the session is written to the user state folder a while after a change.

A clean exit deletes the autosave; finding one at start-up therefore means the last run ended abnormally,
and the window offers to recover it.
"""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_state_dir
from PySide6.QtCore import QObject, QTimer

from colorstudio.engine.session import Session
from colorstudio.engine.session_file import SESSION_SUFFIX, document_from_session, write_session
from colorstudio.errors import ColorStudioError

__all__ = ["Autosaver", "default_state_dir"]

AUTOSAVE_INTERVAL_MS = 30_000


def default_state_dir() -> Path:
    return Path(user_state_dir("colorstudio", appauthor=False))


class Autosaver(QObject):
    """Writes ``autosave.colorstudio.json`` ``interval_ms`` after the first unsaved change."""

    def __init__(self, session: Session, state_dir: Path, interval_ms: int = AUTOSAVE_INTERVAL_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.path = Path(state_dir) / f"autosave{SESSION_SUFFIX}"
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.save_now)
        self.last_error: str | None = None
        session.events.dirty.connect(self._dirty_changed)
        for signal in (session.events.hints, session.events.hue_bias, session.events.reference, session.events.chosen):
            signal.connect(lambda *_: self._changed())

    def _dirty_changed(self, dirty: bool) -> None:
        if dirty:
            self._changed()

    def _changed(self) -> None:
        if self.session.has_image and not self.timer.isActive():
            self.timer.start()

    def save_now(self) -> Path | None:
        if not self.session.has_image:
            return None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_session(self.path, document_from_session(self.session))
        except (OSError, ColorStudioError) as exc:  # autosave must never interrupt the user
            self.last_error = str(exc)
            return None
        return self.path

    def pending_recovery(self) -> Path | None:
        return self.path if self.path.exists() else None

    def discard(self) -> None:
        self.timer.stop()
        self.path.unlink(missing_ok=True)
