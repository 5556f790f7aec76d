"""Painting tools: brush (B), eraser (E), fill (G) and colour picker (I).

Brush and eraser paint dabs as the pointer moves (pen pressure scales the dab size; a
mouse presses at 1.0); the whole stroke becomes one undo step. Alt+click with the brush
picks a colour. They paint RGBA layers and mask layers alike (a mask's brush reveals). On a
control layer the brush has its own, thin size (ToolSettings.control_size).
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt

from app.model.brush import Brush, Stroke, flood_fill, pick_color
from app.ui.tool_base import Mods, Tool

NO_TARGET = "Choose a layer to paint on in the Layers panel (groups hold no pixels)."
HIDDEN = "The layer is hidden; show it in the Layers panel to paint on it."


class BrushTool(Tool):
    name, title, shortcut = "brush", "Brush", "B"
    hint = "Brush: drag to paint, Alt+click picks a colour, [ and ] change the size."
    options = ("size", "hardness", "opacity", "color")
    eraser = False

    def __init__(self, canvas) -> None:
        super().__init__(canvas)
        self.stroke: Stroke | None = None

    def brush(self) -> Brush:
        s = self.settings
        return Brush(
            size=s.size_for(self.eraser, self.session.active),
            hardness=s.hardness,
            opacity=s.opacity,
            color=s.color,
            eraser=self.eraser,
        )

    def press(self, pos: QPointF, mods: Mods, pressure: float = 1.0) -> None:
        if mods & Mods.AltModifier and not self.eraser:
            self.canvas.pick_color_at(pos)
            return
        layer = self.session.paint_target()
        if layer is None or not layer.visible:
            self.canvas.report(NO_TARGET if layer is None else HIDDEN)
            return
        self.stroke = Stroke(layer, self.brush(), self.session.selection)
        self.session.pixels_touched(self.stroke.add_point(pos.x(), pos.y(), pressure))

    def move(self, pos: QPointF, mods: Mods, pressure: float = 1.0) -> None:
        if self.stroke is not None:
            self.session.pixels_touched(self.stroke.add_point(pos.x(), pos.y(), pressure))
        self.hover(pos)

    def release(self, pos: QPointF, mods: Mods) -> None:
        stroke, self.stroke = self.stroke, None
        if stroke is not None and (command := stroke.finish()) is not None:
            self.session.push(command)

    def hover(self, pos: QPointF) -> None:
        size = self.settings.size_for(self.eraser, self.session.active)
        self.canvas.show_brush_outline(pos, size)

    def deactivate(self) -> None:
        self.release(QPointF(), Mods.NoModifier)
        self.canvas.show_brush_outline(None, 0)


class EraserTool(BrushTool):
    name, title, shortcut = "eraser", "Eraser", "E"
    hint = "Eraser: drag to erase to transparency ([ and ] change the size)."
    options = ("size", "hardness", "opacity")
    eraser = True


class FillTool(Tool):
    name, title, shortcut = "fill", "Fill", "G"
    hint = "Fill: click an area to fill it with the colour (inside the selection, if any)."
    options = ("color", "opacity", "tolerance", "sample_all")
    cursor = Qt.CursorShape.PointingHandCursor

    def press(self, pos: QPointF, mods: Mods, pressure: float = 1.0) -> None:
        layer = self.session.paint_target()
        if layer is None or not layer.visible:
            self.canvas.report(NO_TARGET if layer is None else HIDDEN)
            return
        s, doc = self.settings, self.session.doc
        sample = doc.composite() if s.sample_all else None
        command, _rect = flood_fill(
            layer,
            int(pos.x()),
            int(pos.y()),
            s.color,
            s.tolerance,
            s.opacity,
            self.session.selection,
            sample,
        )
        if command is not None:
            self.session.push(command)


class PickerTool(Tool):
    name, title, shortcut = "picker", "Colour picker", "I"
    hint = "Colour picker: click to take the visible colour under the pointer."
    options = ("color",)

    def press(self, pos: QPointF, mods: Mods, pressure: float = 1.0) -> None:
        self.canvas.pick_color_at(pos)

    def move(self, pos: QPointF, mods: Mods, pressure: float = 1.0) -> None:
        self.canvas.pick_color_at(pos)


def picked_rgb(doc, pos: QPointF) -> tuple[int, int, int] | None:
    """The visible colour at a canvas position; None outside the canvas or where clear."""
    x, y = int(pos.x()), int(pos.y())
    if not (0 <= x < doc.width and 0 <= y < doc.height):
        return None
    r, g, b, a = pick_color(doc, x, y)
    return (r, g, b) if a else None
