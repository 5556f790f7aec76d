"""Compositing: blend a region of the layer tree into RGBA uint8, touching only its tiles.

Work happens per tile in premultiplied float32 (0..1), planar: (4, h, w) with the alpha
plane last, so per-pixel alpha multiplies whole colour planes at memory speed. Blend
modes follow the W3C "Compositing and Blending" formulas for separable modes:

    co = cs * (1 - ab) + cb * (1 - as) + as * ab * B(Cb, Cs)      ao = as + ab * (1 - as)

with cs, cb premultiplied and Cs, Cb straight colours. Groups are isolated: their children
are composited onto transparency first, then the result is blended with the group's
opacity, mask and mode. Standalone mask layers and steering layers (control, reference)
are not part of the image (the canvas draws previews of masks and controls on top).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from app.model.layers import (
    BlendMode,
    GroupLayer,
    Layer,
    MaskLayer,
    RasterLayer,
    SteeringLayer,
)
from app.model.tiles import TILE, Key, Rect, TiledRaster, tile_parts, tile_rect

F32 = np.float32
_INV255 = F32(1 / 255)


def composite(layers: Sequence[Layer], rect: Rect, *, premultiplied: bool = False) -> np.ndarray:
    """The (h, w, 4) uint8 image of `layers` (bottom first) inside `rect`; straight alpha
    unless `premultiplied` (what a premultiplied QImage wants)."""
    out = np.zeros((rect.h, rect.w, 4), np.uint8)
    for key, part in tile_parts(rect):
        acc = render_tile(layers, key, part)
        if acc is not None:
            out[part.slices(rect.x, rect.y)] = to_uint8(acc, premultiplied)
    return out


def bake(
    layers: Sequence[Layer],
    size: tuple[int, int],
    keys: Iterable[Key] | None = None,
    base: TiledRaster | None = None,
) -> TiledRaster:
    """The composite of `layers` as a raster, computed only for tiles that hold pixels (or
    only `keys`, writing into a copy of `base`, whose other tiles are shared)."""
    out = base.copy() if base is not None else TiledRaster(*size)
    keys = {key for layer in layers for key in tile_keys_of(layer)} if keys is None else keys
    for key in keys:
        part = tile_rect(key).intersect(out.rect)
        acc = render_tile(layers, key, part)
        pixels = to_uint8(acc) if acc is not None else np.zeros((part.h, part.w, 4), np.uint8)
        out.write(part.x, part.y, pixels)
    out.clear_dirty()
    return out


def tile_keys_of(layer: Layer) -> set[Key]:
    """The tiles where a layer may show pixels (hidden, mask and steering layers show none)."""
    if not layer.visible or isinstance(layer, MaskLayer | SteeringLayer):
        return set()
    if isinstance(layer, GroupLayer):
        return {key for child in layer.children for key in tile_keys_of(child)}
    return set(layer.pixels.tiles) if isinstance(layer, RasterLayer) else set()


def render_tile(layers: Sequence[Layer], key: Key, part: Rect) -> np.ndarray | None:
    """Premultiplied float32 pixels of `part` (inside tile `key`); None when transparent."""
    local = part.slices(key[0] * TILE, key[1] * TILE)
    acc: np.ndarray | None = None
    for layer in layers:
        if not layer.visible or layer.opacity <= 0 or isinstance(layer, MaskLayer | SteeringLayer):
            continue
        src = _source(layer, key, part, local)
        if src is not None:
            acc = blend(acc, src, layer.blend)
    return acc


def _source(layer: Layer, key: Key, part: Rect, local: tuple[slice, slice]) -> np.ndarray | None:
    """A layer's premultiplied planar pixels in the part, with its opacity and mask."""
    mask = _mask_part(getattr(layer, "mask", None), key, local)
    if mask is not None and not mask.any():
        return None
    if isinstance(layer, RasterLayer):
        tile = layer.pixels.tiles.get(key)
        return None if tile is None else premultiply(tile[local], layer.opacity, mask)
    if isinstance(layer, GroupLayer):
        src = render_tile(layer.children, key, part)
        if src is not None and mask is not None:
            src *= mask
        if src is not None and layer.opacity < 1:
            src *= F32(layer.opacity)
        return src
    return None


def premultiply(
    pixels: np.ndarray, opacity: float = 1.0, mask: np.ndarray | None = None
) -> np.ndarray:
    """Straight (h, w, 4) uint8 RGBA to premultiplied planar (4, h, w) float32 0..1."""
    out = np.empty((4, *pixels.shape[:2]), F32)
    np.copyto(out, pixels.transpose(2, 0, 1), casting="unsafe")
    alpha = out[3]
    alpha *= F32(opacity / 255)
    if mask is not None:
        alpha *= mask
    out[:3] *= alpha
    out[:3] *= _INV255
    return out


