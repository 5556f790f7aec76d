"""The scribble control's training data and scorer: free layouts, hand-like scribbles in
either polarity, colour-only captions, and a scorer that tells a right picture from a wrong
one."""

import cv2
import numpy as np

from demo_model.control_samples import (
    KINDS,
    caption,
    filled,
    held_out_layouts,
    layouts_apart,
    picture,
    random_layout,
    scribble,
)
from demo_model.control_scoring import score_picture
from demo_model.scenes import reach
from plugins.diffusion.control_maps import control_map


def test_layouts_place_shapes_anywhere_at_any_size_apart_and_inside():
    rng = np.random.default_rng(0)
    made = [random_layout(rng) for _ in range(300)]
    shapes = [s for layout in made for s in layout.shapes]
    centres = np.array([(s.cx, s.cy) for s in shapes])
    halves = np.array([s.half for s in shapes])
    assert centres.min() < 0.15 and centres.max() > 0.85  # not tied to a 3x3 grid
    assert halves.min() < 0.07 and halves.max() > 0.25
    for layout in made:
        assert 1 <= len(layout.shapes) <= 3
        assert len({s.kind for s in layout.shapes}) == len(layout.shapes)
        assert all(s.color != layout.background for s in layout.shapes)
        assert layouts_apart(layout)
        for s in layout.shapes:
            r = s.half * reach(s.kind)
            assert r <= s.cx <= 1 - r and r <= s.cy <= 1 - r


def test_a_scribble_outlines_the_shapes_and_comes_in_either_polarity():
    rng = np.random.default_rng(1)
    polarities = []
    for layout in (random_layout(rng) for _ in range(60)):
        drawn = scribble(layout, rng)
        assert drawn.shape == (128, 128, 3) and drawn.dtype == np.uint8
        polarities.append(float(np.median(drawn)) > 128)
        lines = control_map("scribble", drawn)[..., 0] > 0  # white on black, either way
        inside = filled(layout)
        ring = np.logical_xor(_grown(inside, 3), _shrunk(inside, 3))
        assert lines[ring].mean() > 0.15  # strokes follow the outlines...
        assert lines[~_grown(inside, 6)].mean() < 0.01  # ...and little else
    assert 0.05 < np.mean(polarities) < 0.4


def test_captions_name_colours_and_kinds_never_places_or_sizes():
    rng = np.random.default_rng(2)
    for layout in (random_layout(rng) for _ in range(50)):
        text = caption(layout, rng)
        assert layout.background in text
        assert all(s.color in text for s in layout.shapes)
        for word in ("left", "right", "top", "bottom", "center", "small", "large", "big"):
            assert word not in text.split()
    assert set(KINDS) == {"circle", "square", "triangle", "star"}


def test_the_scorer_passes_the_true_picture_and_fails_a_moved_one():
    layouts = held_out_layouts(20)
    for layout, other in zip(layouts, layouts[1:] + layouts[:1], strict=True):
        right = score_picture(picture(layout), layout)
        assert all(right["iou_hit"]) and all(right["color"]) and right["background"] == [True]
        moved = score_picture(picture(other), layout)
        assert not all(moved["iou_hit"])


def _grown(mask, pixels):
    return cv2.dilate(mask.astype(np.uint8), np.ones((2 * pixels + 1,) * 2, np.uint8)) > 0


def _shrunk(mask, pixels):
    return cv2.erode(mask.astype(np.uint8), np.ones((2 * pixels + 1,) * 2, np.uint8)) > 0
