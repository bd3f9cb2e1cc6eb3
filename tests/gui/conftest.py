"""GUI tests run offscreen with the Qt-free fake colorizer of tests/engine/test_session_fakes.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before any Qt import: no display needed

import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).parents[1] / "engine"))
from test_session_fakes import fake_session, write_color_image, write_gray_image  # noqa: E402


@pytest.fixture
def gray_path(tmp_path):
    return write_gray_image(tmp_path / "photo.png")


@pytest.fixture
def reference_path(tmp_path):
    return write_color_image(tmp_path / "reference.png")


@pytest.fixture
def make_window(qtbot, tmp_path):
    """Build a MainWindow over a fake-model session, with settings and autosave in tmp_path."""
    from PySide6.QtCore import QSettings

    from colorstudio.gui.main_window import MainWindow

    def make(delay_s: float = 0.0, autosave_interval_ms: int = 30_000, samples: bool = True):
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(fake_session(delay_s, samples), settings=settings, state_dir=tmp_path / "state",
                            autosave_interval_ms=autosave_interval_ms, confirm_close=False,
                            session_factory=lambda: fake_session(delay_s, samples))
        window.resize(1100, 760)
        qtbot.addWidget(window)
        window.show()
        return window

    return make


@pytest.fixture
def errors(monkeypatch):
    """Capture QMessageBox.critical texts instead of showing modal boxes."""
    from PySide6.QtWidgets import QMessageBox

    captured: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", staticmethod(lambda parent, title, text, *a, **k: captured.append(f"{title}: {text}")))
    return captured
