"""Dialogs that ask for a size: File > New (size, background), Image > Canvas size (size
and where the old picture sits in the new canvas) and Image > Resize image (the new size in
pixels or percent, keeping the proportions unless told not to)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QWidget,
)

from app.model.document import MAX_CANVAS_SIDE, Document
from app.model.image_geometry import proportional_side
from app.model.layers import RasterLayer
from app.model.tiles import Rect, tile_keys

PRESETS = {
    "512 x 512": (512, 512),
    "768 x 768": (768, 768),
    "1024 x 1024": (1024, 1024),
    "1216 x 832 (landscape)": (1216, 832),
    "832 x 1216 (portrait)": (832, 1216),
    "1920 x 1080 (HD)": (1920, 1080),
    "4096 x 4096": (4096, 4096),
}
BACKGROUNDS = ("White", "Transparent", "Black")


def _side(value: int) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(1, MAX_CANVAS_SIDE)
    spin.setSuffix(" px")
    spin.setValue(value)
    return spin


def _buttons(dialog: QDialog) -> QDialogButtonBox:
    box = QDialogButtonBox(
        QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
    )
    box.accepted.connect(dialog.accept)
    box.rejected.connect(dialog.reject)
    return box


class NewDocumentDialog(QDialog):
    """Size and background of a new document."""

    def __init__(self, size: tuple[int, int] = (1024, 1024), parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("New image")
        self.preset = QComboBox()
        self.preset.addItem("Custom")
        self.preset.addItems(list(PRESETS))
        self.width_spin, self.height_spin = _side(size[0]), _side(size[1])
        self.background = QComboBox()
        self.background.addItems(BACKGROUNDS)
        form = QFormLayout(self)
        form.addRow("Preset", self.preset)
        form.addRow("Width", self.width_spin)
        form.addRow("Height", self.height_spin)
        form.addRow("Background", self.background)
        form.addRow(_buttons(self))
        self.preset.currentTextChanged.connect(self._apply_preset)

    def _apply_preset(self, name: str) -> None:
        if name in PRESETS:
            self.width_spin.setValue(PRESETS[name][0])
            self.height_spin.setValue(PRESETS[name][1])

    def document(self) -> Document:
        return new_document(
            (self.width_spin.value(), self.height_spin.value()), self.background.currentText()
        )


def new_document(size: tuple[int, int], background: str = "White") -> Document:
    """A document with one layer: "Background" filled with the colour, or an empty "Layer 1"."""
    if background == "Transparent":
        return Document(size, [RasterLayer.blank(size, name="Layer 1")])
    layer = RasterLayer.blank(size, name="Background")
    tile = layer.pixels.blank_tile()
    tile[..., :3] = 255 if background == "White" else 0
    tile[..., 3] = 255
    for key in tile_keys(Rect(0, 0, *size)):
        layer.pixels.tiles[key] = tile  # tiles are copy-on-write: one array serves all
    return Document(size, [layer])


class CanvasSizeDialog(QDialog):
    """New canvas size and the anchor: which side(s) of the picture stay put."""

    def __init__(self, size: tuple[int, int], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Canvas size")
        self.old = size
        self.width_spin, self.height_spin = _side(size[0]), _side(size[1])
        self.anchors = QButtonGroup(self)
        grid_box = QWidget()
        grid = QGridLayout(grid_box)
        grid.setSpacing(2)
        for index in range(9):
            button = QPushButton()
            button.setCheckable(True)
            button.setFixedSize(26, 26)
            self.anchors.addButton(button, index)
            grid.addWidget(button, index // 3, index % 3)
        self.anchors.button(4).setChecked(True)
        form = QFormLayout(self)
        form.addRow("Width", self.width_spin)
        form.addRow("Height", self.height_spin)
        form.addRow("Anchor", grid_box)
        form.addRow(_buttons(self))

    def result_size(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """(new size, offset of the old picture in it)."""
        size = (self.width_spin.value(), self.height_spin.value())
        return size, anchor_offset(self.old, size, self.anchors.checkedId())


def anchor_offset(old: tuple[int, int], new: tuple[int, int], anchor: int) -> tuple[int, int]:
    """Where the old picture's top-left lands: anchor 0..8 = top-left .. bottom-right."""
    column, row = anchor % 3, anchor // 3
    return (new[0] - old[0]) * column // 2, (new[1] - old[1]) * row // 2


