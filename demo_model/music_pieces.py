"""Procedural music for the built-in music model: one instrument, with or without drums.

A piece is an instrument (piano, plucked guitar, flute, strings, bass or a chiptune
lead), a tempo (60-180 bpm in steps of 5), a key and mode (major or natural minor) and
drums or none. The melody walks the scale on a beat grid, one bar of four beats at a
time, landing on a tonic-triad tone at each bar's start and accenting the beats, so the
tempo, key and mode can be heard (and scored). Strings play the key's triads instead of
a line, struck on every beat. Drums are a kick on every beat, a snare on two and four and
a closed hat on every half beat. Everything is synthesised with numpy at ``RATE``; a
seed gives the same samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RATE = 16000
INSTRUMENTS = ("piano", "guitar", "flute", "strings", "bass", "chiptune")
NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
SCALES = {False: (0, 2, 4, 5, 7, 9, 11), True: (0, 2, 3, 5, 7, 8, 10)}  # minor?
TEMPOS = tuple(range(60, 181, 5))
_BASE_NOTE = {
    "piano": 60,
    "guitar": 48,
    "flute": 72,
    "strings": 48,
    "bass": 36,
    "chiptune": 72,
}  # Cs
_LEVEL_DB = -18.0  # the mix's RMS, dBFS


@dataclass(frozen=True)
class Piece:
    instrument: str
    bpm: int
    root: int  # pitch class, 0 = C
    minor: bool
    drums: bool
    seed: int

    @property
    def key_name(self) -> str:
        return f"{NOTE_NAMES[self.root]} {'minor' if self.minor else 'major'}"


def random_piece(rng: np.random.Generator) -> Piece:
    return Piece(
        instrument=INSTRUMENTS[rng.integers(len(INSTRUMENTS))],
        bpm=int(TEMPOS[rng.integers(len(TEMPOS))]),
        root=int(rng.integers(12)),
        minor=bool(rng.integers(2)),
        drums=bool(rng.integers(2)),
        seed=int(rng.integers(2**31)),
    )


def render(piece: Piece, seconds: float, rate: int = RATE) -> np.ndarray:
    """The piece's first `seconds`: float32 (N,) mono at `rate`, RMS at -18 dBFS."""
    rng = np.random.default_rng(piece.seed)
    length = round(seconds * rate)
    out = np.zeros(length + rate * 2, np.float64)  # room for the last notes' tails
    for start, duration, midis, velocity in _notes(piece, seconds, rng):
        for midi in midis:
            note = velocity * _voice(piece.instrument, _hz(midi), duration, rate, rng)
            at = round(start * rate)
            out[at : at + len(note)] += note[: len(out) - at]
    out = out[:length]
    out *= 10 ** (_LEVEL_DB / 20) / max(float(np.sqrt(np.mean(out**2))), 1e-6)
    if piece.drums:
        beats = _drums(piece.bpm, seconds, rate, rng)
        out += beats * 10 ** (_LEVEL_DB / 20) / max(float(np.sqrt(np.mean(beats**2))), 1e-6)
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def _hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def _notes(piece: Piece, seconds: float, rng: np.random.Generator):
    """(start s, duration s, midi notes, velocity) for the whole piece."""
    beat = 60.0 / piece.bpm
    scale = SCALES[piece.minor]
    base = _BASE_NOTE[piece.instrument] + piece.root
    if piece.instrument == "strings":
        yield from _chords(base, scale, beat, seconds, rng)
        return
    degree, time = 0, 0.0
    while time < seconds:
        bar_end = time + 4 * beat
        degree = int(rng.choice((0, 2, 4, 7)))  # a tonic-triad tone starts each bar
        while time < min(bar_end - 1e-9, seconds):
            on_beat = abs((time / beat) - round(time / beat)) < 1e-6
            length = beat * float(rng.choice((0.5, 1.0, 1.0, 2.0) if on_beat else (0.5,)))
            length = min(length, bar_end - time)
            midi = base + _degree_semitones(scale, degree)
            yield time, length * 0.95, (midi,), 1.0 if on_beat else 0.6
            time += length
            degree = int(np.clip(degree + rng.integers(-2, 3), -3, 9))


def _degree_semitones(scale: tuple[int, ...], degree: int) -> int:
    octave, step = divmod(degree, 7)
    return 12 * octave + scale[step]


def _chords(base: int, scale: tuple[int, ...], beat: float, seconds: float, rng):
    """Triads on the scale's degrees I, IV, V and VI, two beats each, I first in a bar;
    each chord struck on both its beats (the first louder), so the pad carries the beat."""
    time, bar_beat = 0.0, 0
    while time < seconds:
        degree = 0 if bar_beat == 0 else int(rng.choice((0, 3, 4, 5)))
        notes = tuple(base + _degree_semitones(scale, degree + k) for k in (0, 2, 4))
        for half in range(2):
            velocity = (1.0 if bar_beat == 0 else 0.8) * (0.6 if half else 1.0)
            yield time, beat * 0.97, notes, velocity
            time += beat
        bar_beat = (bar_beat + 2) % 4


