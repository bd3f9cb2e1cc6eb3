"""The export dialog: file, PNG/TIFF, 8/16 bit, extra outputs. Exports are always full resolution."""

from __future__ import annotations

from pathlib import Path

import qtawesome as qta
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

__all__ = ["ExportDialog", "default_export_path"]


def default_export_path(source: Path, fmt: str) -> Path:
    """``<stem>-color.<ext>`` beside the source: never the source itself."""
    return source.with_name(f"{source.stem}-color{FORMAT_SUFFIX[fmt]}")


class ExportDialog(QDialog):
    """Ask where and how to export; ``target()`` and ``settings()`` give the answer after ``exec()``."""

    def __init__(
        self, source: Path, settings: ExportSettings, has_uncertainty: bool, sample_count: int,
        size: tuple[int, int], parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export result")
        self.source = Path(source)
        self.path_edit = QLineEdit(str(default_export_path(self.source, settings.fmt)))
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
        self.all_samples = QCheckBox(f"Also export all {sample_count} samples (<name>_s0, _s1, …)")
        self.all_samples.setChecked(settings.all_samples and sample_count > 1)
        self.all_samples.setEnabled(sample_count > 1)
        self.uncertainty = QCheckBox("Also export the uncertainty map (<name>.uncertainty.png)")
        self.uncertainty.setChecked(settings.uncertainty and has_uncertainty)
        self.uncertainty.setEnabled(has_uncertainty)
        self.message = QLabel(f"Full resolution: {size[0]} × {size[1]} px. The source file is never overwritten.")
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
        self.resize(520, self.sizeHint().height())

    def _format_changed(self) -> None:
        path = Path(self.path_edit.text())
        self.path_edit.setText(str(path.with_suffix(FORMAT_SUFFIX[self.format_combo.currentData()])))

    def _browse(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export as", self.path_edit.text(), "Images (*.png *.tif *.tiff)")
        if name:
            self.path_edit.setText(name)
            if Path(name).suffix.lower() in (".tif", ".tiff"):
                self.format_combo.setCurrentIndex(self.format_combo.findData("tiff"))

    def _accept(self) -> None:
        target = self.target()
        if target.resolve() == self.source.resolve():
            self.message.setText("That is the source image: choose another file name (the source is never overwritten).")
            return
        if not target.parent.is_dir():
            self.message.setText(f"The folder {target.parent} does not exist.")
            return
        self.accept()

    def target(self) -> Path:
        path = Path(self.path_edit.text()).expanduser()
        suffix = FORMAT_SUFFIX[self.format_combo.currentData()]
        allowed = (".png",) if suffix == ".png" else (".tif", ".tiff")
        return path if path.suffix.lower() in allowed else path.with_suffix(suffix)

    def settings(self) -> ExportSettings:
        return ExportSettings(
            fmt=self.format_combo.currentData(), bit_depth=int(self.depth_combo.currentData()),
            all_samples=self.all_samples.isChecked(), uncertainty=self.uncertainty.isChecked(),
        )
