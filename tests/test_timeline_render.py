"""What the timeline shows and plays, without Qt: frames at exact times, letterboxing,
opacity and fades, the audio mix's gain, fades and resampling, waveform peaks."""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np
import pytest

from app.model.document import Document
from app.model.history import History
from app.model.timeline_edits import AddClip, AddTrack, SetFades, SetGain, SetOpacity
from app.model.timeline_media import add_output, add_picture
from app.model.timeline_render import frame_at, frames, mix_audio, waveform
from engine.protocol import AudioData, VideoData


def numbered_video(count: int = 12, fps: int = 12, size=(16, 8)) -> VideoData:
    """A video whose frame n is grey n * 10 everywhere."""
    values = (np.arange(count, dtype=np.uint8) * 10)[:, None, None, None]
    return VideoData(np.broadcast_to(values, (count, size[1], size[0], 3)).copy(), fps)


def solid(rgba, size=(16, 8)) -> np.ndarray:
    return np.broadcast_to(np.array(rgba, np.uint8), (size[1], size[0], 4)).copy()


@pytest.fixture
def doc():
    doc = Document((16, 16))
    doc.history = History(doc)
    doc.history.push(AddTrack("video", track_id="v1"))
    doc.history.push(AddTrack("video", track_id="v2"))
    doc.history.push(AddTrack("audio", track_id="a1"))
    return doc


def push(doc, edit):
    doc.history.push(edit)


