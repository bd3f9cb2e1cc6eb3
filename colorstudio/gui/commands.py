"""Undo commands: every edit the user makes goes through one of these, and each calls session methods.

Gestures (dragging a hint, turning the hue dial, sliding a strength) push one command per step with the
same gesture id; those merge, so a whole drag is one undo step while the preview follows it live.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from PySide6.QtGui import QUndoCommand

from colorstudio.engine.jobs import HueBias, LoadedReference, ReferenceSettings
from colorstudio.engine.session import Session

__all__ = [
    "AddHintCommand",
    "ChooseSampleCommand",
    "HintColorCommand",
    "HintRadiusCommand",
    "HueBiasCommand",
    "MoveHintCommand",
    "ReferenceCommand",
    "RemoveHintCommand",
    "SetHintsCommand",
]

_MOVE_ID, _RADIUS_ID, _HUE_ID, _REFERENCE_ID = 101, 102, 103, 104


class AddHintCommand(QUndoCommand):
    def __init__(self, session: Session, hint: Any) -> None:
        super().__init__("Add hint")
        self.session, self.hint, self.index = session, hint, len(session.hints)

    def redo(self) -> None:
        self.session.insert_hint(self.index, self.hint)

    def undo(self) -> None:
        self.session.remove_hint(self.index)


class RemoveHintCommand(QUndoCommand):
    def __init__(self, session: Session, index: int) -> None:
        super().__init__("Remove hint")
        self.session, self.index, self.hint = session, index, session.hints[index]

    def redo(self) -> None:
        self.session.remove_hint(self.index)

    def undo(self) -> None:
        self.session.insert_hint(self.index, self.hint)


class MoveHintCommand(QUndoCommand):
    """Moves hint ``index``; steps of one drag (same ``gesture``) merge into one undo step."""

    def __init__(self, session: Session, index: int, x: float, y: float, gesture: int) -> None:
        super().__init__("Move hint")
        old = session.hints[index]
        self.session, self.index, self.gesture = session, index, gesture
        self.old, self.new = (old.x, old.y), (x, y)

    def id(self) -> int:  # noqa: A003 - Qt API
        return _MOVE_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt API
        if not isinstance(other, MoveHintCommand) or other.gesture != self.gesture or other.index != self.index:
            return False
        self.new = other.new
        return True

    def redo(self) -> None:
        self.session.move_hint(self.index, *self.new)

    def undo(self) -> None:
        self.session.move_hint(self.index, *self.old)


class HintRadiusCommand(QUndoCommand):
    def __init__(self, session: Session, index: int, radius: float, gesture: int = 0) -> None:
        super().__init__("Change hint radius")
        self.session, self.index, self.gesture = session, index, gesture
        self.old, self.new = session.hints[index].radius, float(radius)

    def id(self) -> int:  # noqa: A003 - Qt API
        return _RADIUS_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt API
        if (not isinstance(other, HintRadiusCommand) or other.index != self.index or not self.gesture
                or other.gesture != self.gesture):
            return False
        self.new = other.new
        return True

    def redo(self) -> None:
        self.session.set_hint_radius(self.index, self.new)

    def undo(self) -> None:
        self.session.set_hint_radius(self.index, self.old)


class HintColorCommand(QUndoCommand):
    def __init__(self, session: Session, index: int, color: str) -> None:
        super().__init__("Change hint colour")
        self.session, self.index = session, index
        self.old, self.new = session.hints[index].color, color

    def redo(self) -> None:
        self.session.set_hint_color(self.index, self.new)

    def undo(self) -> None:
        self.session.set_hint_color(self.index, self.old)


class SetHintsCommand(QUndoCommand):
    """Replace all hints at once (load a hints file, clear)."""

    def __init__(self, session: Session, hints: tuple, text: str) -> None:
        super().__init__(text)
        self.session, self.old, self.new = session, tuple(session.hints), tuple(hints)

    def redo(self) -> None:
        self.session.set_hints(self.new)

    def undo(self) -> None:
        self.session.set_hints(self.old)


class ChooseSampleCommand(QUndoCommand):
    """Choose the sample at gallery position ``index``; remembered by seed, since a ranking model
    re-sorts the gallery as samples arrive."""

    def __init__(self, session: Session, index: int) -> None:
        super().__init__(f"Choose sample {index + 1}")
        self.session = session
        chosen = session.chosen
        self.old = session.slots[chosen].seed if chosen is not None and chosen < len(session.slots) else None
        self.new: int | None = session.slots[index].seed

    def _choose(self, seed: int | None) -> None:
        # A cancelled prediction drops slots that never arrived; a seed that went with them is skipped.
        index = None if seed is None else self.session.slot_index(seed)
        if seed is None or index is not None:
            self.session.choose_sample(index)

    def redo(self) -> None:
        self._choose(self.new)

    def undo(self) -> None:
        self._choose(self.old)


class HueBiasCommand(QUndoCommand):
    """Hue angle/strength; steps of one dial or slider drag (same non-zero ``gesture``) merge."""

    def __init__(self, session: Session, bias: HueBias, gesture: int = 0) -> None:
        super().__init__("Bias toward a hue")
        self.session, self.old, self.new, self.gesture = session, session.hue_bias, bias, gesture

    def id(self) -> int:  # noqa: A003 - Qt API
        return _HUE_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt API
        if not isinstance(other, HueBiasCommand) or not self.gesture or other.gesture != self.gesture:
            return False
        self.new = other.new
        return True

    def redo(self) -> None:
        self.session.set_hue_bias(self.new)

    def undo(self) -> None:
        self.session.set_hue_bias(self.old)


class ReferenceCommand(QUndoCommand):
    """Reference image / strength / method; strength drags (same non-zero ``gesture``) merge."""

    def __init__(
        self, session: Session, settings: ReferenceSettings, image: LoadedReference | None, text: str, gesture: int = 0
    ) -> None:
        super().__init__(text)
        self.session, self.gesture = session, gesture
        self.old = (session.reference, session.reference_image)
        if image is None and settings.path is not None:
            image = session.reference_image  # same image, other strength or method
        if image is not None:
            settings = dataclasses.replace(settings, path=str(image.path), sha256=image.sha256)
        self.new = (settings, image if settings.path is not None else None)

    def id(self) -> int:  # noqa: A003 - Qt API
        return _REFERENCE_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt API
        if not isinstance(other, ReferenceCommand) or not self.gesture or other.gesture != self.gesture:
            return False
        self.new = other.new
        return True

    def redo(self) -> None:
        self.session.set_reference(*self.new)

    def undo(self) -> None:
        self.session.set_reference(*self.old)
