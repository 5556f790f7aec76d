"""Finding the scale of a resized tiled watermark, from the image's spectrum alone.

A pattern that repeats every ``tile * s`` pixels puts its energy on a lattice of
frequencies spaced ``size / (tile * s)`` bins apart. Two estimators propose scales:
the power that the (flattened, clipped) spectrum has at the lattice each candidate scale
predicts, and the peaks of the image's autocorrelation along its axes. Each proposal is
then checked by decoding, so a wrong one costs time, not a false detection.
"""

from __future__ import annotations

import cv2
import numpy as np

MIN_SCALE = 0.2  # a 2048 px image shown at 410 px still reads
MAX_SCALE = 3.0
PER_ESTIMATOR = 6
SPECTRUM_CLIP = 8.0  # flattened power above this is clipped: stripes cannot dominate


def candidates(f: np.ndarray, lattice: tuple[np.ndarray, np.ndarray], tile: int) -> list[float]:
    """Likely scales for prefiltered image ``f``, best first, near-duplicates dropped."""
    out: list[float] = []
    comb = comb_candidates(f, lattice, tile)
    auto = autocorr_candidates(f, tile)
    for i in range(max(len(comb), len(auto))):
        for found in (comb, auto):
            if i < len(found) and all(abs(found[i] / t - 1) > 0.002 for t in out):
                out.append(found[i])
    return out


def _comb_scores(
    power: np.ndarray,
    shape: tuple[int, int],
    lattice: tuple[np.ndarray, np.ndarray],
    tile: int,
    scales: np.ndarray,
) -> np.ndarray:
    """How far the power at the lattice points each scale predicts (bilinear reads) stands
    above the spectrum's average, in standard errors (scales differ in how many points
    fall below the Nyquist limit, so a plain mean would favour the sparse ones)."""
    h, w = shape
    rows, cols = (np.asarray(a, np.float64) for a in lattice)
    flip = cols < 0  # the real FFT stores only the conjugate point
    rows, cols = np.where(flip, -rows, rows), np.abs(cols)
    u = (rows[None, :] * h / (tile * scales[:, None])) % h
    v = cols[None, :] * w / (tile * scales[:, None])
    inside = v < power.shape[1] - 1
    v = np.where(inside, v, 0.0)
    u0, v0 = np.floor(u).astype(np.intp), np.floor(v).astype(np.intp)
    du, dv = u - u0, v - v0
    u1 = (u0 + 1) % h
    p = (power[u0, v0] * (1 - du) + power[u1, v0] * du) * (1 - dv) + (
        power[u0, v0 + 1] * (1 - du) + power[u1, v0 + 1] * du
    ) * dv
    count = np.maximum(inside.sum(axis=1), 1)
    mean, std = float(power.mean()), float(power.std()) + 1e-12
    return ((p * inside).sum(axis=1) - count * mean) / (std * np.sqrt(count))


def comb_candidates(
    f: np.ndarray, lattice: tuple[np.ndarray, np.ndarray], tile: int
) -> list[float]:
    """Scales whose predicted lattice holds the most (flattened) power: a coarse sweep,
    then a fine one around each of the best peaks."""
    h, w = f.shape
    top = min(MAX_SCALE, min(h, w) / tile)
    if top <= MIN_SCALE:
        return []
    win = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    power = np.abs(np.fft.rfft2(f * win)).astype(np.float32) ** 2
    level = cv2.blur(power, (15, 15), borderType=cv2.BORDER_REFLECT) + 1e-12
    power = np.minimum(power / level, SPECTRUM_CLIP)
    coarse = np.exp(np.arange(np.log(MIN_SCALE), np.log(top), 0.01))
    wide = cv2.dilate(power, np.ones((3, 3), np.uint8))  # a coarse step can miss by a bin
    sc = _comb_scores(wide, (h, w), lattice, tile, coarse)
    sc = sc - np.convolve(sc, np.ones(15) / 15, mode="same")
    idx = np.arange(1, len(sc) - 1)
    peaks = idx[(sc[idx] >= sc[idx - 1]) & (sc[idx] >= sc[idx + 1])]
    out = []
    for i in peaks[np.argsort(-sc[peaks])][:PER_ESTIMATOR]:
        fine = coarse[i] * np.exp(np.arange(-0.012, 0.0121, 0.001))
        out.append(float(fine[np.argmax(_comb_scores(power, (h, w), lattice, tile, fine))]))
    return out


def _peak(a: np.ndarray, i: int) -> float:
    """Sub-sample position of the peak of ``a`` at index ``i`` (parabolic fit)."""
    if i <= 0 or i >= len(a) - 1:
        return float(i)
    den = a[i - 1] - 2 * a[i] + a[i + 1]
    return i + (0.5 * (a[i - 1] - a[i + 1]) / den if den < 0 else 0.0)


def autocorr_candidates(f: np.ndarray, tile: int) -> list[float]:
    """Scales from the peaks of the image's (flattened) autocorrelation along its axes."""
    h, w = f.shape
    mag = np.abs(np.fft.rfft2(f)).astype(np.float32)
    level = cv2.blur(mag, (9, 9), borderType=cv2.BORDER_REFLECT) + 1e-6
    ac = np.fft.irfft2(np.minimum(mag / level, 3.0), s=f.shape)
    hi = min(h, w) // 2
    lo = int(tile * MIN_SCALE)
    if hi <= lo + 4:
        return []
    a = ac[0, :hi] + ac[:hi, 0]
    a = a - np.convolve(a, np.ones(9) / 9, mode="same")
    idx = np.arange(lo, hi - 1)
    peaks = idx[(a[idx] >= a[idx - 1]) & (a[idx] >= a[idx + 1])]
    out = []
    for i in peaks[np.argsort(-a[peaks])][:PER_ESTIMATOR]:
        lag = _peak(a, int(i))
        for k in (2, 3):  # a multiple of the period pins it down more precisely
            j = round(k * lag)
            if j + 3 >= hi:
                break
            j = j - 2 + int(np.argmax(a[j - 2 : j + 3]))
            lag = _peak(a, j) / k
        out.append(lag / tile)
    return out