def test_frame_n_is_the_picture_at_n_over_fps(doc):
    item = add_output(doc.media, numbered_video(), "numbers")
    push(doc, AddClip(item, "v1", F(0), clip_id="n"))
    shown = [int(f[0, 0, 0]) for f in frames(doc.timeline, doc.media)]
    # the timeline runs at 24 fps, the video at 12: each source frame shows twice
    assert shown == [10 * (n // 2) for n in range(24)]
    assert int(frame_at(doc.timeline, doc.media, F(5, 12))[0, 0, 0]) == 50
    assert int(frame_at(doc.timeline, doc.media, F(5, 12) - F(1, 10**9))[0, 0, 0]) == 40
    assert int(frame_at(doc.timeline, doc.media, F(1))[0, 0, 0]) == 0  # past the end: black
    sixth = list(frames(doc.timeline, doc.media, fps=F(6), start=F(1, 2), end=F(1)))
    assert [int(f[0, 0, 0]) for f in sixth] == [60, 80, 100]


def test_a_frame_filling_opaque_clip_is_shown_as_it_is_and_never_shared(doc):
    video = VideoData(np.random.default_rng(0).integers(0, 256, (4, 8, 16, 3), np.uint8), 24)
    below = add_picture(doc.media, solid((200, 0, 0, 255)), "red")
    push(doc, AddClip(below, "v1", F(0)))
    push(doc, AddClip(add_output(doc.media, video, "noise"), "v2", F(0)))
    shown = frame_at(doc.timeline, doc.media, F(1, 24), size=(16, 8))
    assert np.array_equal(shown, video.frames[1])
    shown[:] = 0  # the caller's copy: the clip's media are untouched
    assert np.array_equal(frame_at(doc.timeline, doc.media, F(1, 24), (16, 8)), video.frames[1])
    bigger = frame_at(doc.timeline, doc.media, F(1, 24), size=(32, 16))
    assert bigger.shape == (16, 32, 3) and not (bigger == (200, 0, 0)).all(axis=2).any()


def test_pictures_are_letterboxed_into_the_timeline_size(doc):
    item = add_picture(doc.media, solid((200, 100, 50, 255), size=(8, 8)), "square")
    push(doc, AddClip(item, "v1", F(0)))
    wide = frame_at(doc.timeline, doc.media, F(0), size=(32, 16))
    assert wide.shape == (16, 32, 3)
    assert (wide[:, :8] == 0).all() and (wide[:, 24:] == 0).all()  # bars left and right
    assert (wide[:, 8:24] == (200, 100, 50)).all()


def test_opacity_blends_over_the_track_below(doc):
    below = add_picture(doc.media, solid((200, 0, 0, 255)), "red")
    above = add_picture(doc.media, solid((0, 0, 100, 255)), "blue")
    push(doc, AddClip(below, "v1", F(0)))
    push(doc, AddClip(above, "v2", F(0), clip_id="top"))
    assert tuple(frame_at(doc.timeline, doc.media, F(1))[0, 0]) == (0, 0, 100)
    push(doc, SetOpacity("top", 0.25))
    assert tuple(frame_at(doc.timeline, doc.media, F(1))[0, 0]) == (150, 0, 25)


def test_a_pictures_alpha_shows_the_track_below(doc):
    below = add_picture(doc.media, solid((0, 200, 0, 255)), "green")
    above = add_picture(doc.media, solid((200, 0, 0, 0)), "clear")
    push(doc, AddClip(below, "v1", F(0)))
    push(doc, AddClip(above, "v2", F(0)))
    assert tuple(frame_at(doc.timeline, doc.media, F(1))[0, 0]) == (0, 200, 0)


def test_a_fade_halves_brightness_at_its_midpoint(doc):
    white = add_picture(doc.media, solid((255, 255, 255, 255)), "white")
    push(doc, AddClip(white, "v1", F(1), clip_id="w"))  # 1 s to 4 s
    push(doc, SetFades("w", F(1), F(1, 2)))
    at = [int(frame_at(doc.timeline, doc.media, F(t))[0, 0, 0]) for t in ("1", "3/2", "2")]
    assert at == [0, 128, 255]
    assert int(frame_at(doc.timeline, doc.media, F(4) - F(1, 4))[0, 0, 0]) == 128


def tone(rate: int, seconds: F, channels: int = 1, amplitude: float = 0.8) -> AudioData:
    n = int(seconds * rate)
    samples = amplitude * np.sin(2 * np.pi * 5 * np.arange(n) / rate)
    return AudioData(np.repeat(samples[None], channels, 0).astype(np.float32), rate)


def test_gain_of_minus_6_db_halves_the_amplitude(doc):
    item = add_output(doc.media, tone(800, F(1)), "tone")
    push(doc, AddClip(item, "a1", F(0), clip_id="t"))
    full = mix_audio(doc.timeline, doc.media, 800)
    assert full.shape == (2, 800) and full.dtype == np.float32
    assert np.allclose(full[0], full[1])  # mono to both channels
    assert np.allclose(full[0], tone(800, F(1)).samples[0], atol=1e-6)  # same rate: exact
    push(doc, SetGain("t", -6.0))
    half = mix_audio(doc.timeline, doc.media, 800)
    assert np.abs(half).max() / np.abs(full).max() == pytest.approx(0.5, abs=0.005)


def test_audio_is_placed_resampled_and_faded(doc):
    item = add_output(doc.media, tone(1000, F(2), channels=2), "tone")
    push(doc, AddClip(item, "a1", F(1, 2), in_point=F(1, 4), out_point=F(5, 4), clip_id="t"))
    push(doc, SetFades("t", F(1, 2), F(0)))
    mixed = mix_audio(doc.timeline, doc.media, 8000, channels=1)
    assert mixed.shape == (1, 12000)  # 1.5 s at 8 kHz
    assert not mixed[:, :4000].any() and not mixed[:, 12000:].any()
    source = tone(1000, F(2)).samples[0]
    # 1.25 s on the timeline: source second 1, half a second after the fade ended
    assert mixed[0, 10000] == pytest.approx(source[1000], abs=1e-5)
    # at 0.75 s, the middle of the fade in: half of source second 0.5
    assert mixed[0, 6000] == pytest.approx(source[500] / 2, abs=1e-5)


def test_waveform_peaks_per_column():
    samples = np.array([[0.1, -0.5, 0.3, 0.9, -0.2, 0.0, 0.4]], np.float32)
    peaks = waveform(samples, 3)
    assert peaks.shape == (2, 3)
    assert np.allclose(peaks[0], [-0.5, 0.3, -0.2]) and np.allclose(peaks[1], [0.1, 0.9, 0.4])
    sparse = waveform(samples[:, :2], 4)  # fewer samples than columns
    assert np.allclose(sparse, [[0, 0.1, 0, -0.5], [0, 0.1, 0, -0.5]])
