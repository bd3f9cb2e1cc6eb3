"""Render the real main window offscreen with a colorized photo, its samples and hints, to a PNG.

    python -m colorstudio.gui.screenshot [--output resources/screenshots/main-window.png] [--model NAME]

Uses the best installed model (one that draws samples, else one that predicts colour histograms, else any
learned model, else a built-in method) on
``resources/samples/astronaut-gray.jpg`` with a few colour hints placed where a restorer would put them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from colorstudio.resources import from_checkout, resource_path, sample_path

__all__ = ["main", "take_screenshot"]

DEFAULT_IMAGE = sample_path()
# Installed, the package's folders are no place to write to.
DEFAULT_OUTPUT = resource_path("screenshots", "main-window.png") if from_checkout() else Path("main-window.png")

# (x, y, colour) in pixels of the 512x512 astronaut portrait: skin, hair, orange suit, flag, backdrop.
ASTRONAUT_HINTS = (
    (196, 124, "#e3a58c"), (246, 118, "#e0a088"), (225, 92, "#e6b09a"),
    (190, 52, "#9c6a3c"), (262, 66, "#a87444"),
    (95, 400, "#d8692c"), (330, 330, "#d46a30"), (60, 300, "#cf6a34"), (250, 470, "#d46a30"),
    (18, 50, "#27367a"), (40, 210, "#b8202c"),
    (340, 110, "#8d9cad"), (470, 160, "#8d9cad"), (300, 20, "#97a5b4"),
    (415, 60, "#b55a2c"), (215, 210, "#1c1c22"), (390, 430, "#101014"), (455, 400, "#121216"),
    (330, 470, "#141418"),
)


PICKER_POINT_512 = (160, 420)  # the picker open on the suit, where a new hint is about to go


def _pump(app, condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    return condition()


def _best_model(session) -> str:
    """Samples show the gallery best, then histograms (uncertainty); a built-in method comes last."""
    available = [c for c in session.model_choices if c.available]
    return min(available, key=lambda c: (not c.samples, not c.histograms, c.builtin)).name


def take_screenshot(output: Path, image: Path = DEFAULT_IMAGE, model: str | None = None,
                    size: tuple[int, int] = (1440, 900), timeout_s: float = 300.0) -> Path:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    # Qt is imported only now: the offscreen platform must be chosen before it loads.
    from PySide6.QtCore import QSettings

    from colorstudio.gui.app import create_application  # deferred with Qt (see above)
    from colorstudio.gui.main_window import MainWindow  # deferred with Qt (see above)

    app = create_application()
    scratch = Path(tempfile.mkdtemp(prefix="colorstudio-shot-"))
    window = MainWindow(settings=QSettings(str(scratch / "settings.ini"), QSettings.Format.IniFormat),
                        state_dir=scratch, confirm_close=False)
    window.resize(*size)
    window.show()
    window.files.open_path(image)
    if not _pump(app, lambda: window.session.has_image, 60):
        raise SystemExit(f"could not open {image}: {window.feedback.last_error}")
    session = window.session
    window.jobs.set_model(model or _best_model(session))
    session.set_sample_count(4)
    scale = session.source_size[0] / 512.0
    for x, y, color in ASTRONAUT_HINTS:
        window.hints.add_hint(x * scale, y * scale, color)
    window.canvas.select_hint(None)
    for color in ("#27367a", "#e3a58c", "#8d9cad", "#d8692c"):  # fills the picker's recent colours
        window.hints_panel.pick(color)
    window.jobs.colorize()

    def idle() -> bool:
        lanes = (window.jobs.predict_lane, window.jobs.preview_lane)
        return not any(lane.busy for lane in lanes) and not session.samples_pending and session.preview_current

    if not _pump(app, idle, timeout_s):
        raise SystemExit(f"colorization did not finish in {timeout_s} s: {window.feedback.last_error}")
    if window.feedback.last_error:
        raise SystemExit(f"error while colorizing: {window.feedback.last_error}")
    window.canvas.select_hint(6)
    hint = session.hints[6]
    window.hints.show_suggestions(hint.x, hint.y)
    window.set_view_mode("split", 0.3)
    window.split_slider.blockSignals(True)
    window.split_slider.setValue(30)
    window.split_slider.blockSignals(False)
    _pump(app, lambda: False, 0.3)
    window.hints.open_picker(PICKER_POINT_512[0] * scale, PICKER_POINT_512[1] * scale)  # a hint being added
    _pump(app, lambda: False, 0.2)
    output.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(output)):
        raise SystemExit(f"could not write {output}")
    window.close()
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--model", default=None, help="model name (default: the best installed one)")
    args = parser.parse_args(argv)
    print(take_screenshot(args.output, args.image, args.model))
    return 0


if __name__ == "__main__":
    sys.exit(main())
