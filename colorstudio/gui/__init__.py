"""The ColorStudio desktop window (PySide6 + qtawesome): the only package that imports Qt.

Widgets observe :class:`colorstudio.engine.session.Session` and call its methods (through undo
commands); long work runs as the engine's Qt-free jobs in worker threads.
"""

from colorstudio.gui.app import run

__all__ = ["run"]
