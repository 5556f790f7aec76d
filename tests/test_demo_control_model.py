"""The built-in scribble control steers the built-in model on a fresh install: a circle
scribbled at the bottom left with "a red circle on a blue background" gives a red circle
there, at the scribbled size; through the CLI's --control as a designer would run it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from app.cli import main
from demo_model.scenes import PALETTE
from demo_model.scoring import palette_labels
from engine.home import RESOURCES

SHIPPED = RESOURCES / "models" / "atelier-demo-scribble"
pytestmark = pytest.mark.skipif(not SHIPPED.is_dir(), reason="the scribble control is not built")
CENTRE, RADIUS = (34, 94), 22  # bottom left of the 128x128 canvas


def scribble(path, dark_on_light: bool) -> None:
    paper, ink = (245, 30) if dark_on_light else (0, 255)
    drawing = np.full((128, 128, 3), paper, np.uint8)
    cv2.circle(drawing, CENTRE, RADIUS, (ink, ink, ink), 3, cv2.LINE_AA)
    Image.fromarray(drawing).save(path)


def generate(tmp_path, seed: int, control: str | None) -> np.ndarray:
    out = tmp_path / f"{seed}-{bool(control)}.png"
    args = ["generate", "a red circle on a blue background", "--model", "atelier-demo"]
    args += ["--seed", str(seed), "-o", str(out)]
    if control:
        args += ["--control", control]
    assert main(args) == 0
    return np.asarray(Image.open(out).convert("RGB"))


def red_iou(picture: np.ndarray) -> float:
    truth = np.zeros((128, 128), np.uint8)
    cv2.circle(truth, CENTRE, RADIUS, 1, -1)
    red = palette_labels(picture) == list(PALETTE).index("red")
    return float((red & (truth > 0)).sum() / max(1, (red | (truth > 0)).sum()))


def test_a_scribbled_circle_at_the_bottom_left_becomes_a_red_circle_there(with_builtin, tmp_path):
    drawn = tmp_path / "scribble.png"
    steered, free = [], []
    for seed, dark in ((1, False), (2, True), (3, False)):
        scribble(drawn, dark_on_light=dark)
        steered.append(red_iou(generate(tmp_path, seed, f"scribble:{drawn}")))
        free.append(red_iou(generate(tmp_path, seed, None)))
    assert min(steered) >= 0.5, steered  # there, and about as large as drawn
    assert np.mean(free) < np.mean(steered) - 0.3, (free, steered)  # the scribble did it
