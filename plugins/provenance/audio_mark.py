"""Audio watermark: a repeating spread-spectrum block in the 1-4 kHz band.

Everything happens at a fixed internal rate (``RATE``), so a file resampled to another
rate reads the same. The mark is a ``BLOCK``-sample pattern (1.024 s) that repeats for
the whole clip; its spectrum holds, on the 1-4 kHz bins, the keyed sync and payload
groups of ``spread``. It follows the host's own 1-4 kHz envelope (silent where the music
is), some 22 dB below it where the host is tonal and 12 dB where it is noise-like (noise
masks noise far better than a tone does), and is added alike to every channel.

Detection mixes to mono, resamples to ``RATE`` keeping only the band, divides out the
envelope, and folds the signal modulo the block, so a cut or a codec delay is only a
cyclic shift: found as the phase-only correlation peak with the sync group (refined to a
fraction of a sample), after which each group's correlation is a soft payload bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from plugins.provenance import payload as pl
from plugins.provenance import spread as sp

RATE = 16000
BLOCK = 16384
BAND = (1000.0, 4000.0)  # Hz
STRENGTH_TONAL = 0.08  # mark RMS / the host's 1-4 kHz RMS where the host is tonal (-22 dB)
STRENGTH_NOISY = 0.25  # ... where it is noise-like, which masks noise far better (-12 dB)
FLATNESS = (0.05, 0.5)  # spectral flatness taken as fully tonal / fully noise-like
ENVELOPE_S = 0.02  # seconds of the envelope's smoothing window
KEY_SEED = 0xA7A0D1
MIN_SAMPLES = 64  # shorter clips are left alone


@dataclass(frozen=True)
class _Key:
    bins: np.ndarray  # rfft bins of one block, in key order
    layout: sp.Layout


@lru_cache(maxsize=1)
def _key() -> _Key:
    lo, hi = (round(f * BLOCK / RATE) for f in BAND)
    bins = np.arange(lo, hi + 1)
    order, layout = sp.make_layout(len(bins), KEY_SEED)
    return _Key(bins[order], layout)


@lru_cache(maxsize=16)
def block_pattern(payload: int) -> np.ndarray:
    """One block of the mark for ``payload``: float64 (BLOCK,), unit RMS."""
    key = _key()
    spec = np.zeros(BLOCK // 2 + 1, np.complex128)
    spec[key.bins] = sp.modulate(key.layout, payload)
    block = np.roll(np.fft.irfft(spec, BLOCK), sp.offset(payload, BLOCK))
    block /= np.sqrt(np.mean(block**2))
    block.setflags(write=False)
    return block


def _fast_len(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n (an FFT-friendly length)."""
    n = max(1, n)
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            k = p35 << max(0, math.ceil(math.log2(n / p35)))
            best = min(best, k)
            p35 *= 3
        p5 *= 5
    return best


