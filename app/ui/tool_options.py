"""The tool options bar: size, hardness, opacity, colour, fill tolerance, for the current tool.

Only the options the current tool uses are shown. The colour button opens QColorDialog; the
colour picker tool (I) and Alt+click with the brush set the colour too.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QLabel,
    QSlider,
    QSpinBox,
    QToolBar,
    QToolButton,
    QWidget,
)

from app.ui.document_canvas import DocumentCanvas
from app.ui.tool_base import Tool
from app.ui.tool_icons import color_swatch


def _spin(minimum: int, maximum: int, suffix: str, tip: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(minimum, maximum)
    spin.setSuffix(suffix)
    spin.setToolTip(tip)
    spin.setKeyboardTracking(False)
    return spin


def _slider(minimum: int, maximum: int, tip: str) -> QSlider:
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(minimum, maximum)
    slider.setFixedWidth(110)
    slider.setToolTip(tip)
    return slider


class ToolOptions(QToolBar):
    """Edits the canvas's ToolSettings; shows only what the current tool uses."""

    def __init__(self, canvas: DocumentCanvas, parent: QWidget | None = None) -> None:
        super().__init__("Tool options", parent)
        self.setObjectName("toolbar:options")
        self.setMovable(False)
        self.canvas = canvas
        self.tool_label = QLabel()
        self.tool_label.setObjectName("muted")
        self.hint = QLabel()
        self.hint.setObjectName("muted")
        self.size = _spin(1, 1000, " px", "Brush size ([ and ] change it)")
        self.size_slider = _slider(1, 300, "Brush size")
        self.hardness = _spin(0, 100, " %", "Hardness: 0 is soft, 100 a crisp edge")
        self.opacity = _spin(1, 100, " %", "Opacity of one stroke")
        self.color_button = QToolButton()
        self.color_button.setToolTip("Colour (click to choose; I picks from the canvas)")
        self.tolerance = _spin(0, 255, "", "Fill: how different a colour may be and still fill")
        self.sample_all = QCheckBox("All layers")
        self.sample_all.setToolTip("Fill: find the area in the whole picture, not this layer")
        self.groups: dict[str, list] = {}
        self._build()
        self._connect()
        self.refresh()

    def _build(self) -> None:
        self.addWidget(self.tool_label)
        self.addSeparator()
        parts = {
            "size": [QLabel(" Size "), self.size_slider, self.size],
            "hardness": [QLabel("  Hardness "), self.hardness],
            "opacity": [QLabel("  Opacity "), self.opacity],
            "color": [QLabel("  Colour "), self.color_button],
            "tolerance": [QLabel("  Tolerance "), self.tolerance],
            "sample_all": [self.sample_all],
        }
        for name, widgets in parts.items():
            self.groups[name] = [self.addWidget(w) for w in widgets]
        self.hint_action = self.addWidget(self.hint)
        self.setMinimumHeight(self.sizeHint().height())  # no jump when options hide

    def _connect(self) -> None:
        self.size.valueChanged.connect(self._set_size)
        self.size_slider.valueChanged.connect(self._set_size)
        self.hardness.valueChanged.connect(lambda v: self._set("hardness", v / 100))
        self.opacity.valueChanged.connect(lambda v: self._set("opacity", v / 100))
        self.tolerance.valueChanged.connect(lambda v: self._set("tolerance", int(v)))
        self.sample_all.toggled.connect(lambda on: self._set("sample_all", bool(on)))
        self.color_button.clicked.connect(self.choose_color)
        self.canvas.color_picked.connect(lambda *_: self.refresh())
        self.canvas.settings_changed.connect(self.refresh)

    def _eraser(self) -> bool:
        return bool(getattr(self.canvas.tool, "eraser", False))

    def _set_size(self, value: int) -> None:
        self._set("eraser_size" if self._eraser() else "size", float(value))
        self.refresh()

    def _set(self, name: str, value) -> None:
        setattr(self.canvas.settings, name, value)

    def choose_color(self) -> None:
        chosen = QColorDialog.getColor(QColor(*self.canvas.settings.color), self, "Brush colour")
        if chosen.isValid():
            self.canvas.settings.color = (chosen.red(), chosen.green(), chosen.blue())
            self.refresh()

    def show_tool(self, tool: Tool) -> None:
        self.tool_label.setText(f"  {tool.title}")
        for name, actions in self.groups.items():
            for action in actions:
                action.setVisible(name in tool.options)
        self.hint.setText(f"  {tool.hint}" if not tool.options else "")
        self.hint_action.setVisible(not tool.options)
        self.refresh()

    def refresh(self) -> None:
        """Show the current settings (after a pick, [ / ], or a tool change)."""
        s = self.canvas.settings
        size = round(s.size_for(self._eraser()))
        for widget, value in (
            (self.size, size),
            (self.size_slider, size),
            (self.hardness, round(s.hardness * 100)),
            (self.opacity, round(s.opacity * 100)),
            (self.tolerance, s.tolerance),
        ):
            with QSignalBlocker(widget):
                widget.setValue(value)
        with QSignalBlocker(self.sample_all):
            self.sample_all.setChecked(s.sample_all)
        self.color_button.setIcon(color_swatch(s.color))
