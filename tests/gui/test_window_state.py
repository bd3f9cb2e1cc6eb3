"""Issue 16, items 8, 12 and 13: a new photo starts clean, no modal error loops, no stale placeholders or
timings, progress text that fits, and a window that fits the screen and remembers its geometry."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect, QSettings, Qt
from PySide6.QtWidgets import QApplication

from gui_helpers import open_and_colorize, open_image, wait_idle
from test_session_fakes import fake_session, write_gray_image

pytestmark = pytest.mark.gui


def _load_reference(qtbot, window, path) -> None:
    window.adjust.load_reference(path)
    qtbot.waitUntil(lambda: window.session.reference_image is not None, timeout=10_000)
    wait_idle(qtbot, window)


def test_opening_a_photo_starts_clean(qtbot, make_window, gray_path, reference_path, tmp_path, errors):
    window = make_window()
    open_and_colorize(qtbot, window, gray_path, n=2)
    s = window.session
    _load_reference(qtbot, window, reference_path)
    window.hints.add_hint(10, 10)
    window.hints.show_suggestions(10, 10)
    wait_idle(qtbot, window)
    assert window.hints_panel.suggested.colors() and "reference" in window.feedback.time_label.text()

    open_image(qtbot, window, write_gray_image(tmp_path / "second.png", seed=3))
    assert s.reference.path is None and s.reference_image is None
    assert s.hints == () and s.slots == [] and s.result is None
    assert window.adjust_panel.ref_thumb.text() == "No reference"
    assert window.hints_panel.suggested.colors() == []
    assert all(word not in window.feedback.time_label.text() for word in ("colorize", "preview", "reference"))
    assert window.samples_panel.gallery.count() == 0
    assert errors == []


def test_a_model_without_histograms_takes_a_carried_reference_without_errors(
        qtbot, make_window, gray_path, reference_path, errors):
    """An energy reference (histogram models only) chosen earlier must not block a sampler's preview."""
    window = make_window()
    open_and_colorize(qtbot, window, gray_path, n=1)
    s = window.session
    _load_reference(qtbot, window, reference_path)
    assert s.reference.method == "energy"
    window.jobs.set_model("propagation")  # no histograms: no energy transfer
    window.hints.add_hint(32, 24, "#2050d0")
    wait_idle(qtbot, window)
    assert s.result is not None and s.preview_current  # the canvas shows a colour result
    assert errors == []
    assert "quantile" in window.adjust_panel.ref_note.text()


def test_an_error_is_shown_once_and_not_modally(qtbot, make_window, gray_path, monkeypatch):
    from colorstudio.engine.jobs import PreviewJob
    from colorstudio.errors import ColorStudioError

    window = make_window()
    open_and_colorize(qtbot, window, gray_path, n=3)

    def broken(self, request, progress=None, cancel=None):
        raise ColorStudioError("the preview broke")

    monkeypatch.setattr(PreviewJob, "run", broken)
    gallery = window.samples_panel.gallery
    for row in (1, 2, 0):
        rect = gallery.visualItemRect(gallery.item(row))
        qtbot.mouseClick(gallery.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.waitUntil(lambda: not window.jobs.preview_lane.busy and not window.jobs._scheduled, timeout=5_000)
        assert QApplication.activeModalWidget() is None  # nothing blocks the next click
    assert window.session.chosen == 0  # every click went through
    notices = window.feedback.error_notices
    assert len(notices) == 1 and "the preview broke" in notices[0]
    assert window.feedback.error_box.isVisible() and not window.feedback.error_box.isModal()


def test_cancel_leaves_no_computing_placeholders(qtbot, make_window, gray_path):
    window = make_window(delay_s=0.6)
    open_image(qtbot, window, gray_path)
    window.samples_panel.count_spin.setValue(3)
    window.jobs.colorize()
    qtbot.waitUntil(lambda: window.session.slots[0].sample is not None, timeout=10_000)
    qtbot.mouseClick(window.samples_panel.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.jobs.predict_lane.busy, timeout=5_000)
    gallery = window.samples_panel.gallery
    texts = [gallery.item(i).text() for i in range(gallery.count())]
    assert texts and not any("computing" in t or "updating" in t for t in texts), texts
    assert len(window.session.slots) == gallery.count()
    assert all(slot.sample is not None for slot in window.session.slots)
    wait_idle(qtbot, window)
    assert window.acts.export.isEnabled()


def test_progress_text_fits_on_one_line(qtbot, make_window):
    window = make_window()
    message = "compositing a-rather-long-photo-name-from-the-scanner-0001-color.tiff at full resolution"
    window.jobs._busy_any(True)
    window.jobs._progress(0.42, message)
    for bar in (window.jobs.status_progress, window.samples_panel.progress):
        text = bar.text()
        assert "\n" not in text and "42%" in text
        assert bar.fontMetrics().horizontalAdvance(text) <= bar.contentsRect().width()
        assert message in bar.toolTip()


def _window(qtbot, tmp_path, settings):
    from colorstudio.gui.main_window import MainWindow

    window = MainWindow(fake_session(), settings=settings, state_dir=tmp_path / "state", confirm_close=False)
    qtbot.addWidget(window)
    window.show()
    return window


def test_window_fits_the_screen_and_restores_its_geometry(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = _window(qtbot, tmp_path, settings)
    available = window.screen().availableGeometry()
    assert available.contains(window.frameGeometry()), (available, window.frameGeometry())
    window.setGeometry(QRect(available.x() + 40, available.y() + 30, 620, 560))
    expected = window.geometry()  # as far as the window's minimum size allowed
    window.close()

    again = _window(qtbot, tmp_path, settings)
    assert again.geometry() == expected


def test_a_remembered_geometry_larger_than_the_screen_is_fitted(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = _window(qtbot, tmp_path, settings)
    available = window.screen().availableGeometry()
    window.setGeometry(QRect(available.x() + 300, available.y() + 200, available.width() * 2, available.height() * 2))
    window.close()
    again = _window(qtbot, tmp_path, settings)
    assert available.contains(again.frameGeometry())


def test_default_settings_are_isolated_in_tests(isolated_qsettings):
    QSettings().setValue("probe", 1)
    QSettings("ColorStudio", "ColorStudio").setValue("probe", 2)
    assert any(isolated_qsettings.rglob("*")), "QSettings must write under the test's folder"
