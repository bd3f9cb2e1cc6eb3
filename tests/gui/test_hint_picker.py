"""Issue 16, item 9: a click on the photo opens a picker beside the point with the model's suggestions and
an a*b* gamut chart at the pixel's L*; the hint is added only when a colour is picked (undoable)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from colorstudio.color import lab_to_rgb, rgb_to_lab
from colorstudio.gui.hint_picker import AB_RANGE, hex_to_ab
from gui_helpers import open_and_colorize, open_image, viewport_point, wait_idle

pytestmark = pytest.mark.gui


def click_photo(qtbot, window, x, y):
    qtbot.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, pos=viewport_point(window, x, y))


def test_suggestions_come_before_the_hint_and_the_keyboard_picks_one(qtbot, make_window, gray_path):
    window = make_window()
    open_and_colorize(qtbot, window, gray_path, n=1)
    s, picker = window.session, window.hint_picker
    before = s.result.rgb.copy()

    click_photo(qtbot, window, 20, 15)
    assert picker.isVisible()
    assert s.hints == () and window.undo_stack.count() == 0  # nothing committed yet
    colors = picker.suggestion_colors()
    assert len(colors) >= 2 and colors == s.suggested_colors(20, 15)  # the model's distribution at that point
    # Beside the point, not over it.
    anchor = viewport_point(window, 20, 15)
    assert not picker.geometry().contains(anchor)
    edges = picker.geometry().left() - anchor.x(), anchor.x() - picker.geometry().right()
    assert 0 < max(edges) <= 30 and picker.geometry().top() <= anchor.y() <= picker.geometry().bottom()
    assert window.canvas.pending.isVisible()  # the place of the coming hint is marked

    # Keyboard: the first suggestion has the focus; Right moves to the second, Enter picks it.
    assert picker.focusWidget() is picker.visible_suggestions()[0]
    qtbot.keyClick(picker.focusWidget(), Qt.Key.Key_Right)
    assert picker.focusWidget() is picker.visible_suggestions()[1]
    qtbot.keyClick(picker.focusWidget(), Qt.Key.Key_Return)
    assert not picker.isVisible() and not window.canvas.pending.isVisible()
    assert len(s.hints) == 1 and s.hints[0].color == colors[1]
    assert abs(s.hints[0].x - 20) < 1 and abs(s.hints[0].y - 15) < 1
    wait_idle(qtbot, window)
    assert not np.allclose(before, s.result.rgb)  # the preview was recolorized with the hint
    window.undo_stack.undo()  # one undo step removes it
    assert s.hints == ()
    wait_idle(qtbot, window)


def test_escape_cancels_without_a_hint(qtbot, make_window, gray_path):
    window = make_window(delay_s=0.5)
    open_and_colorize(qtbot, window, gray_path, n=1)
    s, picker = window.session, window.hint_picker
    click_photo(qtbot, window, 30, 20)
    assert picker.isVisible()
    window.jobs.colorize()  # work running: Esc is also the window's Cancel shortcut, which must not fire
    assert window.jobs.predict_lane.busy
    qtbot.keyClick(picker.focusWidget(), Qt.Key.Key_Escape)
    assert not picker.isVisible() and s.hints == ()
    assert window.jobs.predict_lane.busy  # the picker took the Escape
    wait_idle(qtbot, window)
    # Tab reaches the gamut chart; Escape from there cancels too.
    click_photo(qtbot, window, 30, 20)
    chart = picker.gamut
    for _ in range(20):
        if picker.focusWidget() is chart:
            break
        qtbot.keyClick(picker.focusWidget(), Qt.Key.Key_Tab)
    assert picker.focusWidget() is chart
    qtbot.keyClick(chart, Qt.Key.Key_Escape)
    assert not picker.isVisible() and s.hints == ()


def test_the_gamut_chart_is_at_the_pixel_lightness_and_picks_a_colour(qtbot, make_window, gray_path):
    window = make_window()
    open_and_colorize(qtbot, window, gray_path, n=1)
    s, picker = window.session, window.hint_picker
    x, y = 40, 24
    click_photo(qtbot, window, x, y)
    chart = picker.gamut
    lightness = float(s.image.lightness[y, x])
    assert chart.lightness == pytest.approx(lightness, abs=1e-4)

    # In gamut: coloured, as colorstudio.color says; outside sRGB: grey.
    image = chart.chart_image()
    centre = lab_to_rgb(np.array([[lightness, 30.0, 30.0]]))[0]
    col = round((30 + AB_RANGE) / (2 * AB_RANGE) * (image.width() - 1))
    row = round((AB_RANGE - 30) / (2 * AB_RANGE) * (image.height() - 1))
    inside = image.pixelColor(col, row)
    assert np.allclose([inside.redF(), inside.greenF(), inside.blueF()], centre, atol=2 / 255)
    corner = image.pixelColor(0, image.height() - 1)  # a* = b* = -100: not displayable at this L*
    assert corner.red() == corner.green() == corner.blue()
    assert not chart.in_gamut(-AB_RANGE, -AB_RANGE) and chart.in_gamut(0.0, 0.0)

    qtbot.mouseClick(chart, Qt.MouseButton.LeftButton, pos=chart.position_of(30.0, 30.0))
    assert len(s.hints) == 1
    a, b = hex_to_ab(s.hints[0].color)
    assert abs(a - chart.cursor_ab[0]) < 2.5 and abs(b - chart.cursor_ab[1]) < 2.5  # the chroma clicked
    assert abs(chart.cursor_ab[0] - 30) < 2 and abs(chart.cursor_ab[1] - 30) < 2
    lab = rgb_to_lab(np.array([[int(s.hints[0].color[i:i + 2], 16) / 255 for i in (1, 3, 5)]]))[0]
    assert lab[0] == pytest.approx(lightness, abs=1.0)  # a colour of the pixel's own lightness
    wait_idle(qtbot, window)


def test_clicking_a_hint_recolours_it_through_the_picker(qtbot, make_window, gray_path):
    window = make_window()
    open_and_colorize(qtbot, window, gray_path, n=1)
    s, picker = window.session, window.hint_picker
    window.hints.add_hint(20, 15, "#808080")
    wait_idle(qtbot, window)
    click_photo(qtbot, window, 20, 15)
    assert picker.isVisible() and len(s.hints) == 1 and "Hint 1" in picker.title.text()
    choice = picker.suggestion_colors()[0]
    qtbot.mouseClick(picker.visible_suggestions()[0], Qt.MouseButton.LeftButton)
    assert len(s.hints) == 1 and s.hints[0].color == choice
    window.undo_stack.undo()
    assert s.hints[0].color == "#808080"
    # The side panel's swatch opens the same picker for the selected hint.
    window.canvas.select_hint(0)
    qtbot.mouseClick(window.hints_panel.current_button, Qt.MouseButton.LeftButton)
    assert picker.isVisible() and picker.gamut.lightness == pytest.approx(float(s.image.lightness[15, 20]), abs=1e-4)
    picker.cancel()
    wait_idle(qtbot, window)


def test_a_model_without_distributions_suggests_the_result_colours_around_the_point(qtbot, make_window, gray_path):
    window = make_window()
    open_image(qtbot, window, gray_path)
    window.jobs.set_model("propagation")
    window.hints.add_hint(32, 24, "#2050d0")
    wait_idle(qtbot, window)
    click_photo(qtbot, window, 36, 26)
    colors = window.hint_picker.suggestion_colors()
    assert colors, "the result's colours around the point"
    blue = [c for c in colors if hex_to_ab(c)[1] < -15]
    assert blue and colors[0] in blue  # the colour that is there, not gray
    window.hint_picker.cancel()
