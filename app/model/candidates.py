"""Generated images waiting in the results strip, and applying one as a new layer.

A candidate knows where it goes on the canvas: text to image fills the selection's bounds or
the whole canvas, scaled (see `fill_rect`; a blank canvas takes the picture's shape), image
to image covers the area it was made from, inpaint adds just the repainted pixels
(everything the engine left exactly as it was is made transparent, so the layer holds only
the new paint), outpaint goes in after growing the canvas. Applying adds a layer carrying
the recipe; it never overwrites, and it is one undo step. The candidate keeps the engine's
pixels as they came (the results strip shows them), so a scaled layer never loses them.
It is titled after the task that made it (see app.model.requests.Request.candidates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.model import history_names as names
from app.model.commands import AddLayer, Command, Macro, ResizeCanvas
from app.model.document import Document
from app.model.layers import RasterLayer
from app.model.tiles import Rect
from engine.protocol import ImageData
from plugins.diffusion.mask_geometry import resize

NAME_CHARS = 40
HALF_CELL = 4  # generated sides are multiples of 8: a shape survives to within half of that


@dataclass(frozen=True, eq=False)
class Candidate:
    """`image` holds the new layer's pixels and the engine's metadata (with the recipe)."""

    image: ImageData
    x: int = 0  # where the image's top-left goes, in canvas pixels after `grow`
    y: int = 0
    grow: tuple[int, int, int, int] | None = None  # outpaint: left, top, right, bottom
    fit_canvas: bool = False  # the canvas was blank: it takes the picture's shape
    base_size: tuple[int, int] | None = None  # the canvas size it was made for
    target: Rect | None = None  # text to image: the rectangle it fills, scaled (not x, y)
    title: str = "Image"  # the title of the task that made it

    @property
    def recipe(self) -> dict | None:
        recipe = self.image.meta.get("recipe")
        return dict(recipe) if isinstance(recipe, dict) else None

    def rect_now(self) -> Rect:
        """Where it shows on the canvas as it is now (before an outpaint's growth)."""
        if self.target is not None:
            return fill_rect(self.image.size, self.target, self.fit_canvas)
        left, top = self.grow[:2] if self.grow else (0, 0)
        width, height = self.image.size
        return Rect(self.x - left, self.y - top, width, height)

    def layer_name(self) -> str:
        prompt = str((self.recipe or {}).get("params", {}).get("prompt", "")).strip()
        if len(prompt) > NAME_CHARS:
            prompt = prompt[: NAME_CHARS - 1] + "\N{HORIZONTAL ELLIPSIS}"
        return f"{self.title}: {prompt}" if prompt else self.title


class ApplyError(ValueError):
    """The candidate cannot go onto this canvas (e.g. it changed size since)."""


def apply_command(
    doc: Document, candidate: Candidate, group_id: str | None = None, index: int | None = None
) -> tuple[Command, RasterLayer]:
    """The undoable command that adds the candidate as a new layer, and that layer."""
    size, grow_canvas = doc.size, None
    pixels, x, y = candidate.image.pixels, candidate.x, candidate.y
    if candidate.grow is not None:
        if candidate.base_size is not None and candidate.base_size != doc.size:
            raise ApplyError(
                "The canvas changed size since this was made; outpaint again to extend it."
            )
        left, top, right, bottom = candidate.grow
        size = (doc.width + left + right, doc.height + top + bottom)
        grow_canvas = ResizeCanvas(size, (left, top))
    elif candidate.target is not None:
        blank = candidate.fit_canvas and is_blank(doc)
        rect = fill_rect(candidate.image.size, candidate.target, blank)
        if blank and rect.size != doc.size:
            size = rect.size
            grow_canvas = ResizeCanvas(size)
        pixels, x, y = resize(pixels, rect.size), rect.x, rect.y
    layer = RasterLayer.from_array(
        pixels, size, x, y, name=candidate.layer_name(), recipe=candidate.recipe
    )
    add = AddLayer(layer, group_id, index, names.generate(candidate.title))
    if grow_canvas is None:
        return add, layer
    return Macro(names.generate(candidate.title), [grow_canvas, add]), layer


def fill_rect(size: tuple[int, int], target: Rect, blank: bool = False) -> Rect:
    """Where a text-to-image picture of `size` goes to fill `target` (the selection's bounds
    or the canvas): all of it when the shapes match (see `same_shape`), else as large as
    fits, centred, keeping the picture's aspect. On a `blank` canvas the canvas takes the
    picture's shape instead: the picture fills it at the canvas's size or at its own,
    whichever is larger, so a blank canvas never makes a picture smaller."""
    width, height = size
    scale = min(target.w / width, target.h / height)
    if same_shape(size, target) and (scale >= 1 or not blank):
        return target
    if blank:
        scale = max(scale, 1.0)
        return Rect(0, 0, round(width * scale), round(height * scale))
    w, h = round(width * scale), round(height * scale)
    return Rect(target.x + (target.w - w) // 2, target.y + (target.h - h) // 2, w, h)


def same_shape(size: tuple[int, int], target: Rect) -> bool:
    """True when `size` is `target`'s aspect rounded to whole 8-pixel cells (what generating
    in the target's shape gives): some exact scaled copy of the target lies within half a
    cell of it in both width and height."""
    width, height = size
    slope = target.h / target.w
    low, high = (width - HALF_CELL) * slope, (width + HALF_CELL) * slope
    return low <= height + HALF_CELL and high >= height - HALF_CELL


def is_blank(doc: Document) -> bool:
    """True when no layer holds any pixel (a fresh transparent canvas)."""
    return all(not layer.pixels.tiles for layer in doc.raster_layers())


# ---- turning engine outputs into candidates -------------------------------------------------


def changed_only(result: np.ndarray, source: np.ndarray) -> np.ndarray:
    """`result` with every pixel that equals `source` made fully transparent."""
    out = result.copy()
    same = (result == source).all(axis=2)
    out[same] = 0
    return out


def crop_to_content(pixels: np.ndarray, x: int, y: int) -> tuple[np.ndarray, int, int]:
    """The pixels cut to their non-transparent box, and where that box lies."""
    alpha = pixels[..., 3]
    rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
    if rows.size == 0:
        return pixels[:1, :1], x, y
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    return pixels[y0:y1, x0:x1], x + int(x0), y + int(y0)


def repaint_candidate(
    output: ImageData,
    source: np.ndarray,
    base_size: tuple[int, int],
    source_at: tuple[int, int] = (0, 0),
    grow: tuple[int, int, int, int] | None = None,
) -> Candidate:
    """An inpaint or outpaint result: keep only the pixels the engine changed.

    `source` is the picture sent, lying at `source_at` inside the result (an outpaint result
    is larger); the result's top-left goes to the canvas's (after growing it by `grow`).
    """
    window = Rect(*source_at, source.shape[1], source.shape[0])
    area = _crop_rect(output)
    kept = output.pixels[area.slices()].copy()
    overlap = window.intersect(area)
    if not overlap.is_empty:
        local = overlap.slices(area.x, area.y)
        kept[local] = changed_only(kept[local], source[overlap.slices(window.x, window.y)])
    pixels, x, y = crop_to_content(kept, area.x, area.y)
    return Candidate(ImageData(pixels, dict(output.meta)), x, y, grow, False, base_size)


def _crop_rect(output: ImageData) -> Rect:
    """The part of the result the engine generated ("crop_rect"); the rest is unchanged."""
    full = Rect(0, 0, *output.size)
    box = output.meta.get("crop_rect")
    if isinstance(box, list | tuple) and len(box) == 4:
        return Rect(*(int(v) for v in box)).intersect(full)
    return full


def region_candidate(
    output: ImageData,
    rect: Rect,
    keep: np.ndarray | None,
    base_size: tuple[int, int],
) -> Candidate:
    """An image-to-image result for canvas `rect`, cut to the selection mask `keep`."""
    pixels = resize(output.pixels, rect.size)
    if keep is not None:
        pixels = pixels.copy()
        pixels[..., 3] = (pixels[..., 3].astype(np.uint16) * keep // 255).astype(np.uint8)
    return Candidate(ImageData(pixels, dict(output.meta)), rect.x, rect.y, None, False, base_size)
