"""The Audio panel's Qt-free geometry (plugins/audio/wave_layout.py): times across the
waveform on the sample grid, what a press takes, the meter's dBFS scale, the clock."""

from __future__ import annotations

from fractions import Fraction

import pytest

from plugins.audio.wave_layout import (
    HANDLE_PX,
    WaveScale,
    clock_text,
    meter_fraction,
    touched,
)


def test_times_and_places_across_the_waveform():
    scale = WaveScale(Fraction(4), 800, left=10)
    assert scale.x_of(Fraction(1)) == 210
    assert scale.time_at(210, 8000) == 1
    assert scale.time_at(10.1, 3) == 0  # on the sample grid
    assert scale.time_at(-50, 8000) == 0 and scale.time_at(5000, 8000) == 4


def test_a_press_near_a_trim_edge_takes_the_nearer_edge_else_seeks():
    scale = WaveScale(Fraction(10), 1000)
    start, end = Fraction(2), Fraction(3)
    assert touched(scale, 200 + HANDLE_PX, start, end) == "start"
    assert touched(scale, 299, start, end) == "end"
    assert touched(scale, 250, start, end) == "seek"
    assert touched(scale, 200 - HANDLE_PX - 1, start, end) == "seek"


@pytest.mark.parametrize(
    ("level", "fraction"),
    [(0.0, 0.0), (1.0, 1.0), (2.0, 1.0), (0.001, 0.0), (10 ** (-12 / 20), 0.8)],
)
def test_the_meter_fills_from_minus_60_to_0_dbfs(level, fraction):
    assert meter_fraction(level) == pytest.approx(fraction)


def test_the_clock_reads_minutes_seconds_hundredths():
    assert clock_text(0) == "0:00.00"
    assert clock_text(65.256) == "1:05.26"
    assert clock_text(600) == "10:00.00"
