"""What the window's file dialogs share: the file filters, and the folder the user last used (QSettings)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import cast

from PySide6.QtCore import QSettings

from colorstudio.engine.session_file import SESSION_SUFFIX

__all__ = ["IMAGE_FILTER", "SESSION_FILTER", "last_folder", "string_list"]

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.tif *.tiff *.bmp *.webp);;All files (*)"
SESSION_FILTER = f"ColorStudio sessions (*{SESSION_SUFFIX})"


def string_list(value: object) -> list[str]:
    """A list setting as QSettings returns it: a list, a lone string for a one-item list, or None."""
    if isinstance(value, str):
        return [value]
    return [str(v) for v in cast(Iterable[object], value or [])]


def last_folder(settings: QSettings) -> str:
    """Where file dialogs start: the folder of the last file opened or saved, else the home folder."""
    return str(settings.value("lastFolder", str(Path.home())))
