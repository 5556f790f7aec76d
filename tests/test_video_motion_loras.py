"""Motion LoRAs on tiny models: the scan files them (from the motion and the LoRA folders)
as motion LoRAs, a clip made with one differs and records it, weight 0 and a later job
without one give the clip without it bit for bit, AnimateDiff's naming acts as diffusers'
does, they work with the checkpoint's LoRAs and with FreeNoise, one made for another
adapter or an unknown name gets a sentence, and the CLI and the form read them."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest
import torch

from engine.model_store import ModelStore
from engine.protocol import JobFailed, JobFinished
from engine.worker import InlineEngine
from plugins.diffusion.families import BY_ID as DIFFUSION_FAMILIES
from plugins.diffusion.params import LoraSpec
from plugins.diffusion.steering_cli import loras_from_text, loras_text
from plugins.video import IMAGE_TO_VIDEO, TEXT_TO_VIDEO
from plugins.video.families import BY_ID as VIDEO_FAMILIES
from plugins.video.params import ImageToVideoParams, TextToVideoParams
from tests.fixtures.tiny_video import (
    motion_lora_weights,
    save_animatediff_motion_lora,
    save_motion_lora,
    save_tiny_motion_adapter,
)
from tests.test_video_generation import clip, run

TASKS = {t.id: t for t in (TEXT_TO_VIDEO, IMAGE_TO_VIDEO)}
FAMILIES = {**DIFFUSION_FAMILIES, **VIDEO_FAMILIES}
FAST = TextToVideoParams(prompt="a red circle", steps=2, width=64, height=64, frames=4, seed=3)
ZOOM = (LoraSpec("zoom", 1.0),)


@pytest.fixture(scope="session")
def motion_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("motion_loras")
    save_tiny_motion_adapter(root / "tiny-motion", {"base": "tiny-sd15", "frames": 8})
    weights = motion_lora_weights()
    save_motion_lora(weights, root / "zoom.safetensors")
    save_animatediff_motion_lora(weights, root / "zoom-original.safetensors")
    save_motion_lora(motion_lora_weights(seed=9), root / "pan.safetensors")
    wrong = {
        k: torch.randn(v.shape[0], v.shape[1] + 8) if "lora_A" in k else v
        for k, v in weights.items()
    }
    save_motion_lora(wrong, root / "other-adapter.safetensors")
    return root


@pytest.fixture
def store(atelier_home, tiny_config_root, motion_files):
    motion = atelier_home / "models" / "motion"
    shutil.copytree(motion_files / "tiny-motion", motion / "tiny-motion")
    for name in ("zoom", "zoom-original", "other-adapter"):
        shutil.copy(motion_files / f"{name}.safetensors", motion)
    shutil.copy(motion_files / "pan.safetensors", atelier_home / "models" / "loras")
    return ModelStore(home=atelier_home, extra_folders=[], config_root=tiny_config_root)


@pytest.fixture
def engine(store):
    eng = InlineEngine(TASKS, store=store, families=FAMILIES)
    yield eng
    eng.shutdown()


@pytest.fixture(autouse=True)
def unmarked_frames(monkeypatch):
    """Clips keep the frames their task made (watermarks differ with their recipes)."""
    monkeypatch.setattr("plugins.provenance.watermark.embed_frames", lambda frames, _: frames)


def test_the_scan_files_motion_loras_from_both_folders(store):
    found = {e.name: (e.kind, e.family) for e in store.entries}
    assert found["zoom"] == ("motion", "motion_lora")
    assert found["zoom-original"] == ("motion", "motion_lora")
    assert found["pan"] == ("motion", "motion_lora")  # in the LoRA folder, not an image LoRA
    assert "pan" not in {e.name for e in store.entries if e.kind == "loras"}


def test_a_motion_lora_acts_and_weight_0_and_none_give_the_clip_without_it(engine):
    base = clip(run(engine, FAST)).frames
    zoomed = clip(run(engine, FAST, motion_loras=ZOOM))
    assert not np.array_equal(base, zoomed.frames)
    recipe = zoomed.meta["recipe"]
    assert recipe["params"]["motion_loras"] == [{"name": "zoom", "weight": 1.0}]
    assert [m["name"] for m in recipe["models"]] == ["tiny-sd15", "tiny-motion", "zoom"]
    half = clip(run(engine, FAST, motion_loras=(LoraSpec("zoom", 0.5),))).frames
    assert not np.array_equal(half, zoomed.frames) and not np.array_equal(half, base)
    assert np.array_equal(base, clip(run(engine, FAST, motion_loras=(LoraSpec("zoom", 0),))).frames)
    assert np.array_equal(base, clip(run(engine, FAST)).frames)  # kept loaded, disabled


def test_animatediff_naming_acts_as_diffusers_naming(engine):
    zoomed = clip(run(engine, FAST, motion_loras=ZOOM)).frames
    original = clip(run(engine, FAST, motion_loras=(LoraSpec("zoom-original"),))).frames
    assert np.abs(zoomed.astype(int) - original).max() <= 1


def test_motion_loras_with_the_checkpoints_loras_and_with_free_noise(engine, store):
    from tests.fixtures.tiny_loras import lora_weights, save_peft_lora

    save_peft_lora(lora_weights("sd15"), store.home / "models" / "loras" / "style.safetensors")
    store.scan()
    styled = (LoraSpec("style", 1.0),)
    base, long = clip(run(engine, FAST)).frames, dataclasses.replace(FAST, frames=10)
    both = clip(run(engine, FAST, loras=styled, motion_loras=ZOOM)).frames
    style_only = clip(run(engine, FAST, loras=styled)).frames
    assert not np.array_equal(both, style_only) and not np.array_equal(style_only, base)
    plain_long = clip(run(engine, long)).frames
    zoomed_long = clip(run(engine, long, motion_loras=ZOOM))  # FreeNoise's windows
    assert zoomed_long.frames.shape[0] == 10
    assert not np.array_equal(zoomed_long.frames, plain_long)
    assert np.array_equal(plain_long, clip(run(engine, long)).frames)
    assert np.array_equal(base, clip(run(engine, FAST)).frames)


def test_image_to_video_takes_motion_loras(engine):
    still = np.zeros((64, 64, 4), np.uint8)
    still[..., 0], still[..., 3] = 200, 255
    params = ImageToVideoParams(image=still, frames=4, steps=4, seed=1, work_size=64)
    base = clip(run(engine, params)).frames
    zoomed = clip(run(engine, params, motion_loras=ZOOM))
    assert not np.array_equal(base, zoomed.frames)
    assert zoomed.meta["recipe"]["params"]["motion_loras"] == [{"name": "zoom", "weight": 1.0}]


def test_a_motion_lora_for_another_adapter_or_an_unknown_one_is_refused(engine):
    refused = run(engine, FAST, motion_loras=(LoraSpec("other-adapter"),))
    assert isinstance(refused, JobFailed) and refused.kind == "invalid_input"
    assert "'other-adapter'" in refused.message and "'tiny-motion'" in refused.message
    missing = run(engine, FAST, motion_loras=(LoraSpec("tilt"),))
    assert isinstance(missing, JobFailed) and missing.kind == "missing_model"
    assert "tilt" in missing.message and "zoom" in missing.message
    assert isinstance(run(engine, FAST), JobFinished)  # nothing was left half loaded


def test_the_cli_and_the_form_read_motion_loras():
    import argparse

    from app.cli_tasks import add_task_command, fixed_fields, params_from_args

    parser = argparse.ArgumentParser()
    command = add_task_command(parser.add_subparsers(), TEXT_TO_VIDEO, ())
    args = command.parse_args(
        ["a cat", "-o", "x.mp4", "--motion-lora", "zoom:0.5", "--motion-lora", "pan"]
    )
    params = params_from_args(TextToVideoParams, args, **fixed_fields(TEXT_TO_VIDEO, args))
    assert params.motion_loras == (LoraSpec("zoom", 0.5), LoraSpec("pan", 1.0))
    assert loras_from_text(" zoom:0.5, pan ,") == params.motion_loras
    assert loras_text(params.motion_loras) == "zoom:0.5, pan"
    assert loras_text([{"name": "zoom", "weight": 0.5}]) == "zoom:0.5"  # from a recipe


def test_the_generate_panels_mode_form_has_the_motion_lora_field(qtbot):
    from app.ui.generate_modes import ModeForm

    form = ModeForm(IMAGE_TO_VIDEO)
    qtbot.addWidget(form)
    assert "motion_loras" in form.advanced.widgets  # in the "More settings" drawer
    form.advanced.widgets["motion_loras"].setText("zoom:0.5, pan")
    assert form.values()["motion_loras"] == (LoraSpec("zoom", 0.5), LoraSpec("pan", 1.0))
    form.set_values({"motion_loras": [{"name": "tilt", "weight": 0.8}]})  # a recipe's
    assert form.values()["motion_loras"] == (LoraSpec("tilt", 0.8),)
