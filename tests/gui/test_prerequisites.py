"""A bare desktop without Qt's xcb libraries gets one line naming what to install, not Qt's abort."""

from __future__ import annotations

import sys

import pytest

from colorstudio.cli import main
from colorstudio.gui import app, prerequisites
from colorstudio.gui.prerequisites import XCB_LIBRARIES, missing_xcb_libraries


def test_missing_xcb_library_is_one_line_and_exit_code_1(monkeypatch, capsys):
    monkeypatch.setattr(sys, "platform", "linux")
    for name in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(prerequisites, "_qt_lib_dir", lambda: None)
    monkeypatch.setattr(prerequisites, "_loadable", lambda soname: soname not in {"libxcb-cursor.so.0", "libxcb-icccm.so.4"})
    monkeypatch.setattr(app, "create_application", lambda *a: pytest.fail("the Qt application was created"))
    assert main(["gui"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "colorstudio: cannot open the window: Qt's X11 (xcb) platform plugin needs libxcb-cursor.so.0, "
        "libxcb-icccm.so.4, not found on this system; install them with: sudo apt-get install libxcb-cursor0 libxcb-icccm4\n"
    )


@pytest.mark.parametrize(("environ", "platform", "checked"), [
    ({}, "linux", True),
    ({"QT_QPA_PLATFORM": "xcb"}, "linux", True),
    ({"QT_QPA_PLATFORM": "xcb:dpi=96"}, "linux", True),
    ({"QT_QPA_PLATFORM": "offscreen"}, "linux", False),
    ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
    ({"XDG_SESSION_TYPE": "wayland"}, "linux", False),
    ({"WAYLAND_DISPLAY": "wayland-0", "QT_QPA_PLATFORM": "xcb"}, "linux", True),
    ({}, "darwin", False),
    ({}, "win32", False),
])
def test_checked_only_where_qt_will_use_xcb(monkeypatch, environ, platform, checked):
    monkeypatch.setattr(prerequisites, "_qt_lib_dir", lambda: None)
    missing = missing_xcb_libraries(environ, platform, loadable=lambda soname: False)
    assert missing == (list(XCB_LIBRARIES) if checked else [])


def test_libraries_shipped_inside_pyside6_count_as_present(monkeypatch, tmp_path):
    (tmp_path / "libxcb-cursor.so.0").touch()
    monkeypatch.setattr(prerequisites, "_qt_lib_dir", lambda: tmp_path)
    missing = missing_xcb_libraries({}, "linux", loadable=lambda soname: soname != "libxcb-cursor.so.0")
    assert missing == []
