"""Where the app's own files live: icons, sample images and the trained models it ships.

Running from a checkout, they are the checkout's top-level ``resources/`` and ``models/`` folders. An
installed package carries copies under ``colorstudio/_bundled/`` (put there by ``setup.py`` when the wheel
is built). Models a user trains go to the per-user data folder, beside the bundled ones.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

__all__ = [
    "BUNDLED_DIR",
    "from_checkout",
    "resources_dir",
    "resource_path",
    "app_icon_path",
    "sample_path",
    "bundled_models_dir",
    "user_models_dir",
]

_PACKAGE_DIR = Path(__file__).resolve().parent
_CHECKOUT_DIR = _PACKAGE_DIR.parent
# The folder setup.py's build step copies resources/ and models/ into (keep the two in step).
BUNDLED_DIR = _PACKAGE_DIR / "_bundled"


@cache
def from_checkout() -> bool:
    """True when this package is imported from a source checkout (or an editable install of one).

    Checks for the project's own files, not just a ``models/`` folder: site-packages may hold a stray
    top-level ``models`` or ``resources`` from some other distribution.
    """
    return (_CHECKOUT_DIR / "pyproject.toml").is_file() and (_CHECKOUT_DIR / "resources" / "icons").is_dir()


def _data_root() -> Path:
    return _CHECKOUT_DIR if from_checkout() else BUNDLED_DIR


def resources_dir() -> Path:
    """The checkout's ``resources/``, else the installed copy."""
    return _data_root() / "resources"


def resource_path(*parts: str) -> Path:
    """A file under :func:`resources_dir`, e.g. ``resource_path("icons", "colorstudio.svg")``."""
    return resources_dir().joinpath(*parts)


def app_icon_path() -> Path:
    return resource_path("icons", "colorstudio.svg")


def sample_path(name: str = "astronaut-gray.jpg") -> Path:
    """A bundled sample image; the default is the one the window opens on the very first start."""
    return resource_path("samples", name)


def bundled_models_dir() -> Path:
    """The trained models shipped with the app: the checkout's ``models/``, else the installed copy."""
    return _data_root() / "models"


def user_models_dir() -> Path:
    """Where models the user trains go: the per-user data folder (platformdirs) + ``/models``."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("colorstudio")) / "models"