def _mask_part(mask: MaskLayer | None, key: Key, local: tuple[slice, slice]) -> np.ndarray | None:
    """The attached mask as (h, w) float32 0..1; None when it hides nothing."""
    if mask is None or not mask.visible:
        return None
    tile = mask.pixels.tiles.get(key)
    if tile is None:
        if mask.pixels.fill == 255:
            return None
        return np.full(_tile_shape(local), mask.pixels.fill / 255, F32)
    return tile[local][..., 0] * _INV255


def _tile_shape(local: tuple[slice, slice]) -> tuple[int, int]:
    rows, cols = local
    return rows.stop - rows.start, cols.stop - cols.start


# ---- blend modes -----------------------------------------------------------------------------

# Each returns the colour planes of the result, cs * (1 - ab) + cb * (1 - as) + as*ab*B,
# simplified per mode; it may overwrite cb (the backdrop's colour planes).
Mix = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _multiply(cs: np.ndarray, cb: np.ndarray, sa: np.ndarray, ba: np.ndarray) -> np.ndarray:
    out = cb - ba  # cs * (1 - ab + cb) + cb * (1 - as)
    out += 1
    out *= cs
    cb *= 1 - sa
    out += cb
    return out


def _screen(cs: np.ndarray, cb: np.ndarray, sa: np.ndarray, ba: np.ndarray) -> np.ndarray:
    product = cs * cb  # cs + cb - cs * cb
    cb += cs
    cb -= product
    return cb


def _overlay(cs: np.ndarray, cb: np.ndarray, sa: np.ndarray, ba: np.ndarray) -> np.ndarray:
    # B term: 2 cs cb where 2 cb <= ab, else as ab - 2 (ab - cb)(as - cs)
    dark = 2 * cs * cb
    light = (cb - ba) * (sa - cs)
    light *= 2
    light += sa * ba
    dark -= light
    dark *= 2 * cb <= ba  # select without a (slow) branchy np.where
    dark += light
    return _plus_uncovered(dark, cs, cb, sa, ba)


def _darken(cs: np.ndarray, cb: np.ndarray, sa: np.ndarray, ba: np.ndarray) -> np.ndarray:
    return _plus_uncovered(np.minimum(cs * ba, cb * sa), cs, cb, sa, ba)


def _lighten(cs: np.ndarray, cb: np.ndarray, sa: np.ndarray, ba: np.ndarray) -> np.ndarray:
    return _plus_uncovered(np.maximum(cs * ba, cb * sa), cs, cb, sa, ba)


def _plus_uncovered(
    term: np.ndarray, cs: np.ndarray, cb: np.ndarray, sa: np.ndarray, ba: np.ndarray
) -> np.ndarray:
    """term + cs * (1 - ab) + cb * (1 - as): the parts seen through the other layer."""
    term += cs * (1 - ba)
    cb *= 1 - sa
    term += cb
    return term


_MIXES: dict[BlendMode, Mix] = {
    BlendMode.MULTIPLY: _multiply,
    BlendMode.SCREEN: _screen,
    BlendMode.OVERLAY: _overlay,
    BlendMode.DARKEN: _darken,
    BlendMode.LIGHTEN: _lighten,
}


def blend(backdrop: np.ndarray | None, src: np.ndarray, mode: BlendMode) -> np.ndarray:
    """Blend premultiplied planar `src` onto `backdrop` (None: transparent); reuses (and
    so overwrites) either array for the result."""
    if backdrop is None:
        return src  # onto transparency every separable mode gives the source
    sa, ba = src[3], backdrop[3]
    if mode is BlendMode.NORMAL:
        backdrop *= 1 - sa
        backdrop += src
        return backdrop
    colour = _MIXES[mode](src[:3], backdrop[:3], sa, ba)
    alpha = sa * ba  # as + ab - as * ab
    np.subtract(sa + ba, alpha, out=alpha)
    src[:3] = colour
    src[3] = alpha
    return src


def to_uint8(acc: np.ndarray, premultiplied: bool = False) -> np.ndarray:
    """Premultiplied planar float32 0..1 to (h, w, 4) uint8, straight alpha unless
    `premultiplied`."""
    alpha = acc[3]
    if premultiplied:
        scaled = acc * F32(255)
    else:
        scaled = np.empty_like(acc)
        inv = np.divide(F32(255), alpha, out=np.zeros_like(alpha), where=alpha > 0)
        np.multiply(acc[:3], inv, out=scaled[:3])
        np.multiply(alpha, F32(255), out=scaled[3])
    scaled += F32(0.5)
    np.clip(scaled, 0, 255, out=scaled)
    out = np.empty((*acc.shape[1:], 4), np.uint8)
    np.copyto(out.transpose(2, 0, 1), scaled, casting="unsafe")
    return out
