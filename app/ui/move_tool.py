"""The move tool (V): drag the active layer; it is recorded as one OffsetLayer on release.

While dragging, the layer's pixels float over the canvas as an image and the layer itself
is hidden, so the drag costs no recompositing of the (possibly huge) layer per pointer move.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt

from app.model.commands import OffsetLayer
from app.model.layers import RasterLayer
from app.model.tiles import Rect
from app.ui.images import qimage_from_rgba
from app.ui.tool_base import Mods, Tool

NOTHING = "The active layer is empty: there is nothing to move."
NOT_RASTER = "Choose a pixel layer to move in the Layers panel."


class MoveTool(Tool):
    name, title, shortcut = "move", "Move", "V"
    hint = "Move: drag the active layer."
    cursor = Qt.CursorShape.SizeAllCursor

    def __init__(self, canvas) -> None:
        super().__init__(canvas)
        self.start: QPointF | None = None
        self.box: Rect | None = None
        self.layer_id: str | None = None

    def press(self, pos: QPointF, mods: Mods, pressure: float = 1.0) -> None:
        layer = self.session.paint_target()
        if not isinstance(layer, RasterLayer) or not layer.visible:
            self.canvas.report(NOT_RASTER)
            return
        box = layer.pixels.bbox()
        if box is None:
            self.canvas.report(NOTHING)
            return
        image = qimage_from_rgba(layer.pixels.read(box))
        self.start, self.box, self.layer_id = pos, box, layer.id
        self.canvas.floating.setOpacity(layer.opacity)
        self.canvas.floating.show_image(image, QRectF(box.x, box.y, box.w, box.h))
        layer.visible = False  # shown floating instead; restored on release
        self.session.pixels_changed.emit(box)

    def move(self, pos: QPointF, mods: Mods, pressure: float = 1.0) -> None:
        if self.start is None or self.box is None:
            return
        dx, dy = self._offset(pos)
        self.canvas.floating.setPos(self.box.x + dx, self.box.y + dy)

    def release(self, pos: QPointF, mods: Mods) -> None:
        if self.start is None or self.box is None or self.layer_id is None:
            return
        dx, dy = self._offset(pos)
        self._restore()
        if dx or dy:
            self.session.push(OffsetLayer(self.layer_id, dx, dy))
        self.start = self.box = self.layer_id = None

    def _offset(self, pos: QPointF) -> tuple[int, int]:
        assert self.start is not None
        return round(pos.x() - self.start.x()), round(pos.y() - self.start.y())

    def _restore(self) -> None:
        layer = self.session.doc.get(self.layer_id) if self.layer_id else None
        if layer is not None:
            layer.visible = True
        self.canvas.floating.clear()
        self.session.pixels_changed.emit(self.box)

    def deactivate(self) -> None:
        if self.start is not None:
            self._restore()
        self.start = self.box = self.layer_id = None
