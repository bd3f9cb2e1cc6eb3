"""The hints panel: the selected hint's colour (suggested, recent, the picker) and its radius."""

from __future__ import annotations

from PySide6.QtCore import QSize, Signal
from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from colorstudio.engine.session import Session
from colorstudio.gui.images import swatch_icon
from colorstudio.gui.panels._common import make_secondary

__all__ = ["HintsPanel", "SwatchRow"]


class SwatchRow(QWidget):
    """A row of colour buttons; ``picked(color)`` when one is clicked."""

    picked = Signal(str)

    def __init__(self, slots: int = 8, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        self.buttons: list[QToolButton] = []
        for _ in range(slots):
            button = QToolButton()
            button.setFixedSize(24, 24)
            button.setIconSize(QSize(18, 18))
            button.clicked.connect(lambda _=False, b=button: self.picked.emit(b.property("color")))
            layout.addWidget(button)
            self.buttons.append(button)
        layout.addStretch(1)
        self.set_colors([])

    def set_colors(self, colors: list[str]) -> None:
        for i, button in enumerate(self.buttons):
            if i < len(colors):
                button.setIcon(swatch_icon(colors[i], 18))
                button.setProperty("color", colors[i])
                button.setToolTip(colors[i])
                button.setVisible(True)
            else:
                button.setVisible(False)

    def colors(self) -> list[str]:
        return [b.property("color") for b in self.buttons if b.isVisibleTo(self)]


class HintsPanel(QWidget):
    """The selected hint: its colour (suggested, recent, the picker with the gamut chart), its radius."""

    color_chosen = Signal(str)  # a swatch gave a colour for the selected hint
    radius_changed = Signal(float)
    picker_requested = Signal()  # the colour swatch: open the picker beside the selected hint

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.current_color = "#c0504d"
        self.current_button = QToolButton()
        self.current_button.setFixedSize(44, 44)
        self.current_button.setIconSize(QSize(38, 38))
        self.current_button.setToolTip("Colour of the selected hint – click for its suggestions and the a*b* "
                                       "gamut chart beside it on the photo")
        self.current_label = QLabel()
        self.suggested = SwatchRow(6)
        self.suggested_label = QLabel("Click the photo to see suggestions")
        self.suggested_label.setWordWrap(True)
        self.recent = SwatchRow(8)
        self.radius_spin = QDoubleSpinBox()
        self.radius_spin.setRange(1.0, 500.0)
        self.radius_spin.setSuffix(" px")
        self.radius_spin.setToolTip("Radius of the selected hint (or the wheel over a hint)")
        self.radius_spin.setEnabled(False)
        self.count_label = QLabel()
        self.help = QLabel(
            "Click the photo: pick a colour for a new hint (suggestions, gamut; Esc cancels) · Click a hint: "
            "recolour · Drag: move · Right-click / Del: remove · Wheel over a hint: radius · "
            "Space-drag / middle button: pan"
        )
        self.help.setWordWrap(True)
        make_secondary(self.help)

        top = QHBoxLayout()
        top.addWidget(self.current_button)
        top.addWidget(self.current_label, 1)
        form = QFormLayout()
        form.addRow("Suggested", self.suggested)
        form.addRow("", self.suggested_label)
        form.addRow("Recent", self.recent)
        form.addRow("Radius", self.radius_spin)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(form)
        layout.addWidget(self.count_label)
        layout.addWidget(self.help)
        layout.addStretch(1)

        self.current_button.clicked.connect(self.picker_requested)
        self.suggested.picked.connect(self.pick)
        self.recent.picked.connect(self.pick)
        self.radius_spin.editingFinished.connect(lambda: self.radius_changed.emit(self.radius_spin.value()))
        session.events.hints.connect(self.show_hints)
        self.show_current()
        self.show_hints()

    def show_current(self) -> None:
        self.current_button.setIcon(swatch_icon(self.current_color, 38))
        self.current_label.setText(f"Hint colour {self.current_color}")

    def set_current(self, color: str) -> None:
        """Show ``color`` (the selected hint's, or the last one picked) without applying it."""
        self.current_color = color
        self.show_current()

    def pick(self, color: str) -> None:
        self.set_current(color)
        self.color_chosen.emit(color)

    def set_recent(self, colors: list[str]) -> None:
        self.recent.set_colors(colors)

    def set_suggestions(self, colors: list[str], note: str) -> None:
        self.suggested.set_colors(colors)
        self.suggested_label.setText(note)

    def show_selected(self, index: int) -> None:
        hints = self.session.hints
        valid = 0 <= index < len(hints)
        self.radius_spin.setEnabled(valid)
        if valid:
            self.radius_spin.blockSignals(True)
            self.radius_spin.setValue(hints[index].radius)
            self.radius_spin.blockSignals(False)

    def show_hints(self) -> None:
        n = len(self.session.hints)
        self.count_label.setText(f"{n} hint{'s' if n != 1 else ''}")
