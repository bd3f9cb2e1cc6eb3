"""Help > About: the version, the models this window can use and where they come from, and the device."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget

from colorstudio import __version__
from colorstudio.engine.session import ModelChoice
from colorstudio.models.registry import models_dirs

__all__ = ["about_html", "show_about"]


def about_html(version: str, models: Sequence[ModelChoice], device: str, folders: Sequence[Path]) -> str:
    """Rich text for the About box; ``models`` as the session offers them (unavailable ones left out)."""
    rows = "".join(f"<li><b>{escape(m.name)}</b>: {escape(m.description)}</li>" for m in models if m.available)
    places = "<br>".join(escape(str(folder)) for folder in folders)
    return (f"<b>ColorStudio {escape(version)}</b>"
            "<p>Colorize grayscale photographs with local neural models and steer the result with hints, "
            "hue bias and references.</p>"
            f"<p><b>Models</b></p><ul>{rows}</ul>"
            f"<p>Models are read from:<br>{places}</p>"
            f"<p><b>Device:</b> {escape(device)}</p>")


def show_about(parent: QWidget, models: Sequence[ModelChoice], device: str) -> None:
    QMessageBox.about(parent, "About ColorStudio", about_html(__version__, models, device, models_dirs()))
