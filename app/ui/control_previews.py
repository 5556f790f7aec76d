"""Control layers on the canvas: each shown control layer's map drawn over the picture.

Line maps (scribble, line art, soft edge, canny) show as cyan lines where the map is
light, so the picture stays visible under them; depth and pose maps show as they are,
where the layer has pixels. The layer's opacity scales the preview. A map can change
outside the rectangle a stroke touched (a threshold or an edge detector sees the whole
layer), so `stale_area` tells the canvas what else to redraw.

Making a map takes a while on a large canvas (about 50 ms for 1024 x 1024 scribble on a
busy CPU, 0.4 s for 2048 x 2048), and a stroke changes the pixels with every dab, so the
previews spend at most half the time making maps: until as long as the last one took
has passed, the last map stays on show and `pending` asks the canvas to redraw again soon.
"""

from __future__ import annotations

import time

import numpy as np

from app.model.control_layers import active_controls, cached_map, control_map_of
from app.model.document import Document
from app.model.layers import ControlLayer
from app.model.tiles import Rect, union_rects
from plugins.diffusion.control_maps import AS_IS_KINDS

LINE_TINT = np.array([62, 224, 255], np.float32)  # cyan lines, seen on light and dark
PREVIEW_STRENGTH = 0.85  # at the layer's full opacity


class ControlPreviews:
    """Remembers the maps the canvas shows, to find where a new map differs."""

    def __init__(self) -> None:
        self.shown: dict[str, np.ndarray] = {}
        self.pending = False  # a map shown is out of date: redraw again soon
        self._rest_until = 0.0  # time.monotonic() before which no map is made

    def stale_area(self, doc: Document) -> Rect | None:
        """Where the previews changed since the last call (maps made again, layers shown,
        hidden, added or removed), and remember the maps shown now."""
        began, self.pending = time.monotonic(), False
        now = {layer.id: self._map(layer) for layer in active_controls(doc)}
        changed = [
            _difference(self.shown.get(key), now.get(key))
            for key in self.shown.keys() | now.keys()
            if self.shown.get(key) is not now.get(key)
        ]
        self.shown = now
        if changed:  # rest as long as this took
            ended = time.monotonic()
            self._rest_until = ended + (ended - began)
        return union_rects(changed)

    def _map(self, layer: ControlLayer) -> np.ndarray:
        """The layer's map: made now, or the one on show while the previews rest."""
        made, old = cached_map(layer), self.shown.get(layer.id)
        if made is None and old is not None and time.monotonic() < self._rest_until:
            self.pending = True
            return old
        return made if made is not None else control_map_of(layer)

    def paint(self, pixels: np.ndarray, doc: Document, rect: Rect) -> np.ndarray:
        """Premultiplied `pixels` of `rect` with every shown control layer drawn over them."""
        controls = [lay for lay in active_controls(doc) if lay.id in self.shown]
        if not controls:
            return pixels
        out = pixels.astype(np.float32)
        for layer in controls:
            colour, alpha = _preview(layer, self.shown[layer.id], rect)
            out *= 1 - alpha
            out += colour
        return (out + 0.5).astype(np.uint8)


def _preview(layer: ControlLayer, lines: np.ndarray, rect: Rect) -> tuple[np.ndarray, np.ndarray]:
    """The layer's preview (from its map `lines`) in `rect`: premultiplied (h, w, 4) colour
    and (h, w, 1) alpha."""
    part = lines[rect.slices()].astype(np.float32) / 255
    strength = PREVIEW_STRENGTH * layer.opacity
    if layer.control.kind in AS_IS_KINDS:
        alpha = layer.pixels.read(rect)[..., 3:4].astype(np.float32) * (strength / 255)
        rgb = part * 255 * strength  # the map is its RGB times its alpha already
    else:
        alpha = part.max(axis=2, keepdims=True) * strength
        rgb = LINE_TINT * alpha
    return np.concatenate([rgb, alpha * 255], axis=2), alpha


def _difference(old: np.ndarray | None, new: np.ndarray | None) -> Rect | None:
    """The bounds of the pixels where two maps differ (a missing map is all black)."""
    if old is None or new is None:
        return _bounds(np.any(old if new is None else new, axis=2))
    if old.shape != new.shape:
        return Rect(0, 0, new.shape[1], new.shape[0])
    return _bounds(np.any(old != new, axis=2))


def _bounds(where: np.ndarray) -> Rect | None:
    rows, cols = np.flatnonzero(where.any(axis=1)), np.flatnonzero(where.any(axis=0))
    if not rows.size:
        return None
    return Rect.bounds(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
