"""Errors and warnings raised by ColorStudio.

Every error a user can cause (bad file, bad hints, missing model) is a ``ColorStudioError`` whose
message names the file or setting and the reason, so the CLI and the GUI can show it as it is.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["ColorStudioError", "ColorStudioWarning", "CancelledError"]


class ColorStudioError(Exception):
    """A problem the user can act on; ``str(err)`` is a complete, human-readable message."""

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        super().__init__(f"{self.path}: {message}" if self.path is not None else message)
        self.reason = message


class CancelledError(ColorStudioError):
    """Long work was cancelled by the user; nothing was written."""

    def __init__(self, message: str = "cancelled") -> None:
        super().__init__(message)


class ColorStudioWarning(UserWarning):
    """Something the user should know that does not stop the work."""
