"""Side panels: samples gallery, hints and colour picker, hue bias + reference, uncertainty overlay.

Each panel gets the session in its constructor, follows its events to show the current state, and
reports user input through signals (a controller wraps them in undo commands). Panels hold no truth.
"""

from colorstudio.gui.panels._adjust import DEFAULT_HUE_STRENGTH, AdjustPanel, HueDial, lab_hue_color
from colorstudio.gui.panels._common import ElidedProgressBar, gesture_ids, icon_button, make_secondary
from colorstudio.gui.panels._hints import HintsPanel, SwatchRow
from colorstudio.gui.panels._samples import THUMB, THUMB_RANGE, SamplesPanel
from colorstudio.gui.panels._uncertainty import UncertaintyPanel

__all__ = [
    "DEFAULT_HUE_STRENGTH",
    "THUMB",
    "THUMB_RANGE",
    "AdjustPanel",
    "ElidedProgressBar",
    "HintsPanel",
    "HueDial",
    "SamplesPanel",
    "SwatchRow",
    "UncertaintyPanel",
    "gesture_ids",
    "icon_button",
    "lab_hue_color",
    "make_secondary",
]
