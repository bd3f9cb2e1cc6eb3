"""Application entry point: ``colorstudio`` / ``colorstudio gui [FILE]`` call :func:`run`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import cast

from colorstudio import __version__
from colorstudio.gui.prerequisites import missing_xcb_libraries, xcb_prerequisites_message
from colorstudio.resources import sample_path

__all__ = ["run", "create_application"]

APP_NAME = "ColorStudio"
ORGANIZATION = "ColorStudio"
DESKTOP_FILE = "io.github.colorstudio.ColorStudio"
FIRST_START_SAMPLE = sample_path()


def create_application(argv: list[str] | None = None):
    """The QApplication with the app's names set (QSettings and the desktop entry use them)."""
    # Qt is imported here, not at the top: run() first checks that its system libraries are there.
    from PySide6.QtWidgets import QApplication

    # instance() is typed as the QCoreApplication base; in this process it is always a QApplication
    app = cast(QApplication, QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1]))
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationDisplayName(APP_NAME)
    app.setDesktopFileName(DESKTOP_FILE)
    from colorstudio.gui.images import app_icon  # deferred: imports Qt (see above)

    app.setWindowIcon(app_icon())
    return app


def run(path: str | None = None) -> int:
    """Open the main window (optionally with an image or ``*.colorstudio.json``); returns the exit code
    (1, with one line on stderr, when the system lacks libraries the window needs)."""
    if missing := missing_xcb_libraries():
        print(xcb_prerequisites_message(missing), file=sys.stderr)
        return 1
    app = create_application()
    app.setApplicationVersion(__version__)
    from colorstudio.gui.main_window import MainWindow  # deferred: imports Qt, once its libraries are known there

    window = MainWindow()
    window.show()
    # Recovered sessions go to their own windows when a file was asked for, so that file opens here.
    recovered = window.files.offer_recovery(use_this_window=path is None)
    if path is not None:
        if not Path(path).exists():
            window.feedback.show_error("Cannot open the file", f"{path}: no such file")
        else:
            window.files.open_path(path)
    elif not recovered and not window.files.recent_files() and FIRST_START_SAMPLE.exists():
        window.files.open_path(FIRST_START_SAMPLE)  # something to try on the very first start
    return int(app.exec())
