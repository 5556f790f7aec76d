"""The Audio panel in the window: a sound job's result lands in its list with its
provenance, a running job's sound can be played, the settings and the trim handles edit
it in undo steps, Normalise reaches its target, playback plays the rendered sound (a fake
output stream), a sound dragged onto the Timeline panel lands there as it sounds, export
goes through the "audio" exporters, and without an audio device only playback is off."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QMouseEvent
from PySide6.QtWidgets import QApplication

from app.model.audio_edits import render
from app.model.audio_loudness import integrated_loudness
from app.model.timeline_edits import AddTrack
from app.model.timeline_render import mix_audio
from app.ui.main_window import MainWindow
from engine.protocol import AudioData, JobProgress, TaskResult
from plugins.api import Exporter, Plugin, Task, param
from plugins.audio import plugin as audio_plugin
from plugins.audio import ui_panel
from plugins.audio.ui_panel import NO_PLAYBACK, AudioPanel
from plugins.registry import Registry
from plugins.timeline import plugin as timeline_plugin
from plugins.timeline.playback import NO_AUDIO, SoundPlayer
from plugins.timeline.track_layout import row_top
from tests.test_audio_playback import FakeStream
from tests.test_gui_main_window import (  # noqa: F401 (qt_loop is a fixture)
    WAIT_MS,
    close_window,
    make_store,
    make_window,
    qt_loop,
)

RATE = 16000


@dataclass(frozen=True)
class ToneParams:
    prompt: str = param("a calm tone", "Prompt")
    seconds: float = param(2.0, "Duration", unit="s")


def tone(seconds: float = 2.0) -> np.ndarray:
    """Stereo 440 Hz at 0.3, then 660 Hz at 0.15 in the right channel."""
    t = np.arange(round(RATE * seconds)) / RATE
    left, right = 0.3 * np.sin(2 * np.pi * 440 * t), 0.15 * np.sin(2 * np.pi * 660 * t)
    return np.stack([left, right]).astype(np.float32)


def make_tone(params: ToneParams, ctx) -> TaskResult:
    """The test task's runner: a tone as a sound job's output, with a licence."""
    return TaskResult((AudioData(tone(params.seconds), RATE, {"licence": "MIT"}),))


def write_samples(path, audio: AudioData) -> Path:
    """The test exporter: the samples, the rate and the meta's keys as .npz."""
    path = Path(path)
    keys = np.array(sorted(audio.meta))
    np.savez(path, samples=audio.samples, rate=audio.rate, keys=keys)
    return path


TONE_TASK = Task(
    "tests.tone", 1, "Tone", ToneParams, "tests.test_gui_audio_panel:make_tone", output="audio"
)
SOUND_PLUGIN = Plugin(
    id="tests_sound",
    version="1",
    title="Test sounds",
    tasks=(TONE_TASK,),
    exporters=(
        Exporter(
            "tests.npz", "Samples", "audio", (".npz",), "tests.test_gui_audio_panel:write_samples"
        ),
    ),
)


def registry() -> Registry:
    found = Registry()
    for plugin in (timeline_plugin, audio_plugin, SOUND_PLUGIN):
        found.add(plugin)
    return found


@pytest.fixture
def device(monkeypatch) -> list[FakeStream]:
    """An output device: the streams the panel's player opens."""
    monkeypatch.setattr(ui_panel, "audio_problem", lambda: None)
    return []


@pytest.fixture
def window(qtbot, qt_loop, home, tmp_path, device):  # noqa: F811
    win = make_window(qtbot, registry(), make_store(home, tmp_path), close=False)
    yield win
    close_window(win)


@pytest.fixture
def panel(window: MainWindow, device: list[FakeStream]) -> AudioPanel:
    dock = window.plugin_docks["audio.editor"]
    assert dock.windowTitle() == "Audio"
    assert window.dockWidgetArea(dock) == Qt.DockWidgetArea.BottomDockWidgetArea
    dock.show()
    widget = dock.widget()
    widget.resize(1000, 320)

    def open_stream(rate, channels, callback) -> FakeStream:
        device.append(FakeStream(rate, channels, callback))
        return device[-1]

    widget.player = SoundPlayer(open_stream)
    return widget


def generate(window: MainWindow, qtbot, seconds: float = 2.0) -> None:
    """Run the tone job as the Generate panel runs jobs, and wait for its end."""
    with qtbot.waitSignal(window.generation.finished, timeout=WAIT_MS):
        window.generation.start(ToneParams(seconds=seconds), TONE_TASK.id)


