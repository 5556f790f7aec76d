"""The tool options bar: size, hardness, opacity, colours, fill tolerance, for the current tool.

The size shown and edited is the one that applies to the active layer: the eraser's, or the
brush's on a picture layer or on a control layer (ToolSettings.size_name).

Only the options the current tool uses are shown. The colours are a foreground (what the
brush and fill paint) and a background, black and white at first, shown as two swatches that
open QColorDialog; X swaps them, and the colour picker tool (I) and Alt+click with the brush
set the foreground. The last colours are remembered across restarts (app.ui.brush_colors).
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QSignalBlocker, Qt, QTimer
from PySide6.QtGui import QAction, QColor, QKeySequence
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

from app.ui.brush_colors import remember_colors, restore_colors
from app.ui.document_canvas import DocumentCanvas
from app.ui.tool_base import Tool
from app.ui.tool_icons import color_swatch

REMEMBER_MS = 500  # a picker dragged over the canvas writes the settings once, at the end


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
        self.color_button.setToolTip(
            "Foreground colour: what the brush and fill paint (click to choose; I picks it "
            "from the canvas)"
        )
        self.background_button = QToolButton()
        self.background_button.setToolTip("Background colour (click to choose; X swaps it in)")
        self.swap_action = QAction("Swap foreground and background colours", self)
        self.swap_action.setIconText("\N{LEFT RIGHT ARROW}")
        self.swap_action.setShortcut(QKeySequence("X"))
        self.swap_action.setToolTip("Swap the foreground and background colours (X)")
        self.swap_button = QToolButton()
        self.swap_button.setDefaultAction(self.swap_action)
        self._remember = QTimer(self, singleShot=True, interval=REMEMBER_MS)
        self.tolerance = _spin(0, 255, "", "Fill: how different a colour may be and still fill")
        self.sample_all = QCheckBox("All layers")
        self.sample_all.setToolTip("Fill: find the area in the whole picture, not this layer")
        self.groups: dict[str, list] = {}
        restore_colors(canvas.settings)
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
            "color": [
                QLabel("  Colours "),
                self.color_button,
                self.swap_button,
                self.background_button,
            ],
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
        self.color_button.clicked.connect(lambda: self.choose_color("color"))
        self.background_button.clicked.connect(lambda: self.choose_color("background"))
        self.swap_action.triggered.connect(self.swap_colors)
        self.canvas.color_picked.connect(lambda *_: self._colors_changed())
        self._remember.timeout.connect(self.remember_colors)
        QCoreApplication.instance().aboutToQuit.connect(self._remember_pending)
        self.canvas.settings_changed.connect(self.refresh)
        self.canvas.session.active_changed.connect(self.refresh)  # control layers: thin brush

    def _eraser(self) -> bool:
        return bool(getattr(self.canvas.tool, "eraser", False))

    def _set_size(self, value: int) -> None:
        """Set the size that applies: the eraser's, or the brush's on this kind of layer."""
        self.canvas.settings.set_size_for(self._eraser(), self.canvas.session.active, float(value))
        self.refresh()

    def _set(self, name: str, value) -> None:
        setattr(self.canvas.settings, name, value)

    def choose_color(self, which: str = "color") -> None:
        """Ask for the foreground ("color") or the "background" colour."""
        title = "Background colour" if which == "background" else "Foreground colour"
        current = QColor(*getattr(self.canvas.settings, which))
        chosen = QColorDialog.getColor(current, self, title)
        if chosen.isValid():
            setattr(self.canvas.settings, which, (chosen.red(), chosen.green(), chosen.blue()))
            self._colors_changed()

    def swap_colors(self) -> None:
        self.canvas.settings.swap_colors()
        self._colors_changed()

    def remember_colors(self) -> None:
        """Write the colours to settings.json now (normally done shortly after a change)."""
        self._remember.stop()
        remember_colors(self.canvas.settings)

    def _remember_pending(self) -> None:
        if self._remember.isActive():
            self.remember_colors()

    def _colors_changed(self) -> None:
        self.refresh()
        self._remember.start()

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
        size = round(s.size_for(self._eraser(), self.canvas.session.active))
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
        self.background_button.setIcon(color_swatch(s.background))
