"""The results strip: a thumbnail for every image made this session; clicking one shows it."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem, QWidget

from app.ui.images import pixmap_from_rgba
from engine.protocol import ImageData

THUMB = 88
EMPTY_TEXT = "Images you make appear here; click one to show it on the canvas."


class ResultsStrip(QListWidget):
    """Newest first; results are only ever added, so a failed job never loses earlier ones."""

    chosen = Signal(object)  # ImageData

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("results")
        self.setViewMode(QListView.ViewMode.ListMode)  # icons only: no empty caption row
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setGridSize(QSize(THUMB + 10, THUMB + 10))
        self.setUniformItemSizes(True)
        self.setFixedHeight(THUMB + 24)
        self.setHorizontalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.itemClicked.connect(self._on_clicked)
        self.images: list[ImageData] = []

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        super().paintEvent(event)
        if not self.images:
            painter = QPainter(self.viewport())
            painter.setPen(QColor("#6f757c"))
            painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter, EMPTY_TEXT)
            painter.end()

    def add_images(self, images: Iterable[ImageData]) -> None:
        """Add a batch at the front, in batch order, and select its first image."""
        batch = [image for image in images if isinstance(image, ImageData)]
        for position, image in enumerate(batch):
            self.images.insert(position, image)
            self.insertItem(position, self._item(image))
        if batch:
            self.setCurrentRow(0)

    def _item(self, image: ImageData) -> QListWidgetItem:
        thumb = pixmap_from_rgba(image.pixels).scaled(
            THUMB,
            THUMB,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        item = QListWidgetItem(QIcon(thumb), "")
        width, height = image.size
        item.setToolTip(f"{width} x {height}")
        return item

    def _on_clicked(self, item: QListWidgetItem) -> None:
        self.chosen.emit(self.images[self.row(item)])
