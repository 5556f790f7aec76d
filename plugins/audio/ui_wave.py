"""The Audio panel's waveform and level meter.

`WaveView` draws a sound's whole source (its min/max peaks), dims what the trim leaves
out, draws the fades and the playhead; dragging a trim handle trims (one drag, one merge
key), pressing elsewhere seeks. `LevelMeter` shows each channel's peak in dBFS.

A UI module (PySide6, never torch).
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.model.timeline_render import waveform
from plugins.audio.wave_layout import METER_FLOOR_DB, WaveScale, clock_text, meter_fraction, touched
from plugins.timeline.ui_tracks import draw_peaks

WAVE = QColor("#3fa37a")
KEPT_BACK = QColor("#1d2a25")
LEFT_OUT = QColor(0, 0, 0, 150)
HANDLE = QColor("#f2c14e")
PLAYHEAD = QColor("#e5484d")
MIN_KEPT = Fraction(1, 100)  # a trim keeps at least this many seconds
# the meter's colours over its width: green, amber from -12 dBFS, red from -3 dBFS
METER_SEGMENTS = ((0.0, 0.8, "#3fa37a"), (0.8, 0.95, "#f2c14e"), (0.95, 1.0, "#e5484d"))


class WaveView(QWidget):
    """A sound's waveform with its trim handles, fades and playhead."""

    trimmed = Signal(object, object, object)  # start, end (Fractions of source), merge key
    seeked = Signal(object)  # the source time pressed (a Fraction)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("audioWave")
        self.setMinimumHeight(110)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.samples: np.ndarray | None = None
        self.rate = 1
        self.start = self.end = self.fade_in = self.fade_out = Fraction(0)
        self.editable = False
        self.playhead: Fraction | None = None
        self._peaks: tuple[int, int, np.ndarray] | None = None  # (id, columns, peaks)
        self._drag: tuple[str, object] | None = None  # (edge or "seek", merge key)
        self._drags = itertools.count()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(600, 160)

    @property
    def duration(self) -> Fraction:
        """Seconds of the whole source shown."""
        if self.samples is None:
            return Fraction(0)
        return Fraction(self.samples.shape[1], self.rate)

    def show_sound(
        self,
        samples: np.ndarray | None,
        rate: int = 1,
        span: tuple[Fraction, Fraction] | None = None,
        fades: tuple[Fraction, Fraction] = (Fraction(0), Fraction(0)),
        editable: bool = True,
    ) -> None:
        """Show (C, N) `samples` at `rate` kept from span[0] to span[1] seconds (default:
        all), with its fades; None shows nothing. Not `editable`: no trim handles."""
        self.samples, self.rate, self.editable = samples, rate, editable and samples is not None
        self.start, self.end = span or (Fraction(0), self.duration)
        self.fade_in, self.fade_out = fades
        self.update()

    def set_playhead(self, t: Fraction | None) -> None:
        self.playhead = t
        self.update()

    def scale(self) -> WaveScale:
        return WaveScale(self.duration, max(1, self.width() - 2), 1)

    # ---- input --------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        if self.samples is None or event.button() != Qt.MouseButton.LeftButton:
            return
        x = event.position().x()
        part = touched(self.scale(), x, self.start, self.end) if self.editable else "seek"
        self._drag = (part, ("audio-trim", next(self._drags)))
        self._dragged(x)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        x = event.position().x()
        if self._drag is not None:
            self._dragged(x)
        elif self.editable:
            edge = touched(self.scale(), x, self.start, self.end) != "seek"
            self.setCursor(Qt.CursorShape.SizeHorCursor if edge else Qt.CursorShape.IBeamCursor)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        self._drag = None

    def _dragged(self, x: float) -> None:
        assert self._drag is not None
        part, key = self._drag
        t = self.scale().time_at(x, self.rate)
        if part == "start":
            start = min(t, self.end - MIN_KEPT)
            if start != self.start and start >= 0:
                self.trimmed.emit(start, self.end, key)
        elif part == "end":
            end = max(t, self.start + MIN_KEPT)
            if end != self.end and end <= self.duration:
                self.trimmed.emit(self.start, end, key)
        else:
            self.seeked.emit(t)

    # ---- drawing ------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        box = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.fillRect(box, QColor("#151515"))
        if self.samples is None:
            painter.setPen(QColor("#8a8a8a"))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, "Choose a sound in the list")
            return
        scale = self.scale()
        left, right = scale.x_of(self.start), scale.x_of(self.end)
        painter.fillRect(QRectF(left, box.top(), right - left, box.height()), KEPT_BACK)
        body = QRectF(scale.left, box.top() + 4, scale.width, box.height() - 22)
        draw_peaks(painter, body, self._peaks_for(int(scale.width)), WAVE)
        painter.fillRect(QRectF(box.left(), box.top(), left - box.left(), box.height()), LEFT_OUT)
        painter.fillRect(QRectF(right, box.top(), box.right() - right, box.height()), LEFT_OUT)
        self._paint_fades(painter, scale, body)
        if self.playhead is not None:
            x = scale.x_of(self.playhead)
            painter.setPen(QPen(PLAYHEAD, 2))
            painter.drawLine(QPointF(x, box.top()), QPointF(x, box.bottom()))
        if self.editable:
            for x in (left, right):
                self._paint_handle(painter, x, box)
        self._paint_times(painter, box)

    def _peaks_for(self, columns: int) -> np.ndarray:
        assert self.samples is not None
        key = (id(self.samples), columns)
        if self._peaks is None or self._peaks[:2] != key:
            self._peaks = (*key, waveform(self.samples, columns))
        return self._peaks[2]

    def _paint_fades(self, painter: QPainter, scale: WaveScale, body: QRectF) -> None:
        painter.setPen(QPen(QColor(255, 255, 255, 190), 1.5))
        if self.fade_in:
            start, top = scale.x_of(self.start), scale.x_of(self.start + self.fade_in)
            painter.drawLine(QPointF(start, body.bottom()), QPointF(top, body.top()))
        if self.fade_out:
            top, end = scale.x_of(self.end - self.fade_out), scale.x_of(self.end)
            painter.drawLine(QPointF(top, body.top()), QPointF(end, body.bottom()))

    def _paint_handle(self, painter: QPainter, x: float, box: QRectF) -> None:
        painter.setPen(QPen(HANDLE, 2))
        painter.drawLine(QPointF(x, box.top()), QPointF(x, box.bottom()))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(HANDLE)
        grip = QRectF(x - 4, box.center().y() - 12, 8, 24)
        painter.drawRoundedRect(grip, 3, 3)

    def _paint_times(self, painter: QPainter, box: QRectF) -> None:
        painter.setPen(QColor("#b8b8b8"))
        line = QRectF(box.left() + 6, box.bottom() - 17, box.width() - 12, 16)
        painter.drawText(line, Qt.AlignmentFlag.AlignLeft, "0:00.00")
        painter.drawText(line, Qt.AlignmentFlag.AlignRight, clock_text(float(self.duration)))


