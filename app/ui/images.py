"""Conversions between engine image values (RGBA numpy arrays) and Qt images."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage, QPixmap


def qimage_from_rgba(pixels: np.ndarray) -> QImage:
    """A QImage that owns a copy of (H, W, 4) uint8 RGBA pixels."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width = pixels.shape[:2]
    image = QImage(pixels.data, width, height, width * 4, QImage.Format.Format_RGBA8888)
    return image.copy()  # detach from the numpy buffer


def pixmap_from_rgba(pixels: np.ndarray) -> QPixmap:
    return QPixmap.fromImage(qimage_from_rgba(pixels))


def rgba_from_qimage(image: QImage) -> np.ndarray:
    """(H, W, 4) uint8 RGBA pixels of any QImage."""
    image = image.convertToFormat(QImage.Format.Format_RGBA8888)
    width, height = image.width(), image.height()
    data = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes())
    rows = data.reshape(height, image.bytesPerLine())[:, : width * 4]
    return rows.reshape(height, width, 4).copy()
