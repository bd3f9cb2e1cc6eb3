"""Issue 16, item 11: the typed extension chooses the format; the folder is remembered, and defaults to the
photo's folder (never the app's bundled samples)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from PySide6.QtCore import QStandardPaths, Qt
from PySide6.QtWidgets import QDialogButtonBox

from colorstudio.gui.export_dialog import ExportDialog
from gui_helpers import open_and_colorize

pytestmark = pytest.mark.gui


def open_export_dialog(qtbot, window) -> ExportDialog:
    window.acts.export.trigger()
    qtbot.waitUntil(lambda: window.findChild(ExportDialog) is not None and window.findChild(ExportDialog).isVisible(),
                    timeout=5_000)
    return window.findChild(ExportDialog)


def type_file_name(qtbot, dialog: ExportDialog, name: str) -> None:
    dialog.path_edit.selectAll()
    qtbot.keyClick(dialog.path_edit, Qt.Key.Key_Delete)
    qtbot.keyClicks(dialog.path_edit, name)


def click_export(qtbot, dialog: ExportDialog) -> None:
    qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)


def test_typed_tiff_extension_writes_a_tiff(qtbot, make_window, gray_path, tmp_path):
    window = make_window()
    open_and_colorize(qtbot, window, gray_path, n=1)
    dialog = open_export_dialog(qtbot, window)
    assert dialog.format_combo.currentData() == "png"
    target = tmp_path / "export.tiff"
    type_file_name(qtbot, dialog, str(target))
    assert dialog.format_combo.currentData() == "tiff"  # the name chose the format
    assert dialog.path_edit.text() == str(target)  # and the name was left as typed
    click_export(qtbot, dialog)
    qtbot.waitUntil(lambda: bool(window.export.last_export), timeout=15_000)
    assert window.export.last_export == [target] and not (tmp_path / "export.png").exists()
    assert tifffile.imread(target).shape == (48, 64, 3)


def test_another_image_extension_is_refused_not_renamed(qtbot, make_window, gray_path, tmp_path):
    window = make_window()
    open_and_colorize(qtbot, window, gray_path, n=1)
    dialog = open_export_dialog(qtbot, window)
    type_file_name(qtbot, dialog, str(tmp_path / "export.jpg"))
    assert "PNG and TIFF" in dialog.message.text()
    click_export(qtbot, dialog)
    assert dialog.isVisible() and not window.jobs.export_lane.busy
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("tiff"))  # choosing a format renames
    assert dialog.path_edit.text() == str(tmp_path / "export.tiff")
    dialog.reject()


def test_export_folder_defaults_to_the_photo_and_is_remembered(qtbot, make_window, gray_path, tmp_path):
    window = make_window()
    open_and_colorize(qtbot, window, gray_path, n=1)
    dialog = open_export_dialog(qtbot, window)
    assert Path(dialog.path_edit.text()) == gray_path.parent / "photo-color.png"
    elsewhere = tmp_path / "exports"
    elsewhere.mkdir()
    type_file_name(qtbot, dialog, str(elsewhere / "first.png"))
    click_export(qtbot, dialog)
    qtbot.waitUntil(lambda: bool(window.export.last_export), timeout=15_000)

    again = open_export_dialog(qtbot, window)
    assert Path(again.path_edit.text()).parent == elsewhere
    again.reject()
    other = make_window()  # a later run reads the same settings
    open_and_colorize(qtbot, other, gray_path, n=1)
    assert Path(other.export.make_export_dialog().path_edit.text()).parent == elsewhere


def test_bundled_sample_exports_to_pictures_not_the_app_folder(qtbot, make_window):
    from colorstudio.gui.app import FIRST_START_SAMPLE

    if not FIRST_START_SAMPLE.exists():
        pytest.skip("the bundled sample photo is not shipped here")
    window = make_window()
    open_and_colorize(qtbot, window, FIRST_START_SAMPLE, n=1)
    folder = Path(window.export.make_export_dialog().path_edit.text()).parent
    assert folder != FIRST_START_SAMPLE.parent
    pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
    assert folder in (Path(pictures), Path.home())
    assert np.isfinite(window.session.result.rgb).all()
