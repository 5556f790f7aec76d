"""The Timeline panel in the window: clips added from a file and the current layer,
frame-accurate scrubbing, dragging with snapping, split and ripple delete from the keys,
undo, playback to the end, the silent path without a sound device, and export with
progress and Cancel."""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.model.commands import AddLayer
from app.model.layers import RasterLayer
from app.model.timeline_edits import TrimEnd
from app.ui.main_window import MainWindow
from plugins.registry import Registry
from plugins.timeline import plugin as timeline_plugin
from plugins.timeline.export import ExportSettings
from plugins.timeline.playback import NO_AUDIO
from plugins.timeline.track_layout import RULER_H, row_top
from plugins.timeline.ui_panel import TimelinePanel
from plugins.video_export.encoding import write_video
from tests.test_gui_main_window import (  # noqa: F401 (qt_loop is a fixture)
    close_window,
    make_store,
    make_window,
    qt_loop,
)
from tests.test_video_export import needs_ffprobe, probe

FRAMES, FPS, SIDE = 12, 12, (64, 48)  # a one-second clip, a colour per frame
STILL = (40, 220, 90, 255)


def frame_colour(n: int) -> tuple[int, int, int]:
    return (20 * n, 100, 230 - 15 * n)


@pytest.fixture
def video_file(tmp_path) -> Path:
    width, height = SIDE
    frames = np.stack(
        [np.full((height, width, 3), frame_colour(n), np.uint8) for n in range(FRAMES)]
    )
    return write_video(tmp_path / "colours.mp4", frames, fps=FPS, quality=4)


