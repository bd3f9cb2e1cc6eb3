"""Entry point of the PyInstaller build (packaging/build-app.sh): the `colorstudio` command.

`ColorStudio screenshot [--output PNG] [--model NAME]` renders the window offscreen with the bundled
sample colorized (what `python -m colorstudio.gui.screenshot` does in a Python install): a frozen app
has no `python -m`, and this is how a build is checked without a display.
"""

import multiprocessing
import sys

from colorstudio.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # `evaluate --jobs` spawns processes of the frozen program
    if sys.argv[1:2] == ["screenshot"]:
        from colorstudio.gui.screenshot import main as screenshot

        sys.exit(screenshot(sys.argv[2:]))
    sys.exit(main())
