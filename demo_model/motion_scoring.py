"""Automatic scoring of a generated clip against the motion its caption named.

Each frame's shapes are found as the image model's scorer finds them (scoring.find_blobs);
the named shape is tracked by its colour, its centre's path gives the direction of a
moving shape, and the pixels no frame's shape ever covers tell whether the background
stays still.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .motion_clips import DIRECTIONS, MotionClip
from .scoring import Blob, find_blobs, foreground

STILL = 0.12  # a centre that travels less than this share of the side has not moved
FLICKER_LEVELS = 4.0  # mean background change between frames above this is flicker
_ENDS = 3  # frames averaged at each end of a path


@dataclass(frozen=True)
class ClipScore:
    """How a clip did: `direction` is None for clips that do not move, `flicker` is the
    largest mean change of background pixels from one frame to the next (0-255 levels)."""

    direction: bool | None
    consistent: bool
    flicker: float

    @property
    def flickers(self) -> bool:
        return self.flicker > FLICKER_LEVELS


def named_shape(frame: np.ndarray, colors: tuple[str, ...]) -> Blob | None:
    """The largest shape of one of `colors` in an (H, W, 3) RGB frame, if any."""
    _, blobs = find_blobs(frame)
    return next((blob for blob in blobs if blob.color in colors), None)


def direction_name(path: list[tuple[float, float]]) -> str | None:
    """The nearest of the eight directions to a path's overall travel, or None when the
    path is too short (the shape stayed put or was lost)."""
    if len(path) < 2 * _ENDS:
        return None
    start = np.mean(path[:_ENDS], axis=0)
    end = np.mean(path[-_ENDS:], axis=0)
    dx, dy = end - start
    if math.hypot(dx, dy) < STILL:
        return None
    angle = math.atan2(dy, dx)
    return min(DIRECTIONS, key=lambda name: _angle_between(angle, DIRECTIONS[name]))


def _angle_between(angle: float, step: tuple[int, int]) -> float:
    difference = angle - math.atan2(step[1], step[0])
    return abs(math.atan2(math.sin(difference), math.cos(difference)))


def background_flicker(frames: np.ndarray) -> float:
    """The largest mean absolute change, frame to frame, of the pixels that no frame's
    foreground covers (a shape's path dilated by a few pixels is left out)."""
    covered = np.zeros(frames.shape[1:3], np.uint8)
    for frame in frames:
        covered |= foreground(frame).mask
    covered = cv2.dilate(covered, np.ones((7, 7), np.uint8)).astype(bool)
    if covered.all() or len(frames) < 2:
        return 0.0
    still = frames[:, ~covered].astype(np.float32)
    return float(np.abs(np.diff(still, axis=0)).mean(axis=(1, 2)).max())


def score_clip(frames: np.ndarray, clip: MotionClip) -> ClipScore:
    """Score (T, H, W, 3) uint8 frames against the clip their caption described."""
    colors = (clip.color, clip.to_color) if clip.motion == "recolor" else (clip.color,)
    found = [named_shape(frame, colors) for frame in frames]
    kept = all(blob is not None and blob.kind == clip.kind for blob in found)
    if clip.motion == "recolor" and kept:
        kept = found[0].color == clip.color and found[-1].color == clip.to_color
    direction = None
    if clip.motion == "move":
        path = [blob.center for blob in found if blob is not None]
        direction = direction_name(path) == clip.direction
    return ClipScore(direction, kept, background_flicker(frames))
