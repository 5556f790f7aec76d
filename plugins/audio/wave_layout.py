"""The Audio panel's geometry and numbers, Qt-free: where a time is across the waveform,
what a press there touches (a trim handle or the sound), the level meter's scale, and the
clock's text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

HANDLE_PX = 6  # a press this close to a trim edge takes the edge
METER_FLOOR_DB = -60.0  # the level meter's bottom


@dataclass(frozen=True)
class WaveScale:
    """`duration` seconds of source drawn across `width` pixels from x = `left`."""

    duration: Fraction
    width: float
    left: float = 0.0

    def x_of(self, t: Fraction) -> float:
        if self.duration <= 0:
            return self.left
        return self.left + float(t / self.duration) * self.width

    def time_at(self, x: float, rate: int) -> Fraction:
        """The source time under `x` on `rate`'s sample grid, within 0..duration."""
        if self.width <= 0:
            return Fraction(0)
        seconds = (x - self.left) / self.width * float(self.duration)
        t = Fraction(round(seconds * rate), rate)
        return min(max(t, Fraction(0)), self.duration)


def touched(scale: WaveScale, x: float, start: Fraction, end: Fraction) -> str:
    """What a press at `x` takes: "start" or "end" (a trim edge within HANDLE_PX, the
    nearer one), else "seek"."""
    near = {edge: abs(scale.x_of(t) - x) for edge, t in (("start", start), ("end", end))}
    edge = min(near, key=lambda e: near[e])
    return edge if near[edge] <= HANDLE_PX else "seek"


def meter_fraction(level: float) -> float:
    """How much of the meter a peak level (0..1) fills: its dBFS from METER_FLOOR_DB
    (empty) to 0 dBFS (full)."""
    if level <= 0:
        return 0.0
    db = 20 * math.log10(level)
    return min(1.0, max(0.0, 1 - db / METER_FLOOR_DB))


def clock_text(seconds: float) -> str:
    """minutes:seconds.hundredths, e.g. "1:05.25"."""
    hundredths = max(0, round(seconds * 100))
    minutes, rest = divmod(hundredths, 6000)
    return f"{minutes}:{rest // 100:02d}.{rest % 100:02d}"
