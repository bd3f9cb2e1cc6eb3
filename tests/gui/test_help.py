"""Issue 16, item 15: 'bias toward a hue' is named for what it does; Help lists the real shortcuts."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QGroupBox

from colorstudio.gui.help import HowToDialog, ShortcutsDialog

pytestmark = pytest.mark.gui


def test_hue_control_says_bias_toward_not_rotate(make_window):
    window = make_window()
    panel = window.adjust_panel
    titles = [box.title() for box in panel.findChildren(QGroupBox)]
    assert "Bias toward a hue" in titles and "Hue bias" not in titles
    assert "toward" in panel.dial.toolTip() and "not a rotation" in panel.dial.toolTip()
    assert "toward the hue" in panel.hue_strength.toolTip()


def test_shortcuts_dialog_lists_the_window_actions(qtbot, make_window):
    window = make_window()
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    texts = [a.text() for a in help_menu.actions()]
    assert "&Keyboard Shortcuts" in texts and "&How To…" in texts and "&About ColorStudio" in texts

    window.acts.shortcuts.trigger()
    dialog = window.findChild(ShortcutsDialog)
    assert dialog is not None and dialog.isVisible()
    listed = dict(dialog.listed())
    expected = {a.text().replace("&", ""): a for a in window.findChildren(QAction) if not a.shortcut().isEmpty()}
    assert set(listed) == set(expected)
    assert listed["Export…"] == "Ctrl+E" and listed["Colorize"] == "Ctrl+R"
    assert listed["Redo"] == "Ctrl+Shift+Z, Ctrl+Y"  # every shortcut of an action
    dialog.close()

    # Generated, not hand-written: a new action shows up.
    extra = QAction("Frobnicate", window)
    extra.setShortcut(QKeySequence("Ctrl+Alt+F"))
    window.addAction(extra)
    window.acts.shortcuts.trigger()
    qtbot.waitUntil(lambda: any(d.isVisible() for d in window.findChildren(ShortcutsDialog)), timeout=2_000)
    dialog = next(d for d in window.findChildren(ShortcutsDialog) if d.isVisible())
    assert dict(dialog.listed())["Frobnicate"] == "Ctrl+Alt+F"
    dialog.close()


def test_how_to_text(make_window):
    window = make_window()
    window.acts.how_to.trigger()
    dialog = window.findChild(HowToDialog)
    assert dialog.isVisible()
    text = dialog.text.toPlainText()
    for words in ("Colorize", "suggested colours", "Esc cancels", "Bias toward a hue", "Export"):
        assert words in text
