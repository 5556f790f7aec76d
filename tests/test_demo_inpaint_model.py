"""The built-in model inpaints: a named shape appears inside the region, naming only the
background clears it, and nothing outside the feathered mask changes (the shipped inpainting
partner `atelier-demo-inpaint`, used by itself when `atelier-demo` is chosen)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from app.cli import main
from demo_model.scenes import PALETTE, Scene, Shape, render
from demo_model.scoring import find_blobs, palette_labels
from engine.home import RESOURCES
from plugins.diffusion.mask_geometry import soft_mask

SHIPPED = RESOURCES / "models" / "atelier-demo-inpaint"
pytestmark = pytest.mark.skipif(not SHIPPED.is_dir(), reason="the inpainting model is not built")
BOX = (slice(16, 64), slice(16, 64))  # the selected square, 48 pixels a side


def inpaint(tmp_path, picture: np.ndarray, prompt: str, seed: int) -> np.ndarray:
    source, mask_file, out = tmp_path / "in.png", tmp_path / "mask.png", tmp_path / f"{seed}.png"
    Image.fromarray(picture).save(source)
    mask = np.zeros((128, 128), np.uint8)
    mask[BOX] = 255
    Image.fromarray(mask).save(mask_file)
    args = ["inpaint", str(source), prompt, "--mask", str(mask_file), "--seed", str(seed)]
    assert main([*args, "-o", str(out)]) == 0
    return np.asarray(Image.open(out).convert("RGB"))


def outside_kept(picture: np.ndarray, result: np.ndarray) -> bool:
    mask = np.zeros((128, 128), np.uint8)
    mask[BOX] = 255
    keep = soft_mask(mask, 8, 8) == 0  # the task's default grow and feather
    return bool(np.array_equal(result[keep], picture[keep]))


def share(pixels: np.ndarray, colour: str) -> float:
    return float(np.mean(palette_labels(pixels.reshape(-1, 3)) == list(PALETTE).index(colour)))


def test_a_named_shape_appears_inside_the_selection(with_builtin, tmp_path):
    picture = render(Scene("blue", (Shape("circle", "red", "medium", "bottom right"),)))
    found = []
    for seed in (1, 2, 3):
        result = inpaint(tmp_path, picture, "a large yellow star", seed)
        assert outside_kept(picture, result)
        assert share(result[BOX], "yellow") > 0.08
        _, blobs = find_blobs(result[12:68, 12:68])
        found.append((blobs[0].kind, blobs[0].color) if blobs else None)
    assert found.count(("star", "yellow")) >= 2, found


def test_naming_only_the_background_clears_the_selection(with_builtin, tmp_path):
    picture = render(Scene("green", (Shape("square", "red", "large", "top left", (0.02, 0.02)),)))
    assert share(picture[BOX], "red") > 0.2
    result = inpaint(tmp_path, picture, "green background", 4)
    assert share(result[BOX], "red") < 0.02
    assert share(result[BOX], "green") > 0.9
    assert outside_kept(picture, result)


def test_the_recipe_keeps_the_chosen_model_and_names_the_partner(with_builtin, tmp_path):
    picture = render(Scene("white", (Shape("star", "black", "small", "bottom"),)))
    inpaint(tmp_path, picture, "a pink circle", 5)
    with Image.open(tmp_path / "5.png") as image:
        recipe = json.loads(image.info["atelier"])["recipe"]
    assert recipe["params"]["model"] == "atelier-demo"
    assert recipe["model"]["name"] == "atelier-demo-inpaint"
    assert recipe["params"]["extras"]["Inpainting model"] == "atelier-demo-inpaint"
