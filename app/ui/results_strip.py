"""The results strip: a thumbnail for every candidate made this session. Clicking one floats it
over the canvas; double-clicking (or the window's Apply button) adds it as a new layer."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem, QWidget

from app.model.candidates import Candidate
from app.ui.images import pixmap_from_rgba
from app.ui.thumb_icons import framed_icon, room
from engine.protocol import ImageData

THUMB = 88
EMPTY_TEXT = (
    "Images you make appear here: click one to see it on the canvas, "
    "double-click to add it as a layer."
)


class ResultsStrip(QListWidget):
    """Newest first; results are only ever added, so a failed job never loses earlier ones."""

    chosen = Signal(object)  # Candidate
    applied = Signal(object)  # Candidate (double-click)

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
        self.itemDoubleClicked.connect(self._on_double_clicked)
        self.candidates: list[Candidate] = []

    @property
    def images(self) -> list[ImageData]:
        return [c.image for c in self.candidates]

    @property
    def current(self) -> Candidate | None:
        row = self.currentRow()
        return self.candidates[row] if 0 <= row < len(self.candidates) else None

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        super().paintEvent(event)
        if not self.candidates:
            painter = QPainter(self.viewport())
            painter.setPen(QColor("#6f757c"))
            area = self.viewport().rect().adjusted(12, 0, -12, 0)
            flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
            painter.drawText(area, flags, EMPTY_TEXT)
            painter.end()

    def add_images(self, images: Iterable[ImageData]) -> None:
        """Add plain images (placed at the canvas's top-left) as candidates."""
        self.add_candidates(Candidate(i) for i in images if isinstance(i, ImageData))

    def add_candidates(self, candidates: Iterable[Candidate]) -> None:
        """Add a batch at the front, in batch order, and select its first one."""
        batch = list(candidates)
        for position, candidate in enumerate(batch):
            self.candidates.insert(position, candidate)
            self.insertItem(position, self._item(candidate.image))
        if batch:
            self.setCurrentRow(0)

    def _item(self, image: ImageData) -> QListWidgetItem:
        thumb = pixmap_from_rgba(image.pixels).scaled(
            room(THUMB),
            room(THUMB),
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        item = QListWidgetItem(framed_icon(thumb, THUMB), "")
        width, height = image.size
        item.setToolTip(f"{width} x {height}")
        return item

    def _on_clicked(self, item: QListWidgetItem) -> None:
        self.chosen.emit(self.candidates[self.row(item)])

    def _on_double_clicked(self, item: QListWidgetItem) -> None:
        self.applied.emit(self.candidates[self.row(item)])
