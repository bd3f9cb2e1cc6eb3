"""Two samples side by side, as large as the dialog: the gallery's thumbnails are too small to judge a face."""

from __future__ import annotations

import qtawesome as qta
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QComboBox, QDialog, QGridLayout, QLabel, QPushButton, QSizePolicy, QWidget

from colorstudio.engine.session import Session
from colorstudio.gui.images import sample_qimage

__all__ = ["CompareDialog"]

RENDER_LONG_SIDE = 1024  # the preview's L* is at most 512 px; more would only cost time


class _ImagePane(QLabel):
    """A label that keeps its image fitted (aspect kept) to whatever size the dialog gives it."""

    def __init__(self) -> None:
        super().__init__()
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(160, 120)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self._full = QPixmap()

    def set_full(self, pixmap: QPixmap) -> None:
        self._full = pixmap
        self._refit()

    def _refit(self) -> None:
        if self._full.isNull():
            self.setPixmap(QPixmap())
            return
        self.setPixmap(self._full.scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                         Qt.TransformationMode.SmoothTransformation))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._refit()


class CompareDialog(QDialog):
    """Non-modal: pick a sample for each side; ``choose_requested(index)`` makes one the result."""

    choose_requested = Signal(int)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare samples")
        self.setModal(False)
        self.session = session
        self.combos = (QComboBox(), QComboBox())
        self.panes = (_ImagePane(), _ImagePane())
        self.use_buttons = (QPushButton(qta.icon("mdi6.check"), "Use this sample"),
                            QPushButton(qta.icon("mdi6.check"), "Use this sample"))
        layout = QGridLayout(self)
        for column, (combo, pane, button) in enumerate(zip(self.combos, self.panes, self.use_buttons, strict=True)):
            combo.setToolTip("Sample shown on this side")
            button.setToolTip("Make this sample the current result (undoable)")
            layout.addWidget(combo, 0, column)
            layout.addWidget(pane, 1, column)
            layout.addWidget(button, 2, column)
            combo.currentIndexChanged.connect(lambda _i, c=column: self._show(c))
            button.clicked.connect(lambda _=False, c=column: self._use(c))
        layout.setRowStretch(1, 1)
        note = QLabel("Predictions before hue bias and reference, over the photo's own lightness.")
        note.setWordWrap(True)
        layout.addWidget(note, 3, 0, 1, 2)
        session.events.samples.connect(self._session_changed)
        session.events.image.connect(self._session_changed)
        self.resize(QSize(1000, 560))

    def _arrived(self) -> list[int]:
        return [i for i, slot in enumerate(self.session.slots) if slot.sample is not None]

    def show_pair(self, left: int, right: int) -> None:
        """Show sample ``left`` and sample ``right`` (slot indices)."""
        self.refresh()
        for combo, index in zip(self.combos, (left, right), strict=True):
            row = combo.findData(self.session.slots[index].seed)
            if row >= 0:
                combo.setCurrentIndex(row)

    def _session_changed(self) -> None:
        if self.isVisible():  # a hidden dialog renders nothing; show_pair refreshes when it opens
            self.refresh()

    def refresh(self) -> None:
        # Items hold seeds, not gallery positions: a ranking model re-sorts the gallery as samples arrive.
        arrived = self._arrived()
        sampling = self.session.supports_samples()
        for combo in self.combos:
            current = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            for index in arrived:
                slot = self.session.slots[index]
                combo.addItem(f"Sample {index + 1} · seed {slot.seed}" if sampling else self.session.model, slot.seed)
            row = combo.findData(current)
            combo.setCurrentIndex(row if row >= 0 else (0 if arrived else -1))
            combo.blockSignals(False)
        for column in (0, 1):
            self._show(column)

    def _index(self, column: int) -> int | None:
        seed = self.combos[column].currentData()
        return None if seed is None else self.session.slot_index(seed)

    def _show(self, column: int) -> None:
        index = self._index(column)
        slots = self.session.slots
        sample = slots[index].sample if index is not None and index < len(slots) else None
        photo = self.session.image
        has = sample is not None and photo is not None
        self.use_buttons[column].setEnabled(has)
        if sample is None or photo is None:
            self.panes[column].set_full(QPixmap())
            return
        image = sample_qimage(photo.preview_lightness, sample.ab, RENDER_LONG_SIDE)
        self.panes[column].set_full(QPixmap.fromImage(image))

    def shown_indices(self) -> tuple[int | None, int | None]:
        return self._index(0), self._index(1)

    def _use(self, column: int) -> None:
        index = self._index(column)
        if index is not None:
            self.choose_requested.emit(int(index))
