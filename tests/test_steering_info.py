"""LoRAs, embeddings and controls in a picture's A1111 `parameters` text: written from a
recipe, read back from an Atelier or A1111 PNG (reuse settings, `atelier info`)."""

from __future__ import annotations

import numpy as np

from app.model.generation_info import format_parameters, info_from_recipe, parse_parameters
from app.model.image_files import describe, encode_png, read_generation_info
from engine.protocol import ImageData
from plugins.diffusion.lora_tags import merged_loras
from plugins.diffusion.params import LoraSpec
from plugins.image_export.writers import write_png

CONTROL = (
    "Module: scribble, Model: ctl-scribble [dddddddddd], Weight: 0.8, "
    "Guidance Start: 0, Guidance End: 0.5"
)
RECIPE = {
    "task": "diffusion.txt2img",
    "version": 1,
    "params": {
        "prompt": "a fox <lora:ink:0.6>, shiny",
        "steps": 20,
        "seed": 5,
        "loras": [{"name": "ink", "weight": 0.6}, {"name": "grain", "weight": 0.3}],
        "embeddings": [{"name": "shiny"}],
        "extras": {"ControlNet 0": CONTROL},  # as plugins.diffusion.controls writes it
    },
    "model": {"name": "base", "family": "sd15", "hash": "0123456789"},
    "models": [
        {"name": "base", "family": "sd15", "hash": "0123456789"},
        {"name": "ink", "family": "lora", "hash": "aaaaaaaaaa"},
        {"name": "grain", "family": "lora", "hash": "bbbbbbbbbb"},
        {"name": "shiny", "family": "embedding", "hash": "cccccccccc"},
        {"name": "ctl-scribble", "family": "controlnet", "hash": "dddddddddd"},
    ],
}


def test_parameters_carry_lora_tags_hashes_embeddings_and_controls():
    """LoRAs given as params get a tag; the controls' fields pass through."""
    text = format_parameters(info_from_recipe(RECIPE))
    assert text.startswith("a fox <lora:ink:0.6>, shiny <lora:grain:0.3>\n")
    assert 'Lora hashes: "ink: aaaaaaaaaa, grain: bbbbbbbbbb"' in text
    assert 'TI hashes: "shiny: cccccccccc"' in text
    assert f'ControlNet 0: "{CONTROL}"' in text


def test_reading_the_text_back_restores_the_loras_and_lists_the_controls():
    info = parse_parameters(format_parameters(info_from_recipe(RECIPE)))
    assert merged_loras((), info.prompt) == (LoraSpec("ink", 0.6), LoraSpec("grain", 0.3))
    assert info.extras["ControlNet 0"] == CONTROL
    assert info.to_settings()["prompt"] == info.prompt


def test_an_atelier_png_and_an_a1111_png_give_the_loras_back(tmp_path):
    pixels = np.zeros((8, 8, 4), np.uint8)
    ours = write_png(tmp_path / "ours.png", ImageData(pixels, {"recipe": RECIPE}))
    theirs = tmp_path / "theirs.png"
    a1111 = (
        "a fox <lora:ink:0.6>\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, "
        'Seed: 5, Lora hashes: "ink: aaaaaaaaaa", '
        'ControlNet 0: "Module: scribble, Model: control_v11p_sd15_scribble [d4e3a1f2], '
        'Weight: 1.0, Guidance Start: 0.0, Guidance End: 1.0", Version: v1.10.1'
    )
    theirs.write_bytes(encode_png(pixels, {"parameters": a1111}))
    for path in (ours, theirs):
        info = read_generation_info(path)
        assert ("ink", 0.6) in [(s.name, s.weight) for s in merged_loras((), info.prompt)]
        assert info.extras["Lora hashes"].startswith("ink: aaaaaaaaaa")
        shown = describe(info)
        assert "ControlNet 0: Module: scribble" in shown
