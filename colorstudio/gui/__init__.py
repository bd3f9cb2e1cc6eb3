"""The ColorStudio desktop window (PySide6 + qtawesome): the only package that imports Qt.

Widgets observe :class:`colorstudio.engine.session.Session` and call its methods (through undo
commands); long work runs as the engine's Qt-free jobs in worker threads.
"""

__all__ = ["run"]


def run(path: str | None = None) -> int:
    """Start the application (see :func:`colorstudio.gui.app.run`)."""
    from colorstudio.gui.app import run as _run

    return _run(path)
