"""Shared steps for the GUI tests (imported by the test modules; not a test module itself)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt


def wait_idle(qtbot, window, timeout=15_000):
    s = window.session

    def idle():
        jobs = window.jobs
        return (not jobs._scheduled and not any(lane.busy for lane in jobs.lanes) and not s.samples_pending
                and (s.current_sample is None or s.preview_current))

    qtbot.waitUntil(idle, timeout=timeout)


def open_image(qtbot, window, path):
    before = window.session.image
    window.files.open_path(path)
    qtbot.waitUntil(lambda: window.session.has_image and window.session.image is not before, timeout=10_000)


def open_and_colorize(qtbot, window, path, n=3):
    open_image(qtbot, window, path)
    window.samples_panel.count_spin.setValue(n)
    qtbot.mouseClick(window.samples_panel.colorize_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)


def viewport_point(window, x, y) -> QPoint:
    return window.canvas.mapFromScene(QPointF(x, y))
