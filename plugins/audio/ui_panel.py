"""The Audio panel: the document's sounds (each finished job's sound lands here with its
provenance; a running job's first seconds can be played as they come), the chosen one's
waveform with trim handles, playback with loop, seek and a level meter, its settings,
Normalise, Export through the "audio" exporters, and dragging a sound onto the timeline.

Every edit goes through AppContext.push as one undo step, and the panel re-reads
`doc.audio` after every change. Playback renders the sound with its settings
(app/model/audio_edits.py `render`) and plays it through the timeline's SoundPlayer
(plugins/timeline/playback.py); where no output device opens, playback is off and the
panel says so, and everything else works.

A UI module (PySide6, never torch).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData, Qt, QTimer
from PySide6.QtGui import QDrag
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.model.audio_clips import SOUND_MIME, AudioClip, AudioError, AudioLibrary, meta_text
from app.model.audio_edits import (
    AddSound,
    AudioEdit,
    DeleteSound,
    TrimSound,
    normalise,
    render,
)
from app.model.audio_loudness import LoudnessError, integrated_loudness, peak_db
from app.model.clip_candidates import ClipCandidate
from app.model.commands import Macro
from app.model.history_names import ADD_SOUND
from app.model.layers import new_id
from app.model.timeline_media import add_output
from engine.protocol import AudioData, JobCancelled, JobFailed, JobFinished, JobProgress
from plugins.api import AppContext, Task
from plugins.audio.ui_settings import SoundSettings
from plugins.audio.ui_wave import LevelMeter, WaveView
from plugins.audio.wave_layout import clock_text
from plugins.exporters import export, exporter_for, exporters_of
from plugins.timeline.playback import SoundPlayer, audio_problem

EXPORT_ACTION = "audio_export"  # the export dialog's remembered folder
PREVIEW = "preview"  # the list row of a running job's sound
NO_PLAYBACK = "No audio device: playback is off (editing and export work)"
TICK_MS = 33
MEASURE_DELAY_MS = 250  # the loudness line waits for edits to settle


def make_panel(context: AppContext) -> QWidget:
    """The Audio panel (plugins.api.Panel factory)."""
    return AudioPanel(context)


class SoundList(QListWidget):
    """The sounds, newest last; a sound dragged out carries its id as SOUND_MIME."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("audioSounds")
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setMinimumWidth(180)
        self.setWordWrap(True)
        self.setSpacing(3)

    def mime_for(self, item: QListWidgetItem) -> QMimeData | None:
        """What dragging `item` carries (None for the running job's preview)."""
        sound_id = item.data(Qt.ItemDataRole.UserRole)
        if sound_id == PREVIEW:
            return None
        mime = QMimeData()
        mime.setData(SOUND_MIME, str(sound_id).encode())
        mime.setText(item.text().splitlines()[0])
        return mime

    def startDrag(self, actions: Qt.DropAction) -> None:  # noqa: N802 (Qt's name)
        item = self.currentItem()
        mime = self.mime_for(item) if item is not None else None
        if mime is not None:
            drag = QDrag(self)
            drag.setMimeData(mime)
            drag.exec(Qt.DropAction.CopyAction)


