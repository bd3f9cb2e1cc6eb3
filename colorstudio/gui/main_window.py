"""The ColorStudio main window: canvas, panels, menus, toolbar, status bar, undo, sessions, export.

The window is glue: user input becomes undo commands that call :class:`Session` methods; session events
update the widgets; long work is the engine's jobs run on :class:`WorkLane` workers. Widgets are only
touched here, in GUI-thread slots.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import cast

import qtawesome as qta
from PySide6.QtCore import QByteArray, QPointF, QRect, QSettings, QSize, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QGuiApplication, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSlider,
    QToolButton,
    QWidget,
)

from colorstudio.devices import describe_device, resolve_device
from colorstudio.engine.hints import Hint, load_hints
from colorstudio.engine.jobs import (
    ExportJob,
    HueBias,
    OpenImageJob,
    OpenReferenceJob,
    PredictJob,
    PreviewJob,
    ReferenceSettings,
)
from colorstudio.engine.session import Session, default_hint_radius
from colorstudio.engine.session_file import SESSION_SUFFIX, read_session, restore_session, save_session
from colorstudio.errors import ColorStudioError
from colorstudio.families import REGISTRY
from colorstudio.gui.about import show_about
from colorstudio.gui.autosave import AUTOSAVE_INTERVAL_MS, Autosaver, default_state_dir, describe_autosave
from colorstudio.gui.canvas import ImageCanvas
from colorstudio.gui.commands import (
    AddHintCommand,
    ChooseSampleCommand,
    HintColorCommand,
    HintRadiusCommand,
    HueBiasCommand,
    MoveHintCommand,
    ReferenceCommand,
    RemoveHintCommand,
    SetHintsCommand,
)
from colorstudio.gui.compare import CompareDialog
from colorstudio.gui.export_dialog import ExportDialog, default_export_folder
from colorstudio.gui.help import HowToDialog, ShortcutsDialog
from colorstudio.gui.hint_picker import HintPicker
from colorstudio.gui.images import app_icon, display_range, lightness_to_qimage, overlay_qimage, rgb_to_qimage
from colorstudio.gui.panels import AdjustPanel, ElidedProgressBar, HintsPanel, SamplesPanel, UncertaintyPanel, gesture_ids
from colorstudio.gui.workers import WorkLane
from colorstudio.resources import resources_dir

__all__ = ["MainWindow", "IMAGE_FILTER"]

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.tif *.tiff *.bmp *.webp);;All files (*)"
SESSION_FILTER = f"ColorStudio sessions (*{SESSION_SUFFIX})"
MAX_RECENT = 10
MAX_RECENT_COLORS = 8
WHEEL_GESTURE_S = 0.8  # wheel steps closer than this on one hint are one undo step
PREFERRED_SIZE = QSize(1400, 900)
SCREEN_FILL = 0.9  # a first start takes at most this share of the available screen


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _default_session() -> Session:
    return Session(device=resolve_device("auto"), catalog=REGISTRY)


def _string_list(value: object) -> list[str]:
    """A list setting as QSettings returns it: a list, a lone string for a one-item list, or None."""
    if isinstance(value, str):
        return [value]
    return [str(v) for v in cast(Iterable[object], value or [])]


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
        self.session = session if session is not None else self._session_factory()
        session = self.session
        self.settings = settings or QSettings("ColorStudio", "ColorStudio")
        self.confirm_close = confirm_close
        self.undo_stack = QUndoStack(self)
        self.autosaver = Autosaver(session, state_dir or default_state_dir(), autosave_interval_ms, self)
        self.open_lane = WorkLane("open", parent=self)
        self.predict_lane = WorkLane("colorize", parent=self)
        self.preview_lane = WorkLane("preview", parent=self)
        self.reference_lane = WorkLane("reference", parent=self)
        self.export_lane = WorkLane("export", parent=self)
        self.last_error: str | None = None
        self.error_notices: list[str] = []  # every notice shown, "title: text" (for the log and tests)
        self._errors_shown: set[tuple[str, str]] = set()  # shown since the user's last action
        self.error_box = QMessageBox(QMessageBox.Icon.Critical, "ColorStudio", "", QMessageBox.StandardButton.Ok, self)
        self.error_box.setModal(False)  # a repeated failure must never block the next click
        self.last_export: list[Path] = []
        self._predict_paused = False  # after Cancel or an error: no automatic re-prediction
        self._predict_started = 0.0
        self._wheel_gesture: tuple[int, int, float] = (-1, 0, 0.0)
        self._scheduled: set[str] = set()
        self._timings: dict[str, str] = {}
        self.extra_windows: list[MainWindow] = []  # windows opened for further recovered autosaves
        self.compare_dialog: CompareDialog | None = None

        self.setWindowTitle("ColorStudio")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        self.canvas = ImageCanvas(session)
        self.setCentralWidget(self.canvas)
        self.hint_picker = HintPicker(self.canvas.viewport())
        self._picking: tuple[float, float, int] | None = None  # (x, y, hint index or -1 for a new hint)
        self.samples_panel = SamplesPanel(session)
        self.hints_panel = HintsPanel(session)
        self.adjust_panel = AdjustPanel(session)
        self.uncertainty_panel = UncertaintyPanel(session)
        self._build_docks()
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        self._connect()
        self.hints_panel.set_recent(self._recent_colors())
        self.act_cancel.setEnabled(False)  # nothing runs yet
        self._update_actions()
        self._update_title()
        self._restore_geometry()

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

    def _action(self, text: str, icon: str | None, slot, shortcut=None, tip: str = "", checkable: bool = False) -> QAction:
        action = QAction(qta.icon(icon) if icon else qta.icon("mdi6.blank"), text, self)
        if shortcut is not None:
            if isinstance(shortcut, (list, tuple)):
                action.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(f"{tip} ({action.shortcut().toString()})" if shortcut else tip)
        action.setCheckable(checkable)
        if slot is not None:
            action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        a = self._action
        self.act_open = a("&Open Image…", "mdi6.folder-open-outline", self.open_dialog, QKeySequence.StandardKey.Open,
                          "Open an image")
        self.act_open_session = a("Open &Session…", "mdi6.file-document-outline", self.open_session_dialog, "Ctrl+Shift+O",
                                  "Open a saved session")
        self.act_save = a("&Save Session", "mdi6.content-save-outline", self.save, QKeySequence.StandardKey.Save,
                          "Save the session")
        self.act_save_as = a("Save Session &As…", "mdi6.content-save-edit-outline", self.save_as, "Ctrl+Shift+S",
                             "Save the session under a new name")
        self.act_export = a("&Export…", "mdi6.export", self.export_dialog, "Ctrl+E", "Export the result at full resolution")
        self.act_load_hints = a("Load &Hints…", "mdi6.map-marker-down", self.load_hints_dialog, None,
                                "Load hints from a *.hints.json file")
        self.act_save_hints = a("Save H&ints…", "mdi6.map-marker-up", self.save_hints_dialog, None,
                                "Save hints to a *.hints.json file")
        self.act_quit = a("&Quit", "mdi6.exit-to-app", self.close, QKeySequence.StandardKey.Quit, "Quit ColorStudio")
        self.act_undo = self.undo_stack.createUndoAction(self, "&Undo")
        self.act_undo.setIcon(qta.icon("mdi6.undo"))
        self.act_undo.setShortcut(QKeySequence("Ctrl+Z"))
        self.act_redo = self.undo_stack.createRedoAction(self, "&Redo")
        self.act_redo.setIcon(qta.icon("mdi6.redo"))
        self.act_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.act_delete = a("&Delete Hint", "mdi6.map-marker-remove-outline", self.delete_selected_hint,
                            QKeySequence.StandardKey.Delete, "Remove the selected hint")
        self.act_clear_hints = a("C&lear Hints", "mdi6.map-marker-off-outline", self.clear_hints, None, "Remove all hints")
        self.act_colorize = a("&Colorize", "mdi6.palette", self.colorize, "Ctrl+R", "Predict new samples")
        self.act_more = a("&More Samples", "mdi6.plus-box-multiple", self.more_samples, "Ctrl+M", "Add samples with new seeds")
        self.act_cancel = a("C&ancel", "mdi6.close-circle-outline", self.cancel, "Esc", "Stop the running work")
        self.act_fit = a("&Fit", "mdi6.fit-to-screen-outline", self.canvas.fit, "Ctrl+0", "Fit the image in the window")
        self.act_actual = a("&100%", "mdi6.numeric-1-box-outline", self.canvas.actual_size, "Ctrl+1",
                            "One image pixel per screen pixel")
        self.act_zoom_in = a("Zoom &In", "mdi6.magnify-plus-outline", lambda: self.canvas.zoom_by(1.25),
                             QKeySequence.StandardKey.ZoomIn, "Zoom in")
        self.act_zoom_out = a("Zoom &Out", "mdi6.magnify-minus-outline", lambda: self.canvas.zoom_by(0.8),
                              QKeySequence.StandardKey.ZoomOut, "Zoom out")
        self.view_group = QActionGroup(self)
        self.act_view_gray = a("&Gray (before)", "mdi6.image-filter-black-white", lambda: self.set_view_mode("gray"), "Ctrl+2",
                               "Show the gray original", True)
        self.act_view_result = a("&Result (after)", "mdi6.image", lambda: self.set_view_mode("result"), "Ctrl+3",
                                 "Show the result", True)
        self.act_view_split = a("&Split", "mdi6.compare", lambda: self.set_view_mode("split"), "Ctrl+4",
                                "Before | after split", True)
        for act in (self.act_view_gray, self.act_view_result, self.act_view_split):
            self.view_group.addAction(act)
        self.act_view_result.setChecked(True)
        self.act_uncertainty = a("&Uncertainty Overlay", "mdi6.blur", self._uncertainty_toggled, "U",
                                 "Show where the model is unsure", True)
        self.act_how_to = a("&How To…", "mdi6.help-circle-outline", self.show_how_to, QKeySequence.StandardKey.HelpContents,
                            "How to colorize a photo, step by step")
        self.act_shortcuts = a("&Keyboard Shortcuts", "mdi6.keyboard-outline", self.show_shortcuts, "Ctrl+/",
                               "Every keyboard shortcut of the window")
        self.act_about = a("&About ColorStudio", "mdi6.information-outline", self.about, None, "About")
        self.recent_menu_actions: list[QAction] = []

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.act_open, self.act_open_session])
        self.recent_menu = file_menu.addMenu(qta.icon("mdi6.history"), "Open &Recent")
        file_menu.addSeparator()
        file_menu.addActions([self.act_save, self.act_save_as, self.act_export])
        file_menu.addSeparator()
        file_menu.addActions([self.act_load_hints, self.act_save_hints])
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)
        edit = bar.addMenu("&Edit")
        edit.addActions([self.act_undo, self.act_redo])
        edit.addSeparator()
        edit.addActions([self.act_delete, self.act_clear_hints])
        view = bar.addMenu("&View")
        view.addActions([self.act_fit, self.act_actual, self.act_zoom_in, self.act_zoom_out])
        view.addSeparator()
        view.addActions([self.act_view_gray, self.act_view_result, self.act_view_split, self.act_uncertainty])
        view.addSeparator()
        for dock in (self.samples_dock, self.hints_dock, self.adjust_dock, self.uncertainty_dock):
            view.addAction(dock.toggleViewAction())
        colorize = bar.addMenu("&Colorize")
        colorize.addActions([self.act_colorize, self.act_more, self.act_cancel])
        help_menu = bar.addMenu("&Help")
        help_menu.addActions([self.act_how_to, self.act_shortcuts])
        help_menu.addSeparator()
        help_menu.addAction(self.act_about)
        self._rebuild_recent_menu()

    def _build_toolbar(self) -> None:
        tb = self.addToolBar("Main")
        tb.setObjectName("main-toolbar")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        tb.addActions([self.act_open, self.act_save, self.act_export])
        tb.addSeparator()
        tb.addActions([self.act_undo, self.act_redo])
        tb.addSeparator()
        tb.addActions([self.act_colorize, self.act_more, self.act_cancel])
        tb.addSeparator()
        tb.addActions([self.act_fit, self.act_actual, self.act_zoom_in, self.act_zoom_out])
        tb.addSeparator()
        tb.addActions([self.act_view_gray, self.act_view_result, self.act_view_split])
        self.split_slider = QSlider(Qt.Orientation.Horizontal)
        self.split_slider.setRange(0, 100)
        self.split_slider.setValue(50)
        self.split_slider.setFixedWidth(120)
        self.split_slider.setToolTip("Position of the before/after split")
        tb.addWidget(self.split_slider)
        tb.addSeparator()
        tb.addAction(self.act_uncertainty)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.device_label = QLabel(self._device_text())
        self.device_label.setToolTip("Device the models run on")
        self.work_label = QLabel("work: –")
        self.work_label.setToolTip("Working resolution of the model (preview long side 512 px; export at full size)")
        self.time_label = QLabel("")
        self.zoom_label = QLabel("")
        self.status_progress = ElidedProgressBar()
        self.status_progress.setFixedWidth(220)
        self.status_progress.setVisible(False)
        self.status_cancel = QToolButton()
        self.status_cancel.setDefaultAction(self.act_cancel)
        self.status_cancel.setVisible(False)
        for widget in (self.status_progress, self.status_cancel, self.zoom_label, self.work_label, self.time_label,
                       self.device_label):
            bar.addPermanentWidget(widget)
        bar.showMessage("Open a grayscale photo to begin (Ctrl+O or drop a file here)")

    def _device_text(self) -> str:
        try:
            return describe_device(self.session.device)
        except Exception:  # noqa: BLE001 - a status label must not stop the window
            return str(self.session.device)

    def _connect(self) -> None:
        ev = self.session.events
        ev.image.connect(self._image_changed)
        ev.result.connect(self._result_changed)
        ev.samples.connect(self._samples_changed)
        ev.stale.connect(self._stale)
        ev.dirty.connect(self._update_title)
        ev.path.connect(self._update_title)
        ev.model.connect(self._update_actions)
        self.canvas.pick_requested.connect(self.open_picker)
        self.canvas.view_moved.connect(self._place_picker)
        self.hint_picker.picked.connect(self._picker_picked)
        self.hint_picker.cancelled.connect(self._picker_closed)
        self.hints_panel.picker_requested.connect(self._picker_for_selected)
        ev.hints.connect(self._hints_changed)
        self.canvas.move_hint.connect(self._move_hint)
        self.canvas.remove_hint.connect(self.remove_hint)
        self.canvas.hint_radius.connect(self._wheel_radius)
        self.canvas.hint_selected.connect(self._hint_selected)
        self.canvas.point_clicked.connect(self._show_suggestions)
        self.canvas.zoom_changed.connect(lambda f: self.zoom_label.setText(f"{f * 100:.0f}%"))
        self.canvas.files_dropped.connect(lambda paths: self.open_path(paths[0]))
        self.samples_panel.colorize_requested.connect(self.colorize)
        self.samples_panel.more_requested.connect(self.more_samples)
        self.samples_panel.cancel_requested.connect(self.cancel)
        self.samples_panel.sample_clicked.connect(self.choose_sample)
        self.samples_panel.model_requested.connect(self.set_model)
        self.samples_panel.compare_requested.connect(self.compare_samples)
        self.hints_panel.color_chosen.connect(self._color_chosen)
        self.hints_panel.radius_changed.connect(self._radius_spin)
        self.adjust_panel.hue_changed.connect(self._hue_changed)
        self.adjust_panel.reference_load_requested.connect(self.load_reference_dialog)
        self.adjust_panel.reference_clear_requested.connect(self.clear_reference)
        self.adjust_panel.reference_changed.connect(self._reference_changed)
        self.uncertainty_panel.changed.connect(self._overlay_settings_changed)
        self.split_slider.valueChanged.connect(lambda v: self.set_view_mode("split", v / 100.0))
        self.undo_stack.cleanChanged.connect(self._update_title)
        self.undo_stack.indexChanged.connect(self._update_actions)

        self.predict_lane.partial.connect(self._sample_arrived)
        self.predict_lane.done.connect(self._predict_done)
        self.predict_lane.failed.connect(self._predict_failed)
        self.predict_lane.cancelled.connect(lambda _g: self._set_status("Colorization cancelled"))
        self.predict_lane.progress.connect(self._progress)
        self.predict_lane.busy_changed.connect(self._predict_busy)
        self.preview_lane.done.connect(self._preview_done)
        self.preview_lane.failed.connect(lambda _g, m: self.show_error("Preview failed", m))
        self.open_lane.failed.connect(lambda _g, m: self.show_error("Cannot open the file", m))
        self.open_lane.progress.connect(self._progress)
        self.open_lane.busy_changed.connect(self._busy_any)
        self.reference_lane.failed.connect(lambda _g, m: self.show_error("Cannot use the reference", m))
        self.export_lane.done.connect(self._export_done)
        self.export_lane.failed.connect(lambda _g, m: self.show_error("Export failed", m))
        self.export_lane.progress.connect(self._progress)
        self.export_lane.busy_changed.connect(self._busy_any)

    # ================================================================== messages and state display
    def show_error(self, title: str, message: str) -> None:
        """Every user-facing failure ends here: a clear, non-modal notice, never a traceback.

        The same failure repeated before the user's next action (each sample click re-running a failing
        preview) is shown once; the status bar still tells each time.
        """
        self.last_error = message
        self._set_status(f"{title}: {message}")
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

    def _new_action(self) -> None:
        """A new user action: failures it meets are news again."""
        self._errors_shown.clear()

    def _set_status(self, text: str, timeout_ms: int = 8000) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def _update_title(self, *_args) -> None:
        s = self.session
        name = "ColorStudio"
        if s.path is not None:
            name = f"{s.path.name} – ColorStudio"
        elif s.source_path is not None:  # an image is open
            name = f"{s.source_path.name} – ColorStudio"
        self.setWindowTitle(("*" if s.dirty and s.has_image else "") + name)

    def _update_actions(self, *_args) -> None:
        s = self.session
        has_image, has_result = s.has_image, s.current_sample is not None
        for act in (self.act_colorize, self.act_save, self.act_save_as, self.act_load_hints, self.act_clear_hints,
                    self.act_save_hints):
            act.setEnabled(has_image)
        self.act_more.setEnabled(has_image and s.supports_samples() and bool(s.slots))
        self.act_export.setEnabled(has_result)
        self.act_delete.setEnabled(self.canvas.selected_hint is not None)
        self.act_uncertainty.setEnabled(s.histograms_available)
        self.samples_panel.more_button.setEnabled(self.act_more.isEnabled())
        self.samples_panel.colorize_button.setEnabled(has_image)

    def _progress(self, fraction: float, message: str) -> None:
        self.status_progress.show_progress(fraction, message)
        self.samples_panel.set_progress(fraction, message)

    def _busy_any(self, busy: bool) -> None:
        busy = busy or self.predict_lane.busy or self.open_lane.busy or self.export_lane.busy
        self.status_progress.setVisible(busy)
        self.status_cancel.setVisible(busy)
        self.act_cancel.setEnabled(busy)
        self.samples_panel.set_busy(self.predict_lane.busy)

    def _timed(self, what: str, seconds: float) -> None:
        """Show the last timing of each kind of work (a fast preview must not hide the colorize time)."""
        self._timings[what] = f"{what} {_duration(seconds)}"
        self._timings = dict(list(self._timings.items())[-3:])
        self.time_label.setText(" · ".join(self._timings.values()))

    # ================================================================== files
    def open_dialog(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Open image or session", self._last_folder(),
                                              f"{IMAGE_FILTER};;{SESSION_FILTER}")
        if name:
            self.open_path(name)

    def open_session_dialog(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Open session", self._last_folder(), SESSION_FILTER)
        if name:
            self.open_path(name)

    def open_path(self, path: str | Path) -> None:
        """Open an image or a ``*.colorstudio.json`` session (in the background)."""
        self._new_action()
        path = Path(path)
        if path.name.endswith(SESSION_SUFFIX):
            self.open_session(path)
        else:
            self.open_image(path)

    def open_image(self, path: Path) -> None:
        job, started = OpenImageJob(), time.perf_counter()

        def work(progress, cancel, _partial):
            return job.run(path, progress, cancel)

        self._disconnect_open()
        self._open_slot: Callable[..., None] | None = lambda _g, image, seconds: self._image_opened(path, image, seconds)
        self.open_lane.done.connect(self._open_slot)
        self.open_lane.submit(work, supersede=True)
        self._set_status(f"Opening {path.name}…")
        self._open_started = started

    def _disconnect_open(self) -> None:
        slot = getattr(self, "_open_slot", None)
        if slot is not None:
            self.open_lane.done.disconnect(slot)
            self._open_slot = None

    def _image_opened(self, path: Path, image, seconds: float) -> None:
        self._disconnect_open()
        self.predict_lane.cancel()
        self.preview_lane.cancel()
        self.undo_stack.clear()
        self.session.set_image(image)
        self._predict_paused = False
        self._add_recent(path)
        self._timed("open", seconds)
        w, h = image.size
        self._set_status(f"Opened {path.name} ({w} × {h}, {image.source.bit_depth}-bit). "
                         "Press Colorize (Ctrl+R) or click to add hints.")

    def open_session(self, path: Path, *, recovered_from: Path | None = None) -> None:
        """Open a session file in the background. ``recovered_from``: ``path`` is an orphaned autosave; the
        session then has no file of its own (Save asks where), counts as unsaved, and the orphan is removed
        once its content lives on in this window (and in this window's own autosave)."""
        try:
            document = read_session(path)
        except ColorStudioError as exc:
            self.show_error("Cannot open the session", str(exc))
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
            self.predict_lane.cancel()
            self.preview_lane.cancel()
            try:
                restore_session(self.session, document, image, reference,
                                session_path=None if recovered_from else path)
            except ColorStudioError as exc:
                self.show_error("Cannot open the session", str(exc))
                return
            self.undo_stack.clear()
            self._predict_paused = False
            self._timed("open", seconds)
            if recovered_from is not None:
                self.session.mark_unsaved()
                if self.autosaver.save_now() is not None:
                    recovered_from.unlink(missing_ok=True)
                self._set_status(f"Recovered unsaved work on {image.source.path.name}; recomputing its samples…")
            else:
                self._add_recent(path)
                self._set_status(f"Opened session {path.name}; recomputing its samples…")

        self._disconnect_open()
        self._open_slot = opened
        self.open_lane.done.connect(self._open_slot)
        self.open_lane.submit(work, supersede=True)

    def save(self) -> bool:
        if self.session.path is None:
            return self.save_as()
        return self._save_to(self.session.path)

    def save_as(self) -> bool:
        source = self.session.source_path
        if source is None:  # no image open
            return False
        suggestion = self.session.path or source.with_name(source.stem + SESSION_SUFFIX)
        name, _ = QFileDialog.getSaveFileName(self, "Save session", str(suggestion), SESSION_FILTER)
        if not name:
            return False
        if not name.endswith(SESSION_SUFFIX):
            name = str(Path(name).with_suffix("").with_suffix("")) + SESSION_SUFFIX
        return self._save_to(Path(name))

    def _save_to(self, path: Path) -> bool:
        try:
            save_session(path, self.session)
        except (ColorStudioError, OSError) as exc:
            self.show_error("Cannot save the session", str(exc))
            return False
        self.undo_stack.setClean()
        self.autosaver.discard()
        self._add_recent(path)
        self._set_status(f"Saved {path}")
        return True

    def export_dialog(self) -> None:
        s = self.session
        if s.current_sample is None:
            self.show_error("Nothing to export", "Colorize the image first.")
            return
        dialog = self.make_export_dialog()
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._export_accepted(dialog))
        dialog.open()  # window-modal, without a nested event loop

    def make_export_dialog(self) -> ExportDialog:
        s = self.session
        return ExportDialog(self._source_path(), s.export_settings, s.histograms_available, len(s.slots), s.source_size, self,
                            folder=self.export_folder())

    def export_folder(self) -> Path:
        """Where the export dialog proposes to write: the folder of the last export, else the photo's own
        folder (unless it is among the app's own files or read-only: then Pictures)."""
        remembered = self.settings.value("export/lastFolder")
        if remembered and Path(str(remembered)).is_dir():
            return Path(str(remembered))
        return default_export_folder(self._source_path(), bundled=resources_dir())

    def _source_path(self) -> Path:
        """The open image's path; export and hint files need one."""
        source = self.session.source_path
        if source is None:
            raise ColorStudioError("no image is open")
        return source

    def _export_accepted(self, dialog: ExportDialog) -> None:
        target = dialog.target()
        self.settings.setValue("export/lastFolder", str(target.parent.resolve()))
        self.export_to(target, dialog.settings())

    def export_to(self, target: Path, settings) -> None:
        """Export in the background at full resolution (used by the dialog and by tests)."""
        self._new_action()
        try:
            self.session.set_export_settings(settings)
            request = self.session.export_request(target, settings)
            ExportJob().validate(request)
        except ColorStudioError as exc:
            self.show_error("Cannot export", str(exc))
            return
        job = ExportJob()
        self.export_lane.submit(lambda progress, cancel, _p: job.run(request, progress, cancel), supersede=True)

    def _export_done(self, _generation: int, written: list, seconds: float) -> None:
        self.last_export = list(written)
        self._timed("export", seconds)
        self._set_status("Exported " + ", ".join(Path(p).name for p in written))

    def load_hints_dialog(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Load hints", self._last_folder(), "Hints (*.hints.json);;JSON (*.json)")
        if name:
            self.load_hints(Path(name))

    def load_hints(self, path: Path) -> None:
        try:
            hints = load_hints(path, image_size=self.session.source_size)
            self.undo_stack.push(SetHintsCommand(self.session, tuple(hints), f"Load hints from {path.name}"))
        except ColorStudioError as exc:
            self.show_error("Cannot load the hints", str(exc))

    def save_hints_dialog(self) -> None:
        source = self._source_path()
        suggestion = source.with_name(source.stem + ".hints.json")
        name, _ = QFileDialog.getSaveFileName(self, "Save hints", str(suggestion), "Hints (*.hints.json)")
        if name:
            try:
                self.session.save_hints(Path(name))
                self._set_status(f"Saved {len(self.session.hints)} hints to {name}")
            except (ColorStudioError, OSError) as exc:
                self.show_error("Cannot save the hints", str(exc))

    # recent files --------------------------------------------------------
    def recent_files(self) -> list[str]:
        return _string_list(self.settings.value("recentFiles", []))

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

    def _last_folder(self) -> str:
        return str(self.settings.value("lastFolder", str(Path.home())))

    # ================================================================== colorization
    def set_model(self, name: str) -> None:
        self._new_action()
        try:
            self.session.set_model(name)
        except ColorStudioError as exc:
            self.show_error("Cannot use this model", str(exc))
            self.samples_panel.show_model()
            return
        self._set_status(f"Model: {name}")

    def colorize(self) -> None:
        if not self.session.has_image:
            return
        self._new_action()
        try:
            request = self.session.begin_colorize()
        except ColorStudioError as exc:
            self.show_error("Cannot colorize", str(exc))
            return
        self._predict_paused = False
        self._submit_predict(request, supersede=True)

    def more_samples(self) -> None:
        if not self.session.has_image:
            return
        self._new_action()
        request = self.session.begin_more_samples()
        self._predict_paused = False
        self._submit_predict(request, supersede=False)

    def cancel(self) -> None:
        self._predict_paused = True
        for lane in (self.predict_lane, self.open_lane, self.export_lane):
            lane.cancel()

    def _submit_predict(self, request, *, supersede: bool) -> None:
        job = PredictJob(self.session.colorizers)
        revision = request.revision

        def work(progress, cancel, partial):
            return job.run(request, progress, cancel, on_sample=lambda sample: partial((revision, sample)))

        self._predict_started = time.perf_counter()
        self.predict_lane.submit(work, supersede=supersede)

    def _sample_arrived(self, _generation: int, item) -> None:
        revision, sample = item
        if self.session.accept_sample(revision, sample):
            w, h = sample.work_size
            self.work_label.setText(f"work: {w} × {h}")

    def _predict_done(self, _generation: int, samples: list, seconds: float) -> None:
        self._timed("colorize", seconds)
        self.samples_panel.show_model()  # the loaded model now tells whether it samples
        self._update_actions()
        if samples and self.session.supports_samples():
            seeds = ", ".join(str(s.seed) for s in samples)
            plural = "s" if len(samples) != 1 else ""
            self._set_status(f"{len(samples)} sample{plural} ready (seed{plural} {seeds}) in {_duration(seconds)}")
        elif samples:
            self._set_status(f"Colorized with {self.session.model} in {_duration(seconds)}. Click the photo to add hints; "
                             "U shows where the model is unsure.")

    def _predict_failed(self, _generation: int, message: str) -> None:
        self._predict_paused = True
        self.show_error("Colorization failed", message)

    def _predict_busy(self, busy: bool) -> None:
        self._busy_any(busy)
        if busy:
            return
        if self._predict_paused:
            self.session.discard_unfinished()  # cancelled or failed: those seeds will not arrive
        elif self.session.samples_pending:
            self._schedule("predict")

    def _samples_changed(self) -> None:
        self._update_actions()

    def choose_sample(self, index: int) -> None:
        if index != self.session.chosen and 0 <= index < len(self.session.slots):
            self.undo_stack.push(ChooseSampleCommand(self.session, index))

    def compare_samples(self) -> None:
        """Open the side-by-side view on the current sample and the next one that has arrived."""
        arrived = [i for i, slot in enumerate(self.session.slots) if slot.sample is not None]
        if len(arrived) < 2:
            return
        if self.compare_dialog is None:
            self.compare_dialog = CompareDialog(self.session, self)
            self.compare_dialog.choose_requested.connect(self.choose_sample)
        left = self.session.chosen if self.session.chosen in arrived else arrived[0]
        right = next((i for i in arrived if i > left), arrived[0] if arrived[0] != left else arrived[1])
        self.compare_dialog.show()
        self.compare_dialog.raise_()
        self.compare_dialog.show_pair(left, right)

    # ================================================================== background scheduling
    def _stale(self, what: str) -> None:
        self._schedule(what)

    def _schedule(self, what: str) -> None:
        """Coalesce bursts of changes (one event-loop turn) into one request."""
        if what in self._scheduled:
            return
        self._scheduled.add(what)
        QTimer.singleShot(0, self, lambda: self._run_scheduled(what))

    def _run_scheduled(self, what: str) -> None:
        self._scheduled.discard(what)
        if what == "predict":
            if self._predict_paused and not self.session.hints and not self.session.slots:
                return
            request = self.session.refresh_request()
            if request is not None:
                self._predict_paused = False
                self._submit_predict(request, supersede=False)
        elif what == "preview":
            preview = self.session.preview_request()
            if preview is not None:
                job = PreviewJob()
                self.preview_lane.submit(lambda progress, cancel, _p: job.run(preview, progress, cancel))

    def _preview_done(self, _generation: int, result, seconds: float) -> None:
        if self.session.accept_preview(result):
            self._timed("preview", seconds)

    # ================================================================== session -> widgets
    def _image_changed(self) -> None:
        image = self.session.image
        if image is None:
            return
        w, h = image.size
        self.canvas.set_source(w, h, lightness_to_qimage(image.preview_lightness))
        self.work_label.setText("work: –")
        # Nothing of the previous photo stays on screen: its suggestions and timings meant that photo.
        if self._picking is not None:
            self._picker_closed()
        self.hints_panel.set_suggestions([], "Click the photo to see suggestions")
        self._timings.clear()
        self.time_label.setText("")
        self.act_uncertainty.setChecked(False)
        self.uncertainty_panel.show_box.setChecked(False)
        self._update_actions()
        self._update_title()

    def _result_changed(self) -> None:
        result = self.session.result
        self.canvas.set_result(None if result is None else rgb_to_qimage(result.rgb))
        self._update_overlay()
        self._update_actions()

    def _update_overlay(self) -> None:
        panel = self.uncertainty_panel
        result = self.session.result
        uncertainty = None if result is None else result.uncertainty
        value_range = None if uncertainty is None else display_range(uncertainty, panel.contrast_mode)
        panel.set_legend(value_range)
        photo = self.session.image  # open whenever there is a result
        image = None
        if panel.show_box.isChecked() and uncertainty is not None and value_range is not None and photo is not None:
            h, w = photo.preview_lightness.shape
            image = overlay_qimage(uncertainty, panel.colormap.currentText(), value_range, size=(w, h))
        self.canvas.set_overlay(image, panel.opacity.value() / 100.0, image is not None)

    def _uncertainty_toggled(self, checked: bool) -> None:
        self.uncertainty_panel.show_box.setChecked(checked)
        if checked:
            self.uncertainty_dock.raise_()  # its legend says what the overlay's colours mean

    def _overlay_settings_changed(self) -> None:
        checked = self.uncertainty_panel.show_box.isChecked()
        if self.act_uncertainty.isChecked() != checked:
            self.act_uncertainty.setChecked(checked)
        self._update_overlay()

    def set_view_mode(self, mode: str, split: float | None = None) -> None:
        action = {"gray": self.act_view_gray, "result": self.act_view_result, "split": self.act_view_split}[mode]
        action.setChecked(True)
        self.canvas.set_view_mode(mode, split)

    # ================================================================== hints
    def add_hint(self, x: float, y: float, color: str | None = None) -> None:
        """Add a hint at source pixel (x, y) in ``color`` (default: the picker's current colour)."""

        if not self.session.has_image:
            return
        hint = Hint(x=float(x), y=float(y), radius=default_hint_radius(self.session.source_size),
                    color=color or self.hints_panel.current_color)
        try:
            self.undo_stack.push(AddHintCommand(self.session, hint))
        except ColorStudioError as exc:
            self.show_error("Cannot add the hint", str(exc))
            return
        self.canvas.select_hint(len(self.session.hints) - 1)

    def _move_hint(self, index: int, x: float, y: float, gesture: int) -> None:
        self.undo_stack.push(MoveHintCommand(self.session, index, x, y, gesture))

    def remove_hint(self, index: int) -> None:
        if 0 <= index < len(self.session.hints):
            self.undo_stack.push(RemoveHintCommand(self.session, index))
            self.canvas.select_hint(None)

    def delete_selected_hint(self) -> None:
        if self.canvas.selected_hint is not None:
            self.remove_hint(self.canvas.selected_hint)

    def clear_hints(self) -> None:
        if self.session.hints:
            self.undo_stack.push(SetHintsCommand(self.session, (), "Clear hints"))

    def _wheel_radius(self, index: int, radius: float) -> None:
        last_index, gesture, when = self._wheel_gesture
        now = time.monotonic()
        if index != last_index or now - when > WHEEL_GESTURE_S:
            gesture = next(gesture_ids)
        self._wheel_gesture = (index, gesture, now)
        self.undo_stack.push(HintRadiusCommand(self.session, index, radius, gesture))
        self.hints_panel.show_selected(index)

    def _radius_spin(self, radius: float) -> None:
        index = self.canvas.selected_hint
        if index is not None and abs(self.session.hints[index].radius - radius) > 1e-6:
            self.undo_stack.push(HintRadiusCommand(self.session, index, radius))

    def _hint_selected(self, index: int) -> None:
        self.hints_panel.show_selected(index)
        self.act_delete.setEnabled(index >= 0)
        if 0 <= index < len(self.session.hints):
            self.hints_panel.set_current(self.session.hints[index].color)

    def _color_chosen(self, color: str) -> None:
        index = self.canvas.selected_hint
        if index is not None and index < len(self.session.hints) and self.session.hints[index].color != color:
            self.undo_stack.push(HintColorCommand(self.session, index, color))
        self._remember_color(color)

    def _remember_color(self, color: str) -> None:
        colors = [color] + [c for c in self._recent_colors() if c != color]
        self.settings.setValue("recentColors", colors[:MAX_RECENT_COLORS])
        self.hints_panel.set_recent(colors[:MAX_RECENT_COLORS])

    def _recent_colors(self) -> list[str]:
        return _string_list(self.settings.value("recentColors", []))

    def _suggestions(self, x: float, y: float) -> tuple[list[str], str]:
        try:
            colors = self.session.suggested_colors(x, y)
        except ColorStudioError:
            colors = []
        if self.session.histograms_available:
            note = "Likely colours here, from the model's distribution"
        elif colors:
            note = "Colours of the samples around this point"
        else:
            note = "Colorize to get suggestions; or pick from the chart"
        return colors, note

    def _show_suggestions(self, x: float, y: float) -> None:
        colors, note = self._suggestions(x, y)
        self.hints_panel.set_suggestions(colors, f"{note} ({x:.0f}, {y:.0f})")

    # ------------------------------------------------------------------ the colour picker beside a point
    def open_picker(self, x: float, y: float, index: int = -1) -> None:
        """Offer colours for a new hint at (x, y) (``index`` -1) or for hint ``index``; nothing is added or
        changed until one is picked."""
        s = self.session
        if s.image is None:
            return
        width, height = s.source_size
        lightness = float(s.image.lightness[min(int(y), height - 1), min(int(x), width - 1)])
        colors, note = self._suggestions(x, y)
        self._picking = (float(x), float(y), int(index))
        if index < 0:
            self.canvas.set_pending((x, y, default_hint_radius(s.source_size)))
            title = f"New hint · L* {lightness:.0f}"
            current = None
        else:
            self.canvas.set_pending(None)
            title = f"Hint {index + 1} · L* {lightness:.0f}"
            current = s.hints[index].color
        self.hints_panel.set_suggestions(colors, f"{note} ({x:.0f}, {y:.0f})")
        self.hint_picker.show_for(self._picker_anchor(), title, lightness, colors, note, self._recent_colors(), current)

    def _picker_anchor(self):
        assert self._picking is not None  # called while a picker is open
        x, y, _ = self._picking
        return self.canvas.mapFromScene(QPointF(x, y))

    def _place_picker(self) -> None:
        if self._picking is not None and self.hint_picker.isVisible():
            self.hint_picker.place(self._picker_anchor())

    def _picker_picked(self, color: str) -> None:
        if self._picking is None:
            return
        x, y, index = self._picking
        self._picker_closed()
        if index < 0:
            self.add_hint(x, y, color)
        elif index < len(self.session.hints) and self.session.hints[index].color != color:
            self.undo_stack.push(HintColorCommand(self.session, index, color))
        self.hints_panel.set_current(color)
        self._remember_color(color)

    def _picker_closed(self) -> None:
        self._picking = None
        self.canvas.set_pending(None)
        self.hint_picker.hide()
        self.canvas.setFocus(Qt.FocusReason.OtherFocusReason)

    def _picker_for_selected(self) -> None:
        index = self.canvas.selected_hint
        if index is None or index >= len(self.session.hints):
            self._set_status("Click the photo: a hint's colour is chosen where it goes, with suggestions")
            return
        hint = self.session.hints[index]
        self.open_picker(hint.x, hint.y, index)

    def _hints_changed(self) -> None:
        # An undo while picking the colour of an existing hint may remove it.
        if self._picking is not None and self._picking[2] >= len(self.session.hints):
            self._picker_closed()
        index = self.canvas.selected_hint
        if index is not None and index < len(self.session.hints):
            self.hints_panel.set_current(self.session.hints[index].color)

    # ================================================================== hue bias and reference
    def _hue_changed(self, angle: float, strength: float, gesture: int) -> None:
        bias = HueBias(angle_deg=angle, strength=strength)
        if bias != self.session.hue_bias:
            self.undo_stack.push(HueBiasCommand(self.session, bias, gesture))

    def load_reference_dialog(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Load reference image", self._last_folder(), IMAGE_FILTER)
        if name:
            self.load_reference(Path(name))

    def load_reference(self, path: Path) -> None:
        self._new_action()
        job = OpenReferenceJob()

        def loaded(_g, image, seconds):
            self.reference_lane.done.disconnect(loaded)
            method = self.session.reference.method
            if method == "energy" and not self.session.histograms_available:
                method = "quantile"  # the only method that works on this model's samples
            strength = self.session.reference.strength if self.session.reference.path else (1.0 if method == "energy" else 0.8)
            settings = ReferenceSettings(path=str(image.path), strength=strength, method=method)
            self.undo_stack.push(ReferenceCommand(self.session, settings, image, f"Reference {Path(image.path).name}"))
            self._timed("reference", seconds)

        self.reference_lane.done.connect(loaded)
        self.reference_lane.submit(lambda progress, cancel, _p: job.run(path, progress, cancel), supersede=True)

    def clear_reference(self) -> None:
        if self.session.reference.path is not None:
            cleared = dataclasses.replace(self.session.reference, path=None, sha256=None)
            self.undo_stack.push(ReferenceCommand(self.session, cleared, None, "Clear reference"))

    def _reference_changed(self, strength: float, method: str, gesture: int) -> None:
        settings = dataclasses.replace(self.session.reference, strength=strength, method=method)
        if settings != self.session.reference and self.session.reference.path is not None:
            self.undo_stack.push(ReferenceCommand(self.session, settings, None, "Reference settings", gesture))

    # ================================================================== window geometry
    def _restore_geometry(self) -> None:
        """The last session's geometry and dock layout, else a size that suits the screen; either way
        fitted into the screen's available area (a smaller screen, other scaling, a monitor gone)."""
        geometry = self.settings.value("window/geometry")
        if not (isinstance(geometry, QByteArray) and self.restoreGeometry(geometry)):
            available = self._available_area()
            self.resize(min(PREFERRED_SIZE.width(), int(available.width() * SCREEN_FILL)),
                        min(PREFERRED_SIZE.height(), int(available.height() * SCREEN_FILL)))
            self.move(available.center() - self.rect().center())
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        self._fit_to_screen()
        self._chosen_size: QSize | None = self.size()  # re-fitted on the first show unless resized since

    def _available_area(self) -> QRect:
        screen = QGuiApplication.screenAt(self.geometry().center()) or self.screen() or QGuiApplication.primaryScreen()
        return screen.availableGeometry()

    def _fit_to_screen(self) -> None:
        available = self._available_area()
        frame = self.frameGeometry()
        extra_w, extra_h = frame.width() - self.width(), frame.height() - self.height()  # title bar, borders
        width = min(self.width(), available.width() - extra_w)
        height = min(self.height(), available.height() - extra_h)
        if (width, height) != (self.width(), self.height()):
            self.resize(width, height)
        frame = self.frameGeometry()
        x = min(max(frame.x(), available.left()), available.right() + 1 - frame.width())
        y = min(max(frame.y(), available.top()), available.bottom() + 1 - frame.height())
        if (x, y) != (frame.x(), frame.y()):
            self.move(x, y)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        # The frame's size is known once the window is shown. A size set by code after construction
        # (a screenshot, a test) is left as it was asked for.
        if self._chosen_size is not None and self._chosen_size == self.size():
            self._fit_to_screen()
        self._chosen_size = None

    def _save_geometry(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())

    # ================================================================== window events
    def show_shortcuts(self) -> None:
        self.shortcuts_dialog = ShortcutsDialog(self)  # built now: it lists the actions as they are
        self.shortcuts_dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.shortcuts_dialog.show()

    def show_how_to(self) -> None:
        self.how_to_dialog = HowToDialog(self)
        self.how_to_dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.how_to_dialog.show()

    def about(self) -> None:
        show_about(self, self.session.model_choices, self._device_text())

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
                self, f"Recover unsaved work?{counter}",
                "ColorStudio did not close properly and left unsaved work:\n\n"
                f"{describe_autosave(path)}\n\nRecover it? (No deletes it.)",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes,
            )
            if answer != QMessageBox.StandardButton.Yes:
                path.unlink(missing_ok=True)
                continue
            target = self if use_this_window and recovered == 0 and not self.session.has_image else self._new_window()
            target.open_session(path, recovered_from=path)
            recovered += 1
        return recovered

    def _new_window(self) -> MainWindow:
        """Another window sharing this one's settings and state folder (for a further recovered session)."""
        window = MainWindow(settings=self.settings, state_dir=self.autosaver.state_dir,
                            session_factory=self._session_factory,
                            autosave_interval_ms=self.autosaver.timer.interval(), confirm_close=self.confirm_close)
        self.extra_windows.append(window)
        window.show()
        return window

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt API
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.open_path(paths[0])
            event.acceptProposedAction()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        if self.confirm_close and self.session.has_image and self.session.dirty:
            answer = QMessageBox.question(
                self, "Unsaved changes", "Save the session before closing?",
                QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            )
            if answer == QMessageBox.StandardButton.Cancel or (answer == QMessageBox.StandardButton.Save and not self.save()):
                event.ignore()
                return
        for lane in (self.predict_lane, self.preview_lane, self.open_lane, self.reference_lane, self.export_lane):
            lane.cancel()
        for lane in (self.predict_lane, self.preview_lane, self.open_lane, self.reference_lane, self.export_lane):
            lane.wait_idle(10.0)
        self.autosaver.discard()  # a clean exit: nothing to recover next time
        self._save_geometry()
        event.accept()
