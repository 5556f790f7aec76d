"""Selection tools: rectangle (M), ellipse (O) and lasso (L), plus crop (C) which drags a
rectangle too. Shift adds to the selection, Alt or Ctrl subtracts, both intersect; a click
without a drag deselects."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QPainterPath, QPolygonF

from app.model import history_names as names
from app.model.commands import ResizeCanvas, SetSelection
from app.model.selection import Combine, Selection
from app.model.tiles import Rect
from app.ui.tool_base import Mods, Tool, combine_mode

CLICK = 2  # a drag shorter than this many canvas pixels is a click


def drag_rect(start: QPointF, end: QPointF) -> Rect:
    """The canvas pixels covered by a drag from `start` to `end`."""
    x0, x1 = sorted((start.x(), end.x()))
    y0, y1 = sorted((start.y(), end.y()))
    return Rect.bounds(round(x0), round(y0), round(x1), round(y1))


class ShapeSelectTool(Tool):
    """Drag a box; subclasses turn it into a shape."""

    label = names.SELECT_AREA  # the History panel's name for a selection it makes

    def __init__(self, canvas) -> None:
        super().__init__(canvas)
        self.start: QPointF | None = None
        self.mode = Combine.REPLACE

    def press(self, pos: QPointF, mods: Mods, pressure: float = 1.0) -> None:
        self.start, self.mode = pos, combine_mode(mods)

    def move(self, pos: QPointF, mods: Mods, pressure: float = 1.0) -> None:
        if self.start is not None:
            self.canvas.show_guide(self.guide_path(QRectF(self.start, pos).normalized()))

    def release(self, pos: QPointF, mods: Mods) -> None:
        start, self.start = self.start, None
        self.canvas.show_guide(None)
        if start is None:
            return
        rect = drag_rect(start, pos)
        if rect.w < CLICK and rect.h < CLICK:
            self.clicked()
            return
        self.commit(self.shape(rect))

    def clicked(self) -> None:
        if self.mode is Combine.REPLACE and self.session.doc.selection is not None:
            self.session.push(SetSelection(None, names.DESELECT_ALL))

    def commit(self, shape: Selection) -> None:
        doc = self.session.doc
        current = doc.selection or Selection.empty(doc.size)
        combined = current.combine(shape, self.mode)
        self.session.push(SetSelection(None if combined.is_empty else combined, self.label))

    def guide_path(self, rect: QRectF) -> QPainterPath:
        path = QPainterPath()
        path.addRect(rect)
        return path

    def shape(self, rect: Rect) -> Selection:
        raise NotImplementedError

    def deactivate(self) -> None:
        self.start = None
        self.canvas.show_guide(None)


class RectSelectTool(ShapeSelectTool):
    name, title, shortcut = "rect_select", "Rectangle select", "M"
    label = names.SELECT_RECTANGLE
    hint = "Rectangle select: drag; Shift adds, Alt subtracts, a click deselects."

    def shape(self, rect: Rect) -> Selection:
        return Selection.rectangle(self.session.doc.size, rect)


class EllipseSelectTool(ShapeSelectTool):
    name, title, shortcut = "ellipse_select", "Ellipse select", "O"
    label = names.SELECT_ELLIPSE
    hint = "Ellipse select: drag; Shift adds, Alt subtracts, a click deselects."

    def guide_path(self, rect: QRectF) -> QPainterPath:
        path = QPainterPath()
        path.addEllipse(rect)
        return path

    def shape(self, rect: Rect) -> Selection:
        return Selection.ellipse(self.session.doc.size, rect)


class LassoTool(ShapeSelectTool):
    name, title, shortcut = "lasso", "Lasso select", "L"
    label = names.SELECT_FREEHAND
    hint = "Lasso: draw around the area; Shift adds, Alt subtracts."

    def __init__(self, canvas) -> None:
        super().__init__(canvas)
        self.points: list[QPointF] = []

    def press(self, pos: QPointF, mods: Mods, pressure: float = 1.0) -> None:
        super().press(pos, mods, pressure)
        self.points = [pos]

    def move(self, pos: QPointF, mods: Mods, pressure: float = 1.0) -> None:
        if self.start is None:
            return
        self.points.append(pos)
        path = QPainterPath()
        path.addPolygon(QPolygonF(self.points))
        self.canvas.show_guide(path)

    def release(self, pos: QPointF, mods: Mods) -> None:
        points, self.points = self.points, []
        if self.start is None:
            return
        self.start = None
        self.canvas.show_guide(None)
        span = QPolygonF(points).boundingRect()
        if len(points) < 3 or (span.width() < CLICK and span.height() < CLICK):
            self.clicked()
            return
        size = self.session.doc.size
        self.commit(Selection.lasso(size, [(p.x(), p.y()) for p in points]))


class CropTool(ShapeSelectTool):
    name, title, shortcut = "crop", "Crop", "C"
    label = names.CROP_IMAGE
    hint = "Crop: drag the area to keep; the canvas is cut to it (Ctrl+Z brings it back)."

    def press(self, pos: QPointF, mods: Mods, pressure: float = 1.0) -> None:
        self.start, self.mode = pos, Combine.REPLACE

    def clicked(self) -> None:
        """A click crops nothing."""

    def commit(self, shape: Selection) -> None:
        raise AssertionError("the crop tool makes no selection")

    def release(self, pos: QPointF, mods: Mods) -> None:
        start, self.start = self.start, None
        self.canvas.show_guide(None)
        if start is None:
            return
        doc = self.session.doc
        rect = drag_rect(start, pos).intersect(doc.rect)
        if rect.w >= CLICK and rect.h >= CLICK and rect != doc.rect:
            self.session.push(crop_command(rect))


def crop_command(rect: Rect) -> ResizeCanvas:
    """Cut the canvas down to `rect` (undoable)."""
    command = ResizeCanvas((rect.w, rect.h), (-rect.x, -rect.y))
    command.label = names.CROP_IMAGE
    return command
