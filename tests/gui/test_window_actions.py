"""The window's action table: actions are built without slots and wired by the window, so a forgotten
slot must fail at construction, never leave a menu item that does nothing."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QMainWindow

from colorstudio.gui.window_actions import WindowActions

pytestmark = pytest.mark.gui


def test_an_action_without_a_slot_is_refused(qtbot):
    window = QMainWindow()
    qtbot.addWidget(window)
    actions = WindowActions(window, QUndoStack(window))
    with pytest.raises(ValueError, match="open_session"):
        actions.connect({"open": lambda: None})
    with pytest.raises(ValueError, match="no_such_action"):
        names = [name for name in vars(actions) if name not in ("undo", "redo", "view_group")]
        actions.connect({name: (lambda: None) for name in [*names, "no_such_action"]})

