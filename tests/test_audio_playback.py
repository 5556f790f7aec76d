"""The Audio panel's player (plugins/timeline/playback.py SoundPlayer) against a fake
output stream: what it writes is the rendered sound, a loop wraps, a seek lands on its
sample, the level is what was just played, and without a device nothing plays."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.timeline import playback
from plugins.timeline.playback import NO_AUDIO, SoundPlayer

RATE = 1000


class FakeStream:
    """An output stream that plays when the test pulls blocks from it."""

    def __init__(self, rate: int, channels: int, callback) -> None:
        self.rate, self.channels, self.callback = rate, channels, callback
        self.started = self.closed = False

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.closed = True

    def pull(self, frames: int) -> np.ndarray:
        """One block as PortAudio would ask for it: (frames, channels) float32 filled by
        the callback; returned as (channels, frames)."""
        out = np.full((frames, self.channels), np.nan, np.float32)
        self.callback(out, frames, None, None)
        return out.T.copy()


@pytest.fixture
def streams() -> list[FakeStream]:
    return []


@pytest.fixture
def player(streams) -> SoundPlayer:
    def open_stream(rate, channels, callback) -> FakeStream:
        streams.append(FakeStream(rate, channels, callback))
        return streams[-1]

    return SoundPlayer(open_stream)


def sound(channels: int = 2, count: int = 1000) -> np.ndarray:
    """Every sample different: channel c, sample k holds (c + 1) * k / 10000."""
    values = (np.arange(channels)[:, None] + 1) * np.arange(count)[None] / 10000
    return values.astype(np.float32)


def test_it_writes_the_samples_in_blocks_then_silence_and_ends(player, streams):
    samples = sound()
    assert player.play(samples, RATE) is None
    stream = streams[0]
    assert (stream.rate, stream.channels, stream.started) == (RATE, 2, True)
    played = np.concatenate([stream.pull(256) for _ in range(4)], axis=1)
    np.testing.assert_array_equal(played[:, :1000], samples)
    assert not played[:, 1000:].any()  # silence after the end, never garbage
    assert player.position == 1000
    stream.pull(256)
    assert not player.playing  # a block with nothing left ends it
    player.stop()
    assert stream.closed


def test_it_starts_where_it_is_asked_and_a_seek_lands_on_its_sample(player, streams):
    samples = sound()
    player.play(samples, RATE, start=300)
    np.testing.assert_array_equal(streams[0].pull(100), samples[:, 300:400])
    player.seek(750)
    assert player.position == 750
    np.testing.assert_array_equal(streams[0].pull(100), samples[:, 750:850])
    player.seek(5000)  # past the end: at the end
    assert player.position == 1000


def test_a_loop_wraps_from_its_end_to_its_start(player, streams):
    samples = sound()
    player.play(samples, RATE, start=100, loop=(100, 400))
    played = np.concatenate([streams[0].pull(128) for _ in range(6)], axis=1)
    expected = np.concatenate([samples[:, 100:400]] * 3, axis=1)
    np.testing.assert_array_equal(played, expected[:, : played.shape[1]])
    assert player.playing
    player.set_loop(None)  # plays on to the end from where it is
    position = player.position
    rest = streams[0].pull(1000 - position)
    np.testing.assert_array_equal(rest, samples[:, position:])


def test_the_level_is_each_channels_peak_of_the_last_block(player, streams):
    samples = np.zeros((2, 1000), np.float32)
    samples[0, 10], samples[1, 600] = -0.5, 0.25
    player.play(samples, RATE)
    streams[0].pull(100)
    np.testing.assert_allclose(player.levels, [0.5, 0.0])
    streams[0].pull(600)
    np.testing.assert_allclose(player.levels, [0.0, 0.25])
    player.stop()
    assert not player.levels.any()


def test_without_a_device_nothing_plays_and_it_says_so(monkeypatch):
    import sounddevice

    def no_device(**_):
        raise sounddevice.PortAudioError("Error querying device -1")

    monkeypatch.setattr(sounddevice, "query_devices", no_device)
    opened = []
    monkeypatch.setattr(sounddevice, "OutputStream", lambda **kw: opened.append(kw))
    player = SoundPlayer()
    assert player.play(sound(), RATE) == NO_AUDIO
    assert opened == [] and not player.playing
    player.seek(10)  # the rest still works
    assert player.position == 10


def test_a_stream_that_will_not_open_is_no_device(monkeypatch):
    def broken(rate, channels, callback):
        raise OSError("device unavailable")

    player = SoundPlayer(broken)
    assert player.play(sound(), RATE) == NO_AUDIO
    assert not player.playing


def test_the_default_stream_is_sounddevices_float32_output(monkeypatch):
    import sounddevice

    made = {}
    monkeypatch.setattr(playback, "audio_problem", lambda: None)
    monkeypatch.setattr(sounddevice, "OutputStream", lambda **kw: made.update(kw) or "stream")
    assert playback.open_output_stream(32000, 2, print) == "stream"
    assert made == {"samplerate": 32000, "channels": 2, "dtype": "float32", "callback": print}
