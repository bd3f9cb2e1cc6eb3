"""Export: the dialog, then the full-resolution export in the background."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Qt
from PySide6.QtWidgets import QWidget

from colorstudio.engine.jobs import ExportJob, ExportSettings
from colorstudio.engine.session import Session
from colorstudio.errors import ColorStudioError
from colorstudio.gui.export_dialog import ExportDialog, default_export_folder
from colorstudio.gui.feedback import Feedback
from colorstudio.gui.workers import WorkLane
from colorstudio.resources import resources_dir

__all__ = ["ExportController"]


class ExportController(QObject):
    """Asks where and how to export, remembers the folder, and runs the export on ``lane``."""

    def __init__(self, session: Session, feedback: Feedback, settings: QSettings, lane: WorkLane,
                 parent: QWidget) -> None:
        super().__init__(parent)
        self.session = session
        self.feedback = feedback
        self.settings = settings
        self.lane = lane
        self._window = parent
        self.last_export: list[Path] = []
        lane.done.connect(self._export_done)
        lane.failed.connect(lambda _g, m: self.feedback.show_error("Export failed", m))

    def export_dialog(self) -> None:
        s = self.session
        if s.current_sample is None:
            self.feedback.show_error("Nothing to export", "Colorize the image first.")
            return
        dialog = self.make_export_dialog()
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._export_accepted(dialog))
        dialog.open()  # window-modal, without a nested event loop

    def make_export_dialog(self) -> ExportDialog:
        s = self.session
        return ExportDialog(self._source_path(), s.export_settings, s.histograms_available, len(s.slots), s.source_size,
                            self._window, folder=self.export_folder())

    def export_folder(self) -> Path:
        """Where the export dialog proposes to write: the folder of the last export, else the photo's own
        folder (unless it is among the app's own files or read-only: then Pictures)."""
        remembered = self.settings.value("export/lastFolder")
        if remembered and Path(str(remembered)).is_dir():
            return Path(str(remembered))
        return default_export_folder(self._source_path(), bundled=resources_dir())

    def _source_path(self) -> Path:
        """The open image's path; export needs one."""
        source = self.session.source_path
        if source is None:
            raise ColorStudioError("no image is open")
        return source

    def _export_accepted(self, dialog: ExportDialog) -> None:
        target = dialog.target()
        self.settings.setValue("export/lastFolder", str(target.parent.resolve()))
        self.export_to(target, dialog.settings())

    def export_to(self, target: Path, settings: ExportSettings) -> None:
        """Export in the background at full resolution (used by the dialog and by tests)."""
        self.feedback.new_action()
        try:
            self.session.set_export_settings(settings)
            request = self.session.export_request(target, settings)
            ExportJob().validate(request)
        except ColorStudioError as exc:
            self.feedback.show_error("Cannot export", str(exc))
            return
        job = ExportJob()
        self.lane.submit(lambda progress, cancel, _p: job.run(request, progress, cancel), supersede=True)

    def _export_done(self, _generation: int, written: list, seconds: float) -> None:
        self.last_export = list(written)
        self.feedback.timed("export", seconds)
        self.feedback.set_status("Exported " + ", ".join(Path(p).name for p in written))
