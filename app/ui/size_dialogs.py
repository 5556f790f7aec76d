"""Dialogs that ask for a size: File > New (size, background) and Image > Canvas size (size
and where the old picture sits in the new canvas)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QPushButton,
    QSpinBox,
    QWidget,
)

from app.model.document import MAX_CANVAS_SIDE, Document
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
