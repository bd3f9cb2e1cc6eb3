"""numpy <-> Qt image conversion and colormaps for overlays (display only, no image math beyond that)."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap

from colorstudio.color import lab_to_rgb
from colorstudio.io.maps import FIXED_RANGE, OVERLAY_COLORMAPS, colormap_rgb, stretch, stretch_range, upsample_map
from colorstudio.resources import app_icon_path

__all__ = [
    "COLORMAPS", "FIXED_DISPLAY_RANGE", "rgb_to_qimage", "lightness_to_qimage", "display_range", "stretch_for_display",
    "overlay_qimage", "colormap_bar", "thumbnail_pixmap", "thumbnail_icon", "swatch_icon", "app_icon", "APP_ICON_PATH",
    "sample_qimage",
]

# One definition of the colour maps and the stretch for the overlay and for written maps (CLI, export).
COLORMAPS = OVERLAY_COLORMAPS
FIXED_DISPLAY_RANGE = FIXED_RANGE


def _to_u8(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8))


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """(H, W, 3) float sRGB in [0, 1] -> QImage (a copy: the array may be freed afterwards)."""
    data = _to_u8(rgb)
    h, w, _ = data.shape
    return QImage(data.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def lightness_to_qimage(lightness: np.ndarray) -> QImage:
    """(H, W) L* in [0, 100] -> gray QImage of the same lightness (L* -> sRGB gray)."""

    lab = np.zeros((*lightness.shape, 3), np.float32)
    lab[..., 0] = lightness
    return rgb_to_qimage(lab_to_rgb(lab))


def sample_qimage(lightness: np.ndarray, ab: np.ndarray, long_side: int) -> QImage:
    """A sample's chroma (h, w, 2) over L* (H, W), ``long_side`` px at most: cheap (no edits, no full-size
    composite), for thumbnails and the side-by-side comparison."""

    h, w = lightness.shape
    scale = min(1.0, long_side / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small_l = cv2.resize(lightness, size, interpolation=cv2.INTER_AREA)
    small_ab = cv2.resize(ab, size, interpolation=cv2.INTER_LINEAR)
    return rgb_to_qimage(lab_to_rgb(np.dstack([small_l, small_ab]).astype(np.float32)))


def display_range(values: np.ndarray, mode: str = "auto") -> tuple[float, float]:
    """The (lo, hi) the overlay's colour map spans (see :func:`colorstudio.io.maps.stretch_range`)."""
    return stretch_range(values, mode)


def stretch_for_display(values: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """(h, w) values -> [0, 1] float32, linear over ``value_range`` and clipped."""
    return stretch(values, value_range)


def overlay_qimage(values: np.ndarray, colormap: str = "inferno", value_range: tuple[float, float] = (0.0, 1.0),
                   size: tuple[int, int] | None = None) -> QImage:
    """(h, w) uncertainty -> RGBA QImage through a colour map, stretched over ``value_range``, smoothly
    upsampled to ``size = (W, H)`` when given (the canvas would only scale it bilinearly, showing the
    model's coarse grid as facets). Confident areas are more transparent so the photo stays readable.
    """
    if size is not None:
        values = upsample_map(values, size)
    stretched = stretch(values, value_range)
    alpha = _to_u8(0.25 + 0.75 * stretched)
    rgba = np.ascontiguousarray(np.dstack([colormap_rgb(stretched, colormap), alpha]))
    h, w = stretched.shape
    return QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()


def colormap_bar(colormap: str, width: int, height: int) -> QPixmap:
    """A horizontal colour bar of ``colormap`` (low on the left) for the overlay's legend."""
    ramp = np.tile(np.linspace(0.0, 1.0, max(width, 2), dtype=np.float32), (max(height, 1), 1))
    rgb = colormap_rgb(ramp, colormap)
    image = QImage(rgb.data, rgb.shape[1], rgb.shape[0], 3 * rgb.shape[1], QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image)


def thumbnail_pixmap(image: QImage, size: int | QSize) -> QPixmap:
    """Fit ``image`` into a box of ``size`` (a square for an int; smooth), centred on a transparent background."""
    box = size if isinstance(size, QSize) else QSize(size, size)
    scaled = image.scaled(box, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    canvas = QPixmap(box)
    canvas.fill(QColor(0, 0, 0, 0))
    painter = QPainter(canvas)
    painter.drawImage((box.width() - scaled.width()) // 2, (box.height() - scaled.height()) // 2, scaled)
    painter.end()
    return canvas


def thumbnail_icon(image: QImage, size: int | QSize) -> QIcon:
    """A gallery icon that looks the same when selected (Qt tints Selected-mode icons with the highlight
    colour by default, which turned warm thumbnails blue)."""
    pixmap = thumbnail_pixmap(image, size)
    icon = QIcon()
    for mode in (QIcon.Mode.Normal, QIcon.Mode.Selected, QIcon.Mode.Active):
        icon.addPixmap(pixmap, mode)
    return icon


def swatch_icon(color: str, size: int = 20) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(color))
    painter = QPainter(pixmap)
    painter.setPen(QColor(0, 0, 0, 120))
    painter.drawRect(0, 0, size - 1, size - 1)
    painter.end()
    return QIcon(pixmap)


APP_ICON_PATH = app_icon_path()


def app_icon() -> QIcon:
    """The application icon (resources/icons/colorstudio.svg), or a drawn fallback when not shipped."""
    if APP_ICON_PATH.exists():
        icon = QIcon(str(APP_ICON_PATH))
        if not icon.isNull():
            return icon
    import qtawesome as qta

    return qta.icon("mdi6.palette", color="#d9822b")