def _envelope(n: int, rate: int, attack: float, release: float) -> np.ndarray:
    env = np.ones(n)
    a, r = min(n, max(1, round(attack * rate))), min(n, max(1, round(release * rate)))
    env[:a] = np.linspace(0.0, 1.0, a)
    env[n - r :] *= np.linspace(1.0, 0.0, r)
    return env


def _harmonics(hz: float, t: np.ndarray, rate: int, weights, stretch: float = 0.0):
    """A sum of harmonics `weights[h-1] * sin(2 pi h f t)` below Nyquist; `stretch` makes
    them slightly sharp (a piano string's inharmonicity)."""
    out = np.zeros_like(t)
    for h, weight in enumerate(weights, start=1):
        f = hz * h * np.sqrt(1 + stretch * h * h)
        if f < rate / 2 * 0.95:
            out += weight * np.sin(2 * np.pi * f * t)
    return out


def _voice(kind: str, hz: float, duration: float, rate: int, rng) -> np.ndarray:
    """One note of an instrument: float64 samples, peak about 1."""
    tail = {"piano": 0.6, "guitar": 0.5, "bass": 0.2, "strings": 0.25}.get(kind, 0.05)
    n = round((duration + tail) * rate)
    t = np.arange(n) / rate
    if kind == "piano":
        tone = sum(
            np.exp(-t * (2.0 + 1.2 * h)) * _harmonics(hz, t, rate, [0] * (h - 1) + [h**-1.1], 4e-4)
            for h in range(1, 9)
        )
        return tone * _envelope(n, rate, 0.004, 0.08)
    if kind == "guitar":
        return _pluck(hz, n, rate, rng) * _envelope(n, rate, 0.002, 0.05)
    if kind == "flute":
        vibrato = 0.004 * np.sin(2 * np.pi * 5.0 * t)
        tone = _harmonics(hz, t + vibrato / (2 * np.pi * 5.0), rate, (1.0, 0.25, 0.1))
        breath = np.convolve(rng.standard_normal(n), np.ones(8) / 8, "same") * 0.05
        return (tone + breath) * _envelope(n, rate, 0.06, 0.08)
    if kind == "strings":
        saw = [h**-1.3 for h in range(1, 13)]
        tone = sum(_harmonics(hz * d, t, rate, saw) for d in (0.997, 1.0, 1.003)) / 3
        return tone * _envelope(n, rate, 0.15, 0.25)
    if kind == "bass":
        tone = _harmonics(hz, t, rate, (1.0, 0.5, 0.25))
        return tone * np.exp(-t * 3.0) * _envelope(n, rate, 0.005, 0.05)
    if kind == "chiptune":
        square = [1.0 / h if h % 2 else 0.0 for h in range(1, 40)]
        return _harmonics(hz, t, rate, square) * 0.8 * _envelope(n, rate, 0.002, 0.01)
    raise ValueError(f"unknown instrument {kind!r}")


def _pluck(hz: float, n: int, rate: int, rng) -> np.ndarray:
    """Karplus-Strong: a burst of noise in a delay line of one period, averaged as it
    loops; computed a period at a time."""
    period = max(2, round(rate / hz))
    out = np.empty(n + period + 1)
    out[: period + 1] = rng.uniform(-1, 1, period + 1)
    pos = period + 1
    while pos < len(out):
        end = min(pos + period, len(out))
        src = np.arange(pos, end) - period
        out[pos:end] = 0.498 * (out[src] + out[src - 1])
        pos = end
    return out[period + 1 :] / max(float(np.abs(out[: period + 1]).max()), 1e-6)


def _drums(bpm: int, seconds: float, rate: int, rng) -> np.ndarray:
    """Kick on every beat, snare on two and four, a closed hat on every half beat."""
    length = round(seconds * rate)
    out = np.zeros(length + rate)
    beat = 60.0 / bpm
    t = np.arange(round(0.3 * rate)) / rate
    kick = np.sin(2 * np.pi * np.cumsum(50 + 110 * np.exp(-t * 30)) / rate) * np.exp(-t * 12)
    noise = rng.standard_normal(len(t))
    snare = (np.diff(noise, prepend=0) * 0.5 * np.exp(-t * 18)) + 0.4 * np.sin(
        2 * np.pi * 190 * t
    ) * np.exp(-t * 25)
    hat = np.diff(np.diff(rng.standard_normal(len(t)), prepend=0), prepend=0) * np.exp(-t * 70)
    step = 0
    while step * beat / 2 < seconds:
        at = round(step * beat / 2 * rate)
        parts = [(hat, 0.15)]
        if step % 2 == 0:
            parts.append((kick, 1.0))
            if step % 4 == 2:
                parts.append((snare, 0.7))
        for sound, gain in parts:
            out[at : at + len(sound)] += gain * sound[: len(out) - at]
        step += 1
    return out[:length]
