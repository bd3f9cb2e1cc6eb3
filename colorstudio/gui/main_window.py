"""The ColorStudio main window: the composition root of canvas, panels, menus, toolbar and status bar.

The window builds the widgets and hands each to the controller that drives it: jobs (background work,
samples), hints, adjustments (hue bias, reference, uncertainty overlay), files (open, save, recent,
autosave, recovery) and export. User input becomes undo commands that call :class:`Session` methods;
session events update the widgets; widgets are only touched in GUI-thread slots.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QCloseEvent, QUndoStack
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QScrollArea, QWidget

from colorstudio.devices import describe_device, resolve_device
from colorstudio.engine.session import Session
from colorstudio.families import REGISTRY
from colorstudio.gui.about import show_about
from colorstudio.gui.adjust_controller import AdjustController
from colorstudio.gui.autosave import AUTOSAVE_INTERVAL_MS, Autosaver, default_state_dir
from colorstudio.gui.canvas import ImageCanvas
from colorstudio.gui.export_controller import ExportController
from colorstudio.gui.feedback import Feedback
from colorstudio.gui.files_controller import FilesController
from colorstudio.gui.help import HowToDialog, ShortcutsDialog
from colorstudio.gui.hint_picker import HintPicker
from colorstudio.gui.hints_controller import HintsController
from colorstudio.gui.images import app_icon, lightness_to_qimage, rgb_to_qimage
from colorstudio.gui.jobs_controller import JobsController
from colorstudio.gui.panels import AdjustPanel, HintsPanel, SamplesPanel, UncertaintyPanel
from colorstudio.gui.window_actions import WindowActions
from colorstudio.gui.window_geometry import GeometryKeeper

__all__ = ["MainWindow"]


def _default_session() -> Session:
    return Session(device=resolve_device("auto"), catalog=REGISTRY)


class MainWindow(QMainWindow):
    """The application window over one :class:`Session`."""

    def __init__(
        self,
        session: Session | None = None,
        *,
        settings: QSettings | None = None,
        state_dir: Path | None = None,
        autosave_interval_ms: int = AUTOSAVE_INTERVAL_MS,
        confirm_close: bool = True,
        session_factory: Callable[[], Session] | None = None,
    ) -> None:
        super().__init__()
        self._session_factory = session_factory or _default_session
        self.session = session = session if session is not None else self._session_factory()
        self.settings = settings = settings or QSettings("ColorStudio", "ColorStudio")
        self.confirm_close = confirm_close
        self.undo_stack = QUndoStack(self)
        self.extra_windows: list[MainWindow] = []  # windows opened for further recovered autosaves

        self.setWindowTitle("ColorStudio")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        self.canvas = ImageCanvas(session)
        self.setCentralWidget(self.canvas)
        self.hint_picker = HintPicker(self.canvas.viewport())
        self.samples_panel = SamplesPanel(session)
        self.hints_panel = HintsPanel(session)
        self.adjust_panel = AdjustPanel(session)
        self.uncertainty_panel = UncertaintyPanel(session)
        self._build_docks()
        self.acts = acts = WindowActions(self, self.undo_stack)  # not "actions": QWidget.actions() is Qt's
        recent_menu = acts.build_menus(self, (self.samples_dock, self.hints_dock, self.adjust_dock, self.uncertainty_dock))
        self.split_slider = acts.build_toolbar(self)
        self.feedback = feedback = Feedback(self)

        self.jobs = JobsController(session, self.undo_stack, feedback, self.samples_panel, acts.cancel, self)
        self.hints = HintsController(session, self.undo_stack, feedback, settings, self.canvas, self.hints_panel,
                                     self.hint_picker, self)
        self.adjust = AdjustController(session, self.undo_stack, feedback, settings, self.adjust_panel,
                                       self.uncertainty_panel, self.uncertainty_dock, acts.uncertainty, self.canvas,
                                       self.jobs.reference_lane, self)
        self.export = ExportController(session, feedback, settings, self.jobs.export_lane, self)
        autosaver = Autosaver(session, state_dir or default_state_dir(), autosave_interval_ms, self)
        self.files = FilesController(session, self.undo_stack, feedback, settings, self.jobs, autosaver, recent_menu,
                                     lambda: self._new_window().files, self)
        self._build_status_bar()
        self._connect()
        self._update_actions()
        self._update_title()
        self.geometry_keeper = GeometryKeeper(self, settings)
        self.geometry_keeper.restore()

    # ================================================================== construction
    def _dock(self, title: str, widget: QWidget, name: str, scroll: bool = False) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        if scroll:
            area = QScrollArea()
            area.setWidgetResizable(True)
            area.setWidget(widget)
            widget = area
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        return dock

    def _build_docks(self) -> None:
        self.samples_dock = self._dock("Samples", self.samples_panel, "samples")
        self.hints_dock = self._dock("Hints", self.hints_panel, "hints", scroll=True)
        self.adjust_dock = self._dock("Colour", self.adjust_panel, "colour", scroll=True)
        self.uncertainty_dock = self._dock("Uncertainty", self.uncertainty_panel, "uncertainty", scroll=True)
        right = Qt.DockWidgetArea.RightDockWidgetArea
        self.addDockWidget(right, self.samples_dock)
        self.addDockWidget(right, self.hints_dock)
        self.tabifyDockWidget(self.hints_dock, self.adjust_dock)
        self.tabifyDockWidget(self.adjust_dock, self.uncertainty_dock)
        self.hints_dock.raise_()
        self.resizeDocks([self.samples_dock], [420], Qt.Orientation.Horizontal)
        # The gallery gets most of the height (two rows of four samples); the tabbed panels below scroll.
        self.resizeDocks([self.samples_dock, self.hints_dock], [640, 260], Qt.Orientation.Vertical)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.device_label = QLabel(self.device_text())
        self.device_label.setToolTip("Device the models run on")
        self.zoom_label = QLabel("")
        jobs = self.jobs
        for widget in (jobs.status_progress, jobs.status_cancel, self.zoom_label, jobs.work_label,
                       self.feedback.time_label, self.device_label):
            bar.addPermanentWidget(widget)
        bar.showMessage("Open a grayscale photo to begin (Ctrl+O or drop a file here)")

    def device_text(self) -> str:
        try:
            return describe_device(self.session.device)
        except Exception:  # noqa: BLE001 - a status label must not stop the window
            return str(self.session.device)

    def _connect(self) -> None:
        acts, files, hints, jobs, canvas = self.acts, self.files, self.hints, self.jobs, self.canvas
        acts.connect({
            "open": files.open_dialog, "open_session": files.open_session_dialog, "save": files.save,
            "save_as": files.save_as, "export": self.export.export_dialog, "load_hints": hints.load_hints_dialog,
            "save_hints": hints.save_hints_dialog, "quit": self.close, "delete": hints.delete_selected_hint,
            "clear_hints": hints.clear_hints, "colorize": jobs.colorize, "more": jobs.more_samples, "cancel": jobs.cancel,
            "fit": canvas.fit, "actual": canvas.actual_size, "zoom_in": lambda: canvas.zoom_by(1.25),
            "zoom_out": lambda: canvas.zoom_by(0.8), "view_gray": lambda: self.set_view_mode("gray"),
            "view_result": lambda: self.set_view_mode("result"), "view_split": lambda: self.set_view_mode("split"),
            "uncertainty": self.adjust.show_overlay, "how_to": self.show_how_to, "shortcuts": self.show_shortcuts,
            "about": self.about,
        })
        ev = self.session.events
        ev.image.connect(self._image_changed)
        ev.result.connect(self._result_changed)
        ev.samples.connect(self._update_actions)
        ev.dirty.connect(self._update_title)
        ev.path.connect(self._update_title)
        ev.model.connect(self._update_actions)
        jobs.predicted.connect(self._update_actions)
        canvas.hint_selected.connect(lambda index: acts.delete.setEnabled(index >= 0))
        canvas.zoom_changed.connect(lambda f: self.zoom_label.setText(f"{f * 100:.0f}%"))
        canvas.files_dropped.connect(lambda paths: files.open_path(paths[0]))
        self.split_slider.valueChanged.connect(lambda v: self.set_view_mode("split", v / 100.0))
        self.undo_stack.cleanChanged.connect(self._update_title)
        self.undo_stack.indexChanged.connect(self._update_actions)

    # ================================================================== session -> window
    def _update_title(self, *_args) -> None:
        s = self.session
        name = "ColorStudio"
        if s.path is not None:
            name = f"{s.path.name} – ColorStudio"
        elif s.source_path is not None:  # an image is open
            name = f"{s.source_path.name} – ColorStudio"
        self.setWindowTitle(("*" if s.dirty and s.has_image else "") + name)

    def _update_actions(self, *_args) -> None:
        self.acts.update(self.session, self.canvas.selected_hint is not None)
        self.jobs.enable_buttons(colorize=self.session.has_image, more=self.acts.more.isEnabled())

    def _image_changed(self) -> None:
        image = self.session.image
        if image is None:
            return
        w, h = image.size
        self.canvas.set_source(w, h, lightness_to_qimage(image.preview_lightness))
        self.feedback.clear_timings()  # they meant the previous photo
        self._update_actions()
        self._update_title()

    def _result_changed(self) -> None:
        result = self.session.result
        self.canvas.set_result(None if result is None else rgb_to_qimage(result.rgb))
        self._update_actions()

    def set_view_mode(self, mode: str, split: float | None = None) -> None:
        self.acts.view_mode(mode).setChecked(True)
        self.canvas.set_view_mode(mode, split)

    # ================================================================== dialogs and other windows
    def show_shortcuts(self) -> None:
        self.shortcuts_dialog = ShortcutsDialog(self)  # built now: it lists the actions as they are
        self.shortcuts_dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.shortcuts_dialog.show()

    def show_how_to(self) -> None:
        self.how_to_dialog = HowToDialog(self)
        self.how_to_dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.how_to_dialog.show()

    def about(self) -> None:
        show_about(self, self.session.model_choices, self.device_text())

    def _new_window(self) -> MainWindow:
        """Another window sharing this one's settings and state folder (for a further recovered session)."""
        autosaver = self.files.autosaver
        window = MainWindow(settings=self.settings, state_dir=autosaver.state_dir, session_factory=self._session_factory,
                            autosave_interval_ms=autosaver.timer.interval(), confirm_close=self.confirm_close)
        self.extra_windows.append(window)
        window.show()
        return window

    # ================================================================== window events
    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self.geometry_keeper.shown()

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt API
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.files.open_path(paths[0])
            event.acceptProposedAction()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        if not self.files.may_close(self.confirm_close):
            event.ignore()
            return
        self.jobs.shutdown()
        self.files.autosaver.discard()  # a clean exit: nothing to recover next time
        self.geometry_keeper.save()
        event.accept()
