"""The app finds its icon, samples and models in the checkout, else in the installed package."""

from __future__ import annotations

from pathlib import Path

import pytest

from colorstudio import resources
from colorstudio.cli import main


@pytest.fixture()
def fresh_lookup():
    resources.from_checkout.cache_clear()
    yield
    resources.from_checkout.cache_clear()


def test_the_checkout_folders_are_used_when_running_from_a_checkout(fresh_lookup):
    checkout = Path(__file__).resolve().parents[1]
    if not (checkout / "pyproject.toml").is_file():
        pytest.skip("the tests run against an installed package")
    assert resources.from_checkout()
    assert resources.resources_dir() == checkout / "resources"
    assert resources.bundled_models_dir() == checkout / "models"
    assert resources.app_icon_path().is_file() and resources.sample_path().is_file()
    assert (resources.bundled_models_dir() / "histogram" / "card.json").is_file()


def test_an_install_uses_the_bundled_copy(fresh_lookup, monkeypatch, tmp_path):
    site = tmp_path / "site-packages"
    (site / "models").mkdir(parents=True)  # some other distribution's stray top-level folder
    monkeypatch.setattr(resources, "_CHECKOUT_DIR", site)
    monkeypatch.setattr(resources, "BUNDLED_DIR", site / "colorstudio" / "_bundled")
    assert not resources.from_checkout()
    assert resources.app_icon_path() == site / "colorstudio" / "_bundled" / "resources" / "icons" / "colorstudio.svg"
    assert resources.bundled_models_dir() == site / "colorstudio" / "_bundled" / "models"


def test_models_command_shows_the_user_folder_then_the_bundled_one(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("COLORSTUDIO_MODELS", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    folders = [line.removeprefix("models folder: ") for line in lines if line.startswith("models folder: ")]
    assert folders == [f"{tmp_path / 'colorstudio' / 'models'} (none yet)", str(resources.bundled_models_dir())]


def test_version_flag(capsys):
    from colorstudio import __version__

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.strip() == f"colorstudio {__version__}"
