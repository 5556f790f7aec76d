"""Mask geometry for inpaint/outpaint: soft masks, context crops, colour matching, paste-back."""

from __future__ import annotations

import time

import numpy as np
import pytest

from plugins.diffusion.mask_geometry import (
    Box,
    bbox,
    block_mask,
    context_box,
    extend_canvas,
    match_colours,
    outpaint_mask,
    paste_back,
    place_mask,
    resize,
    ring,
    soft_mask,
    work_size,
)


def square_mask(size: int, box: Box) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    mask[box.slices()] = 255
    return mask


def distance_outside(mask: np.ndarray) -> np.ndarray:
    """The Euclidean distance of each pixel to the masked area."""
    import cv2

    return cv2.distanceTransform((mask == 0).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def test_bbox_and_placing_a_mask_partly_off_the_canvas():
    mask = square_mask(100, Box(10, 20, 30, 5))
    assert bbox(mask) == Box(10, 20, 30, 5) and bbox(np.zeros((4, 4))) is None
    placed = place_mask(np.full((10, 10), 255, np.uint8), (-4, 95), (100, 100))
    assert placed.shape == (100, 100) and bbox(placed) == Box(0, 95, 6, 5)
    assert not place_mask(np.full((10, 10), 255, np.uint8), (200, 0), (100, 100)).any()
    assert place_mask(mask, None, (100, 100)) is mask


def test_soft_mask_grows_then_feathers_and_is_zero_beyond():
    mask = square_mask(128, Box(50, 50, 20, 20))
    distance = distance_outside(mask)
    grown = soft_mask(mask, grow=6, feather=0)
    assert np.array_equal(grown > 0, distance <= 6) and set(np.unique(grown)) == {0, 255}
    soft = soft_mask(mask, grow=6, feather=5)
    assert (soft[mask > 0] == 255).all()  # the painted area is fully repainted
    assert not soft[distance > 6 + 5 + 1].any()  # nothing beyond grow + feather (+ a pixel)
    edge = soft[60, 50 - 6 - 5 : 50]
    assert edge[0] < edge[-1] and 0 < soft[60, 50 - 6] < 255  # a ramp across the edge


def test_faint_mask_values_do_not_count_and_an_empty_mask_gives_zero():
    assert not soft_mask(np.full((32, 32), 100, np.uint8), 4, 4).any()


def test_a_small_mask_on_a_huge_canvas_is_cheap():
    mask = np.zeros((4096, 4096), np.uint8)
    mask[3000:3064, 100:164] = 255
    started = time.perf_counter()
    soft = soft_mask(mask, grow=16, feather=16)
    assert time.perf_counter() - started < 2.0
    box = bbox(soft)
    assert 100 - 33 <= box.x <= 100 - 30 and 3000 - 33 <= box.y <= 3000 - 30
    assert box.right <= 164 + 33 and box.bottom <= 3064 + 33


def test_context_box_pads_squares_and_stays_on_the_canvas():
    box = context_box(Box(1000, 300, 64, 32), (2048, 2048), context=32)
    assert box.w == box.h == 128
    assert box.x <= 1000 - 32 and box.right >= 1064 + 32 and box.y <= 300 and box.bottom >= 332
    corner = context_box(Box(0, 0, 40, 10), (2048, 2048), context=16)
    assert corner.x == 0 and corner.y == 0 and corner.w == corner.h == 72
    small = context_box(Box(10, 10, 40, 40), (60, 50), context=64)
    assert small == Box(0, 0, 60, 50)  # clipped to a canvas smaller than the crop


def test_a_long_strip_is_widened_at_most_twofold():
    strip = context_box(Box(0, 0, 4096, 200), (4096, 3072), context=50)
    assert strip == Box(0, 0, 4096, 600)


@pytest.mark.parametrize(
    ("size", "side"),
    [((128, 128), 512), ((3000, 1500), 1024), ((40, 64), 128), ((4096, 600), 512)],
)
def test_work_size_has_about_the_native_pixel_count_and_the_aspect(size, side):
    w, h = work_size(size, side)
    assert w % 8 == 0 and h % 8 == 0
    assert abs(w * h / side**2 - 1) < 0.2 or min(w, h) == 64 or max(w, h) == 2 * side
    assert abs(w / h - size[0] / size[1]) < 0.15


def test_resize_shrinks_and_enlarges():
    image = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    assert resize(image, (80, 60)).shape == (60, 80, 3)
    assert resize(image, (20, 15)).shape == (15, 20, 3)
    assert resize(image, (40, 30)) is image


def test_block_mask_keeps_thin_strokes_in_latent_cells():
    region = np.zeros((32, 32), bool)
    region[9, 3:20] = True  # a 1-pixel line
    blocks = block_mask(region)
    assert blocks[8:16, 0:24].all() and blocks.sum() == 8 * 24
    assert (blocks | ~region).all()  # covers the region


def test_ring_is_just_outside_the_region():
    region = square_mask(64, Box(20, 20, 10, 10)) > 0
    around = ring(region, width=3)
    assert not (around & region).any()
    assert around[18, 25] and not around[15, 25]


def test_colour_matching_moves_the_crop_statistics_toward_the_ring():
    rng = np.random.default_rng(1)
    original = rng.normal(120, 20, (64, 64, 3)).clip(0, 255).astype(np.uint8)
    cast = np.array([40, -25, 10])  # a colour cast, and less contrast
    generated = ((original.astype(float) - 120) * 0.6 + 120 + cast).clip(0, 255).astype(np.uint8)
    where = ring(square_mask(64, Box(16, 16, 32, 32)) > 0, width=8)
    matched = match_colours(generated, original, where)
    before = np.abs(generated[where].mean(0) - original[where].mean(0))
    after = np.abs(matched[where].mean(0) - original[where].mean(0))
    assert (after < 1.0).all() and (before > 9).all()
    assert np.allclose(matched[where].std(0), original[where].std(0), rtol=0.05)


def test_colour_matching_without_a_ring_changes_nothing():
    image = np.full((8, 8, 3), 7, np.uint8)
    assert match_colours(image, image + 50, np.zeros((8, 8), bool)) is image


def test_paste_back_changes_only_where_the_soft_mask_is_above_zero():
    rng = np.random.default_rng(2)
    canvas = rng.integers(0, 256, (100, 120, 4), dtype=np.uint8)
    soft = soft_mask(square_mask(120, Box(50, 40, 20, 20))[:100], 4, 6)
    box = Box(30, 20, 64, 64)
    patch = np.full((64, 64, 3), 200, np.uint8)
    result = paste_back(canvas, patch, box, soft)
    assert np.array_equal(result[soft == 0], canvas[soft == 0])
    full = soft == 255
    assert (result[full][:, :3] == 200).all() and (result[full][:, 3] == 255).all()
    assert result is not canvas and not np.array_equal(canvas[full], result[full])


def test_extend_canvas_keeps_the_old_pixels_and_fills_the_new_area():
    image = np.random.default_rng(3).integers(0, 256, (40, 50, 4), dtype=np.uint8)
    extended = extend_canvas(image, 8, 0, 16, 24)
    assert extended.shape == (64, 74, 4)
    assert np.array_equal(extended[0:40, 8:58], image)
    assert (extended[:, 58:, 3] > 0).all()  # the edge stretched out: opaque, not empty


def test_outpaint_mask_covers_the_new_area_and_fades_into_the_old():
    soft = outpaint_mask((64, 64), (0, 0, 32, 8), overlap=16)
    assert soft.shape == (72, 96)
    assert (soft[:, 64:] == 255).all() and (soft[64:, :] == 255).all()
    assert not soft[: 64 - 16, : 64 - 16].any()  # old pixels beyond the overlap: untouched
    assert 0 < soft[20, 64 - 8] < 255  # a ramp inside the overlap


def test_colour_matching_over_a_flat_ring_shifts_but_keeps_a_new_shapes_colour():
    """A flat background around the mask: its standard deviation is noise, so the new
    pixels are only shifted by the ring's colour difference, never scaled toward it."""
    original = np.full((64, 64, 3), (250, 235, 40), np.uint8)  # yellow
    generated = original.copy()
    generated[::2, ::2] += np.uint8(3)  # a little noise in the generated ring
    generated[24:40, 24:40] = (20, 20, 20)  # a black square drawn in the mask
    where = np.ones((64, 64), bool)
    where[16:48, 16:48] = False
    matched = match_colours(generated, original, where)
    assert np.abs(matched[24:40, 24:40].astype(int) - 20).max() <= 3  # still black
    assert np.abs(matched[where].mean(0) - original[where].mean(0)).max() < 1.0
