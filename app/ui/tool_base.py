"""What every canvas tool is: a name, a shortcut, and press / move / release handlers that
get canvas coordinates (float pixels), the keyboard modifiers and the pen pressure.

Tools act on the canvas's `DocumentSession`; they change the document only through
commands pushed on its history (painting tools change pixels live, then push one
PixelEdit per stroke). The settings they share live in one `ToolSettings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, Qt

from app.model.layers import ControlLayer, Layer
from app.model.selection import Combine

if TYPE_CHECKING:
    from app.ui.doc_session import DocumentSession
    from app.ui.document_canvas import DocumentCanvas

Mods = Qt.KeyboardModifier


@dataclass
class ToolSettings:
    """Brush, eraser and fill settings, edited in the tool options bar.

    The brush has two sizes: `size` on picture and mask layers, and the thin `control_size`
    on control layers, whose strokes steer a ControlNet trained on thin lines. The eraser
    has one size of its own on every layer.
    """

    size: float = 24.0
    hardness: float = 0.8
    opacity: float = 1.0
    color: tuple[int, int, int] = (0, 0, 0)  # the foreground: what brush and fill paint
    background: tuple[int, int, int] = (255, 255, 255)  # swapped in with X
    tolerance: int = 32
    sample_all: bool = False  # fill: look at the whole picture, not just the layer
    eraser_size: float = 48.0
    # 4 px on a 512 canvas: the scribble map's thickening (about 0.4 % of the side) makes it
    # about 6 px, 1.2 % of the side, inside the 1-4 px on 128 (1-3 %) the scribble model saw
    control_size: float = 4.0

    def size_name(self, eraser: bool, layer: Layer | None) -> str:
        """Which size applies to the eraser or the brush on `layer` (the active layer)."""
        if eraser:
            return "eraser_size"
        return "control_size" if isinstance(layer, ControlLayer) else "size"

    def size_for(self, eraser: bool, layer: Layer | None) -> float:
        """The size of the eraser, or of the brush on `layer`."""
        return getattr(self, self.size_name(eraser, layer))

    def set_size_for(self, eraser: bool, layer: Layer | None, size: float) -> None:
        setattr(self, self.size_name(eraser, layer), size)

    def swap_colors(self) -> None:
        self.color, self.background = self.background, self.color


class Tool:
    """A canvas tool. Subclasses override what they need."""

    name = "tool"
    title = "Tool"
    shortcut = ""
    hint = ""  # shown in the status bar while the tool is chosen
    cursor = Qt.CursorShape.CrossCursor
    options: tuple[str, ...] = ()  # which tool options the options bar shows

    def __init__(self, canvas: DocumentCanvas) -> None:
        self.canvas = canvas

    @property
    def session(self) -> DocumentSession:
        return self.canvas.session

    @property
    def settings(self) -> ToolSettings:
        return self.canvas.settings

    def press(self, pos: QPointF, mods: Mods, pressure: float = 1.0) -> None:
        """The left button (or the pen) went down at `pos`."""

    def move(self, pos: QPointF, mods: Mods, pressure: float = 1.0) -> None:
        """The pointer moved while pressed."""

    def release(self, pos: QPointF, mods: Mods) -> None:
        """The button (or pen) came up."""

    def hover(self, pos: QPointF) -> None:
        """The pointer moved with nothing pressed."""

    def activate(self) -> None:
        """The tool was chosen."""

    def deactivate(self) -> None:
        """Another tool was chosen: drop anything half done."""


def combine_mode(mods: Mods) -> Combine:
    """Shift adds to the selection, Alt (or Ctrl) subtracts, both intersect."""
    add = bool(mods & Mods.ShiftModifier)
    subtract = bool(mods & (Mods.AltModifier | Mods.ControlModifier))
    if add and subtract:
        return Combine.INTERSECT
    if add:
        return Combine.ADD
    return Combine.SUBTRACT if subtract else Combine.REPLACE