UNITS = ("pixels", "percent")


class ResizeImageDialog(QDialog):
    """The new image size, in pixels or percent of the current one; "Keep proportions"
    links width and height. Every layer is scaled (Image > Resize image)."""

    def __init__(self, size: tuple[int, int], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Resize image")
        self.old, self.shown_unit = size, "pixels"  # the unit the spin boxes hold now
        self.width_spin, self.height_spin = QDoubleSpinBox(), QDoubleSpinBox()
        self.unit = QComboBox()
        self.unit.addItems(UNITS)
        self.keep = QCheckBox("Keep proportions")
        self.keep.setChecked(True)
        self.result_label = QLabel()
        self.result_label.setObjectName("muted")
        form = QFormLayout(self)
        form.addRow(QLabel(f"Now {size[0]} \N{MULTIPLICATION SIGN} {size[1]} pixels"))
        form.addRow("Width", self.width_spin)
        form.addRow("Height", self.height_spin)
        form.addRow("Unit", self.unit)
        form.addRow("", self.keep)
        form.addRow("New size", self.result_label)
        form.addRow(_buttons(self))
        self._set_unit("pixels", size)
        self.unit.currentTextChanged.connect(lambda unit: self._set_unit(unit, self.result_size()))
        self.width_spin.valueChanged.connect(lambda *_: self._link("width"))
        self.height_spin.valueChanged.connect(lambda *_: self._link("height"))
        self.keep.toggled.connect(lambda on: on and self._link("width"))

    def result_size(self) -> tuple[int, int]:
        """The new size in pixels, each side within 1..MAX_CANVAS_SIDE."""
        return self._pixels(self.width_spin.value(), 0), self._pixels(self.height_spin.value(), 1)

    def _pixels(self, value: float, axis: int) -> int:
        if self.shown_unit == "percent":
            value = self.old[axis] * value / 100
        return min(max(1, round(value)), MAX_CANVAS_SIDE)

    def _shown(self, pixels: int, axis: int) -> float:
        if self.shown_unit == "percent":
            return pixels * 100 / self.old[axis]
        return float(pixels)

    def _set_unit(self, unit: str, size: tuple[int, int]) -> None:
        """Show `size` (pixels) in `unit`, with that unit's ranges; a side's range is what
        keeps it within 1..MAX_CANVAS_SIDE pixels."""
        percent, self.shown_unit = unit == "percent", unit
        for axis, spin in enumerate((self.width_spin, self.height_spin)):
            spin.blockSignals(True)
            spin.setDecimals(2 if percent else 0)
            spin.setSuffix(" %" if percent else " px")
            if percent:
                spin.setRange(100 / self.old[axis], MAX_CANVAS_SIDE * 100 / self.old[axis])
            else:
                spin.setRange(1, MAX_CANVAS_SIDE)
            spin.setValue(self._shown(size[axis], axis))
            spin.setToolTip(f"1 to {MAX_CANVAS_SIDE} pixels")
            spin.blockSignals(False)
        self._show_result()

    def _link(self, given: str) -> None:
        """With "Keep proportions", set the other side to match the one just changed."""
        if self.keep.isChecked():
            source, target = self.width_spin, self.height_spin
            if given == "height":
                source, target = target, source
            if self.shown_unit == "percent":
                value = source.value()  # the same percent both ways
            else:
                value = proportional_side(self.old, round(source.value()), given)
            target.blockSignals(True)
            target.setValue(value)
            target.blockSignals(False)
        self._show_result()

    def _show_result(self) -> None:
        width, height = self.result_size()
        self.result_label.setText(f"{width} \N{MULTIPLICATION SIGN} {height} pixels")
