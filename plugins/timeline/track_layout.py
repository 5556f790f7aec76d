"""Where things are in the Timeline panel's track area, Qt-free: the time scale (zoom and
scroll), the rows of tracks, what lies under a point, the ruler's ticks and time codes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from app.model.timeline import VISUAL, Clip, Timeline, Track

HEADER_W = 88  # the track names' column
RULER_H = 26
ROW_H = 56
EDGE_PX = 6  # how near a clip's edge a press trims instead of moving
SNAP_PX = 8  # how near a snap point a dragged edge jumps to it
MIN_PPS, MAX_PPS = 4.0, 2400.0  # pixels per second, zoomed out and in
TICK_STEPS = (0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600)  # seconds between labels
LABEL_PX = 80  # the least room between two ruler labels


@dataclass(frozen=True)
class TimeScale:
    """Seconds to pixels: `pps` pixels a second, `offset` seconds at the left edge of the
    tracks (right of the names' column)."""

    pps: float = 80.0
    offset: float = 0.0

    def x_of(self, t: Fraction | float) -> float:
        return HEADER_W + (float(t) - self.offset) * self.pps

    def time_at(self, x: float) -> Fraction:
        """The time at `x`, never before 0 (exact to a microsecond)."""
        seconds = max(0.0, self.offset + (x - HEADER_W) / self.pps)
        return Fraction(seconds).limit_denominator(1_000_000)

    def tolerance(self) -> Fraction:
        """SNAP_PX as seconds."""
        return Fraction(SNAP_PX / self.pps).limit_denominator(1_000_000)

    def zoomed(self, factor: float, anchor_x: float) -> TimeScale:
        """Zoomed by `factor`, the time under `anchor_x` staying where it is."""
        pps = min(MAX_PPS, max(MIN_PPS, self.pps * factor))
        anchor = self.offset + (anchor_x - HEADER_W) / self.pps
        return TimeScale(pps, max(0.0, anchor - (anchor_x - HEADER_W) / pps))

    def scrolled(self, pixels: float) -> TimeScale:
        return TimeScale(self.pps, max(0.0, self.offset + pixels / self.pps))


def row_tracks(timeline: Timeline) -> list[Track]:
    """The tracks top to bottom as shown: the visual ones topmost first (a track drawn
    later covers an earlier one), then the sound tracks."""
    visual = [t for t in timeline.tracks if t.kind in VISUAL]
    sound = [t for t in timeline.tracks if t.kind not in VISUAL]
    return [*reversed(visual), *sound]


def row_top(row: int) -> int:
    return RULER_H + row * ROW_H


def row_at(y: float, rows: int) -> int | None:
    """The row under `y` (None: the ruler or below the last track)."""
    if y < RULER_H:
        return None
    row = int((y - RULER_H) // ROW_H)
    return row if row < rows else None


Part = Literal["ruler", "start", "end", "body", "track", "none"]


@dataclass(frozen=True)
class Hit:
    """What lies under a point: the ruler, a clip's start or end edge or body, an empty
    place on a track, or nothing."""

    part: Part
    track: Track | None = None
    clip: Clip | None = None


def hit(timeline: Timeline, scale: TimeScale, x: float, y: float) -> Hit:
    """What a press at (x, y) touches."""
    if y < RULER_H:
        return Hit("ruler" if x >= HEADER_W else "none")
    rows = row_tracks(timeline)
    row = row_at(y, len(rows))
    if row is None or x < HEADER_W:
        return Hit("none")
    track = rows[row]
    for clip in track.clips:
        left, right = scale.x_of(clip.start), scale.x_of(clip.end)
        edge = min(EDGE_PX, (right - left) / 3)
        if left <= x <= right:
            if x <= left + edge:
                return Hit("start", track, clip)
            if x >= right - edge:
                return Hit("end", track, clip)
            return Hit("body", track, clip)
    return Hit("track", track)


def timecode(t: Fraction, fps: Fraction) -> str:
    """`t` as minutes:seconds:frames ("01:02:12"), hours in front past an hour."""
    frames = math.floor(t * fps)
    per_second = max(1, math.ceil(fps))
    seconds, frame = divmod(frames, per_second) if fps == per_second else _split(t, fps)
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    text = f"{minute:02d}:{second:02d}:{frame:02d}"
    return f"{hours}:{text}" if hours else text


def _split(t: Fraction, fps: Fraction) -> tuple[int, int]:
    """Whole seconds and the frame within the second, for a fractional frame rate."""
    seconds = math.floor(t)
    return seconds, math.floor((t - seconds) * fps)


def ruler_ticks(scale: TimeScale, width: float) -> list[tuple[float, Fraction]]:
    """The labelled ticks of the ruler across `width` pixels: (x, time), at the smallest
    step from TICK_STEPS that leaves LABEL_PX between labels."""
    step = next((s for s in TICK_STEPS if s * scale.pps >= LABEL_PX), TICK_STEPS[-1])
    step_time = Fraction(step)
    first = math.floor(scale.offset / step)
    ticks = []
    for n in range(first, first + int(width / (step * scale.pps)) + 2):
        t = n * step_time
        x = scale.x_of(t)
        if t >= 0 and HEADER_W <= x <= width:
            ticks.append((x, t))
    return ticks
