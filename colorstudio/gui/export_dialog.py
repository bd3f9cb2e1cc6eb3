"""The export dialog: file, PNG/TIFF, 8/16 bit, extra outputs. Exports are always full resolution.

The file name's extension and the Format choice are one setting: typing ``name.tiff`` selects TIFF, and
choosing a format rewrites the extension, so the bytes written always match the name shown.
"""

from __future__ import annotations

import os
from pathlib import Path

import qtawesome as qta
from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from colorstudio.engine.jobs import FORMAT_SUFFIX, ExportSettings
from colorstudio.io import EXPORT_FORMATS

__all__ = ["ExportDialog", "default_export_folder", "default_export_path"]

# Extensions of image formats: a name ending in one of these that is not an export format is refused
# (it would otherwise get a second extension, or bytes that do not match its name).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".jp2", ".webp", ".bmp", ".gif", ".ppm", ".pgm", ".heic",
                            ".heif", ".avif", ".jxl", ".exr", ".psd"}) | frozenset(EXPORT_FORMATS)


def default_export_path(source: Path, fmt: str, folder: Path | None = None) -> Path:
    """``<stem>-color.<ext>`` in ``folder`` (default: beside the source): never the source itself."""
    return (Path(folder) if folder is not None else source.parent) / f"{source.stem}-color{FORMAT_SUFFIX[fmt]}"


def pictures_folder() -> Path:
    """The user's Pictures folder, else the home folder."""
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
    return Path(location) if location and Path(location).is_dir() else Path.home()


def default_export_folder(source: Path, bundled: Path | None = None) -> Path:
    """The source photo's folder when it is the user's to write in, else Pictures: never a folder of the
    app's own files (``bundled``, e.g. its sample photos), nor a read-only one."""
    folder = Path(source).resolve().parent
    inside_app = bundled is not None and folder.is_relative_to(Path(bundled).resolve())
    if inside_app or not os.access(folder, os.W_OK):
        return pictures_folder()
    return folder


class ExportDialog(QDialog):
    """Ask where and how to export; ``target()`` and ``settings()`` give the answer once accepted."""

    def __init__(
        self, source: Path, settings: ExportSettings, has_uncertainty: bool, sample_count: int,
        size: tuple[int, int], parent: QWidget | None = None, *, folder: Path | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export result")
        self.source = Path(source)
        self.path_edit = QLineEdit(str(default_export_path(self.source, settings.fmt, folder)))
        self.path_edit.setToolTip("The extension chooses the format: .png, or .tif / .tiff")
        browse = QToolButton()
        browse.setIcon(qta.icon("mdi6.folder-open-outline"))
        browse.setToolTip("Choose the file")
        browse.clicked.connect(self._browse)
        self.format_combo = QComboBox()
        self.format_combo.addItem("PNG", "png")
        self.format_combo.addItem("TIFF", "tiff")
        self.format_combo.setCurrentIndex(max(0, self.format_combo.findData(settings.fmt)))
        self.depth_combo = QComboBox()
        self.depth_combo.addItem("8 bit per channel", 8)
        self.depth_combo.addItem("16 bit per channel", 16)
        self.depth_combo.setCurrentIndex(max(0, self.depth_combo.findData(settings.bit_depth)))
        self.all_samples = QCheckBox(f"Also export all {sample_count} samples (<name>_s0, _s1, …)"
                                     if sample_count > 1 else "Also export every sample (this result is the only one)")
        self.all_samples.setChecked(settings.all_samples and sample_count > 1)
        self.all_samples.setEnabled(sample_count > 1)
        self.uncertainty = QCheckBox("Also export the uncertainty map (<name>.uncertainty.png)")
        self.uncertainty.setChecked(settings.uncertainty and has_uncertainty)
        self.uncertainty.setEnabled(has_uncertainty)
        self.size_text = f"Full resolution: {size[0]} × {size[1]} px. The source file is never overwritten."
        self.message = QLabel(self.size_text)
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)

        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("File", row)
        form.addRow("Format", self.format_combo)
        form.addRow("Depth", self.depth_combo)
        form.addRow(self.all_samples)
        form.addRow(self.uncertainty)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.format_combo.currentIndexChanged.connect(self._format_changed)
        self.path_edit.textChanged.connect(self._path_changed)
        self.resize(560, self.sizeHint().height())

    def _typed_format(self) -> str | None:
        return EXPORT_FORMATS.get(Path(self.path_edit.text()).suffix.lower())

    def _path_changed(self) -> None:
        fmt = self._typed_format()
        if fmt is not None and fmt != self.format_combo.currentData():
            self.format_combo.blockSignals(True)  # the name already says it: no rewrite of the name
            self.format_combo.setCurrentIndex(self.format_combo.findData(fmt))
            self.format_combo.blockSignals(False)
        self.message.setText(self._problem() or self.size_text)

    def _format_changed(self) -> None:
        fmt = self.format_combo.currentData()
        if self._typed_format() != fmt:
            path = Path(self.path_edit.text())
            suffix = FORMAT_SUFFIX[fmt]
            renamed = path.with_suffix(suffix) if path.suffix.lower() in IMAGE_SUFFIXES else path.with_name(path.name + suffix)
            self.path_edit.setText(str(renamed))

    def _browse(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export as", self.path_edit.text(), "Images (*.png *.tif *.tiff)")
        if name:
            self.path_edit.setText(name)

    def _problem(self) -> str | None:
        suffix = Path(self.path_edit.text()).suffix.lower()
        if suffix in IMAGE_SUFFIXES and suffix not in EXPORT_FORMATS:
            return f"ColorStudio exports PNG and TIFF: name the file .png, .tif or .tiff, not {suffix}."
        return None

    def _accept(self) -> None:
        problem = self._problem()
        if problem:
            self.message.setText(problem)
            return
        target = self.target()
        if target.resolve() == self.source.resolve():
            self.message.setText("That is the source image: choose another file name (the source is never overwritten).")
            return
        if not target.parent.is_dir():
            self.message.setText(f"The folder {target.parent} does not exist.")
            return
        self.accept()

    def target(self) -> Path:
        """The file to write: as typed when its extension is an export format, else with the format's one
        added (``scan.v2`` -> ``scan.v2.png``)."""
        path = Path(self.path_edit.text()).expanduser()
        if path.suffix.lower() in EXPORT_FORMATS:
            return path
        suffix = FORMAT_SUFFIX[self.format_combo.currentData()]
        return path.with_name(path.name + suffix) if path.suffix.lower() not in IMAGE_SUFFIXES else path.with_suffix(suffix)

    def settings(self) -> ExportSettings:
        return ExportSettings(
            fmt=self._typed_format() or self.format_combo.currentData(), bit_depth=int(self.depth_combo.currentData()),
            all_samples=self.all_samples.isChecked(), uncertainty=self.uncertainty.isChecked(),
        )
