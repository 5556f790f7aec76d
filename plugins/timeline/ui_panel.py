"""The Timeline panel: a preview of the frame at the playhead, the tracks (plugins/timeline
/ui_tracks.py), the selected clip's settings, and the buttons that add clips (a file, the
current layer as a still), play, export the film and exchange the cut as OpenTimelineIO.

Every edit goes through AppContext.push as one undo step on the document's History, and
the panel re-reads `doc.timeline` after every change (undo, redo, open included). A
sound dragged from the Audio panel lands where it is dropped, as it sounds there
(app/model/audio_edits.py `place_on_timeline`).
Playback runs a timer at the timeline's frame rate that shows the frame due by a
monotonic clock (frames are dropped, never delayed) and plays the mixed sound through
sounddevice where an output device opens; without one it plays silent and says so.

A UI module (PySide6, never torch).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.model.audio_clips import AudioError
from app.model.audio_edits import place_on_timeline
from app.model.clip_candidates import append_clip
from app.model.timeline import MediaStore, Timeline, TimelineError, quantize
from app.model.timeline_edits import (
    AddTrack,
    DeleteClip,
    OpenTimeline,
    RippleDelete,
    SplitClip,
    TimelineEdit,
)
from app.model.timeline_media import (
    AUDIO_SUFFIXES,
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    MediaFileError,
    add_picture,
    import_file,
)
from app.model.timeline_otio import SUFFIX as OTIO_SUFFIX
from app.model.timeline_otio import OtioError, export_otio, import_otio
from app.model.timeline_render import frame_at, mix_audio
from app.ui.images import pixmap_from_rgba
from plugins.api import AppContext
from plugins.timeline.export import AUDIO_CHANNELS, AUDIO_RATE, export_frame_count
from plugins.timeline.playback import (
    PlaybackClock,
    last_frame_time,
    play_sound,
    stop_sound,
)
from plugins.timeline.stills import layer_still
from plugins.timeline.track_layout import timecode
from plugins.timeline.ui_export import ExportDialog, ExportRun
from plugins.timeline.ui_props import ClipProperties
from plugins.timeline.ui_tracks import TracksView

ADD_ACTION = "timeline"  # the file dialogs' remembered folder
EXPORT_ACTION = "timeline_export"
OTIO_ACTION = "timeline_otio"
PREVIEW_MIN = (192, 108)


def make_panel(context: AppContext) -> QWidget:
    """The Timeline panel (plugins.api.Panel factory)."""
    return TimelinePanel(context)


def _media_filter() -> str:
    suffixes = sorted(VIDEO_SUFFIXES | IMAGE_SUFFIXES | AUDIO_SUFFIXES)
    return f"Video, pictures and sound ({' '.join('*' + s for s in suffixes)});;All files (*)"


class TimelinePanel(QWidget):
    """The whole timeline editor; `context` is the window's AppContext."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.setObjectName("timelinePanel")
        self.timeline = Timeline()
        self.media = MediaStore()
        self.playhead = Fraction(0)
        self.shown_frame: np.ndarray | None = None  # the preview's picture (for tests)
        self.clock: PlaybackClock | None = None
        self.export_run: ExportRun | None = None
        self._sized = False  # the splitter's first sizes were set
        self.play_timer = QTimer(self)
        self.play_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.play_timer.timeout.connect(self._tick)
        self.view = TracksView(self.media)
        self.props = ClipProperties(self.push)
        self.preview = QLabel(objectName="timelinePreview")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(*PREVIEW_MIN)
        self.preview.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.preview.setStyleSheet("background: #000;")
        self.status = QLabel("", objectName="timelineStatus")
        self.status.setWordWrap(True)
        self._build()
        self.view.scrubbed.connect(self.set_playhead)
        self.view.selected.connect(self._on_selected)
        self.view.edited.connect(self.push)
        self.view.key_action.connect(self.key_action)
        self.view.sound_dropped.connect(self.drop_sound)
        self._stop_following = context.on_document_changed(self.refresh)
        self.destroyed.connect(lambda: stop_sound())
        self.refresh()

    # ---- building ------------------------------------------------------------------------

    def _build(self) -> None:
        self.add_file_button = self._button("Add file\N{HORIZONTAL ELLIPSIS}", self.add_file)
        self.add_file_button.setToolTip("Add a video, picture or sound file at the end")
        self.add_layer_button = self._button("Add layer", self.add_layer)
        self.add_layer_button.setToolTip("Add the current canvas layer as a still")
        self.track_button = QPushButton("Add track", objectName="timelineAddTrack")
        tracks = QMenu(self.track_button)
        for kind in ("video", "image", "audio"):
            tracks.addAction(f"{kind.title()} track", lambda k=kind: self.push(AddTrack(k)))
        self.track_button.setMenu(tracks)
        self.play_button = self._button("Play", self.toggle_play)
        self.play_button.setToolTip("Play or pause (Space)")
        self.time_label = QLabel("00:00:00", objectName="timelineTime")
        zoom_out = self._button("\N{MINUS SIGN}", lambda: self.view.zoom(0.8))
        zoom_out.setToolTip("Zoom out (Ctrl+wheel)")
        zoom_in = self._button("+", lambda: self.view.zoom(1.25))
        zoom_in.setToolTip("Zoom in (Ctrl+wheel)")
        self.otio_button = QPushButton("OTIO", objectName="timelineOtio")
        self.otio_button.setToolTip("Exchange the cut with other editors as OpenTimelineIO")
        otio = QMenu(self.otio_button)
        otio.addAction("Import .otio\N{HORIZONTAL ELLIPSIS}", self.import_otio)
        otio.addAction("Export .otio\N{HORIZONTAL ELLIPSIS}", self.export_otio)
        self.otio_button.setMenu(otio)
        self.export_button = self._button("Export\N{HORIZONTAL ELLIPSIS}", self.export)
        self.export_button.setObjectName("primary")
        tools = QHBoxLayout()
        for widget in (self.add_file_button, self.add_layer_button, self.track_button):
            tools.addWidget(widget)
        tools.addSpacing(12)
        tools.addWidget(self.play_button)
        tools.addWidget(self.time_label)
        tools.addStretch(1)
        for widget in (zoom_out, zoom_in, self.otio_button, self.export_button):
            tools.addWidget(widget)
        self.progress = QProgressBar(objectName="timelineExportProgress")
        self.cancel_button = self._button("Cancel", self.cancel_export)
        self.progress.hide()
        self.cancel_button.hide()
        status_row = QHBoxLayout()
        status_row.addWidget(self.status, 1)
        status_row.addWidget(self.progress)
        status_row.addWidget(self.cancel_button)
        scroll = QScrollArea()
        scroll.setWidget(self.view)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.preview)
        self.splitter.addWidget(scroll)
        self.splitter.setStretchFactor(1, 3)
        column = QVBoxLayout(self)
        column.setContentsMargins(6, 6, 6, 6)
        column.addLayout(tools)
        column.addWidget(self.splitter, 1)
        column.addWidget(self.props)
        column.addLayout(status_row)

    def _button(self, text: str, slot) -> QPushButton:
        button = QPushButton(text)
        button.clicked.connect(lambda: slot())
        return button

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        """Preview beside the tracks in a wide dock, above them in a tall one; the preview
        first as large as the film's shape allows, the tracks taking the rest."""
        wide = event.size().width() > 1.4 * event.size().height()
        orientation = Qt.Orientation.Horizontal if wide else Qt.Orientation.Vertical
        if orientation != self.splitter.orientation() or not self._sized:
            self.splitter.setOrientation(orientation)
            QTimer.singleShot(0, self._size_preview)
        super().resizeEvent(event)
        QTimer.singleShot(0, self.show_frame)

    def _size_preview(self) -> None:
        total = sum(self.splitter.sizes())
        if total <= 0:
            return
        width, height = self.timeline.frame_size
        if self.splitter.orientation() == Qt.Orientation.Horizontal:
            side = round(self.splitter.height() * width / height)
        else:
            side = round(self.splitter.width() * height / width)
        side = min(max(side, PREVIEW_MIN[0]), total // 2)
        self.splitter.setSizes([side, total - side])
        self._sized = True

    # ---- the document --------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the document's timeline again (after an edit, undo, redo, new or open)."""
        doc = self.context.document
        if doc.timeline is self.timeline and doc.media is self.media:
            return
        if doc.media is not self.media and self.clock is not None:
            self.stop()  # another document
        self.timeline, self.media = doc.timeline, doc.media
        self.view.set_timeline(self.timeline, self.media)
        self.props.show_clip(self.timeline, self.view.selected_id)
        self.export_button.setEnabled(self.export_run is None and self._has_clips())
        self.set_playhead(min(self.playhead, self._end_frame()))

    def push(self, command: TimelineEdit) -> None:
        self.context.push(command)

    def _has_clips(self) -> bool:
        return any(track.clips for track in self.timeline.tracks)

    def _end_frame(self) -> Fraction:
        return last_frame_time(self.timeline.duration, self.timeline.fps)

    def _on_selected(self, clip_id: str | None) -> None:
        self.props.show_clip(self.timeline, clip_id)

    # ---- the playhead and the preview ----------------------------------------------------

    def set_playhead(self, t: Fraction) -> None:
        """Put the playhead at `t` (on a frame) and show that frame."""
        self.playhead = max(Fraction(0), t)
        self.view.set_playhead(self.playhead)
        self.time_label.setText(timecode(self.playhead, self.timeline.fps))
        self.show_frame()

    def show_frame(self) -> None:
        """Draw the frame at the playhead into the preview, at the preview's size."""
        box = self.preview.contentsRect()
        width, height = self.timeline.frame_size
        scale = min(box.width() / width, box.height() / height)
        size = (max(2, round(width * scale)), max(2, round(height * scale)))
        try:
            frame = frame_at(self.timeline, self.media, self.playhead, size)
        except (OSError, ValueError, KeyError) as exc:
            self.status.setText(str(exc))
            return
        self.shown_frame = frame
        rgba = np.concatenate([frame, np.full((*frame.shape[:2], 1), 255, np.uint8)], axis=2)
        self.preview.setPixmap(pixmap_from_rgba(rgba))

    def key_action(self, action: str) -> None:
        """The track area's keys: split, delete, ripple delete, play, frame steps."""
        fps = self.timeline.fps
        if action == "play":
            self.toggle_play()
        elif action.startswith("step"):
            frames = int(action[4:])
            self.set_playhead(min(self._end_frame(), self.playhead + Fraction(frames) / fps))
        elif action == "home":
            self.set_playhead(Fraction(0))
        elif action == "end":
            self.set_playhead(self._end_frame())
        elif action == "split":
            self.split()
        elif self.view.selected_id is not None:
            edit = RippleDelete if action == "ripple" else DeleteClip
            self.push(edit(self.view.selected_id))

    def split(self) -> None:
        """Split the selected clip at the playhead, else the clips the playhead crosses."""
        at = quantize(self.playhead, self.timeline.fps)
        clips = [c for _, c in self.timeline.clips() if c.start < at < c.end]
        chosen = [c for c in clips if c.id == self.view.selected_id] or clips
        if not chosen:
            self.context.show_message("Put the playhead over a clip to split it.", "info")
        for clip in chosen:
            self.push(SplitClip(clip.id, at))

    # ---- adding clips --------------------------------------------------------------------

    def add_file(self, path: Path | None = None) -> None:
        """Add a video, picture or sound file (chosen in a dialog when not given)."""
        if path is None:
            folder = self.context.dialog_folder(ADD_ACTION)
            chosen, _ = QFileDialog.getOpenFileName(
                self, "Add to the timeline", str(folder), _media_filter()
            )
            if not chosen:
                return
            path = Path(chosen)
            self.context.remember_dialog_folder(ADD_ACTION, path.parent)
        try:
            item = import_file(self.context.document.media, path)
        except MediaFileError as exc:
            self.context.show_message(str(exc), "error")
            return
        self._append(item)

    def add_layer(self) -> None:
        """Add the current canvas layer as a still at the end."""
        doc = self.context.document
        layer = self.context.active_layer
        try:
            pixels = layer_still(doc, layer)
        except ValueError as exc:
            self.context.show_message(str(exc), "info")
            return
        self._append(add_picture(doc.media, pixels, layer.name))

    def drop_sound(self, sound_id: str, track_id: str | None, start: Fraction) -> None:
        """Put the Audio panel's sound `sound_id` on the timeline at `start`, on track
        `track_id` when it is an audio track with room (one undo step)."""
        doc = self.context.document
        try:
            sound = doc.audio.find(sound_id)
        except AudioError as exc:
            self.context.show_message(str(exc), "warning")
            return
        command, clip_id = place_on_timeline(doc.timeline, sound, track_id, start)
        self.push(command)
        if any(clip.id == clip_id for _, clip in self.context.document.timeline.clips()):
            self.view.select(clip_id)

    def _append(self, item) -> None:
        command, clip_id = append_clip(self.context.document.timeline, item)
        self.push(command)
        if any(clip.id == clip_id for _, clip in self.context.document.timeline.clips()):
            self.view.select(clip_id)

    # ---- playback ------------------------------------------------------------------------

    @property
    def playing(self) -> bool:
        return self.clock is not None

    def toggle_play(self) -> None:
        if self.playing:
            self.stop()
        else:
            self.play()

    def play(self) -> None:
        """Play from the playhead (from the start when it is at the end) to the end."""
        if not self._has_clips():
            return
        fps, end = self.timeline.fps, self.timeline.duration
        start = Fraction(0) if self.playhead >= self._end_frame() else self.playhead
        self.set_playhead(start)
        problem = None
        if any(t.kind == "audio" and t.clips for t in self.timeline.tracks):
            sound = mix_audio(self.timeline, self.media, AUDIO_RATE, AUDIO_CHANNELS, start, end)
            problem = play_sound(sound, AUDIO_RATE)
        self.status.setText(problem or "")
        self.clock = PlaybackClock(start, end, fps)
        self.play_timer.start(max(1, int(1000 / float(fps) / 2)))
        self.play_button.setText("Pause")

    def stop(self) -> None:
        """Stop playing; the playhead stays where playback was."""
        self.play_timer.stop()
        self.clock = None
        stop_sound()
        self.play_button.setText("Play")

    def _tick(self) -> None:
        clock = self.clock
        if clock is None:
            return
        due = clock.frame_time()
        if due != self.playhead:
            self.set_playhead(due)
            self.view.show_time(due)
        if clock.finished:
            self.set_playhead(self._end_frame())
            self.stop()

    # ---- export --------------------------------------------------------------------------

    def export(self) -> None:
        """Ask where and how, then write the film on a worker thread."""
        if not self._has_clips():
            self.context.show_message("Add clips to the timeline before exporting it.", "info")
            return
        dialog = ExportDialog(self.timeline, self.context.dialog_folder(EXPORT_ACTION), self)
        if dialog.exec() != ExportDialog.DialogCode.Accepted:
            return
        settings = dialog.settings()
        self.context.remember_dialog_folder(EXPORT_ACTION, settings.path.parent)
        self.start_export(settings)

    def start_export(self, settings) -> ExportRun | None:
        """Start writing `settings.path` (an ExportSettings); the run, or None when the
        settings are refused."""
        try:
            total = export_frame_count(self.timeline, settings)
        except ValueError as exc:
            self.context.show_message(str(exc), "error")
            return None
        run = ExportRun(self.timeline, self.media, settings, self)
        run.progress.connect(self.progress.setValue)
        run.done.connect(lambda path: self._export_ended(f"Exported {path}"))
        run.failed.connect(lambda message: self._export_ended(message, "error"))
        run.cancelled.connect(lambda: self._export_ended("Export cancelled; nothing was written."))
        self.progress.setRange(0, total)
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.show()
        self.export_button.setEnabled(False)
        self.status.setText(f"Exporting {settings.path.name}\N{HORIZONTAL ELLIPSIS}")
        self.export_run = run
        run.start()
        return run

    def cancel_export(self) -> None:
        if self.export_run is not None:
            self.export_run.cancel()
            self.status.setText("Cancelling\N{HORIZONTAL ELLIPSIS}")

    def _export_ended(self, message: str, level: str = "info") -> None:
        self.export_run = None
        self.progress.hide()
        self.cancel_button.hide()
        self.export_button.setEnabled(self._has_clips())
        self.status.setText(message)
        self.context.show_message(message, level)

    # ---- OpenTimelineIO ------------------------------------------------------------------

    def import_otio(self, path: Path | None = None) -> None:
        """Open an .otio file as the timeline (one undo step)."""
        if path is None:
            chosen, _ = QFileDialog.getOpenFileName(
                self,
                "Import a timeline",
                str(self.context.dialog_folder(OTIO_ACTION)),
                f"OpenTimelineIO (*{OTIO_SUFFIX})",
            )
            if not chosen:
                return
            path = Path(chosen)
            self.context.remember_dialog_folder(OTIO_ACTION, path.parent)
        try:
            timeline, warnings = import_otio(path, self.context.document.media)
        except OtioError as exc:
            self.context.show_message(str(exc), "error")
            return
        self.push(OpenTimeline(timeline))
        if warnings:
            self.context.show_message("\n".join(warnings), "warning")

    def export_otio(self, path: Path | None = None) -> None:
        """Write the timeline as .otio with its media beside it."""
        if path is None:
            chosen, _ = QFileDialog.getSaveFileName(
                self,
                "Export the timeline as OpenTimelineIO",
                str(self.context.dialog_folder(OTIO_ACTION) / f"timeline{OTIO_SUFFIX}"),
                f"OpenTimelineIO (*{OTIO_SUFFIX})",
            )
            if not chosen:
                return
            path = Path(chosen).with_suffix(OTIO_SUFFIX)
            self.context.remember_dialog_folder(OTIO_ACTION, path.parent)
        try:
            written = export_otio(self.timeline, self.media, path)
        except (OtioError, TimelineError) as exc:
            self.context.show_message(str(exc), "error")
            return
        self.context.show_message(f"Exported {written} and its media", "info")
