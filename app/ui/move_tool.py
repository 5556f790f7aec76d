"""The move tool (V): drag the active layer (one OffsetLayer on release), or, with a
selection, lift the selected pixels and drop them elsewhere (one TransformPixels).

While dragging, the moving pixels float over the canvas as an image (the layer hidden, or
the selected pixels cut out of it for the drag), so a pointer move recomposites nothing.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt

from app.model import history_names as names
from app.model.commands import OffsetLayer
from app.model.layers import RasterLayer
from app.model.tiles import Rect, TileDelta
from app.model.transform import TransformPixels, lift, source_rect, to_uint8, translation
from app.ui.images import qimage_from_rgba
from app.ui.tool_base import Mods, Tool

NOTHING = "The active layer is empty: there is nothing to move."
NOTHING_SELECTED = "The active layer is empty inside the selection: there is nothing to move."
NOT_RASTER = "Choose a pixel layer to move in the Layers panel (groups hold no pixels)."


class MoveTool(Tool):
    name, title, shortcut = "move", "Move", "V"
    hint = "Move: drag the active layer, or the selected pixels when there is a selection."
    cursor = Qt.CursorShape.SizeAllCursor

    def __init__(self, canvas) -> None:
        super().__init__(canvas)
        self.start: QPointF | None = None
        self.box: Rect | None = None
        self.layer_id: str | None = None
        self.cut: TileDelta | None = None  # the selected pixels cut out while dragging

    def press(self, pos: QPointF, mods: Mods, pressure: float = 1.0) -> None:
        layer = self.session.paint_target()
        if not isinstance(layer, RasterLayer) or not layer.visible:
            self.canvas.report(NOT_RASTER)
            return
        selection = self.session.selection
        box = source_rect(layer, selection)
        if box is None:
            self.canvas.report(NOTHING if selection is None else NOTHING_SELECTED)
            return
        if selection is None:
            image = layer.pixels.read(box)
            layer.visible = False  # shown floating instead; restored on release
        else:
            lifted, kept = lift(layer, selection, box)
            image = to_uint8(lifted)
            self.cut = layer.pixels.write(box.x, box.y, to_uint8(kept))
        self.start, self.box, self.layer_id = pos, box, layer.id
        self.canvas.floating.setOpacity(layer.opacity)
        self.canvas.floating.show_image(qimage_from_rgba(image), QRectF(box.x, box.y, box.w, box.h))
        self.session.pixels_changed.emit(box)

    def move(self, pos: QPointF, mods: Mods, pressure: float = 1.0) -> None:
        if self.start is None or self.box is None:
            return
        dx, dy = self._offset(pos)
        self.canvas.floating.setPos(self.box.x + dx, self.box.y + dy)
        if self.cut is not None:
            self.canvas.outline.setPos(dx, dy)  # the selection travels with its pixels

    def release(self, pos: QPointF, mods: Mods) -> None:
        if self.start is None or self.box is None or self.layer_id is None:
            return
        dx, dy = self._offset(pos)
        lifted = self.cut is not None
        self._restore()
        if dx or dy:
            command = (
                TransformPixels(self.layer_id, translation(dx, dy), label=names.MOVE_SELECTION)
                if lifted
                else OffsetLayer(self.layer_id, dx, dy)
            )
            self.session.push(command)
        self.start = self.box = self.layer_id = None

    def _offset(self, pos: QPointF) -> tuple[int, int]:
        assert self.start is not None
        return round(pos.x() - self.start.x()), round(pos.y() - self.start.y())

    def _restore(self) -> None:
        """Put the layer back as it was before the drag (the command then does the move)."""
        if self.cut is not None:
            self.cut.swap()
            self.cut = None
        else:
            layer = self.session.doc.get(self.layer_id) if self.layer_id else None
            if layer is not None:
                layer.visible = True
        self.canvas.outline.setPos(0, 0)
        self.canvas.floating.clear()
        self.session.pixels_changed.emit(self.box)

    def deactivate(self) -> None:
        if self.start is not None:
            self._restore()
        self.start = self.box = self.layer_id = None
