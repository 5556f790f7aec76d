"""The OpenCV control maps: white lines on black whatever the drawing's polarity."""

import cv2
import numpy as np
import pytest

from plugins.diffusion.control_maps import PREPROCESSORS, control_map


def _circle(ink: int, paper: int, alpha: bool = True) -> np.ndarray:
    image = np.full((128, 128, 4 if alpha else 3), paper, np.uint8)
    if alpha:
        image[..., 3] = 255
    cv2.circle(image, (40, 90), 20, (ink, ink, ink, 255), 3)
    return image


def test_scribble_is_white_on_black_in_either_polarity():
    dark_on_light = control_map("scribble", _circle(0, 255))
    light_on_dark = control_map("scribble", _circle(255, 0))
    assert dark_on_light[90, 20, 0] == 255 and dark_on_light[90, 40, 0] == 0
    assert light_on_dark[90, 20, 0] == 255 and light_on_dark[90, 40, 0] == 0
    overlap = (dark_on_light[..., 0] > 0) & (light_on_dark[..., 0] > 0)
    assert overlap.sum() > 0.8 * (dark_on_light[..., 0] > 0).sum()


def test_strokes_on_a_transparent_layer_make_a_scribble():
    layer = np.zeros((128, 128, 4), np.uint8)
    cv2.circle(layer, (40, 90), 20, (255, 255, 255, 255), 3)
    scribble = control_map("scribble", layer)
    assert scribble[90, 20, 0] == 255 and scribble[10, 10, 0] == 0


@pytest.mark.parametrize("kind", ["canny", "lineart", "softedge"])
def test_edge_maps_find_the_outline_and_leave_flat_areas_dark(kind):
    edges = control_map(kind, _circle(0, 255, alpha=False))
    assert edges.shape == (128, 128, 3) and edges.dtype == np.uint8
    assert edges[85:96, 16:25].max() > 100  # the circle's left edge
    assert edges[5:15, 100:120].max() < 30  # blank paper


def test_a_blank_picture_gives_a_black_map():
    for kind in ("scribble", "canny", "softedge"):
        assert control_map(kind, np.full((64, 64, 3), 200, np.uint8)).max() == 0


def test_depth_and_pose_are_used_as_they_are():
    image = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    assert np.array_equal(control_map("depth", image), image)
    assert set(PREPROCESSORS) >= {"scribble", "lineart", "softedge", "canny", "depth", "pose"}


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown control kind 'hed'"):
        control_map("hed", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="8-bit"):
        control_map("canny", np.zeros((8, 8), np.float32))
