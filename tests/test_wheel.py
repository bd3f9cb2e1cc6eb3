"""The wheel is the complete app: built from the sdist, installed into a fresh venv and run from a folder
outside the checkout, it lists its bundled models, colorizes its bundled sample and opens its window.

Third-party dependencies come from this interpreter's site-packages through a .pth file (installing
torch, PySide6 and the rest again would take minutes); colorstudio itself only from the wheel, which
the test checks.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
MODELS = sorted(p.parent.name for p in (ROOT / "models").glob("*/card.json"))
# what a build must not pick up from a working checkout
_NOT_SOURCES = shutil.ignore_patterns(".git", ".venv", "runs", "build", "dist", "*.egg-info", "__pycache__",
                                      ".pytest_cache", "_bundled", "*.pyc")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(not MODELS or not (ROOT / "setup.py").is_file(), reason="needs a checkout with models/"),
]


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "COLORSTUDIO_MODELS", "PYTHONHOME")}


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _build(tmp_path: Path) -> tuple[Path, Path]:
    """sdist, then the wheel built from that sdist (so the sdist must be complete too)."""
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCES)
    dist = tmp_path / "dist"
    # no isolation: the build backend (setuptools, from the test extra) is already here; no network
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(source)], tmp_path, dict(os.environ))
    (sdist,), (wheel,) = dist.glob("*.tar.gz"), dist.glob("*.whl")
    return sdist, wheel


def _venv_with_wheel(tmp_path: Path, wheel: Path) -> Path:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp_path, {}).strip())
    # before the .pth: pip would take a colorstudio (an editable one, say) found there as installed
    _run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", str(wheel)], tmp_path, _clean_env())
    deps = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (purelib / "_colorstudio_test_deps.pth").write_text("\n".join(deps) + "\n")
    return venv


def test_wheel_installs_a_complete_app(tmp_path):
    started = time.monotonic()
    sdist, wheel = _build(tmp_path)
    with tarfile.open(sdist) as tar:
        in_sdist = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    with zipfile.ZipFile(wheel) as zf:
        in_wheel = set(zf.namelist())
    for name in MODELS:
        for file in ("weights.safetensors", "card.json"):
            assert f"models/{name}/{file}" in in_sdist
            assert f"colorstudio/_bundled/models/{name}/{file}" in in_wheel
    for file in ("icons/colorstudio.svg", "samples/astronaut-gray.jpg"):
        assert f"resources/{file}" in in_sdist and f"colorstudio/_bundled/resources/{file}" in in_wheel
    built = time.monotonic()

    venv = _venv_with_wheel(tmp_path, wheel)
    site_packages = next((venv / "lib").glob("python*/site-packages"))
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = _clean_env()
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_CACHE_HOME=str(tmp_path / "cache"), XDG_CONFIG_HOME=str(tmp_path / "config"),
               QT_QPA_PLATFORM="offscreen")
    python, program = str(venv / "bin" / "python"), str(venv / "bin" / "colorstudio")
    installed = time.monotonic()

    # colorstudio comes from the wheel, not from the checkout
    facts = json.loads(_run([python, "-c", (
        "import json, sys, colorstudio; from colorstudio import resources; from colorstudio.gui.app import FIRST_START_SAMPLE;"
        "from colorstudio.gui.images import APP_ICON_PATH;"
        "print(json.dumps({'package': colorstudio.__file__, 'checkout': resources.from_checkout(), 'path': sys.path,"
        "'sample': str(FIRST_START_SAMPLE), 'icon': str(APP_ICON_PATH), 'models': str(resources.bundled_models_dir())}))"
    )], work, env))
    assert Path(facts["package"]).is_relative_to(site_packages) and not facts["checkout"]
    # (the dependencies' folder may lie inside the checkout, as CI's .venv does; the checkout itself not)
    assert ROOT not in {(work / entry).resolve() for entry in facts["path"]}  # "" is the working folder
    for key in ("sample", "icon", "models"):
        assert Path(facts[key]).is_relative_to(site_packages) and Path(facts[key]).exists(), key

    from colorstudio import __version__

    assert _run([program, "--version"], work, env).strip() == f"colorstudio {__version__}"

    # every bundled model is listed, and a user-trained one beside them
    user_models = tmp_path / "data" / "colorstudio" / "models"
    shutil.copytree(ROOT / "models" / MODELS[0], user_models / "my-model")
    listing = _run([program, "models"], work, env)
    assert f"models folder: {user_models}" in listing and f"models folder: {facts['models']}" in listing
    listed = {line.split()[0] for line in listing.splitlines() if line.startswith("  ")}
    assert listed >= {*MODELS, "my-model", "propagation"}, listing

    # the bundled sample, colorized by the default model
    sample = Path(facts["sample"])
    _run([program, "colorize", str(sample), "-o", "out.png"], work, env)
    with Image.open(work / "out.png") as out, Image.open(sample) as gray:
        assert out.format == "PNG" and out.mode == "RGB" and out.size == gray.size
        rgb = np.asarray(out).astype(np.int16)
    chroma = rgb.max(axis=2) - rgb.min(axis=2)
    assert (chroma > 12).mean() > 0.2, "the output is not coloured"
    colorized = time.monotonic()

    # the window, started offscreen from the install, renders the bundled sample
    _run([python, "-m", "colorstudio.gui.screenshot", "--output", "window.png"], work, env)
    with Image.open(work / "window.png") as shot:
        assert shot.size == (1440, 900)
        window = np.asarray(shot.convert("RGB")).astype(np.int16)
    canvas = window[60:860, 100:880]  # the photo, left of the side panels
    assert ((canvas.max(axis=2) - canvas.min(axis=2)) > 12).mean() > 0.2, "the window shows no colorized photo"
    print(f"\nwheel test: build {built - started:.1f} s, venv + install {installed - built:.1f} s, "
          f"models + colorize {colorized - installed:.1f} s, window {time.monotonic() - colorized:.1f} s, "
          f"wheel {wheel.stat().st_size / 1e6:.0f} MB, sdist {sdist.stat().st_size / 1e6:.0f} MB")
