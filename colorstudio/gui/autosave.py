"""Autosave and crash recovery, one autosave file per running window.

Each :class:`Autosaver` writes ``autosave-<id>.colorstudio.json`` in the user state folder a while after a
change, and holds ``autosave-<id>.lock`` (a :class:`QLockFile`) while its window lives. A clean exit
deletes both. At start-up, an autosave whose lock is not held by a live process is an orphan of a run that
ended abnormally: the window offers each one for recovery and removes it once recovered or declined.
Several instances running at once therefore never overwrite or "recover" each other's work.
"""

from __future__ import annotations

import datetime as _dt
import os
import uuid
from pathlib import Path

from platformdirs import user_state_dir
from PySide6.QtCore import QLockFile, QObject, QTimer

from colorstudio.engine.session import Session
from colorstudio.engine.session_file import SESSION_SUFFIX, document_from_session, read_session, write_session
from colorstudio.errors import ColorStudioError

__all__ = ["AUTOSAVE_INTERVAL_MS", "Autosaver", "default_state_dir", "describe_autosave", "orphaned_autosaves"]

AUTOSAVE_INTERVAL_MS = 30_000
AUTOSAVE_PREFIX = "autosave"
LEGACY_AUTOSAVE = f"{AUTOSAVE_PREFIX}{SESSION_SUFFIX}"  # the single shared file of earlier versions


def default_state_dir() -> Path:
    return Path(user_state_dir("colorstudio", appauthor=False))


def _lock_path(autosave: Path) -> Path:
    return autosave.with_name(autosave.name[: -len(SESSION_SUFFIX)] + ".lock")


def _is_locked_by_live_instance(autosave: Path) -> bool:
    """True while another running ColorStudio holds this autosave's lock (stale locks do not count)."""
    lock_path = _lock_path(autosave)
    if not lock_path.exists():
        return False
    lock = QLockFile(str(lock_path))
    lock.setStaleLockTime(0)  # a lock is stale only when its process is gone, never because it is old
    # tryLock succeeds only when no live process holds the lock (it clears the lock of a dead one itself).
    if lock.tryLock(0):
        lock.unlock()  # also removes the lock file
        return False
    return True


def orphaned_autosaves(state_dir: Path, own: Path | None = None) -> list[Path]:
    """Autosaves in ``state_dir`` left by runs that ended abnormally, oldest first (``own`` excluded)."""
    folder = Path(state_dir)
    if not folder.is_dir():
        return []
    found = [p for p in folder.glob(f"{AUTOSAVE_PREFIX}*{SESSION_SUFFIX}") if p != own]
    orphans = [p for p in found if p.name == LEGACY_AUTOSAVE or not _is_locked_by_live_instance(p)]
    return sorted(orphans, key=lambda p: p.stat().st_mtime)


def describe_autosave(path: Path) -> str:
    """One line for the recovery question: the photo it edits, when it was saved, how many hints."""
    when = _dt.datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    try:
        document = read_session(path)
    except ColorStudioError:
        return f"an unreadable autosave from {when} ({path.name})"
    hints = len(document.hints)
    return f"{Path(document.source_path).name}, autosaved {when} ({hints} hint{'s' if hints != 1 else ''})"


class Autosaver(QObject):
    """Writes this window's autosave ``interval_ms`` after the first unsaved change; holds its lock."""

    def __init__(self, session: Session, state_dir: Path, interval_ms: int = AUTOSAVE_INTERVAL_MS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.state_dir = Path(state_dir)
        instance = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.path = self.state_dir / f"{AUTOSAVE_PREFIX}-{instance}{SESSION_SUFFIX}"
        self._lock = QLockFile(str(_lock_path(self.path)))
        self._lock.setStaleLockTime(0)
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

    def _hold_lock(self) -> None:
        if not self._lock.isLocked():
            self.state_dir.mkdir(parents=True, exist_ok=True)
            self._lock.tryLock(0)

    def save_now(self) -> Path | None:
        if not self.session.has_image:
            return None
        try:
            self._hold_lock()  # before the file exists, so no other instance ever sees it unlocked
            write_session(self.path, document_from_session(self.session))
        except (OSError, ColorStudioError) as exc:  # autosave must never interrupt the user
            self.last_error = str(exc)
            return None
        return self.path

    def pending_recovery(self) -> list[Path]:
        """Orphaned autosaves of other runs (never this window's own)."""
        return orphaned_autosaves(self.state_dir, own=self.path)

    def discard(self) -> None:
        """Forget this window's autosave (saved, or closed cleanly)."""
        self.timer.stop()
        self.path.unlink(missing_ok=True)
        if self._lock.isLocked():
            self._lock.unlock()
