"""Keyed spread-spectrum layout shared by the image and audio marks.

A mark lives on a set of Fourier coefficients of one period (an image tile or an audio
block). Each coefficient gets a keyed random phase and belongs either to the
synchronisation group (fixed sign) or to one coded payload bit's group (the bit flips
its sign). Detection aligns the coefficients to the shift found from the sync group and
sums each group into a soft bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from plugins.provenance import payload as pl

SYNC_SHARE = 0.25  # share of the coefficients that carry the sync group


@dataclass(frozen=True)
class Layout:
    """The keyed roles of ``n`` coefficients (in a fixed order chosen by the caller)."""

    phase: np.ndarray  # complex unit phasors, one per coefficient
    group: np.ndarray  # -1 for sync, else the coded bit index


@dataclass(frozen=True)
class Decoded:
    """One decoding attempt: best-effort payload, checks and evidence."""

    payload: int  # best-effort decode, even when the checks failed
    crc_ok: bool
    sync_z: float  # sync correlation peak, in standard deviations of the surface
    soft: np.ndarray  # soft coded bits (positive = coded 0)
    scale: float = 1.0  # image marks: watermark size / original size
    trials: int = 1  # decoding attempts made (each one a chance for a false positive)

    @property
    def valid(self) -> bool:
        """Whether the payload passed its CRC and carries Atelier's tag."""
        return self.crc_ok and pl.is_atelier(self.payload)


def make_layout(n: int, seed: int) -> tuple[np.ndarray, Layout]:
    """A keyed permutation of ``n`` coefficients and their roles."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    n_sync = int(n * SYNC_SHARE)
    group = np.concatenate([np.full(n_sync, -1), np.arange(n - n_sync) % pl.CODED_BITS])
    phase = np.exp(1j * rng.uniform(0, 2 * np.pi, n))
    return order, Layout(phase, group)


def modulate(layout: Layout, payload: int) -> np.ndarray:
    """The complex coefficient values that carry ``payload``."""
    coded = pl.encode(payload)
    signs = np.where(layout.group < 0, 1.0, 1.0 - 2.0 * coded[np.maximum(layout.group, 0)])
    return signs * layout.phase


def offset(payload: int, period: int, salt: int = 0) -> int:
    """A payload-dependent cyclic offset of the pattern. Two marks in one input (a marked
    image repainted and marked again) then sit at different shifts, so the detector
    locks onto one and reads it cleanly instead of a mix of both."""
    mixed = ((payload ^ (salt * 0x9E3779B1)) * 2654435761) & 0xFFFFFFFF
    return (mixed >> 7) % period


def peak_z(corr: np.ndarray) -> tuple[tuple[int, ...], float]:
    """Location of a correlation surface's maximum and its height in standard deviations."""
    at = np.unravel_index(int(np.argmax(corr)), corr.shape)
    z = float((corr[at] - corr.mean()) / (corr.std() + 1e-12))
    return tuple(int(i) for i in at), z


def demodulate(layout: Layout, aligned: np.ndarray, sync_z: float, scale: float) -> Decoded:
    """Decode from coefficients already aligned to the key (their real parts are chips)."""
    chips = aligned.real
    bits = layout.group >= 0
    soft = np.bincount(layout.group[bits], weights=chips[bits], minlength=pl.CODED_BITS)
    soft = soft / (np.sqrt(np.mean(soft**2)) + 1e-12)
    payload, ok = pl.decode(soft)
    return Decoded(payload, ok, sync_z, soft, scale)


def sync_p_value(z: float, positions: int) -> float:
    """Chance that noise alone puts a sync peak this high among ``positions`` shifts."""
    return min(1.0, positions * 0.5 * math.erfc(z / math.sqrt(2.0)))
