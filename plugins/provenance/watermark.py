"""Atelier's invisible watermark for images, video frames and audio: the public API.

Every generated output carries a 32-bit payload (see ``payload``: Atelier's tag, the
layout version and an id derived from the output's recipe, recorded in the metadata).
Images and frames carry it in a tiled luminance pattern (``image_mark``), audio in a
repeating 1-4 kHz block (``audio_mark``); both are read blind, without the original.

A mark counts as present only when its payload passes a CRC-16 and carries Atelier's
8-bit tag: a decoding attempt on an unmarked input passes by chance with probability
2**-24, and one detection makes at most a few attempts (``Detection`` reports the bound
through ``confidence``). numpy + OpenCV only: no torch, no Qt.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from plugins.provenance import audio_mark, image_mark
from plugins.provenance import spread as sp
from plugins.provenance.payload import (
    PAYLOAD_BITS,
    describe_payload,
    int_to_bits,
    is_atelier,
    new_payload,
    recipe_payload,
)

__all__ = [
    "PAYLOAD_BITS",
    "METHOD",
    "Detection",
    "describe_payload",
    "detect_audio",
    "detect_frames",
    "detect_image",
    "detect_image_where",
    "embed_audio",
    "embed_frames",
    "embed_image",
    "false_positive_bound",
    "is_atelier",
    "new_payload",
    "recipe_payload",
]

METHOD = "atelier-ss1"  # tiled / block spread spectrum, payload layout 1
CHANCE_PER_TRIAL = 2.0**-24  # CRC-16 and the 8-bit app tag must both match
MAX_DETECT_FRAMES = 32
MAX_DETECT_SIDE = 1024  # detection reads a central crop at most this big (a crop is a shift)


@dataclass(frozen=True)
class Detection:
    """The verdict on one image, frame stack or clip.

    ``confidence`` is at least 0.5 exactly when the mark is present, and then it is one
    minus the bound on the chance that an unmarked input passes the checks (about
    1 - 1e-6). Below 0.5 it says how clearly the mark's sync pattern is still seen
    although the payload could not be read (a damaged mark): 0 for clean inputs.
    ``bit_accuracy`` is the share of payload bits read right (from the best-effort
    decode), when the expected payload was given.
    """

    present: bool
    confidence: float
    payload: int | None
    bit_accuracy: float | None = None


def false_positive_bound(trials: int = 1) -> float:
    """Upper bound on the chance that ``trials`` decoding attempts on an unmarked input
    report a mark."""
    return min(1.0, trials * CHANCE_PER_TRIAL)


def _verdict(found: sp.Decoded, positions: int, expected: int | None) -> Detection:
    accuracy = None
    if expected is not None:
        bits = int_to_bits(found.payload, PAYLOAD_BITS) == int_to_bits(expected, PAYLOAD_BITS)
        accuracy = float(np.mean(bits))
    if found.valid:
        return Detection(True, 1.0 - false_positive_bound(found.trials), found.payload, accuracy)
    # sync evidence only counts once chance explains it less than once in a thousand
    chance = sp.sync_p_value(found.sync_z, positions * found.trials)
    return Detection(False, 0.5 * max(0.0, 1.0 - 1000.0 * chance), None, accuracy)


def _as_rgb(image: np.ndarray, name: str) -> np.ndarray:
    if image.dtype != np.uint8:
        raise TypeError(f"{name} expects uint8 pixels, got {image.dtype}")
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"{name} expects an H x W x 3 (or x 4) image, got {image.shape}")
    return image[..., :3]


def _centre(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    top, left = max(0, (h - MAX_DETECT_SIDE) // 2), max(0, (w - MAX_DETECT_SIDE) // 2)
    return rgb[top : top + MAX_DETECT_SIDE, left : left + MAX_DETECT_SIDE]


def _prefiltered(rgb: np.ndarray, name: str) -> np.ndarray:
    return image_mark.prefilter(image_mark.luminance(_centre(_as_rgb(rgb, name))))


def embed_image(rgb: np.ndarray, payload: int) -> np.ndarray:
    """Mark an H x W x 3 uint8 image (x 4: alpha kept; H x W: grey); same shape out."""
    marked = image_mark.embed(_as_rgb(rgb, "embed_image"), payload)
    if rgb.ndim == 2:
        return marked[..., 0]
    if rgb.shape[2] == 4:
        return np.concatenate([marked, rgb[..., 3:]], axis=2)
    return marked


def detect_image(rgb: np.ndarray, expected: int | None = None) -> Detection:
    """Look for the mark in an image (blind: no original needed)."""
    found = image_mark.detect(_prefiltered(rgb, "detect_image"))
    return _verdict(found, image_mark.TILE**2, expected)


def detect_image_where(rgb: np.ndarray, where: np.ndarray, rescaled: bool = True) -> Detection:
    """Look for the mark only where `where` (bool, the image's height x width) is set: one
    area of a picture that holds several marks (see ``mark_areas``). `rescaled` False
    reads it at its own scale only (quicker where the picture cannot have been resized)."""
    f = image_mark.prefilter(image_mark.luminance(_as_rgb(rgb, "detect_image_where"))) * where
    found = image_mark.detect(f) if rescaled else image_mark.read_at(f)
    return _verdict(found, image_mark.TILE**2, None)


def embed_frames(frames: np.ndarray, payload: int) -> np.ndarray:
    """Mark every frame of a T x H x W x 3 uint8 stack."""
    if frames.ndim != 4:
        raise ValueError(f"embed_frames expects T x H x W x 3 frames, got {frames.shape}")
    return np.stack([embed_image(frame, payload) for frame in frames])


def detect_frames(frames: np.ndarray, expected: int | None = None) -> Detection:
    """Look for the mark in a frame stack, pooling up to 32 evenly spaced frames (the
    pattern is the same in every frame while the picture moves, so it adds up)."""
    if frames.ndim != 4 or len(frames) == 0:
        raise ValueError(f"detect_frames expects T x H x W x 3 frames, got {frames.shape}")
    picks = np.unique(np.linspace(0, len(frames) - 1, MAX_DETECT_FRAMES).round().astype(int))
    pooled = sum(_prefiltered(frames[i], "detect_frames") for i in picks)
    found = image_mark.detect(pooled / len(picks))
    return _verdict(found, image_mark.TILE**2, expected)


def _as_clip(samples: np.ndarray, name: str) -> np.ndarray:
    if samples.ndim == 1:
        return samples[None, :]
    if samples.ndim != 2:
        raise ValueError(f"{name} expects C x N samples, got {samples.shape}")
    return samples


def embed_audio(samples: np.ndarray, rate: int, payload: int) -> np.ndarray:
    """Mark a C x N float clip (N alone: mono); float32 out, same shape."""
    marked = audio_mark.embed(_as_clip(samples, "embed_audio"), int(rate), payload)
    return marked[0] if samples.ndim == 1 else marked


def detect_audio(samples: np.ndarray, rate: int, expected: int | None = None) -> Detection:
    """Look for the mark in a C x N clip at any sample rate (blind)."""
    found = audio_mark.detect(_as_clip(samples, "detect_audio"), int(rate))
    return _verdict(found, audio_mark.BLOCK, expected)
