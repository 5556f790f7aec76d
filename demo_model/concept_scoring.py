"""Automatic check for the LoRA proof's crescent emblem in a 128x128 picture.

Each blob's outline is described by six numbers: radial harmonics 2 (elongation), 3, 4
and 5 (triangle, square, star), how far its convex hull overshoots it (1 - solidity) and
its deepest bay (convexity defect depth over the hull's diameter). A blob is the crescent
when it lies nearer some crescent template than any known shape's template by MARGIN.
Templates are the shapes themselves at the three sizes, sharp and blurred (the VAE fills
a small crescent's bay in, much as a blur does). The crescent's one deep bay and its
length set it apart: a star's five bays are shallow, a blurry star fills them in, and the
known shapes are as wide as they are tall.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from .concept_photos import Emblem, render_emblem_scene
from .scenes import KINDS, SIZES, Scene, Shape, position_of_cell, render
from .scoring import (
    _sharp_outline,
    background_rgb,
    foreground,
    nearest_color,
    radial_harmonics,
)

MARGIN = 0.05  # how much nearer the crescent's templates a blob must be than any other
_TEMPLATE_BLURS = (0.0, 1.5, 2.5, 3.5)  # Gaussian sigmas (pixels at 128 px)
_TEMPLATE_ANGLES = (-15.0, 0.0, 15.0)


@dataclass(frozen=True)
class Outline:
    """One blob of a picture: its colour name, grid place (of its bounding box's centre)
    and how much nearer the crescent's templates it lies than any known shape's."""

    color: str
    position: str
    margin: float


def outline_features(contour: np.ndarray) -> np.ndarray:
    """[h2, h3, h4, h5, 1 - solidity, deepest bay / hull diameter] of a filled contour."""
    harmonics = radial_harmonics(contour)[2:6]
    hull_points = cv2.convexHull(contour)
    solidity = cv2.contourArea(contour) / max(cv2.contourArea(hull_points), 1e-9)
    corners = hull_points.reshape(-1, 2).astype(np.float64)
    diameter = max(np.linalg.norm(corners[:, None] - corners[None], axis=2).max(), 1.0)
    defects = cv2.convexityDefects(contour, cv2.convexHull(contour, returnPoints=False))
    bay = 0.0 if defects is None else defects[:, 0, 3].max() / 256 / diameter
    return np.array([*harmonics, 1 - solidity, bay])


def _outlines(image: np.ndarray) -> list[tuple[np.ndarray, str]]:
    """Each blob's sharp outline and colour name, the way scoring.find_blobs finds them."""
    h, w = image.shape[:2]
    fg = foreground(image)
    bg, distance, mask = fg.bg, fg.distance, fg.mask
    pixels = image.astype(np.float32)
    found = []
    for contour in fg.contours:
        filled = np.zeros((h, w), np.uint8)
        cv2.drawContours(filled, [contour], -1, 1, -1)
        inside = filled.astype(bool) & mask.astype(bool)
        # a thin blurred crescent is mostly edge: take its colour from its strongest quarter
        core = inside & (distance >= np.percentile(distance[inside], 75))
        rgb = np.median(pixels[core], axis=0)
        sharp = _sharp_outline(distance, filled, float(np.linalg.norm(rgb - bg)))
        found.append((contour if sharp is None else sharp, nearest_color(rgb)))
    return found


def _largest_features(image: np.ndarray) -> np.ndarray:
    contour, _ = max(_outlines(image), key=lambda found: cv2.contourArea(found[0]))
    return outline_features(contour)


def _blurred(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigma) if sigma else image


@cache
def templates() -> dict[str, np.ndarray]:
    """Features of each known kind and of the crescent ("emblem") at every size, sharp and
    blurred: kind -> (n, 6)."""
    known = {
        kind: [render(Scene("blue", (Shape(kind, "red", size, "center"),))) for size in SIZES]
        for kind in KINDS
    }
    known["emblem"] = [
        render_emblem_scene("blue", Emblem("red", size, "center", angle))
        for size in SIZES
        for angle in _TEMPLATE_ANGLES
    ]
    return {
        kind: np.array(
            [_largest_features(_blurred(p, s)) for p in pictures for s in _TEMPLATE_BLURS]
        )
        for kind, pictures in known.items()
    }


def emblem_margin(features: np.ndarray) -> float:
    """Distance to the nearest known-shape template minus that to the nearest crescent one."""
    nearest = {
        kind: float(np.linalg.norm(rows - features, axis=1).min())
        for kind, rows in templates().items()
    }
    emblem = nearest.pop("emblem")
    return min(nearest.values()) - emblem


def outlines(image: np.ndarray) -> list[Outline]:
    """Every blob of an (H, W, 3 or 4) uint8 RGB(A) picture, most crescent-like first."""
    rgb = np.ascontiguousarray(image[..., :3])
    h, w = rgb.shape[:2]
    found = []
    for contour, color in _outlines(rgb):
        x, y, width, height = cv2.boundingRect(contour)
        cell = (min(2, int(3 * (x + width / 2) / w)), min(2, int(3 * (y + height / 2) / h)))
        found.append(
            Outline(color, position_of_cell(*cell), emblem_margin(outline_features(contour)))
        )
    return sorted(found, key=lambda outline: -outline.margin)


def concept_present(image: np.ndarray) -> bool:
    """Whether some blob of the picture is the crescent (nearer its templates by MARGIN)."""
    return any(outline.margin > MARGIN for outline in outlines(image))


def concept_scores(image: np.ndarray, expected: dict) -> dict[str, bool]:
    """present, and for the most crescent-like blob whether its colour and place are the
    expected ones; background: the picture's background is the expected one."""
    found = outlines(image)
    best = found[0] if found and found[0].margin > MARGIN else None
    background = nearest_color(background_rgb(np.ascontiguousarray(image[..., :3])))
    return {
        "present": best is not None,
        "color": best is not None and best.color == expected["color"],
        "position": best is not None and best.position == expected["position"],
        "background": background == expected["background"],
    }
