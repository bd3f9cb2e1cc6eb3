"""Entry point of the PyInstaller build (packaging/build-app.sh): the `colorstudio` command."""

import multiprocessing
import sys

from colorstudio.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # `evaluate --jobs` spawns processes of the frozen program
    sys.exit(main())
