"""The Timeline panel's track area: a ruler with time codes, the tracks with their clips
(thumbnails of video and pictures, waveforms of sound) and the playhead; pressing on the
ruler scrubs, dragging a clip moves it (snapping to clip edges and the playhead; Shift
does not snap), dragging its edges trims it, the wheel scrolls and Ctrl+wheel zooms.
A sound dragged from the Audio panel (SOUND_MIME) is dropped at the time and track under
the pointer.

A UI module: each edit is emitted as a timeline command (app/model/timeline_edits.py) for
the panel to push; one drag is one undo step (its commands share a merge key).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPixmap,
    QPolygonF,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.model.audio_clips import SOUND_MIME
from app.model.timeline import ACCEPTS, Clip, MediaItem, MediaStore, Timeline, Track, quantize
from app.model.timeline_edits import (
    MoveClip,
    TimelineEdit,
    TimelineError,
    TrimEnd,
    TrimStart,
    snap,
    snap_clip_start,
    snap_points,
)
from app.model.timeline_render import waveform
from app.ui.images import pixmap_from_rgba
from plugins.timeline.track_layout import (
    HEADER_W,
    ROW_H,
    RULER_H,
    Hit,
    TimeScale,
    hit,
    row_at,
    row_top,
    row_tracks,
    ruler_ticks,
    timecode,
)

COLOURS = {"video": "#35618f", "image": "#6a4c93", "audio": "#2f7d5b"}
PLAYHEAD = QColor("#e5484d")
THUMB_PAD = 14  # room at a clip's top for its name
MAX_THUMBS = 40  # thumbnails drawn across one clip at most
KEYS = {Qt.Key.Key_S, Qt.Key.Key_Delete, Qt.Key.Key_Backspace, Qt.Key.Key_Space}
KEYS |= {Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Home, Qt.Key.Key_End}


class TracksView(QWidget):
    """Draws the timeline and turns presses and drags into scrubs, selections and edits."""

    scrubbed = Signal(object)  # Fraction: the playhead's new time
    selected = Signal(object)  # the selected clip's id, or None
    edited = Signal(object)  # a TimelineEdit to push
    key_action = Signal(str)  # "split", "delete", "ripple", "play", "step-1", "step+1", ...
    sound_dropped = Signal(str, object, object)  # sound id, track id (or None), start time

    def __init__(self, media: MediaStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("timelineTracks")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setAcceptDrops(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.timeline = Timeline()
        self.media = media
        self.scale = TimeScale()
        self.playhead = Fraction(0)
        self.selected_id: str | None = None
        self._drag: _Drag | None = None
        self._drags = itertools.count()
        self._thumbs: dict[tuple, QPixmap] = {}
        self._waves: dict[tuple, np.ndarray] = {}

    # ---- state --------------------------------------------------------------------------

    def set_timeline(self, timeline: Timeline, media: MediaStore) -> None:
        if media is not self.media:
            self._thumbs.clear()
        self.timeline, self.media = timeline, media
        ids = {clip.id for _, clip in timeline.clips()}
        if self.selected_id not in ids:
            self.select(None)
        self.setMinimumHeight(RULER_H + ROW_H * max(1, len(timeline.tracks)) + 2)
        self.update()

    def set_playhead(self, t: Fraction) -> None:
        self.playhead = t
        self.update()

    def select(self, clip_id: str | None) -> None:
        if clip_id != self.selected_id:
            self.selected_id = clip_id
            self.selected.emit(clip_id)
            self.update()

    def zoom(self, factor: float, anchor_x: float | None = None) -> None:
        anchor = self.scale.x_of(self.playhead) if anchor_x is None else anchor_x
        self.scale = self.scale.zoomed(factor, anchor)
        self.update()

    def show_time(self, t: Fraction) -> None:
        """Scroll so that time `t` is in view (playback follows the playhead)."""
        x = self.scale.x_of(t)
        if x < HEADER_W or x > self.width() - 20:
            self.scale = TimeScale(self.scale.pps, max(0.0, float(t) - 1.0))
            self.update()

    # ---- input --------------------------------------------------------------------------

    def event(self, event: QEvent) -> bool:
        """Take the panel's keys before the window's shortcuts do (Delete, S, Space...)."""
        override = event.type() == QEvent.Type.ShortcutOverride
        if override and isinstance(event, QKeyEvent) and Qt.Key(event.key()) in KEYS:
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt's name)
        key, shift = event.key(), bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        action = {
            Qt.Key.Key_S: "split",
            Qt.Key.Key_Delete: "ripple" if shift else "delete",
            Qt.Key.Key_Backspace: "ripple" if shift else "delete",
            Qt.Key.Key_Space: "play",
            Qt.Key.Key_Left: "step-10" if shift else "step-1",
            Qt.Key.Key_Right: "step+10" if shift else "step+1",
            Qt.Key.Key_Home: "home",
            Qt.Key.Key_End: "end",
        }.get(Qt.Key(key))
        if action is None:
            super().keyPressEvent(event)
            return
        self.key_action.emit(action)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        if event.button() != Qt.MouseButton.LeftButton:
            return
        self.setFocus()
        x, y = event.position().x(), event.position().y()
        found = hit(self.timeline, self.scale, x, y)
        if found.part == "ruler":
            self._drag = _Drag("scrub", None, Fraction(0), next(self._drags))
            self._scrub(x)
        elif found.clip is not None:
            self.select(found.clip.id)
            grab = self.scale.time_at(x) - found.clip.start
            self._drag = _Drag(found.part, found.clip.id, grab, next(self._drags))
        else:
            self.select(None)
            self._drag = None

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        x, y = event.position().x(), event.position().y()
        if self._drag is None:
            self._set_cursor(hit(self.timeline, self.scale, x, y))
            return
        if self._drag.part == "scrub":
            self._scrub(x)
            return
        snapping = not event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        command = self._drag_edit(self._drag, x, y, snapping)
        if command is not None and self._changes(command):
            self.edited.emit(command)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt's name)
        self._drag = None

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 (Qt's name)
        steps = event.angleDelta().y() / 120 or event.angleDelta().x() / 120
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom(1.25**steps, event.position().x())
        else:
            self.scale = self.scale.scrolled(-steps * 60)
            self.update()
        event.accept()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt's name)
        if event.mimeData().hasFormat(SOUND_MIME):
            event.acceptProposedAction()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802 (Qt's name)
        if event.mimeData().hasFormat(SOUND_MIME):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt's name)
        """A sound from the Audio panel: at the frame under the pointer, on the track under
        it (None: not over a track)."""
        data = event.mimeData()
        if not data.hasFormat(SOUND_MIME):
            return
        x, y = event.position().x(), event.position().y()
        rows = row_tracks(self.timeline)
        row = row_at(y, len(rows))
        track_id = rows[row].id if row is not None else None
        start = max(Fraction(0), quantize(self.scale.time_at(x), self.timeline.fps))
        self.sound_dropped.emit(bytes(data.data(SOUND_MIME)).decode(), track_id, start)
        event.acceptProposedAction()

    def _scrub(self, x: float) -> None:
        t = quantize(self.scale.time_at(x), self.timeline.fps)
        self.scrubbed.emit(max(Fraction(0), t))

    def _drag_edit(self, drag: _Drag, x: float, y: float, snapping: bool) -> TimelineEdit | None:
        """The edit a drag to (x, y) makes: a move (to another track of a kind that takes
        the clip, when over one) or a trim, snapped or put on a frame."""
        timeline, fps = self.timeline, self.timeline.fps
        try:
            track, clip = timeline.find(drag.clip_id)
        except TimelineError:
            return None
        t = self.scale.time_at(x)
        tolerance = self.scale.tolerance()
        key = ("timeline-drag", drag.number)
        if drag.part == "body":
            start = t - drag.grab
            if snapping:
                start = snap_clip_start(timeline, clip.id, start, tolerance, self.playhead)
            else:
                start = max(Fraction(0), quantize(start, fps))
            target = self._track_under(y, timeline.item(clip.media_id), track)
            return MoveClip(clip.id, start, target.id, merge_key=key)
        points = snap_points(timeline, self.playhead, exclude=[clip.id]) if snapping else []
        edge = snap(t, points, tolerance, fps)
        if drag.part == "start":
            return TrimStart(clip.id, edge, merge_key=key)
        return TrimEnd(clip.id, edge, merge_key=key)

    def _track_under(self, y: float, item: MediaItem, current: Track) -> Track:
        rows = row_tracks(self.timeline)
        row = row_at(y, len(rows))
        if row is not None and item.kind in ACCEPTS[rows[row].kind]:
            return rows[row]
        return current

    def _changes(self, command: TimelineEdit) -> bool:
        """True when `command` makes a valid, different timeline (a drag onto another clip
        or past the media's end is left where it last fitted)."""
        try:
            return command.changed(self.timeline) != self.timeline
        except TimelineError:
            return False

    def _set_cursor(self, found: Hit) -> None:
        shapes = {
            "start": Qt.CursorShape.SizeHorCursor,
            "end": Qt.CursorShape.SizeHorCursor,
            "body": Qt.CursorShape.OpenHandCursor,
            "ruler": Qt.CursorShape.PointingHandCursor,
        }
        self.setCursor(shapes.get(found.part, Qt.CursorShape.ArrowCursor))

    # ---- drawing ------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("#1e2124"))
        rows = row_tracks(self.timeline)
        for row, track in enumerate(rows):
            self._paint_track(painter, row, track)
        self._paint_ruler(painter)
        self._paint_playhead(painter)
        if not rows:
            painter.setPen(QColor("#8a9199"))
            area = QRectF(HEADER_W + 12, RULER_H, self.width() - HEADER_W - 24, ROW_H)
            flags = Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextWordWrap
            painter.drawText(
                area,
                flags,
                "Add a video, picture or sound file, the current layer, or a result "
                "(Add to timeline under the results) to start.",
            )
        painter.end()

    def _paint_ruler(self, painter: QPainter) -> None:
        painter.fillRect(QRectF(0, 0, self.width(), RULER_H), QColor("#2a2e33"))
        painter.setPen(QColor("#9aa1a8"))
        fps = self.timeline.fps
        for x, t in ruler_ticks(self.scale, self.width()):
            painter.drawLine(QPointF(x, RULER_H - 8), QPointF(x, RULER_H))
            painter.drawText(QPointF(x + 3, RULER_H - 10), timecode(t, fps))
        frame_px = self.scale.pps / float(fps)
        if frame_px >= 6:  # zoomed in far enough to see frames: a small tick each
            first = int(self.scale.offset * float(fps))
            for n in range(first, first + int(self.width() / frame_px) + 1):
                x = self.scale.x_of(Fraction(n) / fps)
                if x >= HEADER_W:
                    painter.drawLine(QPointF(x, RULER_H - 3), QPointF(x, RULER_H))
        painter.fillRect(QRectF(0, 0, HEADER_W, RULER_H), QColor("#2a2e33"))
        painter.drawText(QPointF(8, RULER_H - 9), timecode(self.playhead, fps))

    def _paint_track(self, painter: QPainter, row: int, track: Track) -> None:
        top = row_top(row)
        band = QColor("#25292d") if row % 2 else QColor("#222629")
        painter.fillRect(QRectF(0, top, self.width(), ROW_H), band)
        painter.setClipRect(QRectF(HEADER_W, top, self.width() - HEADER_W, ROW_H))
        for clip in track.clips:
            self._paint_clip(painter, QRectF(self._clip_rect(top, clip)), track, clip)
        painter.setClipping(False)
        painter.fillRect(QRectF(0, top, HEADER_W, ROW_H), QColor("#2a2e33"))
        painter.setPen(QColor("#d6dadf"))
        painter.drawText(
            QRectF(8, top, HEADER_W - 12, ROW_H), Qt.AlignmentFlag.AlignVCenter, track.name
        )
        painter.setPen(QColor("#151719"))
        painter.drawLine(QPointF(0, top + ROW_H - 0.5), QPointF(self.width(), top + ROW_H - 0.5))

    def _clip_rect(self, top: int, clip: Clip) -> QRectF:
        left, right = self.scale.x_of(clip.start), self.scale.x_of(clip.end)
        return QRectF(left, top + 3, max(2.0, right - left - 1), ROW_H - 6)

    def _paint_clip(self, painter: QPainter, box: QRectF, track: Track, clip: Clip) -> None:
        if box.right() < HEADER_W or box.left() > self.width():
            return
        item = self.timeline.item(clip.media_id)
        colour = QColor(COLOURS[item.kind])
        path = QPainterPath()
        path.addRoundedRect(box, 4, 4)
        painter.fillPath(path, colour.darker(150))
        painter.save()
        painter.setClipPath(path, Qt.ClipOperation.IntersectClip)
        body = box.adjusted(0, THUMB_PAD, 0, 0)
        try:
            if item.kind == "audio":
                self._paint_wave(painter, body, item, clip, colour)
            else:
                self._paint_thumbs(painter, body, item, clip)
        except (OSError, ValueError, KeyError):  # the media's file is gone: the box says so
            painter.setPen(QColor("#f0b429"))
            painter.drawText(body, Qt.AlignmentFlag.AlignCenter, "media missing")
        self._paint_fades(painter, box, clip)
        painter.restore()
        selected = clip.id == self.selected_id
        painter.setPen(
            QPen(QColor("#f5f7fa") if selected else colour.lighter(130), 2 if selected else 1)
        )
        painter.drawPath(path)
        painter.setPen(QColor("#f5f7fa"))
        label = item.name if clip.opacity >= 1 else f"{item.name} ({clip.opacity:.0%})"
        if item.kind == "audio" and clip.gain_db:
            label = f"{item.name} ({clip.gain_db:+.1f} dB)"
        left = max(box.left(), HEADER_W)  # the name stays in view when the clip starts left of it
        shown = QRectF(left, box.top(), box.right() - left, box.height())
        painter.drawText(shown.adjusted(5, 1, -4, 0), Qt.AlignmentFlag.AlignTop, label)

    def _paint_thumbs(self, painter: QPainter, body: QRectF, item: MediaItem, clip: Clip) -> None:
        height = max(8, int(body.height()))
        assert item.size is not None
        width = max(8, round(height * item.size[0] / item.size[1]))
        left = max(body.left(), float(HEADER_W) - (float(HEADER_W) - body.left()) % width)
        count = min(MAX_THUMBS, int((min(body.right(), self.width()) - left) // width) + 1)
        for n in range(max(1, count)):
            x = left + n * width
            t = self.scale.time_at(x) if n else max(clip.start, self.scale.time_at(x))
            source = clip.source_time(min(max(t, clip.start), clip.end))
            painter.drawPixmap(QPointF(x, body.top()), self._thumb(item, source, height))

    def _thumb(self, item: MediaItem, source: Fraction, height: int) -> QPixmap:
        data = self.media.data(item)
        index = 0
        if item.kind == "video":
            assert item.fps is not None
            index = min(item.length - 1, int(source * item.fps))
        key = (item.id, index, height)
        pixmap = self._thumbs.get(key)
        if pixmap is None:
            picture = data[index] if item.kind == "video" else data
            if picture.shape[2] == 3:
                alpha = np.full((*picture.shape[:2], 1), 255, np.uint8)
                picture = np.concatenate([picture, alpha], axis=2)
            pixmap = pixmap_from_rgba(np.ascontiguousarray(picture)).scaledToHeight(
                height, Qt.TransformationMode.SmoothTransformation
            )
            if len(self._thumbs) > 2000:
                self._thumbs.clear()
            self._thumbs[key] = pixmap
        return pixmap

    def _paint_wave(
        self, painter: QPainter, body: QRectF, item: MediaItem, clip: Clip, colour: QColor
    ) -> None:
        columns = max(1, int(body.width()))
        key = (item.id, clip.in_point, clip.out_point, columns)
        peaks = self._waves.get(key)
        if peaks is None:
            assert item.rate is not None
            first, last = int(clip.in_point * item.rate), int(clip.out_point * item.rate)
            peaks = waveform(self.media.data(item)[:, first:last], columns)
            if len(self._waves) > 200:
                self._waves.clear()
            self._waves[key] = peaks
        draw_peaks(painter, body, peaks, colour.lighter(160))

    def _paint_fades(self, painter: QPainter, box: QRectF, clip: Clip) -> None:
        painter.setPen(QPen(QColor(255, 255, 255, 170), 1))
        if clip.fade_in:
            x = self.scale.x_of(clip.start + clip.fade_in)
            painter.drawLine(QPointF(box.left(), box.bottom()), QPointF(x, box.top()))
        if clip.fade_out:
            x = self.scale.x_of(clip.end - clip.fade_out)
            painter.drawLine(QPointF(x, box.top()), QPointF(box.right(), box.bottom()))

    def _paint_playhead(self, painter: QPainter) -> None:
        x = self.scale.x_of(self.playhead)
        if x < HEADER_W or x > self.width():
            return
        painter.setPen(QPen(PLAYHEAD, 1.5))
        painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        painter.setBrush(PLAYHEAD)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawPolygon(QPolygonF([QPointF(x - 6, 0), QPointF(x + 6, 0), QPointF(x, 9)]))


@dataclass(frozen=True)
class _Drag:
    """One press-and-drag: what was pressed (the ruler, a clip's body or an edge), which
    clip, where on it (seconds from its start), and its number (its edits' merge key)."""

    part: str
    clip_id: str | None
    grab: Fraction
    number: int


def draw_peaks(painter: QPainter, body: QRectF, peaks: np.ndarray, colour: QColor) -> None:
    """Fill the shape of (2, columns) min/max `peaks` (app/model/timeline_render.py
    `waveform`), one column a pixel from body's left, full scale at its top and bottom."""
    middle, half = body.center().y(), body.height() / 2 - 2
    xs = body.left() + np.arange(peaks.shape[1]) + 0.5
    upper = [QPointF(x, middle - float(p) * half) for x, p in zip(xs, peaks[1], strict=True)]
    lower = [QPointF(x, middle - float(p) * half) for x, p in zip(xs, peaks[0], strict=True)]
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    painter.drawPolygon(QPolygonF([*upper, *reversed(lower)]))
