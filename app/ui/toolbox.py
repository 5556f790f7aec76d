"""The tools toolbar: one checkable button per canvas tool, each with its one-key shortcut
(B brush, E eraser, G fill, I picker, M rectangle, O ellipse, L lasso, V move, C crop)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QToolBar, QWidget

from app.ui.document_canvas import DocumentCanvas
from app.ui.move_tool import MoveTool
from app.ui.paint_tools import BrushTool, EraserTool, FillTool, PickerTool
from app.ui.select_tools import CropTool, EllipseSelectTool, LassoTool, RectSelectTool
from app.ui.tool_base import Tool
from app.ui.tool_icons import tool_icon

TOOL_TYPES: tuple[type[Tool], ...] = (
    BrushTool,
    EraserTool,
    FillTool,
    PickerTool,
    RectSelectTool,
    EllipseSelectTool,
    LassoTool,
    MoveTool,
    CropTool,
)
SEPARATE_AFTER = {"picker", "lasso"}


class Toolbox(QToolBar):
    """Chooses the canvas's tool; `tool_changed` tells the options bar and the status."""

    tool_changed = Signal(object)  # Tool

    def __init__(self, canvas: DocumentCanvas, parent: QWidget | None = None) -> None:
        super().__init__("Tools", parent)
        self.setObjectName("toolbar:tools")
        self.setOrientation(Qt.Orientation.Vertical)
        self.setIconSize(QSize(22, 22))
        self.setMovable(False)
        self.canvas = canvas
        self.tools = {kind.name: kind(canvas) for kind in TOOL_TYPES}
        self.group = QActionGroup(self)
        self.actions_by_tool: dict[str, QAction] = {}
        for name, tool in self.tools.items():
            self.actions_by_tool[name] = self._add(tool)
            if name in SEPARATE_AFTER:
                self.addSeparator()
        self.choose("brush")

    def _add(self, tool: Tool) -> QAction:
        action = QAction(tool_icon(tool.name), tool.title, self)
        action.setCheckable(True)
        action.setShortcut(QKeySequence(tool.shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setToolTip(f"{tool.title} ({tool.shortcut})")
        action.setObjectName(f"tool_{tool.name}")
        action.triggered.connect(lambda *_, name=tool.name: self.choose(name))
        self.group.addAction(action)
        self.addAction(action)
        return action

    @property
    def current(self) -> Tool | None:
        return self.canvas.tool

    def choose(self, name: str) -> Tool:
        """Make the named tool the canvas's tool."""
        tool = self.tools[name]
        self.actions_by_tool[name].setChecked(True)
        if self.canvas.tool is not tool:
            self.canvas.set_tool(tool)
            self.tool_changed.emit(tool)
        return tool
