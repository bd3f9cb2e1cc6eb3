"""Adjustments of the result: bias toward a hue and reference colour transfer (undo steps), and the
uncertainty overlay (a view setting, not undone)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import QObject, QSettings
from PySide6.QtGui import QAction, QUndoStack
from PySide6.QtWidgets import QDockWidget, QFileDialog, QWidget

from colorstudio.engine.jobs import HueBias, OpenReferenceJob, ReferenceSettings
from colorstudio.engine.session import Session
from colorstudio.gui.canvas import ImageCanvas
from colorstudio.gui.commands import HueBiasCommand, ReferenceCommand
from colorstudio.gui.feedback import Feedback
from colorstudio.gui.images import display_range, overlay_qimage
from colorstudio.gui.panels import AdjustPanel, UncertaintyPanel
from colorstudio.gui.preferences import IMAGE_FILTER, last_folder
from colorstudio.gui.workers import WorkLane

__all__ = ["AdjustController"]


class AdjustController(QObject):
    """The colour panel's and the uncertainty panel's controller."""

    def __init__(self, session: Session, undo_stack: QUndoStack, feedback: Feedback, settings: QSettings,
                 panel: AdjustPanel, uncertainty_panel: UncertaintyPanel, uncertainty_dock: QDockWidget,
                 uncertainty_action: QAction, canvas: ImageCanvas, reference_lane: WorkLane, parent: QWidget) -> None:
        super().__init__(parent)
        self.session = session
        self.undo_stack = undo_stack
        self.feedback = feedback
        self.settings = settings
        self.panel = panel
        self.uncertainty_panel = uncertainty_panel
        self.uncertainty_dock = uncertainty_dock
        self.uncertainty_action = uncertainty_action
        self.canvas = canvas
        self.reference_lane = reference_lane
        self._window = parent

        panel.hue_changed.connect(self._hue_changed)
        panel.reference_load_requested.connect(self.load_reference_dialog)
        panel.reference_clear_requested.connect(self.clear_reference)
        panel.reference_changed.connect(self._reference_changed)
        uncertainty_panel.changed.connect(self._overlay_settings_changed)
        reference_lane.failed.connect(lambda _g, m: self.feedback.show_error("Cannot use the reference", m))
        session.events.image.connect(self._image_changed)
        session.events.result.connect(self._update_overlay)

    # ------------------------------------------------------------------ hue bias and reference
    def _hue_changed(self, angle: float, strength: float, gesture: int) -> None:
        bias = HueBias(angle_deg=angle, strength=strength)
        if bias != self.session.hue_bias:
            self.undo_stack.push(HueBiasCommand(self.session, bias, gesture))

    def load_reference_dialog(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self._window, "Load reference image", last_folder(self.settings),
                                              IMAGE_FILTER)
        if name:
            self.load_reference(Path(name))

    def load_reference(self, path: Path) -> None:
        self.feedback.new_action()
        job = OpenReferenceJob()

        def loaded(_g, image, seconds):
            self.reference_lane.done.disconnect(loaded)
            method = self.session.reference.method
            if method == "energy" and not self.session.histograms_available:
                method = "quantile"  # the only method that works on this model's samples
            strength = self.session.reference.strength if self.session.reference.path else (1.0 if method == "energy" else 0.8)
            settings = ReferenceSettings(path=str(image.path), strength=strength, method=method)
            self.undo_stack.push(ReferenceCommand(self.session, settings, image, f"Reference {Path(image.path).name}"))
            self.feedback.timed("reference", seconds)

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

    # ------------------------------------------------------------------ the uncertainty overlay
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

    def show_overlay(self, checked: bool) -> None:
        self.uncertainty_panel.show_box.setChecked(checked)
        if checked:
            self.uncertainty_dock.raise_()  # its legend says what the overlay's colours mean

    def _overlay_settings_changed(self) -> None:
        checked = self.uncertainty_panel.show_box.isChecked()
        if self.uncertainty_action.isChecked() != checked:
            self.uncertainty_action.setChecked(checked)
        self._update_overlay()

    def _image_changed(self) -> None:
        if self.session.image is None:
            return
        self.uncertainty_action.setChecked(False)
        self.uncertainty_panel.show_box.setChecked(False)
