"""Loudness measured the ITU-R BS.1770-4 way (app/model/audio_loudness.py): the standard's
sine figures, both gates, and the sounds it refuses to measure."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.model.audio_loudness import (
    LoudnessError,
    gain_to_target,
    integrated_loudness,
    peak_db,
)

RATE = 48000


def sine(peak_db_fs: float, seconds: float, hz: float = 1000.0) -> np.ndarray:
    t = np.arange(round(RATE * seconds)) / RATE
    return (10 ** (peak_db_fs / 20) * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def stereo(mono: np.ndarray) -> np.ndarray:
    return np.stack([mono, mono])


def test_a_full_scale_1khz_sine_in_one_channel_reads_minus_3_01_lufs():
    assert integrated_loudness(sine(0.0, 5)[None], RATE) == pytest.approx(-3.01, abs=0.05)


def test_ebu_3341_case_1_a_stereo_sine_at_minus_23_dbfs_reads_minus_23_lufs():
    assert integrated_loudness(stereo(sine(-23.0, 5)), RATE) == pytest.approx(-23.0, abs=0.1)


def test_gain_moves_the_loudness_by_as_many_db():
    quiet = stereo(sine(-30.0, 3, hz=997))
    loud = quiet * np.float32(10 ** (7.5 / 20))
    difference = integrated_loudness(loud, RATE) - integrated_loudness(quiet, RATE)
    assert difference == pytest.approx(7.5, abs=1e-3)


@pytest.mark.parametrize("quiet_db", [-36.0, -72.0])
def test_quiet_and_silent_parts_are_gated_out(quiet_db):
    """-36 dBFS parts fall under the relative gate, -72 dBFS ones under the absolute
    gate: the sound reads about as loud as its -23 dBFS part, not its mean power."""
    mono = np.concatenate([sine(quiet_db, 2), sine(-23.0, 12), sine(quiet_db, 2)])
    steady = integrated_loudness(stereo(sine(-23.0, 12)), RATE)
    gated = integrated_loudness(stereo(mono), RATE)
    ungated = steady + 10 * math.log10(12 / 16)  # the -23 part's power spread over 16 s
    assert abs(gated - steady) < 0.15
    assert gated - ungated > 1.0


def test_gain_to_target_brings_a_sound_to_the_target():
    music = stereo(sine(-18.0, 4, hz=440) + sine(-24.0, 4, hz=3000))
    gain = gain_to_target(music, RATE, -14.0)
    louder = music * np.float32(10 ** (gain / 20))
    assert integrated_loudness(louder, RATE) == pytest.approx(-14.0, abs=0.01)


def test_silence_is_minus_infinity_and_cannot_be_normalised():
    silence = np.zeros((2, RATE), np.float32)
    assert integrated_loudness(silence, RATE) == -math.inf
    with pytest.raises(LoudnessError, match="silence"):
        gain_to_target(silence, RATE, -14.0)


def test_too_short_or_too_many_channels_is_one_sentence():
    with pytest.raises(LoudnessError, match="shorter than 0.4 s"):
        integrated_loudness(sine(-20.0, 0.3)[None], RATE)
    with pytest.raises(LoudnessError, match="at most 5 channels"):
        integrated_loudness(np.zeros((6, RATE), np.float32), RATE)


def test_peak_db():
    assert peak_db(sine(-6.0, 1)[None]) == pytest.approx(-6.0, abs=0.01)
    assert peak_db(np.zeros((1, 10), np.float32)) == -math.inf
