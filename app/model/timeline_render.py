"""What the timeline shows and plays: its frames and its sound, numpy and OpenCV only.

- `frame_at(timeline, media, t)`: the picture at time t, the visual tracks drawn bottom
  first over black, each clip letterboxed into the timeline's size, weighted by its
  opacity and fades. A video clip shows the source frame that is on screen at its source
  time (frame floor(source_time * fps)).
- `frames(...)`: the export's frames; frame n is the picture at exactly start + n / fps.
- `mix_audio(...)`: the audio tracks mixed at a sample rate, each clip resampled by
  linear interpolation, with its gain and fades.
- `waveform(samples, columns)`: min and max peaks for drawing a sound.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from fractions import Fraction

import cv2
import numpy as np

from app.model.timeline import VISUAL, Clip, MediaItem, MediaStore, Timeline, as_time


def fade_gain(clip: Clip, t: Fraction) -> float:
    """The fades' weight of `clip` at timeline time `t` (0 at the clip's edges when it
    fades, 1 between its fades)."""
    gain = Fraction(1)
    if clip.fade_in and t - clip.start < clip.fade_in:
        gain *= (t - clip.start) / clip.fade_in
    if clip.fade_out and clip.end - t < clip.fade_out:
        gain *= (clip.end - t) / clip.fade_out
    return float(max(gain, Fraction(0)))


# ---- pictures --------------------------------------------------------------------------------


def frame_at(
    timeline: Timeline,
    media: MediaStore,
    t: Fraction,
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    """The picture at timeline time `t` as (H, W, 3) uint8, at `size` (default: the
    timeline's frame size). Raises the media's read error when an imported file is gone."""
    t = as_time(t)
    width, height = size or timeline.frame_size
    shown = []  # (picture, weight) in drawing order
    for track in timeline.tracks:
        if track.kind not in VISUAL:
            continue
        for clip in track.clips:
            if clip.covers(t):
                weight = clip.opacity * fade_gain(clip, t)
                if weight > 0:
                    item = timeline.item(clip.media_id)
                    shown.append((_source_picture(item, media, clip.source_time(t)), weight))
                break
    if shown and _fills(*shown[-1], width, height):  # nothing under it shows: no blending
        top = shown[-1][0]
        fitted = _fitted(top, width, height)
        return fitted.copy() if fitted is top else fitted
    canvas = np.zeros((height, width, 3), np.float32)
    for picture, weight in shown:
        _draw(canvas, picture, weight)
    return np.rint(canvas).astype(np.uint8)


def _fills(picture: np.ndarray, weight: float, width: int, height: int) -> bool:
    """Whether an opaque RGB `picture` drawn fully covers a width x height frame."""
    src_h, src_w = picture.shape[:2]
    scale = min(width / src_w, height / src_h)
    covers = (round(src_w * scale), round(src_h * scale)) == (width, height)
    return weight >= 1 and picture.shape[2] == 3 and covers


def _source_picture(item: MediaItem, media: MediaStore, source_time: Fraction) -> np.ndarray:
    """The picture `item` shows at `source_time`: (h, w, 3) or (h, w, 4) uint8."""
    data = media.data(item)
    if item.kind == "image":
        return data
    assert item.fps is not None
    index = min(max(math.floor(source_time * item.fps), 0), item.length - 1)
    return data[index]


def _draw(canvas: np.ndarray, picture: np.ndarray, weight: float) -> None:
    """Blend `picture`, letterboxed (scaled to fit, centred), over `canvas` by `weight`
    times its alpha."""
    height, width = canvas.shape[:2]
    picture = _fitted(picture, width, height)
    fit_h, fit_w = picture.shape[:2]
    x, y = (width - fit_w) // 2, (height - fit_h) // 2
    area = canvas[y : y + fit_h, x : x + fit_w]
    rgb = picture[..., :3].astype(np.float32)
    alpha = np.float32(weight)
    if picture.shape[2] == 4:
        alpha = picture[..., 3:4].astype(np.float32) * np.float32(weight / 255)
    area += (rgb - area) * alpha


def _fitted(picture: np.ndarray, width: int, height: int) -> np.ndarray:
    """`picture` scaled to fit inside width x height, its aspect kept."""
    src_h, src_w = picture.shape[:2]
    scale = min(width / src_w, height / src_h)
    fit_w, fit_h = max(1, round(src_w * scale)), max(1, round(src_h * scale))
    if (fit_w, fit_h) == (src_w, src_h):
        return picture
    shrink = fit_w < src_w
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(picture, (fit_w, fit_h), interpolation=interpolation)


def frames(
    timeline: Timeline,
    media: MediaStore,
    fps: Fraction | None = None,
    size: tuple[int, int] | None = None,
    start: Fraction = Fraction(0),
    end: Fraction | None = None,
) -> Iterator[np.ndarray]:
    """The pictures from `start` to `end` (default: the timeline's end) at `fps` (default:
    the timeline's): frame n is `frame_at(start + n / fps)`, exactly."""
    fps = as_time(fps) if fps is not None else timeline.fps
    start = as_time(start)
    end = as_time(end) if end is not None else timeline.duration
    for n in range(frame_count(end - start, fps)):
        yield frame_at(timeline, media, start + n / fps, size)


def frame_count(seconds: Fraction, fps: Fraction) -> int:
    """How many frames at `fps` start within `seconds` (frame n starts at n / fps)."""
    return max(0, math.ceil(seconds * fps))


# ---- sound -----------------------------------------------------------------------------------


def mix_audio(
    timeline: Timeline,
    media: MediaStore,
    rate: int,
    channels: int = 2,
    start: Fraction = Fraction(0),
    end: Fraction | None = None,
) -> np.ndarray:
    """The audio tracks mixed from `start` to `end` (default: the timeline's end) as
    (channels, N) float32 within -1..1, sample k at time start + k / rate."""
    start = as_time(start)
    end = as_time(end) if end is not None else timeline.duration
    count = max(0, math.ceil((end - start) * rate))
    mix = np.zeros((channels, count), np.float32)
    for track in timeline.tracks:
        if track.kind != "audio":
            continue
        for clip in track.clips:
            first = max(0, math.ceil((clip.start - start) * rate))
            stop = min(count, math.ceil((clip.end - start) * rate))
            if first < stop:
                samples = _clip_samples(timeline, media, clip, rate, channels, start, first, stop)
                mix[:, first:stop] += samples
    return np.clip(mix, -1.0, 1.0)


def _clip_samples(
    timeline: Timeline,
    media: MediaStore,
    clip: Clip,
    rate: int,
    channels: int,
    start: Fraction,
    first: int,
    stop: int,
) -> np.ndarray:
    """Output samples first..stop of `clip` (at `rate`, the mix starting at `start`), its
    source resampled, its channels matched, its gain and fades applied."""
    item = timeline.item(clip.media_id)
    assert item.rate is not None
    source = _matched_channels(media.data(item), channels)
    k = np.arange(first, stop, dtype=np.float64)
    # sample k is at time start + k/rate, that is source second clip.source_time(that)
    offset = float((clip.in_point - clip.start + start) * item.rate)
    positions = offset + k * (item.rate / rate)
    indices = np.arange(source.shape[1], dtype=np.float64)
    out = np.stack([np.interp(positions, indices, channel, right=0.0) for channel in source])
    since = (float(start - clip.start) + k / rate).astype(np.float64)
    envelope = np.full(k.shape, 10.0 ** (clip.gain_db / 20.0))
    if clip.fade_in:
        envelope *= np.clip(since / float(clip.fade_in), 0.0, 1.0)
    if clip.fade_out:
        envelope *= np.clip((float(clip.duration) - since) / float(clip.fade_out), 0.0, 1.0)
    return (out * envelope).astype(np.float32)


def _matched_channels(samples: np.ndarray, channels: int) -> np.ndarray:
    """`samples` with `channels` channels: mono spread to all, others mixed down to mono
    and spread, unless the counts match."""
    if samples.shape[0] == channels:
        return samples
    mono = samples.mean(axis=0, dtype=np.float32)
    return np.repeat(mono[None], channels, axis=0)


def waveform(samples: np.ndarray, columns: int) -> np.ndarray:
    """Peaks for drawing (C, N) `samples` in `columns` columns: (2, columns) float32, row 0
    each column's minimum over all channels, row 1 its maximum (0 where a column holds no
    sample)."""
    flat_min = samples.min(axis=0) if samples.size else np.zeros(0, np.float32)
    flat_max = samples.max(axis=0) if samples.size else np.zeros(0, np.float32)
    count = flat_min.shape[0]
    edges = (np.arange(columns + 1) * count) // max(columns, 1)
    peaks = np.zeros((2, columns), np.float32)
    filled = edges[1:] > edges[:-1]
    if filled.any():
        starts = edges[:-1][filled]
        peaks[0, filled] = np.minimum.reduceat(flat_min, starts)
        peaks[1, filled] = np.maximum.reduceat(flat_max, starts)
    return peaks
