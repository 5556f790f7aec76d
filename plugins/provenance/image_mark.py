"""Image watermark: a tiled spread-spectrum pattern in the luminance's low-mid frequencies.

Embedding adds to R, G and B alike (so only luminance changes) a pattern that repeats
every ``TILE`` pixels. One tile's spectrum holds, on a ring of low-mid frequencies, the
keyed sync and payload groups of ``spread``. A perceptual mask puts the pattern's energy
in textured areas (full strength at ``TARGET_PSNR``) and keeps flat areas, where the eye
would see it, at a fraction of it.

Detection is blind. The luminance is high-passed and normalised by its local contrast,
then folded (summed modulo the tile), so a crop only shifts the tile cyclically; the
shift is the peak of the phase-only correlation with the sync group, and at that shift
each payload group's correlation is a soft bit for the Viterbi decoder. A rescaled image
is read at scale 1 first, then at the scales that ``image_scale`` finds.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from plugins.provenance import image_scale
from plugins.provenance import spread as sp

TILE = 128
RING = (3.0, 24.0)  # cycles per tile: periods of 5.3 to 43 pixels at scale 1
TARGET_PSNR = 39.0  # where the image is textured enough to take the full strength
MASK_ACTIVITY = 6.0  # local detail (grey levels) that earns the full strength
MASK_FLOOR = 0.5  # strength left in flat areas
MASK_CEIL = 2.0
KEY_SEED = 0xA7E11E  # the pattern's key; fixed so every Atelier build detects it
# Pictures larger than this are marked a band of rows at a time, so that the float
# temporaries (about 60 bytes a pixel at once) stay a few hundred MB on a huge canvas.
BAND_PIXELS = 4096 * 4096
BAND_ROWS = 2 * TILE  # a band starts on a tile row, so the pattern lines up
BAND_MARGIN = 32  # rows either side that the mask's two blurs reach (6 + 16)


@dataclass(frozen=True)
class _Key:
    rows: np.ndarray  # frequency indices of the half-plane ring coefficients
    cols: np.ndarray
    layout: sp.Layout


@lru_cache(maxsize=1)
def _key() -> _Key:
    f = np.fft.fftfreq(TILE) * TILE
    fy, fx = np.meshgrid(f, f, indexing="ij")
    r = np.hypot(fy, fx)
    half = (r >= RING[0]) & (r <= RING[1]) & ((fy > 0) | ((fy == 0) & (fx > 0)))
    rows, cols = np.nonzero(half)
    order, layout = sp.make_layout(len(rows), KEY_SEED)
    return _Key(rows[order], cols[order], layout)


def lattice() -> tuple[np.ndarray, np.ndarray]:
    """Signed tile frequencies (rows, cols) of the pattern's coefficients."""
    key = _key()
    return (
        np.where(key.rows > TILE // 2, key.rows - TILE, key.rows),
        np.where(key.cols > TILE // 2, key.cols - TILE, key.cols),
    )


@lru_cache(maxsize=64)
def tile_pattern(payload: int) -> np.ndarray:
    """One tile of the pattern for ``payload``: float32 (TILE, TILE), unit RMS."""
    key = _key()
    values = sp.modulate(key.layout, payload)
    spec = np.zeros((TILE, TILE), np.complex128)
    spec[key.rows, key.cols] = values
    spec[(-key.rows) % TILE, (-key.cols) % TILE] = np.conj(values)
    tile = np.fft.ifft2(spec).real
    shift = (sp.offset(payload, TILE, 1), sp.offset(payload, TILE, 2))
    tile = np.roll(tile / np.sqrt(np.mean(tile**2)), shift, axis=(0, 1)).astype(np.float32)
    tile.setflags(write=False)
    return tile


def luminance(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma of an RGB uint8 image, float32."""
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY).astype(np.float32)


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(x, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def _raw_mask(y: np.ndarray) -> np.ndarray:
    """The perceptual mask before its overall level is normalised."""
    detail = y - _blur(y, 1.5)
    activity = np.sqrt(_blur(detail * detail, 4.0))
    m = np.clip(activity / MASK_ACTIVITY, MASK_FLOOR, MASK_CEIL)
    m *= np.clip(np.minimum(y, 255.0 - y) / 24.0, 0.25, 1.0)  # it would clip there anyway
    return m


def perceptual_mask(y: np.ndarray) -> np.ndarray:
    """Per-pixel strength (root mean square at most 1): full in textured areas, down to
    ``MASK_FLOOR`` in flat ones, where the eye would see the pattern."""
    m = _raw_mask(y)
    return m / max(1.0, float(np.sqrt(np.mean(m * m))))


def embed(rgb: np.ndarray, payload: int, psnr: float = TARGET_PSNR) -> np.ndarray:
    """``rgb`` (H, W, 3 uint8) with the watermark of ``payload`` added."""
    h, w = rgb.shape[:2]
    if h * w > BAND_PIXELS:
        return _embed_in_bands(rgb, payload, psnr)
    base = rgb.astype(np.float32)
    pattern = np.tile(tile_pattern(payload), (-(-h // TILE), -(-w // TILE)))[:h, :w]
    delta = pattern * perceptual_mask(luminance(rgb))
    rms = 255.0 / 10 ** (psnr / 20.0)
    # clipping at black and white loses a little of the pattern; win it back once,
    # staying within the PSNR budget
    err = np.clip(base + (rms * delta)[..., None], 0, 255) - base
    got = float(np.sqrt(np.mean(err * err)))
    want = rms * float(np.sqrt(np.mean(delta * delta)))
    gain = min(want / got, 1.5) if got > 0 else 1.0
    out = base + (gain * rms * delta)[..., None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _bands(h: int) -> list[slice]:
    return [slice(top, min(h, top + BAND_ROWS)) for top in range(0, h, BAND_ROWS)]


def _band_mask(rgb: np.ndarray, rows: slice) -> np.ndarray:
    """The raw perceptual mask of some rows, computed with BAND_MARGIN rows of context
    either side, so it equals the whole picture's mask there."""
    top, bottom = max(0, rows.start - BAND_MARGIN), min(len(rgb), rows.stop + BAND_MARGIN)
    m = _raw_mask(luminance(rgb[top:bottom]))
    return m[rows.start - top : rows.stop - top]


def _embed_in_bands(rgb: np.ndarray, payload: int, psnr: float) -> np.ndarray:
    """What `embed` does, a band of rows at a time: the mask once (float32, kept), then
    the clipping gain over all bands, then the marked pixels."""
    h, w = rgb.shape[:2]
    mask = np.empty((h, w), np.float32)
    for rows in _bands(h):
        mask[rows] = _band_mask(rgb, rows)
    mask /= max(1.0, float(np.sqrt(np.mean(np.square(mask, dtype=np.float64)))))
    tile = tile_pattern(payload)
    rms = 255.0 / 10 ** (psnr / 20.0)

    def band(rows: slice) -> tuple[np.ndarray, np.ndarray]:
        pattern = np.tile(tile, (-(-(rows.stop - rows.start) // TILE), -(-w // TILE)))
        return rgb[rows].astype(np.float32), pattern[: rows.stop - rows.start, :w] * mask[rows]

    err_sq = delta_sq = 0.0
    for rows in _bands(h):
        base, delta = band(rows)
        err = np.clip(base + (rms * delta)[..., None], 0, 255) - base
        err_sq += float(np.sum(np.square(err, dtype=np.float64)))
        delta_sq += float(np.sum(np.square(delta, dtype=np.float64)))
    got = np.sqrt(err_sq / (h * w * 3))
    want = rms * np.sqrt(delta_sq / (h * w))
    gain = min(want / got, 1.5) if got > 0 else 1.0
    out = np.empty_like(rgb)
    for rows in _bands(h):
        base, delta = band(rows)
        out[rows] = np.clip(np.rint(base + (gain * rms * delta)[..., None]), 0, 255)
    return out


def prefilter(y: np.ndarray) -> np.ndarray:
    """High-pass the luminance and normalise it by local contrast (float32)."""
    hp = y - _blur(y, 6.0)
    local = np.sqrt(_blur(hp * hp, 8.0))
    return hp / (local + 1.0)


def fold(f: np.ndarray) -> np.ndarray:
    """Sum an image modulo the tile, so a tiled pattern adds up coherently."""
    h, w = f.shape
    ph, pw = -(-h // TILE) * TILE, -(-w // TILE) * TILE
    if (ph, pw) != (h, w):
        f = np.pad(f, ((0, ph - h), (0, pw - w)))
    return f.reshape(ph // TILE, TILE, pw // TILE, TILE).sum(axis=(0, 2))


def read_at(f: np.ndarray, scale: float = 1.0) -> sp.Decoded:
    """Decode prefiltered ``f`` as if the mark had been resized by ``scale``."""
    if abs(scale - 1.0) > 1e-3:
        h, w = f.shape
        size = (max(1, round(w / scale)), max(1, round(h / scale)))
        f = cv2.resize(f, size, interpolation=cv2.INTER_LINEAR)
    spec = np.fft.fft2(fold(f))
    key = _key()
    coef = spec[key.rows, key.cols]
    coef = coef / (np.abs(coef) + 1e-12) * np.conj(key.layout.phase)  # phase only
    sync = key.layout.group < 0
    h = np.zeros((TILE, TILE), np.complex128)
    h[key.rows[sync], key.cols[sync]] = coef[sync]
    (dy, dx), z = sp.peak_z(np.fft.ifft2(h).real)
    ramp = np.exp(2j * np.pi * (key.rows * dy + key.cols * dx) / TILE)
    return sp.demodulate(key.layout, coef * ramp, z, scale)


def detect(f: np.ndarray) -> sp.Decoded:
    """Blind detection in prefiltered ``f``: scale 1 first, then the likely other scales."""
    best = read_at(f)
    trials = 1
    if not best.valid:
        for s in image_scale.candidates(f, lattice(), TILE):
            if abs(s - 1.0) < 0.005:
                continue
            res = read_at(f, s)
            trials += 1
            if res.valid or res.sync_z > best.sync_z:
                best = res
            if res.valid:
                break
    return sp.Decoded(best.payload, best.crc_ok, best.sync_z, best.soft, best.scale, trials)
