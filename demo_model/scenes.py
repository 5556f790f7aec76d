"""Seeded procedural flat illustrations: a background colour and one to three shapes."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

# Named colours (RGB), chosen far apart so a blurry generated pixel still maps to one name.
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "orange": (245, 130, 0),
    "yellow": (250, 235, 40),
    "green": (30, 160, 50),
    "blue": (30, 70, 230),
    "purple": (140, 40, 190),
    "pink": (250, 130, 200),
    "white": (250, 250, 250),
    "black": (20, 20, 20),
}
KINDS: tuple[str, ...] = ("circle", "square", "triangle", "star")
SIZES: tuple[str, ...] = ("small", "medium", "large")
# Half-extent of a shape as a fraction of the image side.
SIZE_FRACTION: dict[str, float] = {"small": 0.075, "medium": 0.095, "large": 0.12}
# 3x3 grid cells, row-major, with their (column, row).
POSITIONS: dict[str, tuple[int, int]] = {
    "top left": (0, 0),
    "top": (1, 0),
    "top right": (2, 0),
    "left": (0, 1),
    "center": (1, 1),
    "right": (2, 1),
    "bottom left": (0, 2),
    "bottom": (1, 2),
    "bottom right": (2, 2),
}
_CELL_TO_POSITION = {cell: name for name, cell in POSITIONS.items()}
# How far each kind reaches from its centre, relative to the size's half-extent.
_REACH = {"circle": 1.0, "square": 0.9 * 2**0.5, "triangle": 1.15, "star": 1.2}
_MARGIN = 0.015  # fraction of the image kept free at the cell border, so shapes never touch
SUPERSAMPLE = 4


@dataclass(frozen=True)
class Shape:
    """One shape; size or position is None when a caption leaves it unspecified."""

    kind: str
    color: str
    size: str | None = None
    position: str | None = None
    # Centre offset inside its grid cell, as a fraction of the image side (rendering only).
    jitter: tuple[float, float] = field(default=(0.0, 0.0), compare=False)


@dataclass(frozen=True)
class Scene:
    """A flat illustration: a background colour name and one to three shapes."""

    background: str
    shapes: tuple[Shape, ...]


def position_of_cell(column: int, row: int) -> str:
    """Name of the 3x3 grid cell at (column, row)."""
    return _CELL_TO_POSITION[(column, row)]


def random_scene(rng: np.random.Generator, max_shapes: int = 3) -> Scene:
    """Draw a scene: shapes in distinct grid cells, colours differing from the background."""
    colors = list(PALETTE)
    background = colors[rng.integers(len(colors))]
    count = int(rng.integers(1, max(1, min(max_shapes, 3)) + 1))
    cells = rng.permutation(len(POSITIONS))[:count]
    names = list(POSITIONS)
    shape_colors = [c for c in colors if c != background]
    shapes = []
    for cell in cells:
        kind = KINDS[rng.integers(len(KINDS))]
        size = SIZES[rng.integers(len(SIZES))]
        slack = max(0.0, 1 / 6 - _MARGIN - SIZE_FRACTION[size] * _REACH[kind])
        dx, dy = (float(v) for v in rng.uniform(-slack, slack, size=2))
        color = shape_colors[rng.integers(len(shape_colors))]
        shapes.append(Shape(kind, color, size, names[int(cell)], (dx, dy)))
    return Scene(background, tuple(shapes))


def _outline(kind: str, cx: float, cy: float, h: float, angle: float = 0.0) -> np.ndarray:
    """Polygon vertices of a kind centred at (cx, cy) with half-extent h (pixels), turned
    clockwise by `angle` degrees."""
    if kind == "square":
        s = 0.9 * h
        pts = [(cx - s, cy - s), (cx + s, cy - s), (cx + s, cy + s), (cx - s, cy + s)]
    elif kind == "triangle":
        r = _REACH["triangle"] * h
        angles = np.deg2rad([-90, 30, 150])
        pts = list(zip(cx + r * np.cos(angles), cy + r * np.sin(angles), strict=True))
    elif kind == "star":
        outer, inner = _REACH["star"] * h, 0.45 * _REACH["star"] * h
        angles = np.deg2rad(-90 + 36 * np.arange(10))
        radii = np.where(np.arange(10) % 2 == 0, outer, inner)
        pts = list(zip(cx + radii * np.cos(angles), cy + radii * np.sin(angles), strict=True))
    else:
        raise ValueError(f"no polygon for {kind!r}")
    points = np.array(pts, dtype=np.float64)
    if angle:
        turn = np.deg2rad(angle)
        rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
        points = (points - (cx, cy)) @ rotation.T + (cx, cy)
    return np.round(points).astype(np.int32)


def fill_shape(
    image: np.ndarray,
    kind: str,
    cx: float,
    cy: float,
    h: float,
    value,
    line_type: int,
    angle: float = 0.0,
) -> None:
    """Fill a kind centred at (cx, cy) with half-extent h (pixels of `image`), turned by
    `angle` degrees, with `value`."""
    if kind == "circle":
        cv2.circle(image, (round(cx), round(cy)), round(h), value, -1, line_type)
    else:
        cv2.fillPoly(image, [_outline(kind, cx, cy, h, angle)], value, line_type)


def reach(kind: str) -> float:
    """How far a kind reaches from its centre, relative to its half-extent."""
    return _REACH[kind]


def _draw(image: np.ndarray, shape: Shape, value, line_type: int) -> None:
    """Fill one shape into a supersampled image (side = image.shape[0]) with `value`."""
    big = image.shape[0]
    cx, cy = (big * v for v in shape_center(shape))
    fill_shape(
        image, shape.kind, cx, cy, SIZE_FRACTION[shape.size or "medium"] * big, value, line_type
    )


@dataclass(frozen=True)
class PlacedShape:
    """A shape placed freely (not on the grid): centre and half-extent as fractions of the
    image side, turned clockwise by `angle` degrees."""

    kind: str
    color: str
    cx: float
    cy: float
    half: float
    angle: float = 0.0


def shape_center(shape: Shape) -> tuple[float, float]:
    """A grid shape's centre as fractions of the image side."""
    column, row = POSITIONS[shape.position or "center"]
    return (column + 0.5) / 3 + shape.jitter[0], (row + 0.5) / 3 + shape.jitter[1]


