"""Thumbnail icons that keep an image's true colours when selected and show a frame instead.

Qt draws a selected item's icon tinted with the highlight colour (an orange picture shows tan,
black shows navy); these icons carry their own selected look: the same pixels, framed.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPixmap

from app.ui.theme import SELECTION_FRAME

FRAME = 2  # px of selection frame around a thumbnail


def room(size: int) -> int:
    """The longest thumbnail side that fits an icon of `size` with its frame."""
    return size - 2 * FRAME


def framed_icon(thumb: QPixmap, size: int) -> QIcon:
    """`thumb` (at most `room(size)` a side) centred in a `size` square; when selected it keeps
    its pixels and gains a SELECTION_FRAME frame around it."""
    icon = QIcon()
    icon.addPixmap(_centred(thumb, size, None), QIcon.Mode.Normal)
    icon.addPixmap(_centred(thumb, size, QColor(SELECTION_FRAME)), QIcon.Mode.Selected)
    return icon


def _centred(thumb: QPixmap, size: int, frame: QColor | None) -> QPixmap:
    canvas = QPixmap(size, size)
    canvas.fill(QColor(0, 0, 0, 0))
    x, y = (size - thumb.width()) // 2, (size - thumb.height()) // 2
    painter = QPainter(canvas)
    painter.drawPixmap(x, y, thumb)
    if frame is not None:
        inner = QRectF(x, y, thumb.width(), thumb.height())
        ring = QPainterPath()
        ring.addRect(inner.adjusted(-FRAME, -FRAME, FRAME, FRAME))
        ring.addRect(inner)  # the default odd-even fill leaves the thumbnail itself alone
        painter.fillPath(ring, frame)
    painter.end()
    return canvas
