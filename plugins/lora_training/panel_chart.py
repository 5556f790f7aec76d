"""The training panel's loss curve: every step's loss as a faint point, and a smoothed line
over them, so the trend shows through the noise of single steps.

A UI module (imports PySide6).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QWidget

SMOOTHING = 0.9  # weight of the past in the smoothed line (as TensorBoard's slider)
MARGIN = 6


def smoothed(values: Sequence[float], weight: float = SMOOTHING) -> list[float]:
    """An exponential moving average of `values`, corrected for its start (so the line
    begins at the first value instead of rising from 0)."""
    average, result = 0.0, []
    for count, value in enumerate(values, start=1):
        average = weight * average + (1 - weight) * value
        result.append(average / (1 - weight**count))
    return result


class LossChart(QWidget):
    """The loss of each step reported so far, as points and a smoothed line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.setMinimumHeight(90)
        self.setToolTip("Loss per step (points) and its trend (line); lower is better")

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(240, 120)

    def add(self, step: int, loss: float) -> None:
        """One step's loss; a repeated step replaces the last point (a resumed run)."""
        if not math.isfinite(loss):
            return
        while self.steps and self.steps[-1] >= step:
            self.steps.pop()
            self.losses.pop()
        self.steps.append(step)
        self.losses.append(loss)
        self.update()

    def clear(self) -> None:
        self.steps.clear()
        self.losses.clear()
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        area = QRectF(self.rect()).adjusted(MARGIN, MARGIN, -MARGIN, -MARGIN)
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.drawRect(area)
        if not self.losses:
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, "The loss shows here")
            return
        place = self._placer(area)
        points = QColor(palette.color(QPalette.ColorRole.Text))
        points.setAlphaF(0.35)
        painter.setPen(QPen(points, 2.5))
        painter.drawPoints([place(s, v) for s, v in zip(self.steps, self.losses, strict=True)])
        trend = [place(s, v) for s, v in zip(self.steps, smoothed(self.losses), strict=True)]
        line = QPainterPath(trend[0])
        for at in trend[1:]:
            line.lineTo(at)
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight), 2))
        painter.drawPath(line)

    def _placer(self, area: QRectF):
        """A function from (step, loss) to the point in `area` that shows it."""
        first, last = self.steps[0], max(self.steps[-1], self.steps[0] + 1)
        low, high = min(self.losses), max(self.losses)
        span = (high - low) or 1.0

        def place(step: int, loss: float) -> QPointF:
            x = area.left() + (step - first) / (last - first) * area.width()
            y = area.bottom() - (loss - low) / span * area.height()
            return QPointF(x, y)

        return place