class AudioPanel(QWidget):
    """The whole Audio panel; `context` is the window's AppContext."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.setObjectName("audioPanel")
        self.player = SoundPlayer()
        self.preview: AudioData | None = None  # the running job's sound so far
        self.rendered: tuple[AudioClip, np.ndarray] | None = None  # the chosen sound's
        self.playing_id: str | None = None
        self.playhead = 0  # the sample of the played sound the playhead is at
        self._audio: AudioLibrary | None = None  # what the list shows
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.measure_timer = QTimer(self, singleShot=True, interval=MEASURE_DELAY_MS)
        self.measure_timer.timeout.connect(self._measure)
        self.sounds = SoundList()
        self.wave = WaveView()
        self.meter = LevelMeter()
        self.settings = SoundSettings(self.push, self.normalise)
        self.note = QLabel("", objectName="audioNote")
        self.note.setWordWrap(True)
        self.loudness = QLabel("", objectName="audioLoudness")
        self._build()
        self.sounds.currentItemChanged.connect(lambda *_: self.show_chosen())
        self.wave.trimmed.connect(self._trimmed)
        self.wave.seeked.connect(self.seek_to)
        self._stop_following = context.on_document_changed(self.refresh)
        self._stop_jobs = context.on_job_event(self.job_event)
        self.destroyed.connect(self.player.stop)
        self.check_device()
        self.refresh()

    # ---- building ------------------------------------------------------------------------

    def _build(self) -> None:
        self.play_button = QPushButton("Play", objectName="audioPlay")
        self.play_button.setToolTip("Play or pause the chosen sound")
        self.play_button.clicked.connect(self.toggle_play)
        self.loop_box = QCheckBox("Loop", objectName="audioLoop")
        self.loop_box.setToolTip("Play the sound over and over")
        self.loop_box.toggled.connect(self._loop_toggled)
        self.time_label = QLabel("0:00.00", objectName="audioTime")
        self.delete_button = QPushButton("Delete", objectName="audioDelete")
        self.delete_button.setToolTip("Take the chosen sound out of the list")
        self.delete_button.clicked.connect(self.delete)
        self.export_button = QPushButton("Export\N{HORIZONTAL ELLIPSIS}", objectName="primary")
        self.export_button.setToolTip("Write the sound as it plays (WAV, FLAC, MP3, M4A)")
        self.export_button.clicked.connect(lambda: self.export())
        tools = QHBoxLayout()
        tools.addWidget(self.play_button)
        tools.addWidget(self.loop_box)
        tools.addWidget(self.time_label)
        tools.addWidget(self.meter)
        tools.addWidget(self.note, 1)
        tools.addWidget(self.delete_button)
        tools.addWidget(self.export_button)
        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.wave, 1)
        column.addWidget(self.loudness)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.sounds)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([220, 660])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(tools)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.settings)

    # ---- the document --------------------------------------------------------------------

    @property
    def chosen_id(self) -> str | None:
        item = self.sounds.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    @property
    def chosen(self) -> AudioClip | None:
        """The chosen sound (None: none, or the running job's preview)."""
        return self.context.document.audio.get(self.chosen_id)

    def refresh(self) -> None:
        """Read the document's sounds again (after an edit, undo, redo, new or open)."""
        audio = self.context.document.audio
        if audio is self._audio:
            return
        self._audio = audio
        chosen = self.chosen_id
        if self.playing_id not in {c.id for c in audio.clips} | {PREVIEW}:
            self.stop()  # its sound is gone (undone, another document)
        self.sounds.blockSignals(True)
        self.sounds.clear()
        if self.preview is not None:
            self._add_row(PREVIEW, self._preview_text())
        for clip in audio.clips:
            self._add_row(clip.id, f"{clip.name}\n{clip_caption(clip)}", clip)
        rows = self.row_ids()
        if rows:
            self.sounds.setCurrentRow(rows.index(chosen) if chosen in rows else len(rows) - 1)
        self.sounds.blockSignals(False)
        self.show_chosen()

    def _add_row(self, sound_id: str, text: str, clip: AudioClip | None = None) -> None:
        item = QListWidgetItem(text)
        item.setData(Qt.ItemDataRole.UserRole, sound_id)
        if clip is not None and clip.provenance():
            item.setToolTip("Generated: its provenance record and watermark go with its exports")
        self.sounds.addItem(item)

    def push(self, command: AudioEdit | Macro) -> None:
        self.context.push(command)

    def show_chosen(self) -> None:
        """Show the chosen sound (or the preview): its waveform, settings and buttons."""
        clip = self.chosen
        self.settings.show_clip(clip)
        self.delete_button.setEnabled(clip is not None)
        self.export_button.setEnabled(clip is not None)
        if clip is not None:
            source = self.context.document.media.data(clip.item)
            span, fades = (clip.start, clip.end), (clip.fade_in, clip.fade_out)
            self.wave.show_sound(source, clip.rate, span, fades)
            self._replay_if_changed(clip)
            self.measure_timer.start()
        elif self.chosen_id == PREVIEW and self.preview is not None:
            self.wave.show_sound(self.preview.samples, self.preview.rate, editable=False)
            self.loudness.setText("The sound made so far; it joins the list when the job ends.")
        else:
            self.wave.show_sound(None)
            self.loudness.setText("")
        self._show_playhead()

    def sound_now(self) -> tuple[np.ndarray, int] | None:
        """What Play plays: the chosen sound rendered with its settings (kept until they
        change), or the preview's samples; None when nothing is chosen."""
        clip = self.chosen
        if clip is not None:
            if self.rendered is None or self.rendered[0] != clip:
                self.rendered = (clip, render(clip, self.context.document.media))
            return self.rendered[1], clip.rate
        if self.chosen_id == PREVIEW and self.preview is not None:
            return self.preview.samples, self.preview.rate
        return None

    def _measure(self) -> None:
        """The loudness line: the chosen sound's loudness and peak as it plays."""
        clip, sound = self.chosen, self.sound_now()
        if clip is None or sound is None:
            return
        try:
            loudness = f"{integrated_loudness(sound[0], sound[1]):.1f} LUFS"
        except LoudnessError as exc:
            loudness = str(exc)
        normalised = (
            f" (normalised to {clip.loudness_target:g} LUFS)"
            if clip.loudness_target is not None
            else ""
        )
        self.loudness.setText(
            f"{clock_text(float(clip.duration))} kept of {clock_text(float(clip.source_duration))}"
            f" \N{MIDDLE DOT} Loudness {loudness}{normalised}"
            f" \N{MIDDLE DOT} Peak {peak_db(sound[0]):.1f} dBFS"
        )

    # ---- jobs ----------------------------------------------------------------------------

    def job_event(self, task: Task | None, event: object) -> None:
        """A job the window runs: a sound job's preview is shown while it runs, and its
        finished sounds join the list (one undo step)."""
        if task is None or task.output != "audio":
            return
        if isinstance(event, JobProgress) and event.audio is not None:
            self.show_preview(event.audio)
        elif isinstance(event, JobFinished):
            self.end_preview()
            self.add_outputs(task, [o for o in event.outputs if isinstance(o, AudioData)])
        elif isinstance(event, JobFailed | JobCancelled):
            self.end_preview()

    def add_outputs(self, task: Task, outputs: list[AudioData]) -> list[str]:
        """Put a job's sounds at the end of the list, with their provenance, as one undo
        step, and choose the first; their ids."""
        doc = self.context.document
        commands = []
        for output in outputs:
            if output.samples.ndim != 2 or output.samples.shape[1] == 0:
                continue
            name = ClipCandidate(output, task.title).clip_name()
            item = add_output(doc.media, output, name)
            commands.append(AddSound(AudioClip(new_id(), item, meta=meta_text(output.meta))))
        if not commands:
            return []
        self.push(commands[0] if len(commands) == 1 else Macro(ADD_SOUND, commands))
        ids = [command.clip.id for command in commands]
        self.choose(ids[0])
        return ids

    def show_preview(self, audio: AudioData) -> None:
        """The running job's sound so far: listed first, playable, growing as it comes."""
        first = self.preview is None
        self.preview = audio
        if self.playing_id == PREVIEW:
            self.player.grow(audio.samples)
        if first:
            self._audio = None  # list it
            self.refresh()
        else:
            self.sounds.item(0).setText(self._preview_text())
            if self.chosen_id == PREVIEW:
                self.show_chosen()

    def end_preview(self) -> None:
        if self.preview is None:
            return
        if self.playing_id == PREVIEW:
            self.stop()
        self.preview = None
        self._audio = None
        self.refresh()

    def _preview_text(self) -> str:
        assert self.preview is not None
        made = self.preview.samples.shape[1] / self.preview.rate
        return f"Generating\N{HORIZONTAL ELLIPSIS}\n{made:.1f} s so far"

    def row_ids(self) -> list[str]:
        """The list's rows: each sound's id (PREVIEW for the running job's)."""
        return [
            self.sounds.item(row).data(Qt.ItemDataRole.UserRole)
            for row in range(self.sounds.count())
        ]

    def choose(self, sound_id: str) -> None:
        rows = self.row_ids()
        if sound_id in rows:
            self.sounds.setCurrentRow(rows.index(sound_id))

    # ---- edits ---------------------------------------------------------------------------

    def _trimmed(self, start: Fraction, end: Fraction, key: object) -> None:
        clip = self.chosen
        if clip is not None:
            self.push(TrimSound(clip.id, start, end, key))

    def normalise(self, target: float) -> None:
        """Set the chosen sound's gain so it plays at `target` LUFS."""
        clip = self.chosen
        if clip is None:
            return
        media = self.context.document.media
        try:
            command = normalise(clip, media, target)
        except AudioError as exc:
            self.context.show_message(str(exc), "warning")
            return
        self.push(command)
        peak = peak_db(render(clip, media, gain_db=0.0)) + command.gain_db
        if peak > 0:
            self.context.show_message(
                f"Normalised to {target:g} LUFS; its peaks reach {peak:+.1f} dBFS and are "
                "clipped: try a lower target.",
                "warning",
            )

    def delete(self) -> None:
        clip = self.chosen
        if clip is not None:
            self.push(DeleteSound(clip.id))

    # ---- playback ------------------------------------------------------------------------

    def check_device(self) -> None:
        """Play works only where an output device is there; else it is off, saying so."""
        if audio_problem() is not None:
            self.playback_off()

    def playback_off(self, note: str = NO_PLAYBACK) -> None:
        """No output device: Play is disabled, with the reason."""
        self.play_button.setEnabled(False)
        self.play_button.setToolTip(note)
        self.note.setText(note)

    def toggle_play(self) -> None:
        if self.playing_id is not None:
            self.stop()
        else:
            self.play()

    def play(self) -> None:
        """Play the chosen sound from the playhead (from its start when at the end)."""
        sound = self.sound_now()
        if sound is None or not self.play_button.isEnabled():
            return
        samples, rate = sound
        start = 0 if self.playhead >= samples.shape[1] else self.playhead
        problem = self.player.play(samples, rate, start, self._loop_span(samples))
        if problem is not None:
            self.playback_off()
            return
        self.playing_id = self.chosen_id
        self.play_button.setText("Pause")
        self.timer.start()

    def stop(self) -> None:
        """Stop playing; the playhead stays where playback was."""
        self.timer.stop()
        self.player.stop()
        self.playing_id = None
        self.play_button.setText("Play")
        self.meter.set_levels(np.zeros(2, np.float32))

    def seek_to(self, t: Fraction) -> None:
        """Move the playhead to source time `t` (within the trim), playing on from there."""
        clip = self.chosen
        start = clip.start if clip is not None else Fraction(0)
        sound = self.sound_now()
        if sound is None:
            return
        rate = sound[1]
        self.playhead = min(max(0, round((t - start) * rate)), sound[0].shape[1])
        if self.playing_id is not None:
            self.player.seek(self.playhead)
        self._show_playhead()

    def _loop_span(self, samples: np.ndarray) -> tuple[int, int] | None:
        return (0, samples.shape[1]) if self.loop_box.isChecked() else None

    def _loop_toggled(self) -> None:
        sound = self.sound_now()
        if self.playing_id is not None and sound is not None:
            self.player.set_loop(self._loop_span(sound[0]))

    def _replay_if_changed(self, clip: AudioClip) -> None:
        """An edit of the sound playing: go on playing it as it is now."""
        if self.playing_id == clip.id and (self.rendered is None or self.rendered[0] != clip):
            self.playhead = self.player.position
            self.player.stop()
            self.playing_id = None
            self.play()

    def _tick(self) -> None:
        self.playhead = self.player.position
        self.meter.set_levels(self.player.levels)
        self._show_playhead()
        waiting = self.playing_id == PREVIEW and self.preview is not None  # more may come
        if not self.player.playing and not waiting:
            self.stop()

    def _show_playhead(self) -> None:
        sound = self.sound_now() if self.chosen_id is not None else None
        if sound is None:
            self.wave.set_playhead(None)
            self.time_label.setText("0:00.00")
            return
        samples, rate = sound
        self.playhead = min(self.playhead, samples.shape[1])
        clip = self.chosen
        offset = clip.start if clip is not None else Fraction(0)
        self.wave.set_playhead(offset + Fraction(self.playhead, rate))
        total = clock_text(samples.shape[1] / rate)
        self.time_label.setText(f"{clock_text(self.playhead / rate)} / {total}")

    # ---- export --------------------------------------------------------------------------

    def export(self, path: Path | None = None) -> Path | None:
        """Write the chosen sound as it plays, with its tags and provenance, in the format
        the file's suffix names (asked in a dialog when not given); the path written."""
        clip = self.chosen
        exporters = exporters_of(self.context.exporters, "audio")
        if clip is None:
            return None
        if not exporters:
            self.context.show_message("No plugin exports sound: install audio export.", "error")
            return None
        if path is None:
            path = self._ask_path(clip, exporters)
            if path is None:
                return None
        output = AudioData(render(clip, self.context.document.media), clip.rate, clip.output_meta())
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            written = export(exporter_for(path, exporters, "audio"), path, output)
        except (OSError, ValueError) as exc:
            self.context.show_message(str(exc), "error")
            return None
        finally:
            QApplication.restoreOverrideCursor()
        self.context.show_message(f"Exported {written}", "info")
        return written

    def _ask_path(self, clip: AudioClip, exporters: list) -> Path | None:
        filters = [f"{e.title} ({' '.join('*' + s for s in e.suffixes)})" for e in exporters]
        folder = self.context.dialog_folder(EXPORT_ACTION)
        suggested = folder / f"{file_stem(clip.name)}{exporters[0].suffixes[0]}"
        chosen, chosen_filter = QFileDialog.getSaveFileName(
            self, "Export the sound", str(suggested), ";;".join(filters)
        )
        if not chosen:
            return None
        path = Path(chosen)
        if not path.suffix:
            exporter = exporters[filters.index(chosen_filter)] if chosen_filter in filters else None
            path = path.with_suffix((exporter or exporters[0]).suffixes[0])
        self.context.remember_dialog_folder(EXPORT_ACTION, path)
        return path


def clip_caption(clip: AudioClip) -> str:
    """The list's second line: its length, and how it was changed."""
    parts = [f"{float(clip.duration):.1f} s"]
    if clip.duration != clip.source_duration:
        parts.append("trimmed")
    if clip.gain_db:
        parts.append(f"{clip.gain_db:+.1f} dB")
    if clip.provenance():
        parts.append("generated")
    return " \N{MIDDLE DOT} ".join(parts)


def file_stem(name: str) -> str:
    """A sound's name as a file name: letters, digits, spaces and dashes kept."""
    kept = "".join(c if c.isalnum() or c in " -_" else " " for c in name)
    return " ".join(kept.split())[:60] or "sound"
