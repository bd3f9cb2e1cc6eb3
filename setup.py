"""Build step that makes the wheel a complete app: copies the checkout's ``resources/`` (icons, samples)
and ``models/`` (trained weights + cards) into the package as ``colorstudio/_bundled/``, where
``colorstudio.resources`` finds them when there is no checkout. Everything else is in pyproject.toml."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# top-level folder -> the files of it the installed app needs (screenshots are for the README/AppStream)
BUNDLED = {
    "resources": ("icons/*.svg", "samples/*"),
    "models": ("*/weights.safetensors", "*/card.json"),
}


class BuildPyWithBundledData(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout's folders in place
            return
        target = Path(self.build_lib) / "colorstudio" / "_bundled"
        # pip builds in the source tree: a model deleted since the last build must not stay in build/lib
        shutil.rmtree(target, ignore_errors=True)
        for folder, patterns in BUNDLED.items():
            for pattern in patterns:
                files = sorted((ROOT / folder).glob(pattern))
                if not files:  # a wheel without its models would install an app that cannot colorize
                    raise SystemExit(f"setup.py: nothing matches {folder}/{pattern} in {ROOT}")
                for source in files:
                    destination = target / folder / source.relative_to(ROOT / folder)
                    self.mkpath(str(destination.parent))
                    self.copy_file(str(source), str(destination))


setup(cmdclass={"build_py": BuildPyWithBundledData})
