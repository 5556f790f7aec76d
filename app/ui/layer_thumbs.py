"""Layer thumbnails for the Layers panel, read straight from the tiles (strided, so a
4096 x 4096 layer costs a few kilobytes of copying, not a full read). A control layer's
thumbnail is its control map, with a badge naming its kind; a reference layer's, its
picture with a REF badge."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QImage, QPainter, QPixmap

from app.model.control_layers import control_map_of
from app.model.layers import ControlLayer, Layer, MaskLayer, RasterLayer, ReferenceLayer
from app.model.tiles import TILE, TiledRaster
from app.ui.images import qimage_from_rgba
from app.ui.thumb_icons import framed_icon, room

THUMB = 56  # px a side: big enough to tell layers apart at a glance


def sampled(raster: TiledRaster, longest: int = THUMB) -> np.ndarray:
    """Every k-th pixel of the raster, k chosen so the longest side is about `longest`."""
    step = max(1, math.ceil(max(raster.width, raster.height) / longest))
    out_h, out_w = math.ceil(raster.height / step), math.ceil(raster.width / step)
    out = np.full((out_h, out_w, raster.channels), raster.fill, np.uint8)
    for (tx, ty), tile in raster.tiles.items():
        x0, y0 = tx * TILE, ty * TILE
        ox, oy = -x0 % step, -y0 % step
        part = tile[oy::step, ox::step]
        col, row = (x0 + ox) // step, (y0 + oy) // step
        part = part[: max(0, out_h - row), : max(0, out_w - col)]
        out[row : row + part.shape[0], col : col + part.shape[1]] = part
    return out


def layer_pixels(layer: Layer, longest: int) -> np.ndarray | None:
    """RGBA thumbnail pixels of a raster, control or mask layer (None for groups)."""
    if isinstance(layer, ControlLayer):
        lines = control_map_of(layer)
        step = max(1, math.ceil(max(lines.shape[:2]) / longest))
        rgb = lines[::step, ::step]
        return np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    if isinstance(layer, RasterLayer):
        return sampled(layer.pixels, longest)
    if isinstance(layer, MaskLayer):
        grey = sampled(layer.pixels, longest)[..., 0]
        return np.dstack([grey, grey, grey, np.full_like(grey, 255)])
    return None


def layer_icon(layer: Layer) -> QIcon:
    """The layer's thumbnail over a dark square (a folder-ish square for groups), framed when
    its row is selected."""
    side = room(THUMB)
    canvas = QPixmap(side, side)
    canvas.fill(QColor("#3a3e44"))
    pixels = layer_pixels(layer, side)
    if pixels is not None and pixels.size:
        image = _fitted(qimage_from_rgba(pixels), side)
        x = (side - image.width()) // 2
        y = (side - image.height()) // 2
        painter = QPainter(canvas)
        painter.fillRect(x, y, image.width(), image.height(), _checks())
        painter.drawImage(x, y, image)
        painter.end()
    if isinstance(layer, ControlLayer):
        _badge(canvas, BADGES[layer.control.kind])
    elif isinstance(layer, ReferenceLayer):
        _badge(canvas, "REF")
    return framed_icon(canvas, THUMB)


BADGES = {
    "scribble": "SCR",
    "lineart": "LINE",
    "softedge": "SOFT",
    "canny": "CANNY",
    "depth": "DEPTH",
    "pose": "POSE",
}
BADGE_COLOUR = QColor("#1f9bd1")


def _badge(canvas: QPixmap, text: str) -> None:
    """A small coloured label in the thumbnail's bottom-left corner naming a control's kind."""
    painter = QPainter(canvas)
    font = painter.font()
    font.setPixelSize(10)
    font.setBold(True)
    painter.setFont(font)
    width = painter.fontMetrics().horizontalAdvance(text) + 6
    box = QRect(1, canvas.height() - 14, width, 13)
    painter.fillRect(box, BADGE_COLOUR)
    painter.setPen(QColor("white"))
    painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
    painter.end()


def _fitted(image: QImage, side: int) -> QImage:
    """The sampled pixels enlarged, each to a block, until the longer side is `side` (a small
    layer's thumbnail fills the square as a large one's does)."""
    return image.scaled(
        side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
    )


def _checks() -> QBrush:
    tile = QPixmap(8, 8)
    tile.fill(QColor("#9a9a9a"))
    painter = QPainter(tile)
    painter.fillRect(0, 0, 4, 4, QColor("#6e6e6e"))
    painter.fillRect(4, 4, 4, 4, QColor("#6e6e6e"))
    painter.end()
    return QBrush(tile)
