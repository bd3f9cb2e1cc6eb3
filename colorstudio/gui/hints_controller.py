"""Colour hints: placing, moving, resizing, recolouring and removing them (each an undo step), the colour
picker beside a point, suggested and recent colours, and hints files."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QFileDialog, QWidget

from colorstudio.engine.hints import Hint, load_hints
from colorstudio.engine.session import Session, default_hint_radius
from colorstudio.errors import ColorStudioError
from colorstudio.gui.canvas import ImageCanvas
from colorstudio.gui.commands import (
    AddHintCommand,
    HintColorCommand,
    HintRadiusCommand,
    MoveHintCommand,
    RemoveHintCommand,
    SetHintsCommand,
)
from colorstudio.gui.feedback import Feedback
from colorstudio.gui.hint_picker import HintPicker
from colorstudio.gui.panels import HintsPanel, gesture_ids
from colorstudio.gui.preferences import last_folder, string_list

__all__ = ["HintsController", "MAX_RECENT_COLORS", "WHEEL_GESTURE_S"]

MAX_RECENT_COLORS = 8
WHEEL_GESTURE_S = 0.8  # wheel steps closer than this on one hint are one undo step


class HintsController(QObject):
    """Turns the canvas's, the hints panel's and the picker's requests into undo commands on the session."""

    def __init__(self, session: Session, undo_stack: QUndoStack, feedback: Feedback, settings: QSettings,
                 canvas: ImageCanvas, panel: HintsPanel, picker: HintPicker, parent: QWidget) -> None:
        super().__init__(parent)
        self.session = session
        self.undo_stack = undo_stack
        self.feedback = feedback
        self.settings = settings
        self.canvas = canvas
        self.panel = panel
        self.picker = picker
        self._window = parent
        self._picking: tuple[float, float, int] | None = None  # (x, y, hint index or -1 for a new hint)
        self._wheel_gesture: tuple[int, int, float] = (-1, 0, 0.0)

        canvas.pick_requested.connect(self.open_picker)
        canvas.view_moved.connect(self._place_picker)
        canvas.move_hint.connect(self._move_hint)
        canvas.remove_hint.connect(self.remove_hint)
        canvas.hint_radius.connect(self._wheel_radius)
        canvas.hint_selected.connect(self._hint_selected)
        canvas.point_clicked.connect(self.show_suggestions)
        picker.picked.connect(self._picker_picked)
        picker.cancelled.connect(self._picker_closed)
        panel.picker_requested.connect(self._picker_for_selected)
        panel.color_chosen.connect(self._color_chosen)
        panel.radius_changed.connect(self._radius_spin)
        session.events.hints.connect(self._hints_changed)
        session.events.image.connect(self._image_changed)
        panel.set_recent(self._recent_colors())

    # ------------------------------------------------------------------ edits (undo commands)
    def add_hint(self, x: float, y: float, color: str | None = None) -> None:
        """Add a hint at source pixel (x, y) in ``color`` (default: the picker's current colour)."""
        if not self.session.has_image:
            return
        hint = Hint(x=float(x), y=float(y), radius=default_hint_radius(self.session.source_size),
                    color=color or self.panel.current_color)
        try:
            self.undo_stack.push(AddHintCommand(self.session, hint))
        except ColorStudioError as exc:
            self.feedback.show_error("Cannot add the hint", str(exc))
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
        self.panel.show_selected(index)

    def _radius_spin(self, radius: float) -> None:
        index = self.canvas.selected_hint
        if index is not None and abs(self.session.hints[index].radius - radius) > 1e-6:
            self.undo_stack.push(HintRadiusCommand(self.session, index, radius))

    def _hint_selected(self, index: int) -> None:
        self.panel.show_selected(index)
        if 0 <= index < len(self.session.hints):
            self.panel.set_current(self.session.hints[index].color)

    def _color_chosen(self, color: str) -> None:
        index = self.canvas.selected_hint
        if index is not None and index < len(self.session.hints) and self.session.hints[index].color != color:
            self.undo_stack.push(HintColorCommand(self.session, index, color))
        self._remember_color(color)

    # ------------------------------------------------------------------ colours: recent and suggested
    def _remember_color(self, color: str) -> None:
        colors = [color] + [c for c in self._recent_colors() if c != color]
        self.settings.setValue("recentColors", colors[:MAX_RECENT_COLORS])
        self.panel.set_recent(colors[:MAX_RECENT_COLORS])

    def _recent_colors(self) -> list[str]:
        return string_list(self.settings.value("recentColors", []))

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

    def show_suggestions(self, x: float, y: float) -> None:
        colors, note = self._suggestions(x, y)
        self.panel.set_suggestions(colors, f"{note} ({x:.0f}, {y:.0f})")

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
        self.panel.set_suggestions(colors, f"{note} ({x:.0f}, {y:.0f})")
        self.picker.show_for(self._picker_anchor(), title, lightness, colors, note, self._recent_colors(), current)

    def _picker_anchor(self) -> QPoint:
        assert self._picking is not None  # called while a picker is open
        x, y, _ = self._picking
        return self.canvas.mapFromScene(QPointF(x, y))

    def _place_picker(self) -> None:
        if self._picking is not None and self.picker.isVisible():
            self.picker.place(self._picker_anchor())

    def _picker_picked(self, color: str) -> None:
        if self._picking is None:
            return
        x, y, index = self._picking
        self._picker_closed()
        if index < 0:
            self.add_hint(x, y, color)
        elif index < len(self.session.hints) and self.session.hints[index].color != color:
            self.undo_stack.push(HintColorCommand(self.session, index, color))
        self.panel.set_current(color)
        self._remember_color(color)

    def _picker_closed(self) -> None:
        self._picking = None
        self.canvas.set_pending(None)
        self.picker.hide()
        self.canvas.setFocus(Qt.FocusReason.OtherFocusReason)

    def _picker_for_selected(self) -> None:
        index = self.canvas.selected_hint
        if index is None or index >= len(self.session.hints):
            self.feedback.set_status("Click the photo: a hint's colour is chosen where it goes, with suggestions")
            return
        hint = self.session.hints[index]
        self.open_picker(hint.x, hint.y, index)

    # ------------------------------------------------------------------ session -> widgets
    def _hints_changed(self) -> None:
        # An undo while picking the colour of an existing hint may remove it.
        if self._picking is not None and self._picking[2] >= len(self.session.hints):
            self._picker_closed()
        index = self.canvas.selected_hint
        if index is not None and index < len(self.session.hints):
            self.panel.set_current(self.session.hints[index].color)

    def _image_changed(self) -> None:
        # Nothing of the previous photo stays on screen: its suggestions meant that photo.
        if self.session.image is None:
            return
        if self._picking is not None:
            self._picker_closed()
        self.panel.set_suggestions([], "Click the photo to see suggestions")

    # ------------------------------------------------------------------ hints files
    def load_hints_dialog(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self._window, "Load hints", last_folder(self.settings),
                                              "Hints (*.hints.json);;JSON (*.json)")
        if name:
            self.load_hints(Path(name))

    def load_hints(self, path: Path) -> None:
        try:
            hints = load_hints(path, image_size=self.session.source_size)
            self.undo_stack.push(SetHintsCommand(self.session, tuple(hints), f"Load hints from {path.name}"))
        except ColorStudioError as exc:
            self.feedback.show_error("Cannot load the hints", str(exc))

    def save_hints_dialog(self) -> None:
        source = self.session.source_path
        if source is None:  # no image open: hints files need one
            raise ColorStudioError("no image is open")
        suggestion = source.with_name(source.stem + ".hints.json")
        name, _ = QFileDialog.getSaveFileName(self._window, "Save hints", str(suggestion), "Hints (*.hints.json)")
        if name:
            try:
                self.session.save_hints(Path(name))
                self.feedback.set_status(f"Saved {len(self.session.hints)} hints to {name}")
            except (ColorStudioError, OSError) as exc:
                self.feedback.show_error("Cannot save the hints", str(exc))
