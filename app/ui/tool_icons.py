"""Tool and layer-action icons drawn with QPainter (no image files to ship, crisp at any
scale)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap, QPolygonF

SIZE = 64
INK = QColor("#e6e6e6")
ACCENT = QColor("#4c8dff")


def _pen(width: float = 4, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(INK, width, style)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return pen


def _brush(p: QPainter) -> None:
    p.setPen(_pen(5))
    p.drawLine(QPointF(46, 10), QPointF(26, 34))
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(ACCENT)
    tip = QPainterPath(QPointF(24, 32))
    tip.cubicTo(QPointF(14, 34), QPointF(16, 48), QPointF(8, 54))
    tip.cubicTo(QPointF(24, 56), QPointF(34, 46), QPointF(30, 38))
    tip.closeSubpath()
    p.drawPath(tip)


def _eraser(p: QPainter) -> None:
    p.translate(32, 32)
    p.rotate(-40)
    p.setPen(_pen(4))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawRoundedRect(QRectF(-20, -11, 40, 22), 4, 4)
    p.setBrush(ACCENT)
    p.drawRoundedRect(QRectF(-20, -11, 14, 22), 4, 4)


def _fill(p: QPainter) -> None:
    p.setPen(_pen(4))
    bucket = QPolygonF([QPointF(14, 24), QPointF(36, 10), QPointF(50, 32), QPointF(28, 46)])
    p.drawPolygon(bucket)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(ACCENT)
    drop = QPainterPath(QPointF(52, 38))
    drop.cubicTo(QPointF(44, 50), QPointF(48, 58), QPointF(52, 58))
    drop.cubicTo(QPointF(56, 58), QPointF(60, 50), QPointF(52, 38))
    p.drawPath(drop)


def _picker(p: QPainter) -> None:
    p.setPen(_pen(5))
    p.drawLine(QPointF(12, 52), QPointF(38, 26))
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(ACCENT)
    p.drawEllipse(QPointF(44, 20), 10, 10)
    p.setBrush(INK)
    p.drawEllipse(QPointF(12, 52), 4, 4)


def _rect_select(p: QPainter) -> None:
    p.setPen(_pen(4, Qt.PenStyle.DashLine))
    p.drawRect(QRectF(10, 14, 44, 36))


def _ellipse_select(p: QPainter) -> None:
    p.setPen(_pen(4, Qt.PenStyle.DashLine))
    p.drawEllipse(QRectF(8, 14, 48, 36))


def _lasso(p: QPainter) -> None:
    p.setPen(_pen(4, Qt.PenStyle.DashLine))
    loop = QPainterPath(QPointF(20, 44))
    loop.cubicTo(QPointF(2, 30), QPointF(16, 8), QPointF(36, 10))
    loop.cubicTo(QPointF(60, 12), QPointF(60, 40), QPointF(34, 42))
    loop.cubicTo(QPointF(26, 42), QPointF(22, 48), QPointF(26, 56))
    p.drawPath(loop)


def _move(p: QPainter) -> None:
    p.setPen(_pen(4))
    p.drawLine(QPointF(32, 8), QPointF(32, 56))
    p.drawLine(QPointF(8, 32), QPointF(56, 32))
    for tip, a, b in (
        ((32, 8), (25, 16), (39, 16)),
        ((32, 56), (25, 48), (39, 48)),
        ((8, 32), (16, 25), (16, 39)),
        ((56, 32), (48, 25), (48, 39)),
    ):
        p.drawPolyline(QPolygonF([QPointF(*a), QPointF(*tip), QPointF(*b)]))


def _crop(p: QPainter) -> None:
    p.setPen(_pen(5))
    p.drawPolyline(QPolygonF([QPointF(18, 6), QPointF(18, 46), QPointF(58, 46)]))
    p.drawPolyline(QPolygonF([QPointF(6, 18), QPointF(46, 18), QPointF(46, 58)]))


DRAW: dict[str, Callable[[QPainter], None]] = {
    "brush": _brush,
    "eraser": _eraser,
    "fill": _fill,
    "picker": _picker,
    "rect_select": _rect_select,
    "ellipse_select": _ellipse_select,
    "lasso": _lasso,
    "move": _move,
    "crop": _crop,
}


def _sheet(p: QPainter, x: float, y: float, fill: bool = False) -> None:
    p.setBrush(ACCENT if fill else Qt.BrushStyle.NoBrush)
    p.drawRoundedRect(QRectF(x, y, 30, 36), 4, 4)
    p.setBrush(Qt.BrushStyle.NoBrush)


def _new_layer(p: QPainter) -> None:
    p.setPen(_pen(4))
    _sheet(p, 10, 14)
    p.drawLine(QPointF(48, 8), QPointF(48, 28))
    p.drawLine(QPointF(38, 18), QPointF(58, 18))


def _new_mask(p: QPainter) -> None:
    p.setPen(_pen(4))
    p.drawEllipse(QRectF(8, 14, 36, 36))
    p.setBrush(QColor(255, 90, 90))
    p.drawPie(QRectF(8, 14, 36, 36), 90 * 16, 180 * 16)
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawLine(QPointF(50, 8), QPointF(50, 28))
    p.drawLine(QPointF(40, 18), QPointF(60, 18))


def _duplicate(p: QPainter) -> None:
    p.setPen(_pen(4))
    _sheet(p, 8, 8)
    _sheet(p, 24, 20, fill=True)


def _delete(p: QPainter) -> None:
    p.setPen(_pen(5))
    p.drawLine(QPointF(16, 16), QPointF(48, 48))
    p.drawLine(QPointF(48, 16), QPointF(16, 48))


def _arrow(p: QPainter, up: bool) -> None:
    p.setPen(_pen(5))
    tip, tail = (12, 52) if up else (52, 12)
    p.drawLine(QPointF(32, tip), QPointF(32, tail))
    wing = tip + (14 if up else -14)
    p.drawPolyline(QPolygonF([QPointF(18, wing), QPointF(32, tip), QPointF(46, wing)]))


def _merge(p: QPainter) -> None:
    p.setPen(_pen(5))
    p.drawLine(QPointF(32, 8), QPointF(32, 38))
    p.drawPolyline(QPolygonF([QPointF(20, 26), QPointF(32, 38), QPointF(44, 26)]))
    p.drawLine(QPointF(12, 52), QPointF(52, 52))


def _flatten(p: QPainter) -> None:
    p.setPen(_pen(4))
    for y in (12, 24):
        p.drawLine(QPointF(14, y), QPointF(50, y))
    p.setBrush(ACCENT)
    p.drawRoundedRect(QRectF(10, 36, 44, 16), 4, 4)


ACTION_DRAW: dict[str, Callable[[QPainter], None]] = {
    "new": _new_layer,
    "mask": _new_mask,
    "duplicate": _duplicate,
    "delete": _delete,
    "up": lambda p: _arrow(p, True),
    "down": lambda p: _arrow(p, False),
    "merge": _merge,
    "flatten": _flatten,
}


def tool_icon(name: str) -> QIcon:
    """The icon of a tool or layer action by its name (an empty icon for unknown names)."""
    draw = DRAW.get(name) or ACTION_DRAW.get(name)
    if draw is None:
        return QIcon()
    pixmap = QPixmap(SIZE, SIZE)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    draw(painter)
    painter.end()
    return QIcon(pixmap)


def color_swatch(rgb: tuple[int, int, int], size: int = 32) -> QIcon:
    """A rounded square of one colour, for the colour button."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(QColor("#8a8f96"), 2))
    painter.setBrush(QColor(*rgb))
    painter.drawRoundedRect(QRectF(2, 2, size - 4, size - 4), 5, 5)
    painter.end()
    return QIcon(pixmap)
