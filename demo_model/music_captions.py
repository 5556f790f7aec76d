"""Plain-words captions for the built-in music model's pieces.

Each caption names the instrument and whether there are drums, and says the tempo (in
bpm, or as slow or fast) and the mode (as a key such as "D minor", or as a happy or sad
mood) in one of several phrasings: "a fast happy chiptune melody at 150 bpm with drums",
"slow sad strings in D minor, no drums". `full_caption` says everything, for the
benchmark's held-out prompts.
"""

from __future__ import annotations

import numpy as np

from .music_pieces import NOTE_NAMES, Piece

INSTRUMENT_WORDS = {
    "piano": ("piano",),
    "guitar": ("plucked guitar", "guitar"),
    "flute": ("flute",),
    "strings": ("strings", "string pad"),
    "bass": ("bass", "bass guitar"),
    "chiptune": ("chiptune", "8-bit chiptune"),
}
MOODS = {False: ("happy", "bright", "cheerful"), True: ("sad", "dark", "melancholic")}
WITH_DRUMS = ("with drums", "with a drum beat", "and drums")
NO_DRUMS = ("no drums", "without drums")


def speed_word(bpm: int) -> str:
    return "slow" if bpm < 90 else "fast" if bpm > 130 else "steady"


def _pick(rng: np.random.Generator, words: tuple[str, ...]) -> str:
    return words[rng.integers(len(words))]


def caption(piece: Piece, rng: np.random.Generator) -> str:
    """A caption in a random phrasing; tempo and mode said at least one way each."""
    instrument = _pick(rng, INSTRUMENT_WORDS[piece.instrument])
    mood = _pick(rng, MOODS[piece.minor])
    drums = _pick(rng, WITH_DRUMS if piece.drums else NO_DRUMS)
    key = f"{NOTE_NAMES[piece.root]} {'minor' if piece.minor else 'major'}"
    tempo = f"at {piece.bpm} bpm"
    speed = speed_word(piece.bpm)
    choice = rng.integers(5)
    if choice == 0:
        return f"a {speed} {mood} {instrument} melody {tempo} {drums}"
    if choice == 1:
        return f"{speed} {mood} {instrument} in {key}, {drums}"
    if choice == 2:
        return f"{instrument} in {key} {tempo}, {drums}"
    if choice == 3:
        return f"a {mood} {instrument} tune {tempo} {drums}"
    return f"{mood} {instrument} in {key} {tempo} {drums}"


def full_caption(piece: Piece) -> str:
    """The caption that says everything: instrument, mode, key, tempo and drums."""
    instrument = INSTRUMENT_WORDS[piece.instrument][0]
    mood = MOODS[piece.minor][0]
    drums = WITH_DRUMS[0] if piece.drums else NO_DRUMS[0]
    return f"a {mood} {instrument} melody in {piece.key_name} at {piece.bpm} bpm {drums}"
