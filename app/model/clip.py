"""Cut, copy and paste, Qt-free: what a copy takes from the document, what a cut leaves
behind, and where a paste lands. app/ui/clipboard_edits.py carries clips to and from the
system clipboard.

A copy takes the active layer's pixels inside the selection (soft edges kept in the alpha),
or the whole layer's content when nothing is selected; a group gives its layers merged.
A clip remembers where on the canvas it came from, so pasting puts it back in place; a
picture from another application has no origin and lands in the middle of the view.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from app.model import history_names as names
from app.model.canvas_areas import active_selection
from app.model.commands import PixelEdit
from app.model.compositing import composite
from app.model.document import Document
from app.model.image_geometry import check_image_size
from app.model.layers import GroupLayer, Layer, MaskLayer, RasterLayer
from app.model.selection import Selection
from app.model.tiles import Rect
from app.model.transform import split_by_selection, to_uint8

PASTED_NAME = "Pasted"
NOT_COPYABLE = "Masks cannot be copied; choose a pixel layer or a group in the Layers panel."
NOT_CUTTABLE = "Only a pixel layer can be cut; choose one in the Layers panel."


@dataclass(frozen=True)
class Clip:
    """Copied pixels: (h, w, 4) uint8 straight RGBA, and the top-left of the canvas
    rectangle they were copied from (None: they came from another application)."""

    pixels: np.ndarray
    origin: tuple[int, int] | None = None

    @property
    def size(self) -> tuple[int, int]:
        return self.pixels.shape[1], self.pixels.shape[0]


# ---- copy and cut ----------------------------------------------------------------------------


def copy_layer(doc: Document, layer_id: str) -> Clip:
    """The layer's pixels inside the selection, else all its content (Edit > Copy)."""
    layer = doc.find(layer_id)
    if isinstance(layer, MaskLayer):
        raise ValueError(NOT_COPYABLE)
    selection = active_selection(doc)
    box = selection.bbox() if selection is not None else _content_box(layer)
    if box is None or box.is_empty:
        raise ValueError(_nothing("copy", selection))
    return _clip(_read(layer, box), selection, box)


def copy_merged(doc: Document) -> Clip:
    """The visible image inside the selection, else the whole canvas (Edit > Copy merged)."""
    selection = active_selection(doc)
    box = selection.bbox() if selection is not None else doc.rect
    return _clip(doc.composite(box), selection, box)


def cut_layer(doc: Document, layer_id: str) -> tuple[Clip, PixelEdit]:
    """Copy, then clear what was copied; returns the clip and the applied edit to push."""
    layer = doc.find(layer_id)
    if not isinstance(layer, RasterLayer):
        raise ValueError(NOT_CUTTABLE)
    clip = copy_layer(doc, layer_id)
    selection = active_selection(doc)
    box = Rect(*clip.origin, *clip.size)  # type: ignore[misc]
    _, kept = split_by_selection(layer.pixels.read(box), selection, box)
    return clip, PixelEdit(
        layer.id, layer.pixels.write(box.x, box.y, to_uint8(kept)), names.CUT_SELECTION
    )


def _content_box(layer: Layer) -> Rect | None:
    if isinstance(layer, RasterLayer):
        return layer.pixels.bbox()
    return layer.bounds()  # a group: tile-granular, trimmed once composited


def _read(layer: Layer, box: Rect) -> np.ndarray:
    if isinstance(layer, GroupLayer):
        return composite(layer.children, box)
    assert isinstance(layer, RasterLayer)
    return layer.pixels.read(box)


def _clip(rgba: np.ndarray, selection: Selection | None, box: Rect) -> Clip:
    """The selected part of `rgba` as a clip; without a selection, trimmed to its content."""
    selected, _ = split_by_selection(rgba, selection, box)
    pixels = to_uint8(selected)
    pixels[pixels[..., 3] == 0] = 0
    if selection is None:
        trim = _opaque_box(pixels)
        if trim is None:
            raise ValueError(_nothing("copy", None))
        pixels, box = pixels[trim.slices()], trim.translated(box.x, box.y)
    elif not pixels[..., 3].any():
        raise ValueError(_nothing("copy", selection))
    return Clip(np.ascontiguousarray(pixels), (box.x, box.y))


def _opaque_box(pixels: np.ndarray) -> Rect | None:
    rows, cols = np.flatnonzero(pixels[..., 3].any(axis=1)), np.flatnonzero(pixels[..., 3].any(0))
    if rows.size == 0:
        return None
    return Rect.bounds(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def _nothing(verb: str, selection: Selection | None) -> str:
    where = " where the selection is" if selection is not None else ""
    return f"There is nothing to {verb}: the layer is empty{where}."


# ---- paste -----------------------------------------------------------------------------------


def paste_position(
    clip: Clip, canvas: tuple[int, int], centre: tuple[float, float]
) -> tuple[int, int]:
    """Where the clip's top-left goes: where it was copied from when that is on this canvas,
    else centred on `centre` (the middle of the view, kept on the canvas)."""
    width, height = clip.size
    origin = clip.origin
    if origin is not None and not cut_off(clip, canvas, origin, entirely=True):
        return origin
    cx = min(max(centre[0], 0.0), float(canvas[0]))
    cy = min(max(centre[1], 0.0), float(canvas[1]))
    return round(cx - width / 2), round(cy - height / 2)


def pasted_layer(clip: Clip, canvas: tuple[int, int], at: tuple[int, int]) -> RasterLayer:
    """A new layer of the canvas's size holding the clip at `at` (cut off at the edges)."""
    return RasterLayer.from_array(clip.pixels, canvas, at[0], at[1], name=PASTED_NAME)


def cut_off(
    clip: Clip, canvas: tuple[int, int], at: tuple[int, int], entirely: bool = False
) -> bool:
    """Whether part of the clip placed at `at` falls outside the canvas (`entirely`: all)."""
    placed = Rect(*at, *clip.size)
    inside = placed.intersect(Rect(0, 0, *canvas))
    return inside.is_empty if entirely else inside != placed


def clip_document(clip: Clip) -> Document:
    """A new document the size of the clip, holding it as its one layer (Paste as new image)."""
    size = check_image_size(clip.size)
    return Document(size, [RasterLayer.from_array(clip.pixels, name=PASTED_NAME)])


# ---- where a clip came from, as clipboard text -----------------------------------------------


def origin_text(clip: Clip) -> str:
    """The clip's origin as the JSON kept beside the image on the system clipboard."""
    return json.dumps({"x": clip.origin[0], "y": clip.origin[1]}) if clip.origin else "{}"


def parse_origin(text: str | bytes) -> tuple[int, int] | None:
    """The origin in clipboard text written by `origin_text`; None for anything else (the
    clipboard may hold whatever another program put there)."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    x, y = data.get("x"), data.get("y")
    if type(x) is not int or type(y) is not int or max(abs(x), abs(y)) > 1 << 20:
        return None
    return x, y
