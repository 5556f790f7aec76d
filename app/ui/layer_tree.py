"""The Layers panel's tree: each row an eye (visibility) then the layer's thumbnail and name.

The eye is a drawn icon in a column of its own, left of the (indented) layer column, as in
Krita and Photoshop: clicking it shows or hides that layer without making it the active one,
and Space does the same for the current row. The tree only reports the wish
(`visibility_clicked`); the panel turns it into an undoable command.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QStyledItemDelegate,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

ID_ROLE = Qt.ItemDataRole.UserRole
LAYER_COLUMN, EYE_COLUMN = 0, 1
EYE_SIZE = 20
EYE_COLUMN_WIDTH = 30
EYE_INK = QColor("#e6e6e6")
CLOSED_EYE_INK = QColor("#7d838a")


def eye_icon(open_: bool) -> QIcon:
    """An open eye (visible) or a closed one (hidden), the same whether its row is selected
    or not (Qt would tint a selected row's icon)."""
    pixmap = QPixmap(64, 64)
    pixmap.fill(QColor(0, 0, 0, 0))
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    (_draw_open_eye if open_ else _draw_closed_eye)(painter)
    painter.end()
    icon = QIcon()
    for mode in (QIcon.Mode.Normal, QIcon.Mode.Selected, QIcon.Mode.Active):
        icon.addPixmap(pixmap, mode)
    return icon


def _eye_pen(colour: QColor) -> QPen:
    pen = QPen(colour, 5)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return pen


def _draw_open_eye(painter: QPainter) -> None:
    outline = QPainterPath(QPointF(6, 32))
    outline.quadTo(QPointF(32, 4), QPointF(58, 32))
    outline.quadTo(QPointF(32, 60), QPointF(6, 32))
    painter.setPen(_eye_pen(EYE_INK))
    painter.drawPath(outline)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(EYE_INK)
    painter.drawEllipse(QPointF(32, 32), 9, 9)


def _draw_closed_eye(painter: QPainter) -> None:
    lid = QPainterPath(QPointF(6, 28))
    lid.quadTo(QPointF(32, 52), QPointF(58, 28))
    painter.setPen(_eye_pen(CLOSED_EYE_INK))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawPath(lid)
    for x0, x1 in ((18, 13), (32, 32), (46, 51)):  # lashes
        painter.drawLine(QPointF(x0, 40), QPointF(x1, 50))


class _EyeDelegate(QStyledItemDelegate):
    """Draws the eye small and centred whatever the thumbnails' size, and opens no editor
    (F2 or a double-click on an eye renames nothing)."""

    def initStyleOption(self, option, index) -> None:  # noqa: N802 (Qt's name)
        super().initStyleOption(option, index)
        option.decorationSize = QSize(EYE_SIZE, EYE_SIZE)
        option.decorationAlignment = Qt.AlignmentFlag.AlignCenter

    def createEditor(self, parent, option, index):  # noqa: N802 (Qt's name)
        return None


class LayerTree(QTreeWidget):
    """A tree of layer rows with an eye column; emits the layer id whose eye was used."""

    visibility_clicked = Signal(str)  # layer id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(2)
        self.setHeaderHidden(True)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(LAYER_COLUMN, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(EYE_COLUMN, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(EYE_COLUMN, EYE_COLUMN_WIDTH)
        header.moveSection(header.visualIndex(EYE_COLUMN), 0)  # the eye first, as in Krita
        self.setTreePosition(LAYER_COLUMN)  # the indentation goes in the layer column
        self.setItemDelegateForColumn(EYE_COLUMN, _EyeDelegate(self))
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self._eyes = {True: eye_icon(True), False: eye_icon(False)}

    def show_visibility(self, item: QTreeWidgetItem, visible: bool) -> None:
        """Draw the row's eye open or closed, with words for tooltips and screen readers."""
        item.setIcon(EYE_COLUMN, self._eyes[visible])
        item.setData(EYE_COLUMN, Qt.ItemDataRole.AccessibleTextRole, _state_words(visible))
        item.setToolTip(EYE_COLUMN, "Hide layer (Space)" if visible else "Show layer (Space)")

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        """A left click on an eye toggles that layer and changes nothing else."""
        if self._eye_at(event):
            return
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        """A quick second click on an eye is a second toggle, not a rename."""
        if self._eye_at(event):
            return
        super().mouseDoubleClickEvent(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        """Space shows or hides the current layer; F2 renames it (whichever cell is current)."""
        item, key = self.currentItem(), event.key()
        if item is not None and not event.modifiers() and key in (Qt.Key.Key_Space, Qt.Key.Key_F2):
            if key == Qt.Key.Key_Space:
                self.visibility_clicked.emit(item.data(LAYER_COLUMN, ID_ROLE))
            else:
                self.editItem(item, LAYER_COLUMN)
            event.accept()
            return
        super().keyPressEvent(event)

    def _eye_at(self, event) -> bool:
        index = self.indexAt(event.position().toPoint())
        if event.button() != Qt.MouseButton.LeftButton or index.column() != EYE_COLUMN:
            return False
        item = self.itemFromIndex(index)
        self.visibility_clicked.emit(item.data(LAYER_COLUMN, ID_ROLE))
        event.accept()
        return True

    def eye_rect(self, item: QTreeWidgetItem) -> QRectF:
        """Where the row's eye is drawn, in viewport coordinates."""
        return QRectF(self.visualRect(self.indexFromItem(item, EYE_COLUMN)))


def _state_words(visible: bool) -> str:
    return "Visible" if visible else "Hidden"
