"""The Timeline panel's Qt-free parts: the time scale's zoom and scroll, what a press
touches, the ruler's ticks and time codes, the playback clock that drops late frames, the
sound probe without a device, and a layer as a still."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from app.model.document import Document
from app.model.layers import GroupLayer, MaskLayer, RasterLayer
from app.model.timeline import Clip, MediaItem, Timeline, Track
from plugins.timeline import playback
from plugins.timeline.playback import NO_AUDIO, PlaybackClock, audio_problem, last_frame_time
from plugins.timeline.stills import EMPTY_LAYER, NO_LAYER, layer_still
from plugins.timeline.track_layout import (
    HEADER_W,
    RULER_H,
    TimeScale,
    hit,
    row_top,
    row_tracks,
    ruler_ticks,
    timecode,
)

F = Fraction


def timeline() -> Timeline:
    video = MediaItem("m", "video", "movie", (64, 36), F(24), length=48)
    sound = MediaItem("s", "audio", "tone", rate=8000, channels=1, length=8000)
    return Timeline(
        (
            Track("v1", "video", "Video 1", (Clip("a", "m", F(0), F(0), F(2)),)),
            Track("au", "audio", "Audio 1", (Clip("b", "s", F(1), F(0), F(1)),)),
            Track("v2", "video", "Video 2"),
        ),
        (video, sound),
    )


def test_rows_show_the_covering_video_track_first_then_sound():
    assert [t.id for t in row_tracks(timeline())] == ["v2", "v1", "au"]


def test_zoom_keeps_the_time_under_the_pointer_and_scrolling_stops_at_zero():
    scale = TimeScale(pps=80, offset=1.0)
    x = scale.x_of(3)
    zoomed = scale.zoomed(2.0, x)
    assert zoomed.pps == 160 and zoomed.x_of(3) == pytest.approx(x)
    assert scale.zoomed(1e6, x).pps == 2400 and scale.zoomed(1e-6, x).pps == 4
    assert scale.scrolled(-10_000).offset == 0
    assert scale.time_at(HEADER_W - 40) == 0.5 and TimeScale().time_at(0) == 0


def test_a_press_finds_the_ruler_a_clips_edges_its_body_or_an_empty_track():
    line, scale = timeline(), TimeScale(pps=100)
    middle = row_top(1) + 20  # Video 1's row
    assert hit(line, scale, HEADER_W + 10, RULER_H / 2).part == "ruler"
    assert hit(line, scale, HEADER_W + 2, middle).part == "start"
    assert hit(line, scale, scale.x_of(2) - 2, middle).part == "end"
    found = hit(line, scale, scale.x_of(1), middle)
    assert (found.part, found.clip.id, found.track.id) == ("body", "a", "v1")
    assert hit(line, scale, scale.x_of(3), middle).part == "track"
    assert hit(line, scale, 10, middle).part == "none"  # the names' column
    assert hit(line, scale, scale.x_of(1), row_top(5)).part == "none"


def test_time_codes_and_ruler_ticks():
    assert timecode(F(0), F(24)) == "00:00:00"
    assert timecode(F(61) + F(5, 24), F(24)) == "01:01:05"
    assert timecode(F(3600), F(24)) == "1:00:00:00"
    assert timecode(F(1) + F(2002, 30000), F(30000, 1001)) == "00:01:02"
    ticks = ruler_ticks(TimeScale(pps=80), 900)
    assert [t for _, t in ticks[:3]] == [0, 1, 2]  # a label every second at 80 px a second
    assert all(b - a >= 80 for (a, _), (b, _) in zip(ticks, ticks[1:], strict=False))


def test_the_clock_shows_the_frame_due_and_drops_late_ones():
    now = [10.0]
    clock = PlaybackClock(F(1, 2), F(2), F(24), now=lambda: now[0])
    assert clock.frame_time() == F(1, 2) and not clock.finished
    now[0] += 0.3  # a slow frame: the next one shown is the one due, 7 frames on
    assert clock.frame_time() == F(1, 2) + F(7, 24)
    now[0] += 5
    assert clock.finished and clock.frame_time() == last_frame_time(F(2), F(24)) == F(47, 24)


def test_without_portaudio_or_a_default_output_there_is_no_sound(monkeypatch):
    import sounddevice

    def missing(*args, **kwargs):
        raise OSError("PortAudio library not found")

    monkeypatch.setattr(sounddevice, "query_devices", missing)
    assert audio_problem() == NO_AUDIO
    assert playback.play_sound(np.zeros((2, 100), np.float32), 48000) == NO_AUDIO
    monkeypatch.setattr(sounddevice, "query_devices", lambda **_: {"max_output_channels": 0})
    assert audio_problem() == NO_AUDIO


def test_a_layer_as_a_still_keeps_its_place_on_the_canvas():
    doc = Document((40, 30))
    pixels = np.zeros((10, 10, 4), np.uint8)
    pixels[...] = (200, 10, 10, 255)
    layer = RasterLayer.from_array(pixels, doc.size, x=5, y=7)
    still = layer_still(doc, layer)
    assert still.shape == (30, 40, 4)
    assert tuple(still[7, 5]) == (200, 10, 10, 255) and still[0, 0, 3] == 0
    group = GroupLayer(children=[layer])
    assert np.array_equal(layer_still(doc, group), still)
    with pytest.raises(ValueError, match=NO_LAYER):
        layer_still(doc, None)
    with pytest.raises(ValueError, match=NO_LAYER):
        layer_still(doc, MaskLayer.blank(doc.size))
    with pytest.raises(ValueError, match=EMPTY_LAYER):
        layer_still(doc, RasterLayer.from_array(np.zeros((4, 4, 4), np.uint8), doc.size))
