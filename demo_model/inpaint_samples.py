"""Training and evaluation samples for the inpainting variant: a scene, a region to
repaint, what the region holds after repainting, and a caption naming only that.

A sample is what the inpaint task hands the model: the picture (here the whole 128x128
work image), the selection grown, feathered and snapped to whole 8x8 latent cells by the
task's own functions, and the user's prompt. Most samples put one new shape inside the
selection, sized to it ("small", "medium", "large" say how much of it the shape fills;
the margin the task adds around it is background) and named by a short caption
("a yellow star", "a large yellow star on an orange background"); some ask for the region
to be cleared (an empty or background-only caption), so removing an object works too.
Outside the mask the picture after is the picture before; inside it, the background and
the new shape only (a shape of the scene cut by the mask keeps its outside part).
Outpaint samples hide one or more borders of a scene and caption the whole scene, so
the variant can also extend a picture.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from plugins.diffusion.mask_geometry import block_mask, soft_mask

from .captions import KIND_WORDS, SIZE_WORDS
from .scenes import (
    KINDS,
    PALETTE,
    SIZE_FRACTION,
    PlacedShape,
    Scene,
    random_scene,
    reach,
    render,
    shape_center,
)
from .unet_training import training_caption

IMAGE_SIZE = 128
CELL = 8  # pixels per latent cell
FILL = {"small": 0.5, "medium": 0.68, "large": 0.86}  # shape reach / half the region's short side
CLEAR_FRACTION = 0.15
BORDER_FRACTION = 0.2
CAPTION_DROPOUT = 0.1
_MIN_SIDE, _MAX_SIDE = 24, 72  # of a selection


@dataclass(frozen=True)
class InpaintSample:
    """The picture before, the repaint mask (bool, True = repaint), the picture after,
    the new shape (None when the region is cleared) and the caption."""

    before: np.ndarray
    mask: np.ndarray
    after: np.ndarray
    new: PlacedShape | None
    caption: str


def region_box(rng: np.random.Generator) -> tuple[int, int, int, int]:
    """A selection (x, y, w, h), 24 to 72 pixels a side, no longer than 1.6 times its width."""
    while True:
        w, h = (int(v) for v in rng.integers(_MIN_SIDE, _MAX_SIDE + 1, size=2))
        if max(w, h) <= 1.6 * min(w, h):
            break
    x, y = int(rng.integers(0, IMAGE_SIZE - w + 1)), int(rng.integers(0, IMAGE_SIZE - h + 1))
    return x, y, w, h


def selection_mask(box: tuple[int, int, int, int], ellipse: bool) -> np.ndarray:
    """A rectangular selection, or an ellipse painted on a mask layer, as uint8 (255 = in)."""
    x, y, w, h = box
    mask = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    if ellipse:
        cv2.ellipse(mask, (x + w // 2, y + h // 2), (w // 2, h // 2), 0, 0, 360, 255, -1)
    else:
        mask[y : y + h, x : x + w] = 255
    return mask


def task_mask(selection: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What the Inpaint task hands the model for this selection: grown, feathered (the
    form's defaults, 8 and 8, most of the time) and snapped to whole latent cells."""
    grow, feather = (8, 8) if rng.random() < 0.6 else (int(v) for v in rng.integers(0, 17, 2))
    return block_mask(soft_mask(selection, grow, feather) > 0)


def new_shape(
    box: tuple[int, int, int, int],
    kind: str,
    color: str,
    size: str,
    rng: np.random.Generator,
    centred: bool = False,
) -> PlacedShape:
    """A shape of `kind` inside the region, filling it as its size word says; off centre
    a little unless `centred` (an ellipse's corners are not free)."""
    x, y, w, h = box
    half = FILL[size] * (1 + rng.uniform(-0.06, 0.06)) * min(w, h) / 2 / reach(kind)
    freedom = 0.0 if centred else 0.4
    slack_x = max(0.0, w / 2 - half * reach(kind) - 1) * freedom
    slack_y = max(0.0, h / 2 - half * reach(kind) - 1) * freedom
    cx = x + w / 2 + rng.uniform(-slack_x, slack_x)
    cy = y + h / 2 + rng.uniform(-slack_y, slack_y)
    return PlacedShape(kind, color, cx / IMAGE_SIZE, cy / IMAGE_SIZE, half / IMAGE_SIZE)


