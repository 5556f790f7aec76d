"""Generated images waiting in the results strip, and applying one as a new layer.

A candidate knows where it goes on the canvas: text to image at the selection's corner (a
blank canvas takes the image's size), image to image over the area it was made from,
inpaint as just the repainted pixels (everything the engine left exactly as it was is made
transparent, so the layer holds only the new paint), outpaint after growing the canvas.
Applying adds a layer carrying the recipe; it never overwrites, and it is one undo step.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from app.model.commands import AddLayer, Command, Macro, ResizeCanvas
from app.model.document import Document
from app.model.layers import RasterLayer
from app.model.tiles import Rect
from engine.protocol import ImageData

TASK_TITLES = {
    "diffusion.txt2img": "Text to image",
    "diffusion.img2img": "Image to image",
    "diffusion.inpaint": "Inpaint",
    "diffusion.outpaint": "Outpaint",
}
NAME_CHARS = 40


@dataclass(frozen=True, eq=False)
class Candidate:
    """`image` holds the new layer's pixels and the engine's metadata (with the recipe)."""

    image: ImageData
    x: int = 0  # where the image's top-left goes, in canvas pixels after `grow`
    y: int = 0
    grow: tuple[int, int, int, int] | None = None  # outpaint: left, top, right, bottom
    fit_canvas: bool = False  # the canvas was blank: it takes the image's size
    base_size: tuple[int, int] | None = None  # the canvas size it was made for

    @property
    def recipe(self) -> dict | None:
        recipe = self.image.meta.get("recipe")
        return dict(recipe) if isinstance(recipe, dict) else None

    @property
    def title(self) -> str:
        task = (self.recipe or {}).get("task", "")
        return TASK_TITLES.get(task, "Image")

    def rect_now(self) -> Rect:
        """Where it shows on the canvas as it is now (before an outpaint's growth)."""
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
    size, resize = doc.size, None
    if candidate.grow is not None:
        if candidate.base_size is not None and candidate.base_size != doc.size:
            raise ApplyError(
                "The canvas changed size since this was made; outpaint again to extend it."
            )
        left, top, right, bottom = candidate.grow
        size = (doc.width + left + right, doc.height + top + bottom)
        resize = ResizeCanvas(size, (left, top))
    elif candidate.fit_canvas and is_blank(doc) and candidate.image.size != doc.size:
        size = candidate.image.size
        resize = ResizeCanvas(size)
    layer = RasterLayer.from_array(
        candidate.image.pixels,
        size,
        candidate.x,
        candidate.y,
        name=candidate.layer_name(),
        recipe=candidate.recipe,
    )
    add = AddLayer(layer, group_id, index, f"Apply {candidate.title.lower()}")
    if resize is None:
        return add, layer
    return Macro(f"{candidate.title}: new layer", [resize, add]), layer


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
    pixels = output.pixels
    if pixels.shape[:2] != (rect.h, rect.w):
        pixels = _resized(pixels, rect.w, rect.h)
    if keep is not None:
        pixels = pixels.copy()
        pixels[..., 3] = (pixels[..., 3].astype(np.uint16) * keep // 255).astype(np.uint8)
    return Candidate(ImageData(pixels, dict(output.meta)), rect.x, rect.y, None, False, base_size)


def _resized(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    return cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA)
