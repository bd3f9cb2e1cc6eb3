"""Files: opening images and sessions (in the background), saving sessions, recent files, the autosave
and the recovery of autosaves orphaned by a run that did not exit cleanly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QSettings
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

from colorstudio.engine.jobs import OpenImageJob, OpenReferenceJob
from colorstudio.engine.session import Session
from colorstudio.engine.session_file import SESSION_SUFFIX, read_session, restore_session, save_session
from colorstudio.errors import ColorStudioError
from colorstudio.gui.autosave import Autosaver, describe_autosave
from colorstudio.gui.feedback import Feedback
from colorstudio.gui.jobs_controller import JobsController
from colorstudio.gui.preferences import IMAGE_FILTER, SESSION_FILTER, last_folder, string_list
from colorstudio.gui.workers import WorkLane

__all__ = ["FilesController", "MAX_RECENT"]

MAX_RECENT = 10


class FilesController(QObject):
    """Opens and saves the window's files; owns the recent-files menu and the window's autosave.

    ``new_window`` makes another window and returns its files controller (a further recovered session
    opens there).
    """

    def __init__(self, session: Session, undo_stack: QUndoStack, feedback: Feedback, settings: QSettings,
                 jobs: JobsController, autosaver: Autosaver, recent_menu: QMenu,
                 new_window: Callable[[], FilesController], parent: QWidget) -> None:
        super().__init__(parent)
        self.session = session
        self.undo_stack = undo_stack
        self.feedback = feedback
        self.settings = settings
        self.jobs = jobs
        self.autosaver = autosaver
        self.recent_menu = recent_menu
        self.new_window = new_window
        self._window = parent
        self.open_lane: WorkLane = jobs.open_lane
        self._open_slot: Callable[..., None] | None = None
        self.open_lane.failed.connect(lambda _g, m: self.feedback.show_error("Cannot open the file", m))
        self._rebuild_recent_menu()

    # ------------------------------------------------------------------ open
    def open_dialog(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self._window, "Open image or session", last_folder(self.settings),
                                              f"{IMAGE_FILTER};;{SESSION_FILTER}")
        if name:
            self.open_path(name)

    def open_session_dialog(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self._window, "Open session", last_folder(self.settings), SESSION_FILTER)
        if name:
            self.open_path(name)

    def open_path(self, path: str | Path) -> None:
        """Open an image or a ``*.colorstudio.json`` session (in the background)."""
        self.feedback.new_action()
        path = Path(path)
        if path.name.endswith(SESSION_SUFFIX):
            self.open_session(path)
        else:
            self.open_image(path)

    def _submit_open(self, work, opened: Callable[..., None]) -> None:
        """Run ``work`` on the open lane; ``opened(generation, result, seconds)`` gets its result. A newer
        open supersedes an older one, whose result is never delivered."""
        self._disconnect_open()
        self._open_slot = opened
        self.open_lane.done.connect(opened)
        self.open_lane.submit(work, supersede=True)

    def _disconnect_open(self) -> None:
        if self._open_slot is not None:
            self.open_lane.done.disconnect(self._open_slot)
            self._open_slot = None

    def open_image(self, path: Path) -> None:
        job = OpenImageJob()

        def work(progress, cancel, _partial):
            return job.run(path, progress, cancel)

        self._submit_open(work, lambda _g, image, seconds: self._image_opened(path, image, seconds))
        self.feedback.set_status(f"Opening {path.name}…")

    def _image_opened(self, path: Path, image, seconds: float) -> None:
        self._disconnect_open()
        self.jobs.halt_predictions()
        self.undo_stack.clear()
        self.session.set_image(image)
        self.jobs.resume_predictions()
        self._add_recent(path)
        self.feedback.timed("open", seconds)
        w, h = image.size
        self.feedback.set_status(f"Opened {path.name} ({w} × {h}, {image.source.bit_depth}-bit). "
                                 "Press Colorize (Ctrl+R) or click to add hints.")

    def open_session(self, path: Path, *, recovered_from: Path | None = None) -> None:
        """Open a session file in the background. ``recovered_from``: ``path`` is an orphaned autosave; the
        session then has no file of its own (Save asks where), counts as unsaved, and the orphan is removed
        once its content lives on in this window (and in this window's own autosave)."""
        try:
            document = read_session(path)
        except ColorStudioError as exc:
            self.feedback.show_error("Cannot open the session", str(exc))
            return

        def work(progress, cancel, _partial):
            image = OpenImageJob().run(document.source_path, progress, cancel)
            reference = None
            if document.reference.path is not None:
                reference = OpenReferenceJob().run(Path(document.reference.path), progress, cancel)
            return image, reference

        def opened(_g, result, seconds):
            self._disconnect_open()
            image, reference = result
            self.jobs.halt_predictions()
            try:
                restore_session(self.session, document, image, reference,
                                session_path=None if recovered_from else path)
            except ColorStudioError as exc:
                self.feedback.show_error("Cannot open the session", str(exc))
                return
            self.undo_stack.clear()
            self.jobs.resume_predictions()
            self.feedback.timed("open", seconds)
            if recovered_from is not None:
                self.session.mark_unsaved()
                if self.autosaver.save_now() is not None:
                    recovered_from.unlink(missing_ok=True)
                self.feedback.set_status(f"Recovered unsaved work on {image.source.path.name}; recomputing its samples…")
            else:
                self._add_recent(path)
                self.feedback.set_status(f"Opened session {path.name}; recomputing its samples…")

        self._submit_open(work, opened)

    # ------------------------------------------------------------------ save
    def save(self) -> bool:
        if self.session.path is None:
            return self.save_as()
        return self._save_to(self.session.path)

    def save_as(self) -> bool:
        source = self.session.source_path
        if source is None:  # no image open
            return False
        suggestion = self.session.path or source.with_name(source.stem + SESSION_SUFFIX)
        name, _ = QFileDialog.getSaveFileName(self._window, "Save session", str(suggestion), SESSION_FILTER)
        if not name:
            return False
        if not name.endswith(SESSION_SUFFIX):
            name = str(Path(name).with_suffix("").with_suffix("")) + SESSION_SUFFIX
        return self._save_to(Path(name))

    def _save_to(self, path: Path) -> bool:
        try:
            save_session(path, self.session)
        except (ColorStudioError, OSError) as exc:
            self.feedback.show_error("Cannot save the session", str(exc))
            return False
        self.undo_stack.setClean()
        self.autosaver.discard()
        self._add_recent(path)
        self.feedback.set_status(f"Saved {path}")
        return True

    def may_close(self, confirm: bool) -> bool:
        """False when the user keeps the window open: asked (``confirm``) about unsaved work, they cancelled,
        or chose to save and the save did not happen."""
        if confirm and self.session.has_image and self.session.dirty:
            answer = QMessageBox.question(
                self._window, "Unsaved changes", "Save the session before closing?",
                QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            )
            if answer == QMessageBox.StandardButton.Cancel or (answer == QMessageBox.StandardButton.Save and not self.save()):
                return False
        return True

    # ------------------------------------------------------------------ recent files
    def recent_files(self) -> list[str]:
        return string_list(self.settings.value("recentFiles", []))

    def _add_recent(self, path: Path) -> None:
        entry = str(Path(path).resolve())
        files = [entry] + [f for f in self.recent_files() if f != entry]
        self.settings.setValue("recentFiles", files[:MAX_RECENT])
        self.settings.setValue("lastFolder", str(Path(entry).parent))
        self._rebuild_recent_menu()

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.recent_files()
        for index, name in enumerate(files):
            act = self.recent_menu.addAction(f"&{index + 1} {Path(name).name}")
            act.setToolTip(name)
            act.triggered.connect(lambda _=False, n=name: self.open_path(n))
        self.recent_menu.setEnabled(bool(files))

    # ------------------------------------------------------------------ recovery
    def offer_recovery(self, *, use_this_window: bool = True) -> int:
        """Offer each autosave orphaned by a run that did not exit cleanly; returns how many were recovered.

        The first recovered session opens in this window (when ``use_this_window`` and it holds no image),
        each further one in a window of its own. A declined autosave is deleted; a recovered one once its
        content is restored (and autosaved again by the window that now holds it).
        """
        orphans = self.autosaver.pending_recovery()
        recovered = 0
        for index, path in enumerate(orphans):
            counter = f" ({index + 1} of {len(orphans)})" if len(orphans) > 1 else ""
            answer = QMessageBox.question(
                self._window, f"Recover unsaved work?{counter}",
                "ColorStudio did not close properly and left unsaved work:\n\n"
                f"{describe_autosave(path)}\n\nRecover it? (No deletes it.)",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes,
            )
            if answer != QMessageBox.StandardButton.Yes:
                path.unlink(missing_ok=True)
                continue
            target = self if use_this_window and recovered == 0 and not self.session.has_image else self.new_window()
            target.open_session(path, recovered_from=path)
            recovered += 1
        return recovered