def resample(x: np.ndarray, rate_in: int, rate_out: int, band: tuple | None = None) -> np.ndarray:
    """Band-limited (FFT) resampling of a 1-D signal, optionally keeping only ``band`` Hz."""
    g = math.gcd(int(rate_in), int(rate_out))
    step_in, step_out = rate_in // g, rate_out // g
    blocks = _fast_len(-(-len(x) // step_in))
    n_in, n_out = blocks * step_in, blocks * step_out
    spec = np.fft.rfft(x, n_in)
    out = np.zeros(n_out // 2 + 1, np.complex128)
    keep = min(len(spec), len(out))
    out[:keep] = spec[:keep]
    if band is not None:
        freqs = np.arange(len(out)) * (rate_in / n_in)
        out[(freqs < band[0]) | (freqs > band[1])] = 0
    y = np.fft.irfft(out, n_out) * (n_out / n_in)
    return y[: round(len(x) * rate_out / rate_in)]


def _envelope(x: np.ndarray) -> np.ndarray:
    """Short-time RMS of ``x`` (a boxcar of ``ENVELOPE_S`` applied twice)."""
    win = max(1, min(len(x), round(ENVELOPE_S * RATE)))
    kernel = np.ones(win) / win
    power = np.convolve(np.convolve(x * x, kernel, mode="same"), kernel, mode="same")
    return np.sqrt(np.maximum(power, 0.0))


def _strength(x: np.ndarray) -> np.ndarray:
    """Per-sample mark strength from the band's tonality (spectral flatness per 64 ms)."""
    frame, hop = 1024, 512
    if len(x) < frame:
        return np.full(len(x), STRENGTH_TONAL)
    n = 1 + (len(x) - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(n)[:, None]
    power = np.abs(np.fft.rfft(x[idx] * np.hanning(frame), axis=1)) ** 2
    lo, hi = (round(f * frame / RATE) for f in BAND)
    power = power[:, lo:hi] + 1e-20
    flatness = np.exp(np.mean(np.log(power), axis=1)) / np.mean(power, axis=1)
    noisy = np.clip((flatness - FLATNESS[0]) / (FLATNESS[1] - FLATNESS[0]), 0.0, 1.0)
    strength = STRENGTH_TONAL + (STRENGTH_NOISY - STRENGTH_TONAL) * noisy
    return np.interp(np.arange(len(x)), hop * np.arange(n) + frame / 2, strength)


def _band_mono(samples: np.ndarray, rate: int) -> np.ndarray:
    """The clip's mono mix in the mark's band, at ``RATE``."""
    mono = np.asarray(samples, np.float64).mean(axis=0)
    edge = (BAND[0] - 50.0, BAND[1] + 50.0)
    return resample(mono, rate, RATE, edge)


def embed(samples: np.ndarray, rate: int, payload: int) -> np.ndarray:
    """``samples`` (C, N float) with the mark of ``payload`` added to every channel."""
    n = samples.shape[1]
    if n < MIN_SAMPLES:
        return samples.astype(np.float32)
    host = _band_mono(samples, rate)
    reps = -(-len(host) // BLOCK)
    mark = _strength(host) * _envelope(host) * np.tile(block_pattern(payload), reps)[: len(host)]
    mark = resample(mark, RATE, rate)
    if len(mark) < n:
        mark = np.pad(mark, (0, n - len(mark)))
    return (samples + mark[None, :n]).astype(np.float32)


def _refine(corr: np.ndarray, i: int) -> float:
    """Sub-sample position of the cyclic peak of ``corr`` at ``i`` (parabolic fit)."""
    a, b, c = corr[i - 1], corr[i], corr[(i + 1) % len(corr)]
    den = a - 2 * b + c
    return i + (0.5 * (a - c) / den if den < 0 else 0.0)


def detect(samples: np.ndarray, rate: int) -> sp.Decoded:
    """Blind detection in a (C, N) clip."""
    if samples.shape[1] < MIN_SAMPLES:
        return sp.Decoded(0, False, 0.0, np.zeros(pl.CODED_BITS))
    x = _band_mono(samples, rate)
    env = _envelope(x)
    x = x / (env + 1e-3 * float(np.sqrt(np.mean(x * x))) + 1e-12)
    reps = -(-len(x) // BLOCK)
    folded = np.pad(x, (0, reps * BLOCK - len(x))).reshape(reps, BLOCK).sum(axis=0)
    key = _key()
    coef = np.fft.rfft(folded)[key.bins]
    coef = coef / (np.abs(coef) + 1e-12) * np.conj(key.layout.phase)
    sync = key.layout.group < 0
    h = np.zeros(BLOCK, np.complex128)
    h[key.bins[sync]] = coef[sync]
    corr = np.fft.ifft(h).real
    (i,), z = sp.peak_z(corr)
    shift = _refine(corr, i)
    return sp.demodulate(key.layout, coef * np.exp(2j * np.pi * key.bins * shift / BLOCK), z, 1.0)
