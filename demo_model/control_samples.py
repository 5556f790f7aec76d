"""Training and evaluation samples for the built-in scribble ControlNet: shapes placed
anywhere at any size, a hand-drawn-looking scribble of them, and a caption naming colours.

The scribble says where the shapes are, how big and which kind; the caption says their
colours and the background's ("a red circle and a green star on a blue background"),
never places or sizes, so the model must take those from the scribble. Shapes of one
sample are of different kinds and do not overlap, so "the red circle" names one of them.
The scribble is each shape's outline drawn as a person would with a mouse or a pen:
wobbly, of varying thickness, sometimes with gaps or an overshoot, in either polarity
(white on black, or dark on light: a fifth of the samples).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .captions import KIND_WORDS
from .scenes import KINDS, PALETTE, PlacedShape, Scene, fill_shape, reach, render

IMAGE_SIZE = 128
HALF_RANGE = (0.06, 0.3)  # a shape's half-extent, as a fraction of the side
SHAPE_COUNTS = (1, 2, 3)
SHAPE_COUNT_WEIGHTS = (0.5, 0.3, 0.2)
DARK_ON_LIGHT = 0.2
CAPTION_DROPOUT = 0.1
_SUPER = 2  # scribbles are drawn at twice the size, then scaled down


@dataclass(frozen=True)
class ControlLayout:
    """A background colour and freely placed shapes (a sample without its pixels)."""

    background: str
    shapes: tuple[PlacedShape, ...]


def _fits(candidate: PlacedShape, placed: list[PlacedShape]) -> bool:
    """Whether `candidate` keeps clear of every placed shape (3 % of the side between)."""
    for other in placed:
        distance = np.hypot(candidate.cx - other.cx, candidate.cy - other.cy)
        room = candidate.half * reach(candidate.kind) + other.half * reach(other.kind) + 0.03
        if distance < room:
            return False
    return True


def layouts_apart(layout: ControlLayout) -> bool:
    """Whether every shape of `layout` keeps clear of the others."""
    shapes = list(layout.shapes)
    return all(_fits(shape, shapes[:index]) for index, shape in enumerate(shapes))


def random_layout(
    rng: np.random.Generator, count_weights: tuple[float, ...] = SHAPE_COUNT_WEIGHTS
) -> ControlLayout:
    """One to three shapes (as likely as `count_weights` says) of different kinds and any
    colour but the background's, each wholly inside the picture, at any place and size
    that leaves them apart."""
    colours = list(PALETTE)
    background = colours[int(rng.integers(len(colours)))]
    others = [c for c in colours if c != background]
    count = int(rng.choice(SHAPE_COUNTS, p=count_weights))
    kinds = [KINDS[int(i)] for i in rng.permutation(len(KINDS))[:count]]
    placed: list[PlacedShape] = []
    for kind in kinds:
        for _ in range(30):
            low, high = HALF_RANGE
            half = float(rng.uniform(low, max(low, high / (1 + 0.5 * len(placed)))))
            margin = half * reach(kind) + 0.01
            cx, cy = (float(v) for v in rng.uniform(margin, 1 - margin, size=2))
            candidate = PlacedShape(kind, others[int(rng.integers(len(others)))], cx, cy, half)
            if _fits(candidate, placed):
                placed.append(candidate)
                break
    return ControlLayout(background, tuple(placed))


def picture(layout: ControlLayout) -> np.ndarray:
    """The layout drawn, (128, 128, 3) uint8 RGB."""
    return render(Scene(layout.background, ()), IMAGE_SIZE, layout.shapes)


def filled(layout: ControlLayout, size: int = IMAGE_SIZE) -> np.ndarray:
    """(size, size) bool: where the layout's shapes lie."""
    mask = np.zeros((size, size), np.uint8)
    for shape in layout.shapes:
        fill_shape(mask, shape.kind, shape.cx * size, shape.cy * size, shape.half * size, 1, 8)
    return mask.astype(bool)


