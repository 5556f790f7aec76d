"""Scoring music against its caption: tempo, drums, instrument and mode, from the audio.

- Tempo: the onset envelope below 2 kHz (positive log-spectral flux, 100 per second;
  hats and upper partials above it mark half beats as loudly as beats) and, for every
  tempo from 57 to 189 bpm in half-bpm steps, its pulse: the mean onset strength on a
  grid of beats at the best phase. The fastest tempo whose pulse is within 25% of the
  best wins (a beat's grid against its multiples, which pulse about as strongly; half
  beats pulse weaker, the off-beat notes being softer).
- Mode: the pitch-class profile (chroma) on the caption's key note: the minor scale's
  own degrees (minor third, sixth and seventh) against the major's, a log ratio above a
  margin that offsets the major third every note's fifth harmonic adds.
- Drums and instrument: a softmax regression on the log-mel spectrum's mean and spread,
  the 4-8 kHz band's flatness and the onset envelope's statistics, fitted on rendered
  pieces (seeded, so every run fits the same scorer), and for a model's output also on
  the same pieces through that model's codec.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from .music_pieces import INSTRUMENTS, RATE, random_piece, render

ENVELOPE_RATE = 100
TEMPO_RANGE = (57.0, 189.0)
TEMPO_BAND_HZ = 2000.0
NEAR_BEST = 0.75
MINOR_DEGREES, MAJOR_DEGREES = (3, 8, 10), (4, 9, 11)  # semitones above the key note
MINOR_MARGIN = 0.2  # log ratio; fitted on rendered pieces (80% right on the pieces themselves)
SCORER_PIECES = 600
SCORER_SECONDS = 4.0
FEATURE_RMS = 10 ** (-18 / 20)  # the rendered pieces' mix level


def _spectrogram(audio: np.ndarray, size: int, hop: int) -> np.ndarray:
    """Magnitudes (frames, size // 2 + 1) of Hann-windowed frames."""
    audio = np.asarray(audio, np.float64)
    if len(audio) < size:
        audio = np.pad(audio, (0, size - len(audio)))
    frames = np.lib.stride_tricks.sliding_window_view(audio, size)[::hop]
    return np.abs(np.fft.rfft(frames * np.hanning(size), axis=1))


def onset_envelope(audio: np.ndarray, rate: int = RATE, top_hz: float | None = None) -> np.ndarray:
    """Positive log-spectral flux (of the bins up to `top_hz`), ENVELOPE_RATE values a
    second, mean removed."""
    magnitude = _spectrogram(audio, 1024, rate // ENVELOPE_RATE)
    if top_hz is not None:
        magnitude = magnitude[:, np.fft.rfftfreq(1024, 1 / rate) <= top_hz]
    flux = np.maximum(np.diff(np.log1p(100 * magnitude), axis=0), 0).sum(1)
    return flux - flux.mean()


def _pulse(onsets: np.ndarray, period: float) -> float:
    """The mean of `onsets` on a grid of beats `period` frames apart, at the best phase."""
    beats = period * np.arange(int((len(onsets) - 1) / period) + 1)
    grid = np.round(np.arange(int(np.ceil(period)))[:, None] + beats[None]).astype(int)
    inside = grid < len(onsets)
    return float(
        (
            np.where(inside, onsets[np.minimum(grid, len(onsets) - 1)], 0).sum(1) / inside.sum(1)
        ).max()
    )


def tempo(audio: np.ndarray, rate: int = RATE) -> float:
    """The estimated tempo in bpm (0 for silence)."""
    envelope = onset_envelope(audio, rate, TEMPO_BAND_HZ)
    onsets = np.maximum(envelope - np.median(envelope), 0)
    if not np.any(onsets):
        return 0.0
    onsets = np.maximum(onsets, np.maximum(np.roll(onsets, 1), np.roll(onsets, -1)))
    tempos = np.arange(TEMPO_RANGE[1], TEMPO_RANGE[0] - 0.25, -0.5)  # fastest first
    pulses = np.array([_pulse(onsets, 60 * ENVELOPE_RATE / bpm) for bpm in tempos])
    return float(tempos[np.argmax(pulses >= NEAR_BEST * pulses.max())])


def chroma(audio: np.ndarray, rate: int = RATE) -> np.ndarray:
    """Energy per pitch class (C first) from 55 Hz to 2 kHz, summing to 1."""
    size = 8192
    power = _spectrogram(audio, size, size // 2).mean(0) ** 2
    hz = np.fft.rfftfreq(size, 1 / rate)
    band = (hz >= 55) & (hz <= 2000)
    classes = np.round(12 * np.log2(hz[band] / 440.0) + 69).astype(int) % 12
    profile = np.bincount(classes, weights=power[band], minlength=12)
    return profile / max(profile.sum(), 1e-12)


def is_minor(audio: np.ndarray, root: int, rate: int = RATE) -> bool:
    """Whether the audio sounds minor rather than major on the key note `root` (C = 0)."""
    profile = np.roll(chroma(audio, rate), -root) + 1e-9
    ratio = np.log(profile[list(MINOR_DEGREES)].sum() / profile[list(MAJOR_DEGREES)].sum())
    return bool(ratio > MINOR_MARGIN)


def _mel_filters(bins: int, bands: int, rate: int) -> np.ndarray:
    mel = np.linspace(0, 2595 * np.log10(1 + (rate / 2) / 700), bands + 2)
    edges = 700 * (10 ** (mel / 2595) - 1)
    hz = np.linspace(0, rate / 2, bins)
    filters = np.zeros((bands, bins))
    for i in range(bands):
        lo, mid, hi = edges[i : i + 3]
        filters[i] = np.clip(np.minimum((hz - lo) / (mid - lo), (hi - hz) / (hi - mid)), 0, None)
    return filters


def at_feature_level(audio: np.ndarray) -> np.ndarray:
    """The clip scaled to one RMS level: how loud a piece is played says nothing of its
    instrument, and a log spectrum's mean would otherwise read level as timbre (Text to
    music brings pieces to a loudness the rendered pieces were not fitted at)."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    return audio * (FEATURE_RMS / rms) if rms > 0 else audio


def features(audio: np.ndarray, rate: int = RATE) -> np.ndarray:
    """The regression's inputs for one clip, at one level (`at_feature_level`)."""
    audio = at_feature_level(audio)
    magnitude = _spectrogram(audio, 1024, 256)
    mel = np.log(magnitude**2 @ _mel_filters(magnitude.shape[1], 40, rate).T + 1e-8)
    hz = np.fft.rfftfreq(1024, 1 / rate)
    high = magnitude[:, (hz >= 4000) & (hz <= 8000)] + 1e-8
    flatness = np.exp(np.log(high).mean(1)) / high.mean(1)
    envelope = onset_envelope(audio, rate)
    return np.concatenate(
        [
            mel.mean(0),
            mel.std(0),
            np.percentile(flatness, [50, 90]),
            [envelope.std(), np.percentile(envelope, 99)],
        ]
    )


@dataclass(frozen=True)
class Classifier:
    """A softmax regression on standardised features."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # (features, classes)
    bias: np.ndarray

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return np.argmax(((rows - self.mean) / self.scale) @ self.weights + self.bias, axis=-1)


def fit(rows: np.ndarray, labels: np.ndarray, classes: int, steps: int = 500) -> Classifier:
    """A softmax regression fitted by L-BFGS with a little weight decay."""
    mean, scale = rows.mean(0), rows.std(0) + 1e-6
    x = torch.from_numpy((rows - mean) / scale).float()
    y = torch.from_numpy(labels).long()
    weights = torch.zeros(x.shape[1], classes, requires_grad=True)
    bias = torch.zeros(classes, requires_grad=True)
    optimizer = torch.optim.LBFGS([weights, bias], max_iter=steps)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ weights + bias, y)
        loss = loss + 1e-3 * weights.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return Classifier(mean, scale, weights.detach().numpy(), bias.detach().numpy())


@dataclass(frozen=True)
class MusicScorer:
    instrument: Classifier
    drums: Classifier

    def score(self, audio: np.ndarray, rate: int = RATE) -> tuple[str, bool]:
        """(instrument, drums present) heard in the audio."""
        row = features(audio, rate)[None]
        return INSTRUMENTS[self.instrument.predict(row)[0]], bool(self.drums.predict(row)[0])


@lru_cache(maxsize=2)
def fitted_scorer(
    seed: int = 7,
    count: int = SCORER_PIECES,
    through: Callable[[list[np.ndarray]], list[np.ndarray]] | None = None,
) -> MusicScorer:
    """The scorer, fitted on `count` rendered pieces drawn from `seed`, and with `through`
    (a codec's round trip) on their copies through it too: a scorer that has heard only
    clean renders takes a low-bitrate codec's colouring for an instrument of its own."""
    rng = np.random.default_rng([seed, 59])
    pieces = [random_piece(rng) for _ in range(count)]
    sounds = [render(piece, SCORER_SECONDS) for piece in pieces]
    if through is not None:
        sounds += through(sounds)
        pieces += pieces
    rows = np.stack([features(sound) for sound in sounds])
    kinds = np.array([INSTRUMENTS.index(piece.instrument) for piece in pieces])
    drums = np.array([piece.drums for piece in pieces], dtype=int)
    return MusicScorer(fit(rows, kinds, len(INSTRUMENTS)), fit(rows, drums, 2))


def seam_clicks(samples: np.ndarray, rate: int, seams_s: list[float], hop: int) -> int:
    """How many seams carry a click: a sample-to-sample jump within four samples of the
    seam larger than every jump in the four codec frames either side of it."""
    jumps = np.abs(np.diff(np.asarray(samples, np.float64)))
    clicks = 0
    for seconds in seams_s:
        at = round(seconds * rate)
        if at + 5 * hop >= len(jumps) or at < 5 * hop:
            continue
        nearby = np.concatenate([jumps[at - 5 * hop : at - hop], jumps[at + hop : at + 5 * hop]])
        clicks += int(jumps[at - 4 : at + 4].max() > nearby.max())
    return clicks
