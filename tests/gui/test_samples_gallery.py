"""Issue 16, item 10: the gallery follows the model (N samples for a sampler, one result otherwise), has
room for its samples, and two samples can be compared side by side."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from gui_helpers import open_and_colorize, open_image, wait_idle

pytestmark = pytest.mark.gui


def gallery_texts(window) -> list[str]:
    gallery = window.samples_panel.gallery
    return [gallery.item(i).text() for i in range(gallery.count())]


def test_the_gallery_follows_the_model(qtbot, make_window, gray_path):
    window = make_window()  # the fake model samples
    open_image(qtbot, window, gray_path)
    s = window.session
    window.jobs.set_model("propagation")  # a single-sample model
    window.session.set_sample_count(4)
    window.hints.add_hint(32, 24, "#2050d0")
    wait_idle(qtbot, window)
    assert len(s.slots) == 1

    # Switching to a sampler with N = 4 draws four samples, not the one slot the other model had.
    window.jobs.set_model("fake-for-tests")
    wait_idle(qtbot, window)
    assert [slot.seed for slot in s.slots] == [0, 1, 2, 3]
    assert gallery_texts(window) == ["seed 0", "seed 1", "seed 2", "seed 3"]
    assert window.export.make_export_dialog().all_samples.isEnabled()

    # Back to the single-sample model: one result, not four identical copies, and no "all 4 samples".
    window.jobs.set_model("propagation")
    wait_idle(qtbot, window)
    assert len(s.slots) == 1 and gallery_texts(window) == ["propagation"]
    dialog = window.export.make_export_dialog()
    assert not dialog.all_samples.isEnabled() and "4" not in dialog.all_samples.text()


def all_visible(gallery) -> bool:
    viewport = gallery.viewport().rect()
    return all(viewport.contains(gallery.visualItemRect(gallery.item(row))) for row in range(gallery.count()))


def test_the_gallery_shows_every_sample_and_its_grid_follows_the_dock(qtbot, make_window, gray_path):
    window = make_window(size=(1400, 900))
    open_and_colorize(qtbot, window, gray_path, n=4)
    panel = window.samples_panel
    gallery = panel.gallery
    assert gallery.height() > window.hints_dock.height()  # the samples get the room, not the panel below
    assert all_visible(gallery) and gallery.verticalScrollBar().maximum() == 0
    fitted = panel.thumb_size
    assert fitted >= 80  # on the 800 px test screen; 150 and more on a 1080p one

    # A larger dock (dragged or floated) gives larger thumbnails.
    window.samples_dock.setFloating(True)
    window.samples_dock.resize(900, 800)
    qtbot.waitUntil(lambda: panel.thumb_size > fitted, timeout=3_000)
    assert all_visible(gallery) and panel.thumb_size >= 160

    # A size chosen on the slider is kept (the grid scrolls instead); Fit returns to fitting.
    panel.thumb_slider.setValue(384)
    assert not panel.fit_button.isChecked() and gallery.iconSize().width() == 384
    assert gallery.item(0).icon().actualSize(gallery.iconSize()).width() == 384
    panel.fit_button.click()
    assert panel.thumb_size < 384 and all_visible(gallery)


def test_compare_two_samples_side_by_side(qtbot, make_window, gray_path):
    window = make_window()
    open_and_colorize(qtbot, window, gray_path, n=3)
    button = window.samples_panel.compare_button
    assert button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = window.jobs.compare_dialog
    assert dialog is not None and dialog.isVisible() and not dialog.isModal()
    assert dialog.shown_indices() == (0, 1)
    left, right = (pane.pixmap().toImage() for pane in dialog.panes)
    assert left.width() > 100 and left != right  # large, and two different samples

    dialog.combos[1].setCurrentIndex(dialog.combos[1].findData(2))
    assert dialog.shown_indices() == (0, 2)
    qtbot.mouseClick(dialog.use_buttons[1], Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    assert window.session.chosen == 2
    window.undo_stack.undo()
    assert window.session.chosen == 0


def test_compare_is_off_with_one_sample(qtbot, make_window, gray_path):
    window = make_window()
    open_and_colorize(qtbot, window, gray_path, n=1)
    assert not window.samples_panel.compare_button.isEnabled()
    assert np.isfinite(window.session.result.rgb).all()
