"""What a live painting job runs (app.model.live_settings), without Qt: the seed fixed, few
steps, a few-step model's or LoRA's own steps and guidance, and image to image in place of
text to image on a painted canvas."""

from __future__ import annotations

import numpy as np
import pytest

from app.model.document import Document
from app.model.layers import ControlLayer, RasterLayer
from app.model.live_settings import (
    FAST_PRESETS,
    LIVE_MAX_STEPS,
    fast_preset,
    live_request,
    live_values,
)
from app.model.requests import RequestError
from plugins.diffusion import IMG2IMG, INPAINT, OUTPAINT, TXT2IMG
from plugins.diffusion.params import LoraSpec

TASKS = {task.id: task for task in (OUTPAINT, TXT2IMG, INPAINT, IMG2IMG)}
FORM = {"prompt": "a red circle", "steps": 25, "cfg_scale": 7.0, "seed": -1, "batch_count": 4}


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("LCM_Dreamshaper_v7", "lcm"),
        ("sd_xl_turbo_1.0_fp16", "turbo"),
        ("sdxl_lightning_4step", "lightning"),
        ("Hyper-SD15-8steps-lora", "hyper"),
        ("hyperrealism-v3", None),
        ("atelier-demo", None),
    ],
)
def test_few_step_models_are_known_by_a_word_of_their_name(name, kind):
    assert fast_preset([name]) == (FAST_PRESETS[kind] if kind else None)


def test_an_ordinary_model_runs_the_forms_settings_with_the_seed_fixed_and_fewer_steps():
    values, line = live_values({**FORM, "model": "atelier-demo"}, 1234, {})
    assert values["seed"] == 1234 and values["batch_count"] == 1
    assert values["steps"] == LIVE_MAX_STEPS and values["cfg_scale"] == 7.0
    assert line == f"{LIVE_MAX_STEPS} steps, CFG 7, seed 1234"
    few, _ = live_values({**FORM, "steps": 6}, 1, {})
    assert few["steps"] == 6  # never more steps than asked for


def test_a_few_step_model_or_lora_runs_its_kinds_steps_and_guidance():
    lcm, line = live_values({**FORM, "model": "dreamshaper-lcm"}, 5, {})
    assert (lcm["steps"], lcm["cfg_scale"], lcm["scheduler"]) == (6, 1.5, "LCM")
    assert line.endswith("(LCM)")
    tagged, _ = live_values({**FORM, "prompt": "a cat <lora:sdxl_lightning_8step:1.0>"}, 5, {})
    assert tagged["steps"] == FAST_PRESETS["lightning"].steps
    picked, _ = live_values({**FORM, "loras": (LoraSpec("Hyper-SD15-8steps"),)}, 5, {})
    assert picked["steps"] == FAST_PRESETS["hyper"].steps


def test_a_model_whose_own_defaults_are_few_steps_runs_them():
    own = {"steps": 4, "cfg_scale": 1.0, "scheduler": "Euler"}
    values, line = live_values({**FORM, "model": "turbo-ish"}, 9, own)
    assert (values["steps"], values["cfg_scale"], values["scheduler"]) == (4, 1.0, "Euler")
    assert line.endswith("(the model's own)")


def painted(size=(64, 48)) -> Document:
    pixels = np.zeros((size[1], size[0], 4), np.uint8)
    pixels[10:20, 10:30] = (200, 30, 30, 255)
    return Document(size, [RasterLayer.from_array(pixels, name="Paint")])


def test_text_to_image_gives_way_to_image_to_image_on_a_painted_canvas():
    doc = painted()
    request = live_request(TASKS, TXT2IMG, FORM, doc, (64, 48))
    assert request.task_id == IMG2IMG.id
    assert np.array_equal(request.params.image, doc.composite())
    blank = Document((64, 48), [RasterLayer.blank((64, 48), name="Paint")])
    assert live_request(TASKS, TXT2IMG, FORM, blank, (64, 48)).task_id == TXT2IMG.id


def test_text_to_image_steered_by_a_control_stays_and_other_modes_are_kept():
    doc = painted()
    lines = np.zeros((48, 64, 4), np.uint8)
    lines[20:24, 8:56] = 255
    doc.layers.append(ControlLayer.from_array(lines, name="Scribble"))
    steered = live_request(TASKS, TXT2IMG, FORM, doc, (64, 48))
    assert steered.task_id == TXT2IMG.id and len(steered.params.controls) == 1
    assert live_request(TASKS, OUTPAINT, {**FORM, "left": 8}, doc, (64, 48)).task_id == OUTPAINT.id
    with pytest.raises(RequestError):  # inpaint with nothing selected says what to do
        live_request(TASKS, INPAINT, FORM, doc, (64, 48))
