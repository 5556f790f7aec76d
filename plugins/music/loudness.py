"""Generated music brought to a listening loudness: models make pieces at whatever level
their training left them (the built-in model's come out at -30 to -40 LUFS, too quiet to
judge beside other music), so a piece is measured the ITU-R BS.1770 way and scaled to the
loudness asked for, its peaks kept under a ceiling so scaling never clips.
"""

from __future__ import annotations

import math

import numpy as np

from app.model.audio_loudness import LoudnessError, gain_to_target, peak_db

PEAK_CEILING_DB = -1.0  # dBFS: headroom for the encoders (MP3, AAC) to stay unclipped


def to_loudness(samples: np.ndarray, rate: int, target: float) -> tuple[np.ndarray, float, str]:
    """(samples scaled towards `target` LUFS, the gain in dB, a note when the peaks held the
    gain back). Target 0 (as made), silence and sound too short to measure keep gain 0."""
    if not target:
        return samples, 0.0, ""
    try:
        wanted = gain_to_target(samples, rate, target)
    except LoudnessError:  # silence, or under one 400 ms block
        return samples, 0.0, ""
    gain = min(wanted, PEAK_CEILING_DB - peak_db(samples))
    note = ""
    if gain < wanted - 0.05:
        note = (
            f"Brought to {target - wanted + gain:.1f} LUFS, not {target:g}: any louder and "
            f"its peaks would pass {PEAK_CEILING_DB:g} dBFS."
        )
    scaled = (samples * math.pow(10.0, gain / 20.0)).astype(samples.dtype, copy=False)
    return scaled, gain, note
