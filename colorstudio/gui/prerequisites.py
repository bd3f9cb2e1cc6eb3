"""Before the window opens: are the system libraries Qt's X11 (xcb) platform plugin loads present?

Without them Qt aborts with "Could not load the Qt platform plugin "xcb"" and a wall of text that names
none of them. This check runs without importing Qt, so the app can say what to install instead.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = ["XCB_LIBRARIES", "missing_xcb_libraries", "xcb_prerequisites_message"]

# soname -> Debian/Ubuntu package: what PySide6's libqxcb.so and libQt6XcbQpa.so.6 need (readelf -d)
# beyond what QtGui itself needs (that much loads for the offscreen platform too).
XCB_LIBRARIES: dict[str, str] = {
    "libxcb.so.1": "libxcb1",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libGL.so.1": "libgl1",
}


def _qt_lib_dir() -> Path | None:
    """PySide6's own ``Qt/lib``, found without importing it: the plugin's RUNPATH searches it first."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "Qt" / "lib"


def _loadable(soname: str) -> bool:
    # dlopen by soname searches what the plugin's loader searches (LD_LIBRARY_PATH, ld.so.cache, ...).
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def _xcb_is_wanted(environ: Mapping[str, str], platform: str) -> bool:
    if not platform.startswith("linux"):
        return False
    requested = environ.get("QT_QPA_PLATFORM", "")
    if requested:
        return requested.split(":")[0].split(";")[0] == "xcb"
    # Unset in a Wayland session, Qt 6 tries its wayland plugin first, which needs none of these.
    return not environ.get("WAYLAND_DISPLAY") and environ.get("XDG_SESSION_TYPE") != "wayland"


def missing_xcb_libraries(
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
    loadable: Callable[[str], bool] | None = None,
) -> list[str]:
    """The sonames of :data:`XCB_LIBRARIES` that cannot be loaded, when Qt will use xcb; else ``[]``."""
    loadable = loadable or _loadable
    if not _xcb_is_wanted(os.environ if environ is None else environ, sys.platform if platform is None else platform):
        return []
    bundled = _qt_lib_dir()
    return [soname for soname in XCB_LIBRARIES
            if not (bundled is not None and (bundled / soname).exists()) and not loadable(soname)]


def xcb_prerequisites_message(missing: list[str]) -> str:
    """One line naming the missing libraries and the packages that provide them."""
    packages = " ".join(dict.fromkeys(XCB_LIBRARIES[soname] for soname in missing))
    return (f"colorstudio: cannot open the window: Qt's X11 (xcb) platform plugin needs {', '.join(missing)}, "
            f"not found on this system; install them with: sudo apt-get install {packages}")