def _outline_points(shape: PlacedShape, side: float) -> np.ndarray:
    """Points along the shape's outline (closed, first point repeated), in pixels."""
    cx, cy, h = shape.cx * side, shape.cy * side, shape.half * side
    if shape.kind == "circle":
        angles = np.linspace(0, 2 * np.pi, 64)
        return np.stack([cx + h * np.cos(angles), cy + h * np.sin(angles)], axis=1)
    mask = np.zeros((int(side), int(side)), np.uint8)
    fill_shape(mask, shape.kind, cx, cy, h, 255, cv2.LINE_8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    corners = max(contours, key=len)[:, 0].astype(np.float64)
    corners = np.concatenate([corners, corners[:1]])
    dense = [
        np.linspace(a, b, max(2, int(np.hypot(*(b - a)) / 3)), endpoint=False)
        for a, b in zip(corners[:-1], corners[1:], strict=True)
    ]
    points = np.concatenate(dense)
    return np.concatenate([points, points[:1]])


def _wobble(points: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
    """A hand's wobble: a slow drift along the stroke plus a little jitter per point."""
    t = np.linspace(0, 1, len(points))[:, None]
    drift = np.zeros_like(points)
    for wave in range(1, 4):
        amplitude = rng.uniform(0, 0.05) * scale / wave
        phase = rng.uniform(0, 2 * np.pi, size=2)
        drift += amplitude * np.sin(2 * np.pi * wave * t + phase)
    return points + drift + rng.normal(0, 0.004 * scale + 0.3, points.shape)


def _stroke(points: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """The outline as one or more polylines: gaps cut out sometimes, an overshoot past the
    start sometimes."""
    if rng.random() < 0.3:
        extra = int(len(points) * rng.uniform(0.03, 0.15))
        points = np.concatenate([points, points[1 : 1 + extra]])
    pieces = [points]
    for _ in range(int(rng.choice([0, 0, 1, 2]))):
        piece = pieces.pop(int(rng.integers(len(pieces))))
        if len(piece) < 12:
            pieces.append(piece)
            continue
        start = int(rng.integers(2, len(piece) - 8))
        gap = max(2, int(len(points) * rng.uniform(0.03, 0.08)))
        pieces += [piece[:start], piece[start + gap :]]
    return [p for p in pieces if len(p) >= 2]


def scribble(layout: ControlLayout, rng: np.random.Generator, polarity: bool = True) -> np.ndarray:
    """A hand-drawn-looking outline of each shape, (128, 128, 3) uint8: white strokes on
    black, or (with `polarity`, a fifth of the time) dark strokes on a light ground."""
    side = IMAGE_SIZE * _SUPER
    canvas = np.zeros((side, side), np.uint8)
    for shape in layout.shapes:
        thickness = int(rng.integers(2, 8))
        points = _wobble(_outline_points(shape, side), shape.half * side, rng)
        for piece in _stroke(points, rng):
            line = np.round(piece).astype(np.int32)
            cv2.polylines(canvas, [line], False, 255, thickness, cv2.LINE_AA)
    lines = cv2.resize(canvas, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)
    if polarity and rng.random() < DARK_ON_LIGHT:
        paper = int(rng.integers(200, 256))
        ink = int(rng.integers(0, 60))
        lines = (paper - (paper - ink) * (lines.astype(np.float32) / 255)).astype(np.uint8)
    return np.repeat(lines[..., None], 3, axis=2)


def _article(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def caption(layout: ControlLayout, rng: np.random.Generator) -> str:
    """The shapes' colours and kinds and the background colour, in a designer's words."""
    phrases = []
    for shape in layout.shapes:
        words = KIND_WORDS[shape.kind]
        phrases.append(_article(f"{shape.color} {words[int(rng.integers(len(words)))]}"))
    order = rng.permutation(len(phrases))
    phrases = [phrases[int(i)] for i in order]
    shapes = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    form = int(rng.integers(4))
    if form == 0:
        return f"{shapes} on {_article(layout.background)} background"
    if form == 1:
        return f"{shapes} on {layout.background}"
    if form == 2:
        return f"{_article(layout.background)} background with {shapes}"
    return f"{shapes}, {layout.background} background"


def training_caption(layout: ControlLayout, rng: np.random.Generator) -> str:
    """The caption, or "" one time in ten (so guidance has an unconditional branch)."""
    return "" if rng.random() < CAPTION_DROPOUT else caption(layout, rng)


def held_out_layouts(count: int, seed: int = 99_173) -> list[ControlLayout]:
    """Evaluation layouts, from a generator no training run uses."""
    rng = np.random.default_rng([seed, 5])
    return [random_layout(rng) for _ in range(count)]
