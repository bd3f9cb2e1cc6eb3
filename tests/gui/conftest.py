"""GUI tests run offscreen with the Qt-free fake colorizer of tests/engine/test_session_fakes.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before any Qt import: no display needed

import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).parents[1] / "engine"))
from test_session_fakes import fake_session, write_color_image, write_gray_image  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_qsettings(qapp, tmp_path):
    """Every QSettings a test creates (also a default-constructed one) lives in tmp_path, never in the
    user's real settings; the application names are per test, so no test sees another's values."""
    from PySide6.QtCore import QCoreApplication, QSettings

    folder = tmp_path / "qsettings"
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
            QSettings.setPath(fmt, scope, str(folder / scope.name))
    names = QCoreApplication.organizationName(), QCoreApplication.applicationName()
    QCoreApplication.setOrganizationName("ColorStudioTests")
    QCoreApplication.setApplicationName(f"test-{tmp_path.name}")
    yield folder
    QCoreApplication.setOrganizationName(names[0])
    QCoreApplication.setApplicationName(names[1])


@pytest.fixture
def gray_path(tmp_path):
    return write_gray_image(tmp_path / "photo.png")


@pytest.fixture
def reference_path(tmp_path):
    return write_color_image(tmp_path / "reference.png")


@pytest.fixture
def settings_path(tmp_path):
    return tmp_path / "settings.ini"


@pytest.fixture
def make_window(qtbot, tmp_path, settings_path):
    """Build a MainWindow over a fake-model session, with settings and autosave in tmp_path."""
    from PySide6.QtCore import QSettings

    from colorstudio.gui.main_window import MainWindow

    def make(delay_s: float = 0.0, autosave_interval_ms: int = 30_000, samples: bool = True, size=(1100, 760)):
        settings = QSettings(str(settings_path), QSettings.Format.IniFormat)
        window = MainWindow(fake_session(delay_s, samples), settings=settings, state_dir=tmp_path / "state",
                            autosave_interval_ms=autosave_interval_ms, confirm_close=False,
                            session_factory=lambda: fake_session(delay_s, samples))
        if size is not None:
            window.resize(*size)
        qtbot.addWidget(window)
        window.show()
        return window

    return make


@pytest.fixture
def errors(monkeypatch):
    """Capture the error notices the window shows (title: text), instead of showing message boxes."""
    from PySide6.QtWidgets import QMessageBox

    from colorstudio.gui.feedback import Feedback

    captured: list[str] = []
    monkeypatch.setattr(Feedback, "_present_error", lambda self, title, text: captured.append(f"{title}: {text}"),
                        raising=False)
    # A modal box would hang the test; none is expected, but one must fail it rather than block it.
    monkeypatch.setattr(QMessageBox, "critical",
                        staticmethod(lambda parent, title, text, *a, **k: captured.append(f"{title}: {text}")))
    return captured
