"""The seed editor: a number up to 2**32 - 1 and a dice toggle meaning "random" (-1)."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QRegularExpression, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap, QRegularExpressionValidator
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QToolButton, QWidget

PIPS = ((0.28, 0.28), (0.72, 0.28), (0.5, 0.5), (0.28, 0.72), (0.72, 0.72))


def dice_icon(size: int = 32, color: str = "#e6e6e6") -> QIcon:
    """A die showing five, drawn (emoji fonts are not everywhere)."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(QColor(color), size / 14))
    painter.drawRoundedRect(QRectF(2, 2, size - 4, size - 4), size / 6, size / 6)
    painter.setBrush(QColor(color))
    painter.setPen(Qt.PenStyle.NoPen)
    for x, y in PIPS:
        painter.drawEllipse(QRectF(x * size - size / 14, y * size - size / 14, size / 7, size / 7))
    painter.end()
    return QIcon(pixmap)


class SeedField(QWidget):
    """value() is -1 while "random" is on, else the typed seed (empty counts as 0)."""

    changed = Signal()

    def __init__(self, maximum: int = 2**32 - 1, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.maximum = maximum
        self.edit = QLineEdit()
        self.edit.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{0,10}")))
        self.edit.setPlaceholderText("random")
        self.dice = QToolButton()
        self.dice.setText("Random")
        self.dice.setIcon(dice_icon())
        self.dice.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.dice.setCheckable(True)
        self.dice.setToolTip("A new random seed for every generation")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.dice)
        self.dice.toggled.connect(self._on_random_toggled)
        self.edit.textChanged.connect(self.changed)

    @property
    def random(self) -> bool:
        return self.dice.isChecked()

    def value(self) -> int:
        if self.random:
            return -1
        return min(int(self.edit.text() or 0), self.maximum)

    def setValue(self, seed: int) -> None:  # noqa: N802 (Qt naming, like QSpinBox)
        """-1 turns "random" on; any other seed is shown and "random" turned off."""
        if seed < 0:
            self.dice.setChecked(True)
            return
        self.edit.setText(str(min(seed, self.maximum)))
        self.dice.setChecked(False)

    def _on_random_toggled(self, on: bool) -> None:
        self.edit.setEnabled(not on)
        if on:
            self.edit.clear()
        self.changed.emit()
