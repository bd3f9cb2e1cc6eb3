"""The main window's actions (menu items, toolbar buttons, shortcuts), its menus and its toolbar.

The actions are built here without slots; the window connects each one to the controller that does the
work, and the shortcuts dialog reads them from the window, so the three never drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial

import qtawesome as qta
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QUndoStack
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QSlider, QToolBar

from colorstudio.engine.session import Session

__all__ = ["WindowActions", "make_action"]

Shortcut = str | QKeySequence.StandardKey | Sequence[str] | None
SK = QKeySequence.StandardKey


def make_action(parent: QMainWindow, text: str, icon: str | None, shortcut: Shortcut = None, tip: str = "",
                checkable: bool = False) -> QAction:
    action = QAction(qta.icon(icon) if icon else qta.icon("mdi6.blank"), text, parent)
    if isinstance(shortcut, (list, tuple)):
        action.setShortcuts([QKeySequence(s) for s in shortcut])
    elif isinstance(shortcut, (str, QKeySequence.StandardKey)):
        action.setShortcut(QKeySequence(shortcut))
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(f"{tip} ({action.shortcut().toString()})" if shortcut else tip)
    action.setCheckable(checkable)
    return action


class WindowActions:
    """Every action of the main window, by what it does (``actions.open``, ``actions.colorize``...)."""

    def __init__(self, window: QMainWindow, undo_stack: QUndoStack) -> None:
        a = partial(make_action, window)
        self.open = a("&Open Image…", "mdi6.folder-open-outline", SK.Open, "Open an image")
        self.open_session = a("Open &Session…", "mdi6.file-document-outline", "Ctrl+Shift+O", "Open a saved session")
        self.save = a("&Save Session", "mdi6.content-save-outline", SK.Save, "Save the session")
        self.save_as = a("Save Session &As…", "mdi6.content-save-edit-outline", "Ctrl+Shift+S",
                         "Save the session under a new name")
        self.export = a("&Export…", "mdi6.export", "Ctrl+E", "Export the result at full resolution")
        self.load_hints = a("Load &Hints…", "mdi6.map-marker-down", None, "Load hints from a *.hints.json file")
        self.save_hints = a("Save H&ints…", "mdi6.map-marker-up", None, "Save hints to a *.hints.json file")
        self.quit = a("&Quit", "mdi6.exit-to-app", SK.Quit, "Quit ColorStudio")
        self.undo = undo_stack.createUndoAction(window, "&Undo")
        self.undo.setIcon(qta.icon("mdi6.undo"))
        self.undo.setShortcut(QKeySequence("Ctrl+Z"))
        self.redo = undo_stack.createRedoAction(window, "&Redo")
        self.redo.setIcon(qta.icon("mdi6.redo"))
        self.redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.delete = a("&Delete Hint", "mdi6.map-marker-remove-outline", SK.Delete, "Remove the selected hint")
        self.clear_hints = a("C&lear Hints", "mdi6.map-marker-off-outline", None, "Remove all hints")
        self.colorize = a("&Colorize", "mdi6.palette", "Ctrl+R", "Predict new samples")
        self.more = a("&More Samples", "mdi6.plus-box-multiple", "Ctrl+M", "Add samples with new seeds")
        self.cancel = a("C&ancel", "mdi6.close-circle-outline", "Esc", "Stop the running work")
        self.fit = a("&Fit", "mdi6.fit-to-screen-outline", "Ctrl+0", "Fit the image in the window")
        self.actual = a("&100%", "mdi6.numeric-1-box-outline", "Ctrl+1", "One image pixel per screen pixel")
        self.zoom_in = a("Zoom &In", "mdi6.magnify-plus-outline", SK.ZoomIn, "Zoom in")
        self.zoom_out = a("Zoom &Out", "mdi6.magnify-minus-outline", SK.ZoomOut, "Zoom out")
        self.view_group = QActionGroup(window)
        self.view_gray = a("&Gray (before)", "mdi6.image-filter-black-white", "Ctrl+2", "Show the gray original", True)
        self.view_result = a("&Result (after)", "mdi6.image", "Ctrl+3", "Show the result", True)
        self.view_split = a("&Split", "mdi6.compare", "Ctrl+4", "Before | after split", True)
        for act in (self.view_gray, self.view_result, self.view_split):
            self.view_group.addAction(act)
        self.view_result.setChecked(True)
        self.uncertainty = a("&Uncertainty Overlay", "mdi6.blur", "U", "Show where the model is unsure", True)
        self.how_to = a("&How To…", "mdi6.help-circle-outline", SK.HelpContents, "How to colorize a photo, step by step")
        self.shortcuts = a("&Keyboard Shortcuts", "mdi6.keyboard-outline", "Ctrl+/", "Every keyboard shortcut of the window")
        self.about = a("&About ColorStudio", "mdi6.information-outline", None, "About")

    def connect(self, slots: Mapping[str, Callable[..., object]]) -> None:
        """Connect each action (by attribute name) to its slot. Every action but undo and redo (the undo
        stack's own) must get one: a menu item that does nothing fails here, not in the user's hands."""
        names = {name for name, value in vars(self).items() if isinstance(value, QAction)} - {"undo", "redo"}
        if names != set(slots):
            raise ValueError(f"actions without a slot: {sorted(names - set(slots))}; "
                             f"slots without an action: {sorted(set(slots) - names)}")
        for name, slot in slots.items():
            getattr(self, name).triggered.connect(slot)

    def view_mode(self, mode: str) -> QAction:
        """The action of view mode ``mode`` ('gray', 'result' or 'split')."""
        return {"gray": self.view_gray, "result": self.view_result, "split": self.view_split}[mode]

    def build_menus(self, window: QMainWindow, docks: Iterable[QDockWidget]) -> QMenu:
        """The menu bar; returns the (empty) Open Recent menu, which the files controller fills."""
        bar = window.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.open, self.open_session])
        recent_menu = file_menu.addMenu(qta.icon("mdi6.history"), "Open &Recent")
        file_menu.addSeparator()
        file_menu.addActions([self.save, self.save_as, self.export])
        file_menu.addSeparator()
        file_menu.addActions([self.load_hints, self.save_hints])
        file_menu.addSeparator()
        file_menu.addAction(self.quit)
        edit = bar.addMenu("&Edit")
        edit.addActions([self.undo, self.redo])
        edit.addSeparator()
        edit.addActions([self.delete, self.clear_hints])
        view = bar.addMenu("&View")
        view.addActions([self.fit, self.actual, self.zoom_in, self.zoom_out])
        view.addSeparator()
        view.addActions([self.view_gray, self.view_result, self.view_split, self.uncertainty])
        view.addSeparator()
        for dock in docks:
            view.addAction(dock.toggleViewAction())
        colorize = bar.addMenu("&Colorize")
        colorize.addActions([self.colorize, self.more, self.cancel])
        help_menu = bar.addMenu("&Help")
        help_menu.addActions([self.how_to, self.shortcuts])
        help_menu.addSeparator()
        help_menu.addAction(self.about)
        return recent_menu

    def build_toolbar(self, window: QMainWindow) -> QSlider:
        """The main toolbar; returns its before/after split slider."""
        tb: QToolBar = window.addToolBar("Main")
        tb.setObjectName("main-toolbar")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        tb.addActions([self.open, self.save, self.export])
        tb.addSeparator()
        tb.addActions([self.undo, self.redo])
        tb.addSeparator()
        tb.addActions([self.colorize, self.more, self.cancel])
        tb.addSeparator()
        tb.addActions([self.fit, self.actual, self.zoom_in, self.zoom_out])
        tb.addSeparator()
        tb.addActions([self.view_gray, self.view_result, self.view_split])
        split_slider = QSlider(Qt.Orientation.Horizontal)
        split_slider.setRange(0, 100)
        split_slider.setValue(50)
        split_slider.setFixedWidth(120)
        split_slider.setToolTip("Position of the before/after split")
        tb.addWidget(split_slider)
        tb.addSeparator()
        tb.addAction(self.uncertainty)
        return split_slider

    def update(self, session: Session, hint_selected: bool) -> None:
        """Enable what the session's state allows."""
        has_image, has_result = session.has_image, session.current_sample is not None
        for act in (self.colorize, self.save, self.save_as, self.load_hints, self.clear_hints, self.save_hints):
            act.setEnabled(has_image)
        self.more.setEnabled(has_image and session.supports_samples() and bool(session.slots))
        self.export.setEnabled(has_result)
        self.delete.setEnabled(hint_selected)
        self.uncertainty.setEnabled(session.histograms_available)
