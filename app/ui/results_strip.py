"""The results strip: a thumbnail for every candidate made this session. Clicking a picture
floats it over the canvas; double-clicking (or the window's Apply button) adds it as a new
layer. A video or sound (app/model/clip_candidates.py) shows its first frame or its
waveform with a caption ("16 frames"); applying it adds a clip at the end of the timeline."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPixmap, QPolygonF
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem, QWidget

from app.model.candidates import Candidate
from app.model.clip_candidates import ClipCandidate
from app.model.timeline_render import waveform
from app.ui.images import pixmap_from_rgba
from app.ui.thumb_icons import framed_icon, room
from engine.protocol import ImageData, VideoData

THUMB = 88
CAPTION_H = 16
PERFORATION_H = 7  # a video's film-strip badge
EMPTY_TEXT = (
    "Images you make appear here: click one to see it on the canvas, "
    "double-click to add it as a layer."
)


class ResultsStrip(QListWidget):
    """Newest first; results are only ever added, so a failed job never loses earlier ones."""

    chosen = Signal(object)  # Candidate or ClipCandidate
    applied = Signal(object)  # Candidate or ClipCandidate (double-click)

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
        self.candidates: list[Candidate | ClipCandidate] = []

    @property
    def images(self) -> list[ImageData]:
        return [c.image for c in self.candidates if isinstance(c, Candidate)]

    @property
    def current(self) -> Candidate | ClipCandidate | None:
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

    def add_candidates(self, candidates: Iterable[Candidate | ClipCandidate]) -> None:
        """Add a batch at the front, in batch order, and select its first one."""
        batch = list(candidates)
        for position, candidate in enumerate(batch):
            self.candidates.insert(position, candidate)
            item = self._clip_item(candidate) if isinstance(candidate, ClipCandidate) else None
            self.insertItem(position, item or self._item(candidate.image))
        if batch:
            self.setCurrentRow(0)

    def _item(self, image: ImageData) -> QListWidgetItem:
        item = QListWidgetItem(framed_icon(_fitted(image.pixels), THUMB), "")
        width, height = image.size
        item.setToolTip(f"{width} x {height}")
        return item

    def _clip_item(self, candidate: ClipCandidate) -> QListWidgetItem:
        """A video's first frame, or a sound's waveform, captioned with its length."""
        first = candidate.thumbnail()
        thumb = _fitted(first) if first is not None else _wave_thumb(candidate.output.samples)
        thumb = _captioned(thumb, candidate.caption, film=first is not None)
        item = QListWidgetItem(framed_icon(thumb, THUMB), "")
        output = candidate.output
        if isinstance(output, VideoData):
            height, width = output.frames.shape[1:3]
            what = f"Video, {width} x {height}, {candidate.caption} at {output.fps:g} fps"
        else:
            what = f"Sound, {candidate.caption}"
        item.setToolTip(f"{what}: double-click (or Add to timeline) to add it as a clip")
        return item

    def _on_clicked(self, item: QListWidgetItem) -> None:
        self.chosen.emit(self.candidates[self.row(item)])

    def _on_double_clicked(self, item: QListWidgetItem) -> None:
        self.applied.emit(self.candidates[self.row(item)])


def _fitted(pixels: np.ndarray) -> QPixmap:
    return pixmap_from_rgba(pixels).scaled(
        room(THUMB),
        room(THUMB),
        Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.SmoothTransformation,
    )


def _wave_thumb(samples: np.ndarray) -> QPixmap:
    """A sound's waveform in a thumbnail's room."""
    side = room(THUMB)
    pixmap = QPixmap(side, side * 2 // 3)
    pixmap.fill(QColor("#1f3a2e"))
    peaks = waveform(samples, side)
    middle, half = pixmap.height() / 2, pixmap.height() / 2 - 4
    upper = [QPointF(x + 0.5, middle - float(p) * half) for x, p in enumerate(peaks[1])]
    lower = [QPointF(x + 0.5, middle - float(p) * half) for x, p in enumerate(peaks[0])]
    painter = QPainter(pixmap)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("#7fd1a8"))
    painter.drawPolygon(QPolygonF([*upper, *reversed(lower)]))
    painter.end()
    return pixmap


def _captioned(thumb: QPixmap, caption: str, film: bool) -> QPixmap:
    """`thumb` with `caption` on a dark band along its bottom and, for a video, a film
    strip's perforations along its top."""
    out = QPixmap(thumb)
    painter = QPainter(out)
    band = QRectF(0, out.height() - CAPTION_H, out.width(), CAPTION_H)
    painter.fillRect(band, QColor(0, 0, 0, 170))
    if film:
        painter.fillRect(QRectF(0, 0, out.width(), PERFORATION_H), QColor(0, 0, 0, 200))
        painter.setBrush(QColor("#f5f7fa"))
        painter.setPen(Qt.PenStyle.NoPen)
        for x in range(3, out.width() - 4, 8):
            painter.drawRoundedRect(QRectF(x, 2, 4, PERFORATION_H - 4), 1, 1)
    painter.setPen(QColor("#f5f7fa"))
    painter.drawText(band.adjusted(4, 0, -2, 0), Qt.AlignmentFlag.AlignVCenter, caption)
    painter.end()
    return out
