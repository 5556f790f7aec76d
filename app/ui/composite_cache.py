"""The canvas's cached picture: a premultiplied QImage of the document, refreshed by rectangle.

A numpy array views the QImage's memory; `refresh(rect)` composites only that
rectangle into it (touching only the tiles there), so a brush dab or an undo redraws a few
tiles, never the whole 4096 x 4096 canvas. Standalone mask layers (painted inpaint masks)
and control layers are not part of the image; visible masks are tinted on top so the
designer sees them, and shown control layers draw their maps over everything (see
app.ui.control_previews; a map that changed beyond the rectangle is redrawn too).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

from app.model.canvas_areas import standalone_masks
from app.model.document import Document
from app.model.layers import MaskLayer
from app.model.tiles import Rect, union_rects
from app.ui.control_previews import ControlPreviews
from app.ui.images import rgba_from_qimage

MASK_TINT = np.array([255, 64, 64, 255], np.float32)  # premultiplied red
MASK_STRENGTH = 0.5


class CompositeCache:
    """Holds the composite of one document as a QImage (Format_RGBA8888_Premultiplied)."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.size = doc.size
        self.image = QImage(doc.width, doc.height, QImage.Format.Format_RGBA8888_Premultiplied)
        rows = np.frombuffer(self.image.bits(), np.uint8).reshape(doc.height, -1)
        self.array = rows[:, : doc.width * 4].reshape(doc.height, doc.width, 4)  # a view
        self.controls = ControlPreviews()
        self.refresh(doc.rect)

    @property
    def stale(self) -> bool:
        """The document changed size (crop, canvas size, outpaint): build a new cache."""
        return self.doc.size != self.size

    def refresh(self, rect: Rect | None) -> Rect | None:
        """Recomposite `rect` (clipped to the canvas) and wherever a control layer's preview
        changed; returns the part refreshed."""
        rect = union_rects([rect, self.controls.stale_area(self.doc)])
        if rect is None:
            return None
        part = rect.intersect(self.doc.rect)
        if part.is_empty:
            return None
        pixels = self.doc.composite(part, premultiplied=True)
        masks = standalone_masks(self.doc)
        if masks:
            pixels = tint_masks(pixels, masks, part)
        pixels = self.controls.paint(pixels, self.doc, part)
        self.array[part.slices()] = pixels
        return part

    def straight_pixels(self, rect: Rect | None = None) -> np.ndarray:
        """The cached pixels (h, w, 4) with straight alpha, for tests and the colour picker."""
        if rect is None:
            return rgba_from_qimage(self.image)
        return rgba_from_qimage(self.image.copy(rect.x, rect.y, rect.w, rect.h))


def tint_masks(pixels: np.ndarray, masks: list[MaskLayer], rect: Rect) -> np.ndarray:
    """Premultiplied `pixels` with each mask shown as a translucent red overlay."""
    out = pixels.astype(np.float32)
    for mask in masks:
        amount = mask.pixels.read(rect)[..., 0].astype(np.float32) * (MASK_STRENGTH / 255)
        amount = amount[..., None]
        out = out * (1 - amount) + MASK_TINT * amount
    return (out + 0.5).astype(np.uint8)
