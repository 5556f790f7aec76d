"""What the document canvas draws: the picture over a checkerboard, the selection's marching
ants, and floating images (generation previews, candidates, a layer being moved)."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPainterPath, QPen, QPixmap, QTransform
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QStyleOptionGraphicsItem,
    QWidget,
)

from app.model.selection import Selection
from app.ui.composite_cache import CompositeCache

CHECK = 8  # checkerboard square, in screen pixels
SMOOTH_BELOW = 2.0  # zoomed in further, pixels are drawn as crisp squares
DASH = 4


def checker_brush() -> QBrush:
    tile = QPixmap(CHECK * 2, CHECK * 2)
    tile.fill(QColor("#9a9a9a"))
    painter = QPainter(tile)
    painter.fillRect(0, 0, CHECK, CHECK, QColor("#6e6e6e"))
    painter.fillRect(CHECK, CHECK, CHECK, CHECK, QColor("#6e6e6e"))
    painter.end()
    return QBrush(tile)


class DocumentItem(QGraphicsItem):
    """The document's composite at scene (0, 0), one scene unit per canvas pixel; paints
    only the exposed rectangle from the cache."""

    def __init__(self, cache: CompositeCache) -> None:
        super().__init__()
        self.cache = cache
        self.checker = checker_brush()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)

    def set_cache(self, cache: CompositeCache) -> None:
        self.prepareGeometryChange()
        self.cache = cache
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt naming)
        width, height = self.cache.size
        return QRectF(0, 0, width, height)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        exposed = option.exposedRect.toAlignedRect().intersected(self.boundingRect().toRect())
        if exposed.isEmpty():
            return
        zoom = painter.worldTransform().m11() or 1.0
        self.checker.setTransform(QTransform.fromScale(1 / zoom, 1 / zoom))
        painter.fillRect(exposed, self.checker)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, zoom < SMOOTH_BELOW)
        painter.drawImage(exposed, self.cache.image, exposed)


def selection_path(selection: Selection) -> QPainterPath:
    """The outline of the selected area (mask >= 128) as polygons in canvas pixels."""
    path = QPainterPath()
    box = selection.bbox()
    if box is None:
        return path
    region = (selection.mask[box.slices()] >= 128).astype(np.uint8)
    region = np.pad(region, 1)
    contours, _ = cv2.findContours(region, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    for contour in contours:
        points = contour[:, 0, :].astype(np.float64) + (box.x - 1, box.y - 1)
        path.moveTo(QPointF(*points[0]))
        for x, y in points[1:]:
            path.lineTo(QPointF(x, y))
        path.closeSubpath()
    return path


class SelectionOutline(QGraphicsPathItem):
    """Marching ants: a white line under a black dashed one whose dashes move."""

    def __init__(self) -> None:
        super().__init__()
        self.setZValue(10)
        self.phase = 0

    def set_selection(self, selection: Selection | None) -> None:
        self.setPath(selection_path(selection) if selection is not None else QPainterPath())

    def march(self) -> None:
        self.phase = (self.phase + 1) % (DASH * 2)
        self.update()

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        white = QPen(QColor("white"), 1)
        white.setCosmetic(True)
        painter.setPen(white)
        painter.drawPath(self.path())
        black = QPen(QColor("black"), 1, Qt.PenStyle.CustomDashLine)
        black.setCosmetic(True)
        black.setDashPattern([DASH, DASH])
        black.setDashOffset(self.phase)
        painter.setPen(black)
        painter.drawPath(self.path())


class FloatingImage(QGraphicsPixmapItem):
    """An image shown over the canvas at a canvas rectangle (stretched to fit it)."""

    def __init__(self, z: float = 5) -> None:
        super().__init__()
        self.setZValue(z)
        self.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.hide()

    def show_image(self, image: QImage | QPixmap, rect: QRectF) -> None:
        pixmap = image if isinstance(image, QPixmap) else QPixmap.fromImage(image)
        self.setPixmap(pixmap)
        scale_x = rect.width() / max(1, pixmap.width())
        scale_y = rect.height() / max(1, pixmap.height())
        self.setTransform(QTransform.fromScale(scale_x, scale_y))
        self.setPos(rect.topLeft())
        self.show()

    def clear(self) -> None:
        self.hide()
        self.setPixmap(QPixmap())
