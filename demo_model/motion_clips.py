"""Seeded procedural animations for the built-in motion model, and their captions.

One shape on a plain background does one thing over the clip: moves in one of eight
directions, grows, shrinks, turns, changes colour or bounces. Captions say it in plain
words ("a red circle moving from left to right on a blue background"); the held-out rule
of the image model's captions (captions.is_held_out) keeps some wordings for evaluation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .captions import KIND_WORDS, SIZE_WORDS, is_held_out
from .scenes import KINDS, PALETTE, SIZE_FRACTION, PlacedShape, Scene, reach, render

FRAMES = 16
FPS = 8
MOTIONS = ("move", "grow", "shrink", "turn", "recolor", "bounce")
_MOTION_WEIGHTS = (0.5, 0.1, 0.1, 0.1, 0.1, 0.1)  # direction is the hardest to learn
# Unit steps in image coordinates (y grows downwards).
DIRECTIONS: dict[str, tuple[int, int]] = {
    "right": (1, 0),
    "left": (-1, 0),
    "down": (0, 1),
    "up": (0, -1),
    "down right": (1, 1),
    "down left": (-1, 1),
    "up right": (1, -1),
    "up left": (-1, -1),
}
DIRECTION_WORDS: dict[str, tuple[str, ...]] = {
    "right": ("from left to right", "to the right", "right", "rightwards"),
    "left": ("from right to left", "to the left", "left", "leftwards"),
    "down": ("from top to bottom", "down", "downwards"),
    "up": ("from bottom to top", "up", "upwards"),
    "down right": ("from the top left to the bottom right", "down and to the right"),
    "down left": ("from the top right to the bottom left", "down and to the left"),
    "up right": ("from the bottom left to the top right", "up and to the right"),
    "up left": ("from the bottom right to the top left", "up and to the left"),
}
_MOVE_VERBS = ("moving", "moving", "sliding", "gliding", "drifting")
_ACTION_WORDS: dict[str, tuple[str, ...]] = {
    "grow": ("growing", "growing bigger", "getting bigger"),
    "shrink": ("shrinking", "getting smaller", "shrinking away"),
    "turn": ("turning", "spinning", "rotating"),
    "bounce": ("bouncing", "bouncing up and down", "hopping"),
}
_TEMPLATES = (
    "{subject} {action} on a {bg} background",
    "{subject} {action} on a plain {bg} background",
    "{subject} {action}, {bg} background",
    "{subject} {action} against a {bg} backdrop",
)
_TRAVEL = 0.5  # how far a moving shape's centre travels, as a fraction of the side
_GROWTH = (0.65, 1.45)  # size factor at the start and end of a growing clip


@dataclass(frozen=True)
class MotionClip:
    """What one clip shows: a shape, its background and what it does."""

    background: str
    kind: str
    color: str
    size: str
    motion: str
    direction: str = ""  # move only
    to_color: str = ""  # recolor only
    start: tuple[float, float] = (0.5, 0.5)  # centre at the first frame (fractions)
    turns: float = 0.0  # turn only: whole turns over the clip, signed
    angle: float = 0.0  # turn only: degrees turned at the first frame


def _other(colors: list[str], rng: np.random.Generator, *avoid: str) -> str:
    left = [c for c in colors if c not in avoid]
    return left[int(rng.integers(len(left)))]


def _start(motion: str, direction: str, half: float, rng: np.random.Generator) -> tuple:
    """A starting centre that keeps the whole path inside the picture."""
    margin = half + 0.03
    if motion == "move":
        dx, dy = DIRECTIONS[direction]
        span = [(margin, 1 - margin - _TRAVEL * abs(d)) for d in (dx, dy)]
        x, y = (float(rng.uniform(lo, max(lo, hi))) for lo, hi in span)
        return (1 - x if dx < 0 else x, 1 - y if dy < 0 else y)
    if motion == "bounce":
        return (float(rng.uniform(margin, 1 - margin)), 1 - margin)
    reach_out = margin * (_GROWTH[1] if motion in ("grow", "shrink") else 1.0)
    return tuple(float(rng.uniform(reach_out, 1 - reach_out)) for _ in range(2))


def random_clip(rng: np.random.Generator) -> MotionClip:
    """Draw a clip: the shape's colour differs from the background's (and so does the
    colour it changes to)."""
    colors = list(PALETTE)
    background = colors[int(rng.integers(len(colors)))]
    color = _other(colors, rng, background)
    motion = MOTIONS[int(rng.choice(len(MOTIONS), p=_MOTION_WEIGHTS))]
    kinds = [k for k in KINDS if k != "circle"] if motion == "turn" else list(KINDS)
    kind = kinds[int(rng.integers(len(kinds)))]
    size = ("small", "medium")[int(rng.integers(2))] if motion != "shrink" else "large"
    direction = list(DIRECTIONS)[int(rng.integers(len(DIRECTIONS)))] if motion == "move" else ""
    to_color = _other(colors, rng, background, color) if motion == "recolor" else ""
    half = SIZE_FRACTION[size] * reach(kind)
    start = _start(motion, direction, half, rng)
    turns = float(rng.choice([-1, 1]) * rng.uniform(0.25, 0.5)) if motion == "turn" else 0.0
    return MotionClip(background, kind, color, size, motion, direction, to_color, start, turns)


def shape_at(clip: MotionClip, t: float) -> PlacedShape:
    """The shape at time t in [0, 1] of the clip."""
    cx, cy = clip.start
    half = SIZE_FRACTION[clip.size]
    angle, color = 0.0, clip.color
    if clip.motion == "move":
        dx, dy = DIRECTIONS[clip.direction]
        cx, cy = cx + _TRAVEL * dx * t, cy + _TRAVEL * dy * t
    elif clip.motion in ("grow", "shrink"):
        low, high = _GROWTH if clip.motion == "grow" else _GROWTH[::-1]
        half *= low + (high - low) * t
    elif clip.motion == "turn":
        angle = clip.angle + 360.0 * clip.turns * t
    elif clip.motion == "recolor":
        color = clip.color if t < 0.5 else clip.to_color
    elif clip.motion == "bounce":
        cy -= 0.45 * abs(np.sin(2 * np.pi * t))
    return PlacedShape(clip.kind, color, cx, cy, half, angle)


def render_clip(clip: MotionClip, frames: int = FRAMES, size: int = 128) -> np.ndarray:
    """(frames, size, size, 3) uint8 RGB frames of the clip."""
    empty = Scene(clip.background, ())
    times = np.linspace(0.0, 1.0, frames)
    return np.stack([render(empty, size, (shape_at(clip, float(t)),)) for t in times])


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def describe_clip(clip: MotionClip, rng: np.random.Generator) -> str:
    """A plain-words caption of the clip; deterministic for a given rng state."""
    words = [clip.color, _pick(rng, KIND_WORDS[clip.kind])]
    if rng.random() < 0.3:
        words.insert(0, _pick(rng, SIZE_WORDS[clip.size]))
    subject = ("an " if words[0][0] in "aeiou" else "a ") + " ".join(words)
    if clip.motion == "move":
        action = f"{_pick(rng, _MOVE_VERBS)} {_pick(rng, DIRECTION_WORDS[clip.direction])}"
    elif clip.motion == "recolor":
        action = _pick(rng, (f"changing from {clip.color} to {clip.to_color}",))
        action = _pick(rng, (action, f"turning {clip.to_color}", f"changing to {clip.to_color}"))
    else:
        action = _pick(rng, _ACTION_WORDS[clip.motion])
    return _pick(rng, _TEMPLATES).format(subject=subject, action=action, bg=clip.background)


def clip_pairs(seed: int, held_out: bool) -> Iterator[tuple[MotionClip, str]]:
    """Endless seeded (clip, caption) pairs from the training or the held-out side only."""
    rng = np.random.default_rng([seed, 29])
    while True:
        clip = random_clip(rng)
        text = describe_clip(clip, rng)
        if is_held_out(text) == held_out:
            yield clip, text


_OPPOSITE = {"grow": "shrink", "shrink": "grow"}


def reversed_clip(clip: MotionClip) -> MotionClip:
    """The clip whose frames are this one's played backwards (a free second example of
    every clip: moving right becomes moving left, growing shrinking)."""
    start, direction = clip.start, clip.direction
    if clip.motion == "move":
        dx, dy = DIRECTIONS[clip.direction]
        start = (start[0] + _TRAVEL * dx, start[1] + _TRAVEL * dy)
        direction = next(name for name, step in DIRECTIONS.items() if step == (-dx, -dy))
    color, to_color = (clip.to_color, clip.color) if clip.motion == "recolor" else (clip.color, "")
    motion = _OPPOSITE.get(clip.motion, clip.motion)
    angle = clip.angle + 360.0 * clip.turns
    return MotionClip(
        clip.background,
        clip.kind,
        color,
        clip.size,
        motion,
        direction,
        to_color,
        start,
        -clip.turns,
        angle,
    )