@pytest.fixture
def wav_file(tmp_path) -> Path:
    """Half a second of a 440 Hz tone, mono 16-bit at 22050 Hz."""
    rate = 22050
    t = np.arange(rate // 2) / rate
    pcm = (0.4 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    path = tmp_path / "tone.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return path


@pytest.fixture
def window(qtbot, qt_loop, home, tmp_path):  # noqa: F811
    registry = Registry()
    registry.add(timeline_plugin)
    win = make_window(qtbot, registry, make_store(home, tmp_path), close=False)
    yield win
    close_window(win)


@pytest.fixture
def panel(window: MainWindow) -> TimelinePanel:
    dock = window.plugin_docks["timeline.editor"]
    assert dock.windowTitle() == "Timeline"
    assert window.dockWidgetArea(dock) == Qt.DockWidgetArea.BottomDockWidgetArea
    dock.show()
    widget = dock.widget()
    widget.resize(1200, 360)
    widget.view.resize(900, 260)
    return widget


def add_still_layer(window: MainWindow) -> RasterLayer:
    """A layer of one colour over the whole canvas, made the current layer."""
    doc = window.session.doc
    pixels = np.zeros((doc.height, doc.width, 4), np.uint8)
    pixels[...] = STILL
    layer = RasterLayer.from_array(pixels, doc.size, name="Green")
    window.session.push(AddLayer(layer))
    window.session.set_active(layer.id)
    return layer


def clips(panel: TimelinePanel, kind: str = "video") -> list:
    track = next(t for t in panel.context.document.timeline.tracks if t.kind == kind)
    return list(track.clips)


def point(panel: TimelinePanel, t: Fraction | float, row: int | None = None) -> QPoint:
    """Where time `t` is on the ruler (row None) or in the middle of a track's row."""
    x = round(panel.view.scale.x_of(t))
    y = RULER_H // 2 if row is None else row_top(row) + 30
    return QPoint(x, y)


def drag(view, start: QPoint, end: QPoint, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    """Press at `start`, move to `end` in steps, release, with `modifiers` held."""
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton

    def send(kind, at: QPoint, button, buttons) -> None:
        position = QPointF(at)
        event = QMouseEvent(kind, position, view.mapToGlobal(position), button, buttons, modifiers)
        QApplication.sendEvent(view, event)

    send(QEvent.Type.MouseButtonPress, start, left, left)
    for step in range(1, 5):
        at = start + (end - start) * step / 4
        send(QEvent.Type.MouseMove, at, none, left)
    send(QEvent.Type.MouseButtonRelease, end, left, none)


def centre(frame: np.ndarray) -> np.ndarray:
    return frame[frame.shape[0] // 2, frame.shape[1] // 2].astype(int)


# ---- adding and scrubbing -----------------------------------------------------------------


def test_a_file_and_a_layer_become_clips_and_scrubbing_shows_each_frame(
    window, panel, qtbot, video_file
):
    panel.add_file(video_file)
    add_still_layer(window)
    panel.add_layer_button.click()
    video, still = clips(panel)
    assert (video.start, video.end) == (0, 1)
    assert (still.start, still.duration) == (1, 3)  # a still lasts 3 s, at the track's end
    assert panel.view.timeline is panel.context.document.timeline
    for n in (0, 5, 11):  # the ruler at frame n of the 24 fps timeline: source frame n // 2
        t = Fraction(2 * n + 1, 24)
        QTest.mouseClick(panel.view, Qt.MouseButton.LeftButton, pos=point(panel, t))
        assert panel.playhead == t
        assert np.abs(centre(panel.shown_frame) - frame_colour(n)).max() <= 8
    QTest.mouseClick(panel.view, Qt.MouseButton.LeftButton, pos=point(panel, 2))
    assert panel.playhead == 2
    assert np.abs(centre(panel.shown_frame) - STILL[:3]).max() <= 2
    assert panel.time_label.text() == "00:02:00"


def test_an_unreadable_file_says_so_and_adds_nothing(window, panel, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video")
    panel.add_file(bad)
    assert "broken.mp4" in window.messages.text
    assert not panel.context.document.timeline.tracks


# ---- editing ------------------------------------------------------------------------------


def test_dragging_a_clip_snaps_to_edges_unless_shift_and_undo_restores(
    window, panel, video_file, wav_file
):
    panel.add_file(video_file)  # 0..1 s on Video 1 (row 0)
    panel.add_file(wav_file)  # 0..0.5 s on Audio 1 (row 1)
    (sound,) = clips(panel, "audio")
    assert (sound.start, sound.end) == (0, Fraction(1, 2))
    grab = point(panel, Fraction(1, 4), row=1)
    # its start dropped 3 px short of the video's end: it snaps onto 1 s exactly
    offset = grab.x() - point(panel, 0).x()  # where on the clip it was grabbed
    target = QPoint(point(panel, 1).x() - 3 + offset, grab.y())
    drag(panel.view, grab, target)
    (moved,) = clips(panel, "audio")
    assert moved.start == 1
    window.session.undo()  # the whole drag is one undo step
    assert clips(panel, "audio")[0].start == 0
    assert panel.view.timeline is panel.context.document.timeline
    drag(panel.view, grab, target, Qt.KeyboardModifier.ShiftModifier)
    (free,) = clips(panel, "audio")
    assert free.start != 1 and abs(free.start - 1) < Fraction(1, 10)
    assert (free.start * 24).denominator == 1  # on a frame, though not snapped


def test_dragging_an_edge_trims_the_clip(window, panel, video_file):
    panel.add_file(video_file)
    end = point(panel, 1, row=0) - QPoint(2, 0)
    drag(panel.view, end, point(panel, Fraction(1, 2), row=0))
    (clip,) = clips(panel)
    assert (clip.start, clip.end) == (0, Fraction(1, 2))


def test_s_splits_at_the_playhead_and_shift_delete_closes_the_gap(window, panel, video_file):
    panel.add_file(video_file)
    add_still_layer(window)
    panel.add_layer_button.click()
    panel.set_playhead(Fraction(1, 2))
    QTest.mouseClick(panel.view, Qt.MouseButton.LeftButton, pos=point(panel, 0.25, row=0))
    QTest.keyClick(panel.view, Qt.Key.Key_S)
    first, second, still = clips(panel)
    assert (first.end, second.start, second.end) == (Fraction(1, 2), Fraction(1, 2), 1)
    QTest.mouseClick(panel.view, Qt.MouseButton.LeftButton, pos=point(panel, 0.75, row=0))
    assert panel.view.selected_id == second.id
    QTest.keyClick(panel.view, Qt.Key.Key_Delete, Qt.KeyboardModifier.ShiftModifier)
    half = Fraction(1, 2)
    assert [(c.start, c.end) for c in clips(panel)] == [(0, half), (half, Fraction(7, 2))]
    assert panel.view.selected_id is None  # the deleted clip was selected: now nothing is
    QTest.keyClick(panel.view, Qt.Key.Key_Delete)
    assert len(clips(panel)) == 2
    window.session.undo()
    window.session.undo()
    assert [(c.start, c.end) for c in clips(panel)] == [(0, 1), (1, 4)]


def test_the_properties_row_changes_a_clip_in_one_undo_step(window, panel, wav_file):
    panel.add_file(wav_file)
    QTest.mouseClick(panel.view, Qt.MouseButton.LeftButton, pos=point(panel, 0.25, row=0))
    assert panel.props.gain.isVisible() and not panel.props.opacity.isVisible()
    depth = window.session.history.position
    for value in (-1.0, -2.0, -3.0):  # e.g. the arrow held down
        panel.props.gain.setValue(value)
    assert clips(panel, "audio")[0].gain_db == -3.0
    assert window.session.history.position == depth + 1
    panel.props.fade_in.setValue(0.2)
    assert clips(panel, "audio")[0].fade_in == Fraction(1, 5)
    window.session.undo()
    window.session.undo()
    assert clips(panel, "audio")[0].gain_db == 0.0
    assert panel.props.gain.value() == 0.0


# ---- playback -----------------------------------------------------------------------------


def test_playback_advances_the_playhead_and_stops_at_the_end(
    window, panel, qtbot, monkeypatch, video_file
):
    panel.add_file(video_file)
    shown: list[Fraction] = []
    show_frame = panel.show_frame
    monkeypatch.setattr(panel, "show_frame", lambda: (shown.append(panel.playhead), show_frame()))
    QTest.keyClick(panel.view, Qt.Key.Key_Space)
    assert panel.playing and panel.play_button.text() == "Pause"
    qtbot.waitUntil(lambda: not panel.playing, timeout=10_000)
    assert panel.playhead == Fraction(23, 24)  # the last frame's start
    assert len(set(shown)) > 4 and shown == sorted(shown)
    assert np.abs(centre(panel.shown_frame) - frame_colour(11)).max() <= 8
    QTest.keyClick(panel.view, Qt.Key.Key_Space)  # at the end: plays again from the start
    assert panel.playing and panel.playhead < Fraction(1, 2)
    QTest.keyClick(panel.view, Qt.Key.Key_Space)
    assert not panel.playing


def test_without_a_sound_device_playback_is_silent_and_says_so(
    window, panel, qtbot, monkeypatch, video_file, wav_file
):
    import sounddevice

    def no_device(*args, **kwargs):
        raise sounddevice.PortAudioError("Error querying device -1")

    monkeypatch.setattr(sounddevice, "query_devices", no_device)
    panel.add_file(video_file)
    panel.add_file(wav_file)
    panel.play()
    assert panel.status.text() == NO_AUDIO
    qtbot.waitUntil(lambda: not panel.playing, timeout=10_000)
    assert panel.playhead == Fraction(23, 24)


def test_with_a_sound_device_the_mix_plays_from_the_playhead(
    window, panel, monkeypatch, video_file, wav_file
):
    import sounddevice

    played = []
    monkeypatch.setattr(sounddevice, "query_devices", lambda **_: {"max_output_channels": 2})
    monkeypatch.setattr(sounddevice, "play", lambda data, rate: played.append((data, rate)))
    monkeypatch.setattr(sounddevice, "stop", lambda: None)
    panel.add_file(video_file)
    panel.add_file(wav_file)
    panel.set_playhead(Fraction(1, 4))
    panel.play()
    assert panel.status.text() == ""
    ((data, rate),) = played
    assert rate == 48000 and data.shape == (36000, 2)  # from 0.25 s to the end at 1 s
    assert np.abs(data[:12000]).max() > 0.3 and np.abs(data[12001:]).max() == 0  # tone ends
    panel.stop()


# ---- export -------------------------------------------------------------------------------


@needs_ffprobe
def test_export_writes_a_film_ffprobe_reads(window, panel, qtbot, tmp_path, video_file, wav_file):
    panel.add_file(video_file)
    panel.add_file(wav_file)
    out = tmp_path / "out" / "film.mp4"
    out.parent.mkdir()
    run = panel.start_export(ExportSettings(out, size=(64, 48), quality="small"))
    assert run is not None and panel.progress.isVisible() is panel.isVisible()
    assert not panel.export_button.isEnabled()
    qtbot.waitUntil(lambda: panel.export_run is None, timeout=30_000)
    assert panel.status.text() == f"Exported {out}"
    info = probe(out)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert (video["codec_name"], video["pix_fmt"]) == ("h264", "yuv420p")
    assert (video["width"], video["height"], int(video["nb_read_frames"])) == (64, 48, 24)
    assert [s["codec_name"] for s in info["streams"] if s["codec_type"] == "audio"] == ["aac"]
    assert panel.progress.value() == 24 and panel.export_button.isEnabled()


def test_cancelled_export_leaves_no_file(window, panel, qtbot, tmp_path, video_file):
    panel.add_file(video_file)
    out = tmp_path / "out" / "film.mp4"
    out.parent.mkdir()
    run = panel.start_export(ExportSettings(out, fps=Fraction(240), size=(640, 480)))
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: panel.export_run is None, timeout=30_000)
    assert not run.thread.is_alive() or run.thread.join(5) is None
    assert panel.status.text() == "Export cancelled; nothing was written."
    assert list(out.parent.iterdir()) == []


def test_export_dialog_follows_the_format_and_the_timeline(window, panel, tmp_path, video_file):
    from plugins.timeline.ui_export import ExportDialog

    panel.add_file(video_file)
    dialog = ExportDialog(panel.timeline, tmp_path, panel)
    assert (dialog.width_box.value(), dialog.height_box.value()) == SIDE
    assert dialog.fps.value() == 24
    dialog.format.setCurrentIndex(dialog.format.findText("Animated GIF (.gif)"))
    settings = dialog.settings()
    assert settings.path == tmp_path / "film.gif" and settings.fps == 24
    assert settings.size == SIDE and settings.quality == "medium"


# ---- results to the timeline --------------------------------------------------------------


def test_a_generated_video_in_the_results_strip_goes_onto_the_timeline(window, panel):
    from app.model.clip_candidates import ClipCandidate
    from engine.protocol import VideoData

    frames = np.stack([np.full((48, 64, 3), frame_colour(n), np.uint8) for n in range(8)])
    candidate = ClipCandidate(VideoData(frames, 8.0), title="Text to video")
    window.results.add_candidates([candidate])
    assert window.results.current is candidate and window.results.images == []
    assert window.results.item(0).toolTip().startswith("Video, 64 x 48, 8 frames at 8 fps")
    assert window.apply_button.text() == "Add to timeline" and window.apply_button.isEnabled()
    window.apply_button.click()
    (clip,) = clips(panel)
    assert (clip.start, clip.duration) == (0, 1)
    assert panel.view.timeline is panel.context.document.timeline
    assert "to the timeline" in window.statusBar().currentMessage()
    window.apply_button.click()  # applied again: a second clip after the first
    assert [c.start for c in clips(panel)] == [0, 1]
    window.session.undo()
    window.session.undo()
    assert panel.context.document.timeline.tracks == ()


def test_opentimelineio_out_and_back_in_is_one_undo_step(window, panel, tmp_path, video_file):
    panel.add_file(video_file)
    panel.push(TrimEnd(clips(panel)[0].id, Fraction(1, 2)))
    panel.export_otio(tmp_path / "cut.otio")
    assert (tmp_path / "cut.otio").is_file() and (tmp_path / "cut_media").is_dir()
    window.session.undo()
    window.session.undo()
    assert panel.context.document.timeline.tracks == ()
    panel.import_otio(tmp_path / "cut.otio")
    (clip,) = clips(panel)
    assert (clip.start, clip.end) == (0, Fraction(1, 2))
    window.session.undo()
    assert panel.context.document.timeline.tracks == ()
    (tmp_path / "broken.otio").write_text("{not json")
    panel.import_otio(tmp_path / "broken.otio")
    assert "broken.otio" in window.messages.text
