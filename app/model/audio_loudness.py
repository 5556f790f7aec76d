"""Loudness of sound as ITU-R BS.1770-4 measures it, in LUFS; Qt- and torch-free.

The integrated loudness is pyloudnorm's meter: K-weighting (a high shelf, then a high
pass), mean square over 400 ms blocks overlapping by 75%, channels weighted 1, 1, 1, 1.41,
1.41, blocks gated at -70 LUFS absolute and then at 10 LU below the loudness of the blocks
that passed. A full-scale 1 kHz sine reads about -3.01 LUFS per channel.
"""

from __future__ import annotations

import math

import numpy as np

DEFAULT_TARGET_LUFS = -14.0  # what streaming services play music at
BLOCK_S = 0.4  # the gating block
MAX_CHANNELS = 5  # BS.1770 weights L, R, C, Ls, Rs


class LoudnessError(ValueError):
    """Sound whose loudness cannot be measured (too short, too many channels); the
    message says why in one sentence."""


def integrated_loudness(samples: np.ndarray, rate: int) -> float:
    """The integrated loudness of (C, N) samples at `rate`, in LUFS (-inf for silence).
    LoudnessError when they last no longer than one 400 ms block or have more than five
    channels."""
    import pyloudnorm  # scipy's filters: imported when first measured

    channels, count = samples.shape
    if channels > MAX_CHANNELS:
        raise LoudnessError(f"loudness is measured for at most {MAX_CHANNELS} channels")
    if count <= BLOCK_S * rate:
        raise LoudnessError(f"a sound shorter than {BLOCK_S:g} s has no measured loudness")
    meter = pyloudnorm.Meter(rate)  # the BS.1770-4 meter: K-weighting, 400 ms, 75 %
    return float(meter.integrated_loudness(np.asarray(samples, np.float64).T))


def gain_to_target(samples: np.ndarray, rate: int, target: float) -> float:
    """The gain in dB that brings (C, N) samples to `target` LUFS. Loudness scales with
    gain (every block and both gates move together), so the samples times this gain
    measure `target`. LoudnessError for silence."""
    loudness = integrated_loudness(samples, rate)
    if not math.isfinite(loudness):
        raise LoudnessError("silence has no loudness to normalise")
    return target - loudness


def peak_db(samples: np.ndarray) -> float:
    """The highest sample's level in dBFS (-inf for silence)."""
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    return 20.0 * math.log10(peak) if peak > 0 else -math.inf
