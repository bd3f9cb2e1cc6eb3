"""Help dialogs: the keyboard shortcuts (read from the window's actions, so they never drift from what the
app defines) and a short "how to"."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

__all__ = ["HOW_TO_HTML", "HowToDialog", "ShortcutsDialog", "shortcut_rows"]

HOW_TO_HTML = """
<h3>Colorize a photo</h3>
<ol>
<li><b>Open</b> a grayscale photo (Ctrl+O, or drop it on the window).</li>
<li>Choose a <b>model</b> in the Samples panel and press <b>Colorize</b> (Ctrl+R). Sampling models
(PixColor, PIC) draw N different samples, the most plausible first (its score is under the thumbnail;
higher is more plausible): click one to make it the result, <b>Compare…</b> shows two side by side,
<b>More samples</b> (Ctrl+M) adds new seeds.</li>
<li><b>Hints</b>: click the photo where you know a colour. A picker opens beside the point with the model's
suggested colours and an a*b* chart at that pixel's lightness; pick one (click, or arrows and Enter) and
the result updates (with PixColor or PIC a quick draft shows the hint at once; the samples replace it as
they arrive). Esc cancels. Drag a hint to move it, wheel over it to resize, right-click or Del to
remove it, click it to change its colour.</li>
<li><b>Bias toward a hue</b> (Colour tab, histogram model): pulls the colours the model is unsure of
toward one hue; confident pixels barely move. It is not a rotation of every hue.</li>
<li><b>Reference</b> (Colour tab): load a colour photo whose palette to transfer.</li>
<li><b>Uncertainty</b> (U): where the model is unsure, good places for hints.</li>
<li><b>Export</b> (Ctrl+E) writes the result at full resolution, PNG or TIFF, 8 or 16 bit; the file name's
extension chooses the format. The source photo is never changed.</li>
</ol>
<p>Every edit can be undone (Ctrl+Z). Save the session (Ctrl+S) to reopen the same result later.</p>
"""


def _plain(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def shortcut_rows(window: QMainWindow) -> list[tuple[str, str, str]]:
    """(menu, action, shortcuts) for every action of ``window`` that has a shortcut: menus first, in
    their order, then actions that live only elsewhere (toolbar, widgets)."""
    rows: list[tuple[str, str, str]] = []
    seen: set[int] = set()

    def add(menu: str, action: QAction) -> None:
        if id(action) in seen or action.isSeparator():
            return
        submenu = action.menu()  # typed as QObject: a QMenu or None
        if isinstance(submenu, QMenu):
            for child in submenu.actions():
                add(f"{menu} › {_plain(action.text())}" if menu else _plain(action.text()), child)
            return
        keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts() if not k.isEmpty()]
        if keys:
            seen.add(id(action))
            rows.append((menu, _plain(action.text()), ", ".join(keys)))

    for top in window.menuBar().actions():
        menu = top.menu()
        if isinstance(menu, QMenu):
            for action in menu.actions():
                add(_plain(top.text()), action)
    for action in window.findChildren(QAction):
        add("", action)
    return rows


class ShortcutsDialog(QDialog):
    def __init__(self, window: QMainWindow, parent: QWidget | None = None) -> None:
        super().__init__(parent or window)
        self.setWindowTitle("Keyboard shortcuts")
        rows = shortcut_rows(window)
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["Shortcut", "Action", "Menu"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        for row, (menu, text, keys) in enumerate(rows):
            for column, value in enumerate((keys, text, menu)):
                self.table.setItem(row, column, QTableWidgetItem(value))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        note = QLabel("On the photo: click = pick a colour for a new hint (Esc cancels, arrows and Enter pick), "
                      "drag = move a hint, wheel over a hint = radius, right-click = remove, "
                      "Space-drag or middle button = pan, wheel = zoom.")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.resize(560, 560)

    def listed(self) -> list[tuple[str, str]]:
        """(action, shortcuts) as shown."""
        def text(row: int, column: int) -> str:
            item = self.table.item(row, column)
            return "" if item is None else item.text()

        return [(text(r, 1), text(r, 0)) for r in range(self.table.rowCount())]


class HowToDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("How to use ColorStudio")
        self.text = QTextBrowser()
        self.text.setHtml(HOW_TO_HTML)
        self.text.setOpenExternalLinks(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)
        self.resize(560, 520)
