"""The uncertainty panel: overlay toggle, colour map, contrast, opacity and the legend."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QGridLayout, QGroupBox, QLabel, QSlider, QVBoxLayout, QWidget

from colorstudio.engine.session import Session
from colorstudio.gui.images import COLORMAPS, colormap_bar
from colorstudio.gui.panels._common import make_secondary

__all__ = ["UncertaintyPanel"]


class UncertaintyPanel(QWidget):
    """Overlay toggle, colormap, contrast and opacity, and the legend; view settings only (not undone).

    The stretch and the colour maps are :mod:`colorstudio.io.maps`'s, the same that written maps use.
    """

    changed = Signal()

    CONTRASTS = (("auto", "Stretched to this photo"), ("fixed", "Fixed scale 0 – 0.5"))
    LEGEND_WIDTH = 220

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.show_box = QCheckBox("Show uncertainty overlay")
        self.show_box.setToolTip("Where the model is unsure (hue entropy x chroma): good places for hints (U)")
        self.colormap = QComboBox()
        self.colormap.addItems(list(COLORMAPS))
        self.contrast = QComboBox()
        for key, text in self.CONTRASTS:
            self.contrast.addItem(text, key)
        self.contrast.setToolTip(
            "Stretched: the colours span this photo's range (2nd–98th percentile), so the least certain\n"
            "regions stand out. Fixed: 0 – 0.5 for every photo, so photos can be compared.\n"
            "Exported maps (and the CLI's --uncertainty) are stretched to the photo, in the inferno colour map;\n"
            "their range is written into the PNG as its legend."
        )
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(70)
        self.legend_bar = QLabel()
        self.legend_bar.setFixedHeight(14)
        self.legend_bar.setScaledContents(True)
        self.legend_bar.setStyleSheet("border: 1px solid palette(mid);")
        self.legend_low = QLabel()
        self.legend_high = QLabel()
        self.legend_high.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.note = QLabel()
        self.note.setWordWrap(True)
        make_secondary(self.note)
        form = QFormLayout()
        form.addRow(self.show_box)
        form.addRow("Colormap", self.colormap)
        form.addRow("Contrast", self.contrast)
        form.addRow("Opacity", self.opacity)
        legend = QGridLayout()
        legend.setVerticalSpacing(2)
        legend.addWidget(self.legend_bar, 0, 0, 1, 2)
        legend.addWidget(self.legend_low, 1, 0)
        legend.addWidget(self.legend_high, 1, 1)
        self.legend_box = QGroupBox("Legend")
        self.legend_box.setLayout(legend)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.legend_box)
        layout.addWidget(self.note)
        layout.addStretch(1)
        self.show_box.toggled.connect(self.changed)
        self.colormap.currentTextChanged.connect(self.changed)
        self.colormap.currentTextChanged.connect(lambda _t: self._paint_bar())
        self.contrast.currentIndexChanged.connect(lambda _i: self.changed.emit())
        self.opacity.valueChanged.connect(self.changed)
        for signal in (session.events.chosen, session.events.samples, session.events.result):
            signal.connect(lambda *_: self.show_state())
        self._paint_bar()
        self.set_legend(None)
        self.show_state()

    @property
    def contrast_mode(self) -> str:
        return self.contrast.currentData()

    def _paint_bar(self) -> None:
        self.legend_bar.setPixmap(colormap_bar(self.colormap.currentText(), self.LEGEND_WIDTH, 14))

    def set_legend(self, value_range: tuple[float, float] | None) -> None:
        """Label the colour bar with the uncertainty values at its ends (None: no map yet)."""
        if value_range is None:
            self.legend_low.setText("confident")
            self.legend_high.setText("unsure")
            return
        lo, hi = value_range
        self.legend_low.setText(f"≤ {lo:.2f}  confident")
        self.legend_high.setText(f"unsure  ≥ {hi:.2f}")

    def show_state(self) -> None:
        available = self.session.histograms_available
        for widget in (self.show_box, self.colormap, self.contrast, self.opacity, self.legend_box):
            widget.setEnabled(available)
        if available:
            self.note.setText("Uncertainty is the entropy of the predicted hue × chroma distribution (0 = certain, "
                              "1 = anything goes). Bright areas are where hints help most.")
        else:
            self.note.setText("The uncertainty map needs the histogram model.")
