"""numpy <-> Qt image conversion and colormaps for overlays (display only, no image math beyond that)."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap

__all__ = ["COLORMAPS", "rgb_to_qimage", "lightness_to_qimage", "overlay_qimage", "thumbnail_pixmap", "swatch_icon"]

COLORMAPS = {"inferno": cv2.COLORMAP_INFERNO, "viridis": cv2.COLORMAP_VIRIDIS, "magma": cv2.COLORMAP_MAGMA,
             "turbo": cv2.COLORMAP_TURBO}


def _to_u8(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8))


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """(H, W, 3) float sRGB in [0, 1] -> QImage (a copy: the array may be freed afterwards)."""
    data = _to_u8(rgb)
    h, w, _ = data.shape
    return QImage(data.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def lightness_to_qimage(lightness: np.ndarray) -> QImage:
    """(H, W) L* in [0, 100] -> gray QImage of the same lightness (L* -> sRGB gray)."""
    from colorstudio.color import lab_to_rgb

    lab = np.zeros((*lightness.shape, 3), np.float32)
    lab[..., 0] = lightness
    return rgb_to_qimage(lab_to_rgb(lab))


def overlay_qimage(values: np.ndarray, colormap: str = "inferno") -> QImage:
    """(h, w) values in [0, 1] -> RGBA QImage through a colormap (opacity is set on the item)."""
    data = _to_u8(values)
    bgr = cv2.applyColorMap(data, COLORMAPS.get(colormap, cv2.COLORMAP_INFERNO))
    rgba = np.ascontiguousarray(np.dstack([bgr[..., ::-1], np.full(data.shape, 255, np.uint8)]))
    h, w = data.shape
    return QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()


def thumbnail_pixmap(image: QImage, size: int) -> QPixmap:
    """Fit ``image`` into a size x size square (smooth), centred on a transparent background."""
    scaled = image.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    canvas = QPixmap(size, size)
    canvas.fill(QColor(0, 0, 0, 0))
    painter = QPainter(canvas)
    painter.drawImage((size - scaled.width()) // 2, (size - scaled.height()) // 2, scaled)
    painter.end()
    return canvas


def swatch_icon(color: str, size: int = 20) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(color))
    painter = QPainter(pixmap)
    painter.setPen(QColor(0, 0, 0, 120))
    painter.drawRect(0, 0, size - 1, size - 1)
    painter.end()
    return QIcon(pixmap)

