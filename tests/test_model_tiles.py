"""Tiled rasters: sparse tiles, region reads and writes, deltas, dirty tracking."""

from __future__ import annotations

import numpy as np
import pytest

from app.model.tiles import TILE, Rect, TiledRaster, TileEdit, tile_keys, union_rects


def noise(h: int, w: int, c: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(1, 256, (h, w, c), dtype=np.uint8)


def test_rect_geometry():
    a, b = Rect(0, 0, 10, 10), Rect(5, 5, 10, 10)
    assert a.intersect(b) == Rect(5, 5, 5, 5)
    assert a.union(b) == Rect(0, 0, 15, 15)
    assert a.intersect(Rect(20, 20, 5, 5)).is_empty
    assert union_rects([None, a, None]) == a and union_rects([None]) is None
    assert list(tile_keys(Rect(TILE - 1, 0, 2, 1))) == [(0, 0), (1, 0)]


def test_new_raster_is_empty_and_reads_fill():
    raster = TiledRaster(1000, 700)
    assert raster.tiles == {} and raster.bbox() is None
    assert not raster.read(Rect(-5, -5, 20, 20)).any()
    mask = TiledRaster(300, 300, channels=1, fill=255)
    assert (mask.read(Rect(0, 0, 300, 300)) == 255).all()


def test_write_then_read_across_tiles_and_canvas_edge():
    raster = TiledRaster(600, 500)  # not a multiple of the tile size
    patch = noise(300, 400)
    raster.write(250, 300, patch)  # runs off the right and bottom edges
    inside = raster.read(Rect(250, 300, 350, 200))
    assert np.array_equal(inside, patch[:200, :350])
    assert not raster.read(Rect(0, 0, 250, 300)).any()
    assert set(raster.tiles) == {(0, 1), (1, 1), (2, 1)}
    assert raster.bbox() == Rect(250, 300, 350, 200)


def test_writing_transparent_pixels_keeps_the_raster_sparse():
    raster = TiledRaster(1024, 1024)
    raster.write(0, 0, np.zeros((1024, 1024, 4), np.uint8))
    assert raster.tiles == {}


def test_array_round_trip_is_exact_and_sparse():
    array = np.zeros((700, 900, 4), np.uint8)
    array[600:650, 10:20] = noise(50, 10)
    raster = TiledRaster.from_array(array)
    assert np.array_equal(raster.to_array(), array)
    assert set(raster.tiles) == {(0, 2)}
    assert raster.bbox() == Rect(10, 600, 10, 50)
    assert raster.tiles_bbox() == Rect(0, 512, 256, 188)


def test_delta_holds_only_the_touched_tiles_and_swaps_back():
    raster = TiledRaster.from_array(noise(1024, 1024))
    before = raster.to_array()
    delta = raster.write(TILE - 5, TILE - 5, np.zeros((10, 10, 4), np.uint8))
    assert set(delta.tiles) == {(0, 0), (1, 0), (0, 1), (1, 1)}
    assert delta.nbytes == 4 * TILE * TILE * 4
    after = raster.to_array()
    delta.swap()
    assert np.array_equal(raster.to_array(), before)
    delta.swap()
    assert np.array_equal(raster.to_array(), after)


def test_edits_are_copy_on_write():
    raster = TiledRaster.from_array(noise(256, 256))
    twin = raster.copy()
    shared = raster.tiles[(0, 0)]
    twin.write(0, 0, np.zeros((4, 4, 4), np.uint8))
    assert raster.tiles[(0, 0)] is shared and shared[0, 0].any()
    assert not twin.read(Rect(0, 0, 4, 4)).any()


def test_tile_edit_keeps_the_original_and_drops_untouched_absent_tiles():
    raster = TiledRaster(512, 512)
    edit = TileEdit(raster)
    tile = edit.writable((1, 1))
    assert edit.original((1, 1)) is None and not tile.any()
    delta = edit.finish()  # nothing was painted: the tile stays absent, the delta is empty
    assert raster.tiles == {} and delta.tiles == {}


def test_dirty_tiles_are_tracked_until_cleared():
    raster = TiledRaster(1024, 1024)
    raster.write(300, 10, noise(5, 300))
    assert list(raster.dirty_keys()) == [(1, 0), (2, 0)]
    assert raster.dirty_rect() == Rect(256, 0, 512, 256)
    raster.clear_dirty()
    assert list(raster.dirty_keys()) == [] and raster.dirty_rect() is None


def test_translate_by_whole_tiles_shares_them_and_otherwise_moves_exactly():
    array = noise(512, 512)
    raster = TiledRaster.from_array(array)
    moved = raster.translated(TILE, 0, (768, 512))
    assert moved.tiles[(1, 0)] is raster.tiles[(0, 0)]
    assert np.array_equal(moved.read(Rect(256, 0, 512, 512)), array)
    shifted = raster.translated(-3, 7)
    expected = np.zeros_like(array)
    expected[7:, :-3] = array[:-7, 3:]
    assert np.array_equal(shifted.to_array(), expected)


def test_write_checks_the_pixel_format():
    with pytest.raises(ValueError, match="uint8"):
        TiledRaster(10, 10).write(0, 0, np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match="positive"):
        TiledRaster(0, 10)