def _clear_of(scene: Scene, mask: np.ndarray) -> Scene:
    """The scene without the shapes that reach into the mask (or within 2 pixels of it)."""
    keep = []
    for shape in scene.shapes:
        cx, cy = shape_center(shape)
        r = SIZE_FRACTION[shape.size or "medium"] * reach(shape.kind) * IMAGE_SIZE + 2
        x0, y0 = max(0, int(cx * IMAGE_SIZE - r)), max(0, int(cy * IMAGE_SIZE - r))
        x1, y1 = int(np.ceil(cx * IMAGE_SIZE + r)), int(np.ceil(cy * IMAGE_SIZE + r))
        if not mask[y0:y1, x0:x1].any():
            keep.append(shape)
    return Scene(scene.background, tuple(keep))


def _inside(mask: np.ndarray, repainted: np.ndarray, before: np.ndarray) -> np.ndarray:
    return np.where(mask[..., None], repainted, before)


def _article(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def shape_caption(shape: PlacedShape, size: str, background: str, rng: np.random.Generator) -> str:
    """A short caption naming the new shape (its size word sometimes, the background
    sometimes), as a designer types it for a selection."""
    kind = KIND_WORDS[shape.kind][int(rng.integers(len(KIND_WORDS[shape.kind])))]
    words = [shape.color, kind]
    if rng.random() < 0.5:
        words.insert(0, SIZE_WORDS[size][int(rng.integers(len(SIZE_WORDS[size])))])
    text = " ".join(words)
    form = int(rng.integers(4))
    if form == 0:
        return text
    if form == 1:
        return _article(text)
    if form == 2:
        return f"{_article(text)} on {_article(background)} background"
    return f"{_article(text)} on {background}"


def _clear_caption(background: str, rng: np.random.Generator) -> str:
    return ("", f"{background} background", f"a plain {background} background")[
        int(rng.integers(3))
    ]


def border_mask(rng: np.random.Generator) -> np.ndarray:
    """One to four borders of whole cells, 16 to 48 pixels deep (an outpaint's new sides)."""
    mask = np.zeros((IMAGE_SIZE, IMAGE_SIZE), bool)
    sides = rng.permutation(4)[: int(rng.choice([1, 1, 2, 2, 4]))]
    for side in sides:
        depth = CELL * int(rng.integers(2, 7))
        edge = (slice(0, depth), slice(IMAGE_SIZE - depth, None))[int(side) % 2]
        if side < 2:
            mask[edge, :] = True
        else:
            mask[:, edge] = True
    return mask


def border_sample(scene: Scene, rng: np.random.Generator) -> InpaintSample:
    """The whole scene with its borders to outpaint, captioned whole (or not at all)."""
    picture = render(scene, IMAGE_SIZE)
    text = "" if rng.random() < CAPTION_DROPOUT else training_caption(scene, rng).text
    return InpaintSample(picture, border_mask(rng), picture, None, text)


def make_sample(rng: np.random.Generator) -> InpaintSample:
    """One seeded sample (see the module's docstring)."""
    scene = random_scene(rng)
    if rng.random() < BORDER_FRACTION:
        return border_sample(scene, rng)
    box = region_box(rng)
    ellipse = rng.random() < 0.25
    mask = task_mask(selection_mask(box, ellipse), rng)
    before = render(scene, IMAGE_SIZE)
    kept = _clear_of(scene, mask)
    if rng.random() < CLEAR_FRACTION:
        after = _inside(mask, render(kept, IMAGE_SIZE), before)
        return InpaintSample(before, mask, after, None, _clear_caption(scene.background, rng))
    colours = [c for c in PALETTE if c != scene.background]
    colour = colours[int(rng.integers(len(colours)))]
    kind = KINDS[int(rng.integers(len(KINDS)))]
    size = ("small", "medium", "large")[int(rng.integers(3))]
    shape = new_shape(box, kind, colour, size, rng, centred=ellipse)
    after = _inside(mask, render(kept, IMAGE_SIZE, (shape,)), before)
    caption = shape_caption(shape, size, scene.background, rng)
    if rng.random() < CAPTION_DROPOUT:
        caption = ""
    return InpaintSample(before, mask, after, shape, caption)