class LevelMeter(QWidget):
    """Each channel's peak as a bar from METER_FLOOR_DB to 0 dBFS: green, amber from
    -12 dBFS, red from -3."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("audioMeter")
        self.levels = np.zeros(2, np.float32)
        self.setFixedHeight(14)
        self.setMinimumWidth(120)
        self.setToolTip(f"Level: each channel's peak, {METER_FLOOR_DB:g} to 0 dBFS")

    def set_levels(self, levels: np.ndarray) -> None:
        self.levels = levels
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        box = QRectF(self.rect())
        painter.fillRect(box, QColor("#151515"))
        count = max(1, len(self.levels))
        height = (box.height() - (count - 1)) / count
        for index, level in enumerate(self.levels):
            fill = meter_fraction(float(level))
            top = box.top() + index * (height + 1)
            for start, end, colour in METER_SEGMENTS:
                self._segment(painter, box, top, height, fill, start, end, colour)

    @staticmethod
    def _segment(
        painter: QPainter,
        box: QRectF,
        top: float,
        height: float,
        fill: float,
        start: float,
        end: float,
        colour: str,
    ) -> None:
        shown = min(fill, end) - start
        if shown > 0:
            rect = QRectF(box.left() + start * box.width(), top, shown * box.width(), height)
            painter.fillRect(rect, QColor(colour))
