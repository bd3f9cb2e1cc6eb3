"""Desktop integration: packaging/install-desktop.sh puts the entry, icon and MIME type in place."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP_ID = "io.github.colorstudio.ColorStudio"
SCRIPT = ROOT / "packaging" / "install-desktop.sh"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None or not SCRIPT.is_file(), reason="needs bash and a checkout")


def _run(args: list[str], data: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_DATA_HOME": str(data)}
    return subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60)


def test_install_desktop_for_the_current_user_and_uninstall(tmp_path):
    program = tmp_path / "venv" / "bin" / "colorstudio"
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    data = tmp_path / "data"
    result = _run([str(program)], data)
    assert result.returncode == 0, result.stderr
    entry = data / "applications" / f"{APP_ID}.desktop"
    text = entry.read_text()
    # named absolutely: a venv's bin/ is not on the PATH the desktop starts programs with
    assert f"Exec={program} gui %f" in text.splitlines() and f"TryExec={program}" in text.splitlines()
    assert (data / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg").read_bytes() == \
        (ROOT / "resources" / "icons" / "colorstudio.svg").read_bytes()
    assert (data / "mime" / "packages" / f"{APP_ID}-session.xml").is_file()
    assert (data / "metainfo" / f"{APP_ID}.metainfo.xml").is_file()
    if shutil.which("update-mime-database"):
        assert "*.colorstudio.json" in (data / "mime" / "globs2").read_text()
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True)
        assert check.returncode == 0 and "error" not in check.stdout, check.stdout

    assert _run(["--uninstall"], data).returncode == 0
    assert not entry.exists() and not (data / "mime" / "packages" / f"{APP_ID}-session.xml").exists()


def test_install_desktop_without_the_program_says_so(tmp_path):
    result = _run([str(tmp_path / "missing")], tmp_path / "data")
    assert result.returncode == 1 and "no colorstudio program found" in result.stderr
    assert not (tmp_path / "data" / "applications").exists()
