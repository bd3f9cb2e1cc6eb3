"""Drive the real window offscreen: open, colorize, choose, hints by mouse, undo/redo, hue dial,
reference, session save/reopen, export, errors, autosave/recovery and responsiveness."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from colorstudio.engine.jobs import ExportSettings
from gui_helpers import open_and_colorize, viewport_point, wait_idle

pytestmark = pytest.mark.gui


def test_open_colorize_and_pick_a_sample(qtbot, make_window, gray_path):
    window = make_window()
    open_and_colorize(qtbot, window, gray_path, n=3)
    s, gallery = window.session, window.samples_panel.gallery
    assert gallery.count() == 3
    assert [gallery.item(i).text() for i in range(3)] == ["seed 0", "seed 1", "seed 2"]
    assert s.result is not None and s.result.rgb.shape == (48, 64, 3)
    assert window.jobs.work_label.text() == "work: 32 × 24"
    timings = window.feedback.time_label.text()
    assert "CPU" in window.device_label.text()
    assert re.search(r"\d+(\.\d+)? m?s\b", timings), timings
    first = s.result.rgb.copy()

    rect = gallery.visualItemRect(gallery.item(2))
    qtbot.mouseClick(gallery.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    wait_idle(qtbot, window)
    assert s.chosen == 2 and s.result.seed == 2
    assert not np.allclose(first, s.result.rgb)

    window.undo_stack.undo()
    wait_idle(qtbot, window)
    assert s.chosen == 0 and gallery.currentRow() == 0
    np.testing.assert_array_equal(first, s.result.rgb)
    window.undo_stack.redo()
    assert s.chosen == 2

    qtbot.mouseClick(window.samples_panel.more_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    assert [slot.seed for slot in s.slots] == [0, 1, 2, 3, 4, 5]
    assert gallery.count() == 6


def test_hints_with_the_mouse_and_undo_redo(qtbot, make_window, gray_path):
    window = make_window()
    open_and_colorize(qtbot, window, gray_path, n=1)
    s, viewport = window.session, window.canvas.viewport()

    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=viewport_point(window, 20, 15))
    assert s.hints == () and window.hint_picker.isVisible()  # the colour comes first
    first = window.hint_picker.visible_suggestions()[0]
    qtbot.mouseClick(first, Qt.MouseButton.LeftButton)
    assert len(s.hints) == 1
    assert abs(s.hints[0].x - 20) < 1 and abs(s.hints[0].y - 15) < 1
    assert s.hints[0].color == first.property("color") == window.hints_panel.current_color
    wait_idle(qtbot, window)
    assert not s.slots[0].stale  # re-predicted with the hint in the background

    # Drag it: press on the hint, move, release -> one undo step.
    steps_before = window.undo_stack.count()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=viewport_point(window, 20, 15))
    qtbot.mouseMove(viewport, viewport_point(window, 30, 20))
    qtbot.mouseMove(viewport, viewport_point(window, 40, 30))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=viewport_point(window, 40, 30))
    assert abs(s.hints[0].x - 40) < 1 and abs(s.hints[0].y - 30) < 1
    assert window.undo_stack.count() == steps_before + 1

    # Wheel over the hint changes its radius.
    radius = s.hints[0].radius
    pos = QPointF(viewport_point(window, 40, 30))
    wheel = QWheelEvent(pos, QPointF(viewport.mapToGlobal(pos.toPoint())), QPoint(0, 0), QPoint(0, 120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewport, wheel)
    assert s.hints[0].radius > radius

    # Colour from the picker's swatches applies to the selected hint.
    window.hints_panel.pick("#1f3a93")
    assert s.hints[0].color == "#1f3a93"

    # Right-click removes; undo brings it back; redo removes again.
    qtbot.mouseClick(viewport, Qt.MouseButton.RightButton, pos=viewport_point(window, 40, 30))
    assert s.hints == ()
    window.undo_stack.undo()
    assert len(s.hints) == 1 and s.hints[0].color == "#1f3a93"
    window.undo_stack.redo()
    assert s.hints == ()

    # Del removes the selected hint.
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=viewport_point(window, 10, 10))
    qtbot.mouseClick(window.hint_picker.visible_suggestions()[0], Qt.MouseButton.LeftButton)
    assert len(s.hints) == 1 and window.canvas.selected_hint == 0
    window.acts.delete.trigger()
    assert s.hints == ()
    for _ in range(4):
        window.undo_stack.undo()
    assert len(s.hints) == 1 and abs(s.hints[0].x - 40) < 1  # back before the recolour
    wait_idle(qtbot, window)


def test_hints_file_round_trip(qtbot, make_window, gray_path, tmp_path):
    window = make_window()
    open_and_colorize(qtbot, window, gray_path, n=1)
    window.hints.add_hint(5, 6)
    window.hints.add_hint(30, 20)
    path = window.session.save_hints(tmp_path / "photo.hints.json")
    window.hints.clear_hints()
    assert window.session.hints == ()
    window.hints.load_hints(path)
    assert [(h.x, h.y) for h in window.session.hints] == [(5.0, 6.0), (30.0, 20.0)]
    window.undo_stack.undo()
    assert window.session.hints == ()
    wait_idle(qtbot, window)


def test_hue_dial_and_reference(qtbot, make_window, gray_path, reference_path):
    window = make_window()
    open_and_colorize(qtbot, window, gray_path, n=1)
    s, panel = window.session, window.adjust_panel
    assert panel.dial.isEnabled()  # the fake model predicts histograms
    before = s.result.rgb.copy()
    panel.hue_strength.setValue(100)
    panel.dial.setValue(120)
    assert s.hue_bias.angle_deg == 120 and s.hue_bias.strength == 1.0
    wait_idle(qtbot, window)
    assert not np.allclose(before, s.result.rgb)
    assert panel.angle_label.text() == "120°"
    window.undo_stack.undo()
    assert s.hue_bias.angle_deg == 0 and panel.dial.value() == 0
    window.undo_stack.redo()
    wait_idle(qtbot, window)

    hued = s.result.rgb.copy()
    window.adjust.load_reference(reference_path)
    qtbot.waitUntil(lambda: s.reference_image is not None, timeout=10_000)
    wait_idle(qtbot, window)
    assert not panel.ref_thumb.pixmap().isNull()
    assert s.reference.method == "energy"
    assert not np.allclose(hued, s.result.rgb)
    panel.ref_method.setCurrentIndex(1)
    panel.ref_method.activated.emit(1)
    assert s.reference.method == "quantile"
    wait_idle(qtbot, window)
    window.undo_stack.undo()
    window.undo_stack.undo()
    assert s.reference_image is None and s.reference.path is None
    wait_idle(qtbot, window)
    np.testing.assert_allclose(s.result.rgb, hued, atol=1e-6)

    # Uncertainty overlay toggles on the canvas.
    window.acts.uncertainty.trigger()
    assert window.canvas.overlay.isVisible()
    window.uncertainty_panel.opacity.setValue(30)
    assert abs(window.canvas.overlay.opacity() - 0.3) < 1e-6


def test_session_save_and_reopen_identical(qtbot, make_window, gray_path, tmp_path):
    window = make_window()
    open_and_colorize(qtbot, window, gray_path, n=2)
    window.hints.add_hint(12, 9)
    window.jobs.choose_sample(1)
    window.adjust_panel.hue_strength.setValue(60)
    window.adjust_panel.dial.setValue(200)
    wait_idle(qtbot, window)
    path = tmp_path / "photo.colorstudio.json"
    assert window.files._save_to(path)
    assert not window.windowTitle().startswith("*")
    expected = window.session.result.rgb.copy()

    other = make_window()
    other.files.open_path(path)
    qtbot.waitUntil(lambda: other.session.has_image and other.session.chosen == 1, timeout=10_000)
    wait_idle(qtbot, other)
    assert other.session.hints == window.session.hints
    assert other.session.hue_bias == window.session.hue_bias
    np.testing.assert_array_equal(other.session.result.rgb, expected)
    assert other.files.recent_files()[0] == str(path.resolve())


def test_export_16bit_tiff(qtbot, make_window, gray_path, tmp_path):
    from colorstudio.gui.export_dialog import ExportDialog

    window = make_window()
    open_and_colorize(qtbot, window, gray_path, n=2)
    dialog = ExportDialog(gray_path, ExportSettings(), True, 2, (64, 48), window)
    dialog.format_combo.setCurrentIndex(1)
    dialog.depth_combo.setCurrentIndex(1)
    assert dialog.target().suffix == ".tiff" and dialog.settings() == ExportSettings("tiff", 16, False, False)
    dialog.format_combo.setCurrentIndex(0)
    dialog.path_edit.setText(str(gray_path))
    dialog._accept()
    assert "source" in dialog.message.text() and dialog.result() == 0  # refused

    target = tmp_path / "result.tiff"
    window.export.export_to(target, ExportSettings(fmt="tiff", bit_depth=16, all_samples=True, uncertainty=True))
    qtbot.waitUntil(lambda: bool(window.export.last_export), timeout=15_000)
    pixels = tifffile.imread(target)
    assert pixels.dtype == np.uint16 and pixels.shape == (48, 64, 3)
    assert sorted(p.name for p in window.export.last_export) == [
        "result.tiff", "result.uncertainty.png", "result_s0.tiff", "result_s1.tiff"]


def test_corrupt_files_show_clear_errors(qtbot, make_window, tmp_path, errors):
    window = make_window()
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    window.files.open_path(bad)
    qtbot.waitUntil(lambda: bool(errors), timeout=10_000)
    assert "broken.png" in errors[0] and "Traceback" not in errors[0]
    assert not window.session.has_image

    session_file = tmp_path / "broken.colorstudio.json"
    session_file.write_text("{ nope")
    window.files.open_path(session_file)
    assert "invalid JSON" in errors[-1]

    window.files.open_path(tmp_path / "missing.jpg")
    qtbot.waitUntil(lambda: len(errors) == 3, timeout=10_000)
    assert "missing.jpg" in errors[-1]


def test_window_stays_responsive_while_colorizing(qtbot, make_window, gray_path):
    window = make_window(delay_s=1.0)
    window.files.open_path(gray_path)
    qtbot.waitUntil(lambda: window.session.has_image, timeout=10_000)
    window.samples_panel.count_spin.setValue(2)
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(window.jobs.predict_lane.busy))
    timer.start(20)
    window.jobs.colorize()
    assert window.jobs.predict_lane.busy and window.samples_panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: window.session.slots[0].sample is not None, timeout=10_000)
    assert sum(ticks) >= 10  # the event loop kept turning while the worker ran
    assert window.samples_panel.progress.value() > 0
    qtbot.mouseClick(window.samples_panel.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.jobs.predict_lane.busy, timeout=5_000)
    timer.stop()
    assert len(window.session.slots) == 1  # cancelled before the second sample, whose slot is dropped


def test_newer_colorize_supersedes_older(qtbot, make_window, gray_path):
    window = make_window(delay_s=0.3)
    window.files.open_path(gray_path)
    qtbot.waitUntil(lambda: window.session.has_image, timeout=10_000)
    window.samples_panel.count_spin.setValue(1)
    window.jobs.colorize()
    window.samples_panel.seed_spin.setValue(42)
    window.jobs.colorize()
    wait_idle(qtbot, window)
    assert [slot.seed for slot in window.session.slots] == [42]
    assert window.session.result.seed == 42


def test_autosave_and_recovery(qtbot, make_window, gray_path, monkeypatch):
    window = make_window(autosave_interval_ms=50)
    open_and_colorize(qtbot, window, gray_path, n=1)
    window.hints.add_hint(8, 8)

    def autosaved_with_hint():
        path = window.files.autosaver.path
        return path.exists() and len(json.loads(path.read_text())["hints"]) == 1

    qtbot.waitUntil(autosaved_with_hint, timeout=5_000)

    # While the first window lives, another instance must not offer its autosave.
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    assert make_window().files.offer_recovery() == 0
    # The first window "crashes": its process is gone, so its lock is stale (a dead pid in the lock file).
    orphan = window.files.autosaver.path
    window.files.autosaver._lock.unlock()
    orphan.with_name(orphan.name.replace(".colorstudio.json", ".lock")).write_text("999999999\ncolorstudio\n\n")
    second = make_window()
    assert second.files.offer_recovery() == 1
    qtbot.waitUntil(lambda: second.session.has_image and len(second.session.hints) == 1, timeout=10_000)
    wait_idle(qtbot, second)
    assert not orphan.exists()  # recovered: the orphan is gone, the work lives in second's own autosave
    assert second.files.autosaver.path.exists() and second.session.dirty and second.session.path is None
    second.close()
    assert not second.files.autosaver.path.exists()  # a clean exit leaves nothing to recover


def test_view_zoom_and_drop(qtbot, make_window, gray_path):
    window = make_window()
    event_path = str(gray_path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(event_path)])
    drop = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.canvas.dropEvent(drop)  # offscreen Qt delivers no synthetic drops without a drag in progress
    qtbot.waitUntil(lambda: window.session.has_image, timeout=10_000)
    assert Path(window.files.recent_files()[0]) == Path(event_path).resolve()
    window.acts.actual.trigger()
    assert window.canvas.current_scale() == 1.0 and window.zoom_label.text() == "100%"
    window.acts.zoom_in.trigger()
    assert window.canvas.current_scale() > 1.0
    window.acts.fit.trigger()
    assert window.canvas.current_scale() > 5  # 64x48 fills the canvas
    window.split_slider.setValue(30)
    assert window.canvas.compare.mode == "split" and abs(window.canvas.compare.split - 0.3) < 1e-9
    window.acts.view_gray.trigger()
    assert window.canvas.compare.mode == "gray"


def test_missing_models_are_disabled_with_reason(make_window, monkeypatch, tmp_path):
    empty = tmp_path / "no-models"
    empty.mkdir()
    monkeypatch.setenv("COLORSTUDIO_MODELS", str(empty))  # every known family is then missing
    window = make_window()
    combo = window.samples_panel.model_combo
    missing = [c for c in window.session.model_choices if not c.available]
    assert missing, "the known families without weights must be listed"
    row = combo.findData(missing[0].name)
    item = combo.model().item(row)
    assert not item.isEnabled() and missing[0].reason in item.toolTip()


def test_propagation_baseline_colorizes_after_a_first_hint(qtbot, make_window, gray_path):
    from colorstudio.color import rgb_to_lab

    window = make_window()
    window.files.open_path(gray_path)
    qtbot.waitUntil(lambda: window.session.has_image, timeout=10_000)
    from colorstudio.gui.hint_picker import hex_to_ab

    window.jobs.set_model("propagation")
    qtbot.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, pos=viewport_point(window, 32, 24))
    chart = window.hint_picker.gamut  # nothing predicted yet: no suggestions, the gamut chart is there
    assert window.hint_picker.suggestion_colors() == [] and chart.isVisible()
    qtbot.mouseClick(chart, Qt.MouseButton.LeftButton, pos=chart.position_of(*hex_to_ab("#2050d0")))
    wait_idle(qtbot, window)  # the first hint alone starts a prediction
    s = window.session
    assert len(s.slots) == 1 and s.result is not None
    assert not window.samples_panel.more_button.isEnabled()  # deterministic model: seeds change nothing
    lab = rgb_to_lab(s.result.rgb)
    assert lab[24, 32, 2] < -15  # blue near the hint


def test_pan_with_middle_button(qtbot, make_window, gray_path):
    window = make_window()
    window.files.open_path(gray_path)
    qtbot.waitUntil(lambda: window.session.has_image, timeout=10_000)
    window.canvas.actual_size()
    window.canvas.zoom_by(25.0)  # 64 px -> 1600 screen px: wider than the viewport
    bar = window.canvas.horizontalScrollBar()
    start = bar.value()
    viewport = window.canvas.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.MiddleButton, pos=QPoint(300, 300))
    move = QMouseEvent(QEvent.Type.MouseMove, QPointF(200, 300), QPointF(viewport.mapToGlobal(QPoint(200, 300))),
                       Qt.MouseButton.NoButton, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, move)
    qtbot.mouseRelease(viewport, Qt.MouseButton.MiddleButton, pos=QPoint(200, 300))
    assert bar.value() == start + 100
    assert window.session.hints == ()  # panning never adds a hint


def test_single_sample_model_disables_n_with_a_reason(qtbot, make_window, gray_path):
    window = make_window(samples=False)
    panel = window.samples_panel
    window.session.set_sample_count(4)
    assert not panel.count_spin.isEnabled() and panel.count_spin.value() == 1
    assert "one colour distribution" in panel.count_spin.toolTip()
    assert not panel.seed_spin.isEnabled() and not panel.temperature_spin.isEnabled()
    assert panel.single_note.isVisibleTo(panel)
    open_and_colorize(qtbot, window, gray_path, n=1)
    assert len(window.session.slots) == 1
    assert panel.gallery.item(0).text() == window.session.model  # no meaningless seed label
    assert not window.acts.more.isEnabled()


def test_sampling_model_enables_n(qtbot, make_window):
    window = make_window(samples=True)
    panel = window.samples_panel
    window.session.set_sample_count(3)
    assert panel.count_spin.isEnabled() and panel.count_spin.value() == 3
    assert panel.seed_spin.isEnabled() and panel.temperature_spin.isEnabled()
    assert not panel.single_note.isVisibleTo(panel)
    assert "Number of samples" in panel.count_spin.toolTip()


def test_selected_thumbnail_is_not_tinted(qtbot, make_window, gray_path):
    from PySide6.QtGui import QIcon

    window = make_window()
    open_and_colorize(qtbot, window, gray_path, n=1)
    icon = window.samples_panel.gallery.item(0).icon()
    normal = icon.pixmap(64, 64, QIcon.Mode.Normal).toImage()
    selected = icon.pixmap(64, 64, QIcon.Mode.Selected).toImage()
    assert normal == selected


def test_uncertainty_overlay_is_stretched_with_a_legend(qtbot, make_window, gray_path):
    from colorstudio.gui.images import FIXED_DISPLAY_RANGE, display_range, overlay_qimage, stretch_for_display

    values = np.linspace(0.05, 0.2, 100, dtype=np.float32).reshape(10, 10)
    lo, hi = display_range(values, "auto")
    assert 0.05 <= lo < 0.06 and 0.19 < hi <= 0.2
    stretched = stretch_for_display(values, (lo, hi))
    assert stretched.min() == 0.0 and stretched.max() == 1.0  # the full colormap is used
    assert display_range(values, "fixed") == FIXED_DISPLAY_RANGE
    flat = np.full((4, 4), 0.1, np.float32)
    lo, hi = display_range(flat, "auto")
    assert hi - lo >= 0.02 - 1e-6  # a flat map is not blown up into noise
    image = overlay_qimage(values, "inferno", display_range(values))
    assert image.pixelColor(0, 0).alpha() < image.pixelColor(9, 9).alpha()  # confident areas stay readable

    window = make_window()
    open_and_colorize(qtbot, window, gray_path, n=1)
    panel = window.uncertainty_panel
    window.acts.uncertainty.trigger()
    assert window.canvas.overlay.isVisible()
    assert "confident" in panel.legend_low.text() and "unsure" in panel.legend_high.text()
    u = window.session.result.uncertainty
    assert f"{display_range(u)[1]:.2f}" in panel.legend_high.text()
    panel.contrast.setCurrentIndex(panel.contrast.findData("fixed"))
    assert panel.legend_high.text().endswith("0.50")
    assert window.uncertainty_dock.isVisible()
    # Display only: the result's data keeps its fixed scale.
    assert np.array_equal(window.session.result.uncertainty, u)


def test_hue_dial_from_zero_strength_sets_a_useful_strength(qtbot, make_window, gray_path):
    from colorstudio.gui.panels import DEFAULT_HUE_STRENGTH, lab_hue_color

    window = make_window()
    open_and_colorize(qtbot, window, gray_path, n=1)
    assert window.session.hue_bias.strength == 0.0
    window.adjust_panel.dial.setValue(120)
    assert window.session.hue_bias.angle_deg == 120.0
    assert window.session.hue_bias.strength == pytest.approx(DEFAULT_HUE_STRENGTH)
    window.undo_stack.undo()
    assert window.session.hue_bias.strength == 0.0  # one undo step
    assert lab_hue_color(90).startswith("#") and lab_hue_color(90) != lab_hue_color(270)
    window.adjust_panel.dial.grab()  # the hue ring paints without error


def test_app_icon_is_the_svg(qtbot, make_window):
    from colorstudio.gui.images import APP_ICON_PATH, app_icon

    assert APP_ICON_PATH.exists()
    assert not app_icon().isNull() and not app_icon().pixmap(32, 32).isNull()
    window = make_window()
    assert not window.windowIcon().isNull()
    desktop = APP_ICON_PATH.parents[2] / "packaging" / "io.github.colorstudio.ColorStudio.desktop"
    assert "Icon=io.github.colorstudio.ColorStudio" in desktop.read_text()


def test_autosaves_are_per_instance_and_each_orphan_is_offered(qtbot, make_window, gray_path, tmp_path, monkeypatch):
    from colorstudio.engine.session_file import save_session
    from colorstudio.gui.autosave import orphaned_autosaves

    first, second = make_window(autosave_interval_ms=20), make_window(autosave_interval_ms=20)
    assert first.files.autosaver.path != second.files.autosaver.path
    for window in (first, second):
        open_and_colorize(qtbot, window, gray_path, n=1)
        window.hints.add_hint(8, 8)
    qtbot.waitUntil(lambda: first.files.autosaver.path.exists() and second.files.autosaver.path.exists(), timeout=5_000)
    state = first.files.autosaver.state_dir
    assert orphaned_autosaves(state) == []  # both owners are alive

    # Two orphans of crashed runs (no live lock) and one legacy shared autosave.
    orphans = []
    for name in ("autosave-1-aaaa.colorstudio.json", "autosave-2-bbbb.colorstudio.json", "autosave.colorstudio.json"):
        orphans.append(save_session(state / name, first.session))
        first.session.mark_unsaved()
    assert sorted(orphaned_autosaves(state)) == sorted(orphans)

    answers = iter([QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes])
    asked: list[str] = []

    def question(parent, title, text, *a, **k):
        asked.append(text)
        return next(answers)

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    third = make_window()
    assert third.files.offer_recovery() == 2
    assert len(asked) == 3 and all("photo.png" in text for text in asked)
    assert len(third.extra_windows) == 1  # the first recovery went into this window, the next into a new one
    recovered = [third, third.extra_windows[0]]
    for window in recovered:
        qtbot.addWidget(window)
        qtbot.waitUntil(lambda w=window: w.session.has_image and len(w.session.hints) == 1, timeout=10_000)
        wait_idle(qtbot, window)
        assert window.session.path is None and window.session.dirty  # Save asks where; never the state folder
    assert not any(p.exists() for p in orphans)  # recovered or declined: all removed
    assert first.files.autosaver.path.exists() and second.files.autosaver.path.exists()  # live instances untouched


def test_about_shows_version_models_and_device(qtbot, make_window, monkeypatch):
    from colorstudio import __version__
    from colorstudio.models.registry import models_dirs

    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "about", staticmethod(lambda parent, title, text: shown.append(text)))
    window = make_window()
    window.acts.about.trigger()
    assert len(shown) == 1
    text = shown[0]
    assert f"ColorStudio {__version__}" in text and window.device_text() in text
    available = [c.name for c in window.session.model_choices if c.available]
    assert available and all(f"<b>{name}</b>" in text for name in available)
    assert all(str(folder) in text for folder in models_dirs())
