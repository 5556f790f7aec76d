"""Open PNG/JPEG/WebP images as documents or layers; export the image or a layer through
the registered exporters (the built-in ones are in plugins/image_export)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from app.model.document import MAX_CANVAS_SIDE, Document
from app.model.image_files import (
    MAX_IMAGE_FILE_BYTES,
    MAX_IMAGE_PIXELS,
    ImageReadError,
    check_pixel_count,
    pillow_image,
    read_image_bytes,
    read_text_chunks,
)
from app.model.layers import RasterLayer
from engine.protocol import ImageData
from engine.untrusted import parse_json
from plugins.api import Exporter
from plugins.exporters import export, exporter_for

# A picture opened as a document or a layer may be as large as a canvas (what Atelier
# exports, it opens again); the repaint commands read at most MAX_IMAGE_PIXELS.
CANVAS_PIXELS = MAX_CANVAS_SIDE * MAX_CANVAS_SIDE
_EXIF_IFD, _USER_COMMENT = 0x8769, 0x9286


# ---- opening ---------------------------------------------------------------------------------


def read_image(path: str | os.PathLike[str], max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """The pixels of an image file as (h, w, 4) uint8 RGBA, EXIF orientation applied.
    Only PNG, JPEG and WebP are decoded, and only up to `max_pixels` (checked in the
    header, before decoding). Raises ImageReadError naming the file when it cannot be read."""
    path = Path(path)
    # a PNG holds at most about 4 bytes a pixel (RGBA, barely compressed) plus its rows' filters
    max_bytes = max(MAX_IMAGE_FILE_BYTES, max_pixels * 5)
    with pillow_image(read_image_bytes(path, max_bytes), path) as image:
        check_pixel_count(image, path, max_pixels)
        return np.asarray(_to_rgba(ImageOps.exif_transpose(image)))


def _to_rgba(image: Image.Image) -> Image.Image:
    if image.mode in ("I", "I;16", "I;16B", "I;16L"):  # 16-bit greyscale: keep the top bits
        grey = (np.asarray(image, np.uint32) >> 8).clip(0, 255).astype(np.uint8)
        image = Image.fromarray(grey, "L")
    return image.convert("RGBA")


def read_recipe(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The Atelier recipe saved in an image's metadata, if any."""
    try:
        chunk = read_text_chunks(path).get("atelier")
        data = parse_json(chunk, f"the Atelier recipe in {path}") if chunk else None
    except (ImageReadError, ValueError):
        return None
    recipe = data.get("recipe") if isinstance(data, dict) else None
    return recipe if isinstance(recipe, dict) else None


def layer_from_image(
    path: str | os.PathLike[str], size: tuple[int, int] | None = None, x: int = 0, y: int = 0
) -> RasterLayer:
    """A raster layer (of canvas `size`, default the image's) holding the image at (x, y),
    named after the file and carrying its recipe when it has one."""
    path = Path(path)
    pixels = read_image(path, CANVAS_PIXELS)
    return RasterLayer.from_array(pixels, size, x, y, name=path.stem, recipe=read_recipe(path))


def open_image(path: str | os.PathLike[str]) -> Document:
    """A new document the size of the image, with the image as its one layer."""
    layer = layer_from_image(path)
    return Document(layer.pixels.size, [layer])


# ---- exporting -------------------------------------------------------------------------------


def document_image(doc: Document, layer_id: str | None = None) -> ImageData:
    """The flattened picture, or one layer's pixels (`layer_id`), as an image output to
    export, with the recipe of the layer, or for the whole picture the top visible layer's
    that has one. Pixels holding generated layers are watermarked and carry a provenance
    record (docs/DESIGN.md section 3)."""
    from plugins.provenance.marking import mark_export_with_provenance

    if layer_id is None:
        pixels = doc.composite()
        visible = [lay for lay in doc.raster_layers() if lay.visible]
        recipes = [lay.recipe for lay in visible if lay.recipe]
        only_generated = len(recipes) == len(visible)
    else:
        layer = doc.find(layer_id)
        if not isinstance(layer, RasterLayer):
            raise ValueError(f"layer {layer.name!r} is not a raster layer")
        pixels, only_generated = layer.pixels.to_array(), True
        recipes = [layer.recipe] if layer.recipe else []
    pixels, provenance = mark_export_with_provenance(pixels, recipes, only_generated)
    meta = {"recipe": recipes[-1] if recipes else None, "provenance": provenance}
    return ImageData(pixels, {key: value for key, value in meta.items() if value})


def export_document(
    doc: Document,
    path: str | os.PathLike[str],
    exporters: Iterable[Exporter],
    layer_id: str | None = None,
) -> Path:
    """Write the picture (or one layer) with the exporter of images that `path`'s suffix
    names; ValueError naming the suffixes that work, ImageWriteError naming the file."""
    path = Path(path)
    exporter = exporter_for(path, exporters, "images")
    return export(exporter, path, document_image(doc, layer_id))
