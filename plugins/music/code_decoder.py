"""Decoding a growing sequence of codec codes into sound, piece by piece, with no seam.

A long piece of music is one sequence of codes, stitched window by window; decoding it
whole would hold minutes of the codec's activations at once. Instead it is cut into
pieces of `piece` frames at fixed places. Each piece is decoded with `overlap` frames of
codes on either side (the codec's convolutions and LSTM hear what comes before and
after), and neighbouring pieces are crossfaded over the middle half of their overlap
with complementary raised-cosine weights (sin^2 and cos^2, which sum to one), so the
joins are inaudible. A piece is decoded as soon as the codes past its end are in, so the
sound made so far is ready while the rest is still being generated (previews), and the
whole is decoded about once. Torch-free: the codec is the `decode` function given.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Decode = Callable[[np.ndarray], np.ndarray]  # codes (K, n) -> samples (C, n * hop) float32


class CodeDecoder:
    """Turns codes (K, frames), fed as they grow, into samples (C, frames * hop)."""

    def __init__(self, decode: Decode, hop: int, piece: int, overlap: int) -> None:
        if overlap < 2 or piece < overlap:
            raise ValueError("a piece must be at least its overlap, and the overlap 2 frames")
        self.decode = decode
        self.hop = hop
        self.piece = piece
        self.overlap = overlap
        self.half = overlap // 2  # frames faded on either side of a join
        self.start = 0  # the first frame of the next piece's core
        self.done: list[np.ndarray] = []  # finished samples, in order
        self.tail: np.ndarray | None = None  # the last piece, faded out past `start - half`

    def feed(self, codes: np.ndarray, final: bool = False) -> None:
        """Decode every piece that `codes` (all codes so far, growing) completes; `final`:
        no more codes come, so decode the rest too."""
        frames = codes.shape[-1]
        while self.start < frames:
            end = min(self.start + self.piece, frames)
            last = final and (end == frames or frames - end < self.overlap)
            if last:
                end = frames
            elif end + self.overlap > frames:
                return  # its right-hand context is not in yet
            self._add_piece(codes, self.start, end, last)
            self.start = end

    def samples(self) -> np.ndarray:
        """The samples finished so far (all of them after a final feed)."""
        if not self.done:
            return np.zeros((0, 0), np.float32)
        return np.concatenate(self.done, axis=1)

    def _add_piece(self, codes: np.ndarray, start: int, end: int, last: bool) -> None:
        frames = codes.shape[-1]
        lo, hi = max(0, start - self.overlap), min(frames, end + self.overlap)
        sound = self.decode(codes[:, lo:hi])
        hop = self.hop

        def span(a: int, b: int) -> np.ndarray:
            """The piece's samples of frames [a, b)."""
            return sound[:, (a - lo) * hop : (b - lo) * hop]

        middle_from = start
        if self.tail is not None:  # fade in over the tail's fade-out, around `start`
            fade_end = min(start + self.half, frames)
            fading = span(start - self.half, fade_end)
            ramp = _ramp(self.tail.shape[1])[: fading.shape[1]]
            self.done.append(self.tail[:, : fading.shape[1]] + fading * ramp)
            middle_from = fade_end
        middle_to = end if last else end - self.half
        if middle_to > middle_from:
            self.done.append(span(middle_from, middle_to))
        if last:
            self.tail = None
        else:
            self.tail = span(end - self.half, end + self.half) * (1.0 - _ramp(2 * self.half * hop))


def _ramp(length: int) -> np.ndarray:
    """sin^2 rising from 0 to 1 over `length` samples (its complement falls alongside)."""
    t = (np.arange(length, dtype=np.float64) + 0.5) / max(length, 1)
    return (np.sin(0.5 * np.pi * t) ** 2).astype(np.float32)