def render(scene: Scene, size: int = 128, placed: tuple[PlacedShape, ...] = ()) -> np.ndarray:
    """Draw a scene, then any freely placed shapes over it, as an (H, W, 3) uint8 RGB image,
    anti-aliased by supersampling."""
    big = size * SUPERSAMPLE
    image = np.empty((big, big, 3), np.uint8)
    image[:] = PALETTE[scene.background]
    for shape in scene.shapes:
        _draw(image, shape, PALETTE[shape.color], cv2.LINE_AA)
    for shape in placed:
        colour = PALETTE[shape.color]
        cx, cy, half = shape.cx * big, shape.cy * big, shape.half * big
        fill_shape(image, shape.kind, cx, cy, half, colour, cv2.LINE_AA, shape.angle)
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)


def kind_coverage(scene: Scene, grid: int, size: int = 128) -> np.ndarray:
    """(grid, grid, len(KINDS)) float32: the fraction of each grid cell of the picture
    render(scene, size) that each kind of shape covers."""
    big = size * SUPERSAMPLE
    labels = np.zeros((big, big), np.uint8)
    for shape in scene.shapes:
        _draw(labels, shape, 1 + KINDS.index(shape.kind), cv2.LINE_8)
    one_hot = labels[..., None] == np.arange(1, len(KINDS) + 1, dtype=np.uint8)
    block = big // grid
    return one_hot.reshape(grid, block, grid, block, len(KINDS)).mean(axis=(1, 3), dtype=np.float32)