def test_a_finished_sound_job_lands_in_the_list_with_its_provenance(window, panel, qtbot):
    generate(window, qtbot)
    (sound,) = window.session.doc.audio.clips
    assert sound.name == "Tone: a calm tone" and sound.duration == 2
    assert sound.provenance()["watermark"]["id"]  # the safety step marked it
    assert sound.output_meta()["licence"] == "MIT"
    assert panel.chosen_id == sound.id and panel.sounds.count() == 1
    assert "generated" in panel.sounds.item(0).text()
    assert panel.wave.samples is window.session.doc.media.data(sound.item)
    window.session.undo()
    assert window.session.doc.audio.clips == () and panel.sounds.count() == 0


def test_a_running_jobs_sound_is_listed_and_played_until_it_ends(window, panel, device, qtbot):
    so_far = AudioData(tone(0.5), RATE)
    window.generation.job_event.emit(TONE_TASK.id, JobProgress(1, 0.25, "music", audio=so_far))
    assert panel.row_ids() == [ui_panel.PREVIEW] and "0.5 s so far" in panel.sounds.item(0).text()
    panel.play_button.click()
    np.testing.assert_array_equal(device[0].pull(RATE // 2), tone(0.5))
    more = AudioData(tone(1.0), RATE)
    window.generation.job_event.emit(TONE_TASK.id, JobProgress(1, 0.5, "music", audio=more))
    np.testing.assert_array_equal(
        device[0].pull(RATE // 4), tone(1.0)[:, RATE // 2 : RATE * 3 // 4]
    )
    generate(window, qtbot)
    assert ui_panel.PREVIEW not in panel.row_ids() and panel.playing_id is None
    assert len(window.session.doc.audio.clips) == 1


def test_the_settings_edit_the_sound_in_undo_steps(window, panel, qtbot):
    generate(window, qtbot)
    session, settings = window.session, panel.settings
    settings.start.setValue(0.25)
    settings.end.setValue(1.75)
    settings.fade_in.setValue(0.5)
    settings.gain.setValue(-3.0)
    sound = session.doc.audio.clips[0]
    assert (sound.start, sound.end, sound.fade_in) == (
        Fraction(1, 4),
        Fraction(7, 4),
        Fraction(1, 2),
    )
    assert sound.gain_db == -3.0
    assert [e.label for e in session.history.entries()][-3:] == [
        "Trim sound",
        "Change sound fades",
        "Change sound gain",
    ]  # the two trim fields' changes were one step
    assert "trimmed" in panel.sounds.item(0).text() and "-3.0 dB" in panel.sounds.item(0).text()
    session.undo()
    session.undo()
    assert session.doc.audio.clips[0].gain_db == 0.0 and settings.fade_in.value() == 0.0
    assert settings.end.value() == pytest.approx(1.75)


def test_normalise_brings_the_sound_to_the_target(window, panel, qtbot):
    generate(window, qtbot)
    panel.settings.target.setValue(-18.0)
    panel.settings.normalise_button.click()
    sound = window.session.doc.audio.clips[0]
    assert sound.loudness_target == -18.0
    rendered = render(sound, window.session.doc.media)
    assert integrated_loudness(rendered, RATE) == pytest.approx(-18.0, abs=0.1)
    qtbot.waitUntil(lambda: "normalised to -18 LUFS" in panel.loudness.text(), timeout=WAIT_MS)
    assert window.session.history.undo_label == "Normalise sound"


def press(widget, kind, x: float, y: float) -> None:
    at = QPointF(x, y)
    buttons = (
        Qt.MouseButton.LeftButton
        if kind != QEvent.Type.MouseButtonRelease
        else Qt.MouseButton.NoButton
    )
    event = QMouseEvent(
        kind,
        at,
        widget.mapToGlobal(at),
        Qt.MouseButton.LeftButton,
        buttons,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, event)


def test_dragging_a_trim_handle_is_one_undo_step(window, panel, qtbot):
    generate(window, qtbot)
    wave = panel.wave
    wave.resize(801, 150)
    scale = wave.scale()
    y = 75
    press(wave, QEvent.Type.MouseButtonPress, scale.x_of(Fraction(0)) + 2, y)
    for seconds in (0.2, 0.4, 0.5):
        press(wave, QEvent.Type.MouseMove, scale.x_of(Fraction(seconds)), y)
    press(wave, QEvent.Type.MouseButtonRelease, scale.x_of(Fraction(1, 2)), y)
    sound = window.session.doc.audio.clips[0]
    assert abs(sound.start - Fraction(1, 2)) < Fraction(1, 100)
    assert window.session.history.undo_label == "Trim sound"
    window.session.undo()
    assert window.session.doc.audio.clips[0].start == 0  # the whole drag at once


def test_playback_plays_the_rendered_sound_loops_and_seeks(window, panel, device, qtbot):
    generate(window, qtbot)
    panel.settings.fade_out.setValue(0.5)
    panel.settings.gain.setValue(-6.0)
    sound = window.session.doc.audio.clips[0]
    rendered = render(sound, window.session.doc.media)
    panel.loop_box.setChecked(True)
    panel.play_button.click()
    assert panel.play_button.text() == "Pause" and device[0].rate == RATE
    played = np.concatenate([device[0].pull(4000) for _ in range(10)], axis=1)
    np.testing.assert_array_equal(played, np.concatenate([rendered, rendered[:, :8000]], axis=1))
    qtbot.waitUntil(lambda: panel.meter.levels.max() > 0, timeout=WAIT_MS)
    panel.seek_to(Fraction(3, 2))  # source seconds: the sound is not trimmed
    assert panel.player.position == 24000
    np.testing.assert_array_equal(device[0].pull(100), rendered[:, 24000:24100])
    panel.play_button.click()
    assert panel.playing_id is None and device[0].closed


def drop_at(view, at: QPointF, mime) -> None:
    """A drag carrying `mime` entering `view` and dropped at `at`."""
    copy, left = Qt.DropAction.CopyAction, Qt.MouseButton.LeftButton
    none = Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(at.toPoint(), copy, mime, left, none)
    QApplication.sendEvent(view, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(view, QDropEvent(at, copy, mime, left, none))


def test_a_sound_dragged_onto_the_timeline_lands_as_it_sounds(window, panel, qtbot):
    generate(window, qtbot)
    panel.settings.start.setValue(0.5)
    panel.settings.fade_in.setValue(0.25)
    panel.settings.gain.setValue(-2.0)
    sound = window.session.doc.audio.clips[0]
    window.session.push(AddTrack("audio", track_id="music"))
    timeline_panel = window.plugin_docks["timeline.editor"].widget()
    view = timeline_panel.view
    view.resize(900, 200)
    at = QPointF(view.scale.x_of(Fraction(1)), row_top(0) + 20)
    drop_at(view, at, panel.sounds.mime_for(panel.sounds.item(0)))
    timeline = window.session.doc.timeline
    (track,) = timeline.tracks
    (clip,) = track.clips
    assert track.id == "music" and clip.start == 1 and clip.duration == sound.duration
    assert (clip.fade_in, clip.gain_db) == (sound.fade_in, sound.gain_db)
    assert view.selected_id == clip.id
    mixed = mix_audio(timeline, window.session.doc.media, RATE, 2, Fraction(1), clip.end)
    np.testing.assert_allclose(mixed, render(sound, window.session.doc.media), atol=1e-7)
    assert window.session.history.undo_label == "Add clip"


def test_export_writes_the_sound_as_it_plays_with_its_provenance(window, panel, qtbot, tmp_path):
    generate(window, qtbot)
    panel.settings.end.setValue(1.0)
    written = panel.export(tmp_path / "tone.npz")
    saved = np.load(written)
    sound = window.session.doc.audio.clips[0]
    np.testing.assert_array_equal(saved["samples"], render(sound, window.session.doc.media))
    assert saved["samples"].shape == (2, RATE) and int(saved["rate"]) == RATE
    assert set(saved["keys"]) == {"licence", "provenance", "recipe"}


def test_without_a_device_playback_is_off_with_a_note_and_the_rest_works(
    window, panel, qtbot, monkeypatch, tmp_path
):
    monkeypatch.setattr(ui_panel, "audio_problem", lambda: NO_AUDIO)
    panel.check_device()
    assert not panel.play_button.isEnabled() and panel.note.text() == NO_PLAYBACK
    generate(window, qtbot)
    panel.settings.gain.setValue(-1.5)
    assert window.session.doc.audio.clips[0].gain_db == -1.5
    assert panel.export(tmp_path / "quiet.npz").exists()
    panel.play()  # does nothing
    assert panel.playing_id is None


def test_a_device_that_will_not_open_turns_playback_off(window, panel, qtbot):
    generate(window, qtbot)
    panel.player = SoundPlayer(lambda rate, channels, callback: (_ for _ in ()).throw(OSError()))
    panel.play_button.click()
    assert panel.playing_id is None and not panel.play_button.isEnabled()
    assert panel.note.text() == NO_PLAYBACK
