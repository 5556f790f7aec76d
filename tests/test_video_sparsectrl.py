"""SparseCtrl in image to video, on tiny models: the scan files SparseCtrl folders, "auto"
takes an RGB one that fits the checkpoint (where no Stable Video Diffusion is installed)
with the still as the first frame's condition, which steers the clip; one made for another
UNet is passed over, "sparsectrl" insists with a sentence, a clip past the motion window
is not made with it, and cancel stops within a step.

The tiny models have random weights, so that the first frame comes nearer the still than
without SparseCtrl cannot be shown here: that needs a real SparseCtrl's weights."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest

from engine.model_store import ModelStore
from engine.protocol import JobFailed, VideoData
from engine.worker import InlineEngine
from plugins.diffusion.families import BY_ID as DIFFUSION_FAMILIES
from plugins.video import IMAGE_TO_VIDEO, TEXT_TO_VIDEO
from plugins.video.families import BY_ID as VIDEO_FAMILIES
from plugins.video.params import ImageToVideoParams, TextToVideoParams
from tests.fixtures.tiny_video import save_tiny_motion_adapter, save_tiny_sparsectrl
from tests.test_video_generation import cancelled_at_the_first_step, clip, run

TASKS = {t.id: t for t in (TEXT_TO_VIDEO, IMAGE_TO_VIDEO)}
FAMILIES = {**DIFFUSION_FAMILIES, **VIDEO_FAMILIES}
SIZE = 64


def still(colour=(0, 0, 200), square=(255, 0, 0)) -> np.ndarray:
    picture = np.zeros((SIZE, SIZE, 4), np.uint8)
    picture[..., :3] = colour
    picture[SIZE // 4 : SIZE // 2, SIZE // 4 : SIZE // 2, :3] = square
    picture[..., 3] = 255
    return picture


PARAMS = ImageToVideoParams(
    prompt="a red square",
    image=still(),
    frames=4,
    steps=3,  # DDIM without guidance: as the tiny SparseCtrl was taught
    scheduler="DDIM",
    cfg_scale=1.0,
    seed=1,
    work_size=SIZE,
)


@pytest.fixture(scope="session")
def tiny_sparsectrl(tmp_path_factory):
    """The tiny motion adapter and an RGB SparseCtrl for the tiny UNet (diffusers folders)."""
    root = tmp_path_factory.mktemp("tiny_sparsectrl")
    save_tiny_motion_adapter(root / "tiny-motion", {"base": "tiny-sd15", "frames": 8})
    save_tiny_sparsectrl(root / "tiny-sparsectrl-rgb")
    return root


@pytest.fixture
def store(atelier_home, tiny_config_root, tiny_sparsectrl):
    shutil.copytree(tiny_sparsectrl / "tiny-motion", atelier_home / "models/motion/tiny-motion")
    return ModelStore(home=atelier_home, extra_folders=[], config_root=tiny_config_root)


def install_sparsectrl(store, tiny_sparsectrl, kind="motion", name="tiny-sparsectrl-rgb"):
    target = store.home / "models" / kind / name
    shutil.copytree(tiny_sparsectrl / "tiny-sparsectrl-rgb", target)
    store.scan()
    return target


@pytest.fixture
def engine(store):
    eng = InlineEngine(TASKS, store=store, families=FAMILIES)
    yield eng
    eng.shutdown()


@pytest.fixture
def unmarked_frames(monkeypatch):
    """Clips keep the frames their task made (the watermark would differ between them)."""
    monkeypatch.setattr("plugins.provenance.watermark.embed_frames", lambda frames, _: frames)


def first_frame_change(one: VideoData, other: VideoData) -> float:
    return float(np.abs(one.frames[0].astype(int) - other.frames[0]).mean())


def test_the_scan_files_sparsectrl_folders_from_both_folders(store, tiny_sparsectrl):
    install_sparsectrl(store, tiny_sparsectrl, "controlnet", "in-controlnet")
    install_sparsectrl(store, tiny_sparsectrl, "motion", "in-motion")
    found = {e.name: (e.kind, e.family) for e in store.entries}
    assert found["in-controlnet"] == ("motion", "sparsectrl")
    assert found["in-motion"] == ("motion", "sparsectrl")
    assert store.find("in-controlnet", "motion").control is None  # never offered as a ControlNet


def test_auto_steers_with_sparsectrl_from_the_still(
    engine, store, tiny_sparsectrl, unmarked_frames
):
    shared = ("prompt", "frames", "steps", "scheduler", "cfg_scale", "seed")
    plain = TextToVideoParams(
        **{name: getattr(PARAMS, name) for name in shared}, width=SIZE, height=SIZE
    )
    unsteered = clip(run(engine, plain))
    install_sparsectrl(store, tiny_sparsectrl)
    steered = clip(run(engine, PARAMS))
    assert steered.frames.shape == (4, SIZE, SIZE, 3)
    names = [m["name"] for m in steered.meta["recipe"]["models"]]
    assert names == ["tiny-sd15", "tiny-motion", "tiny-sparsectrl-rgb"]
    # the same seed, size and steps as text to video: the SparseCtrl's steering differs,
    # and it is the still's: another still makes another first frame
    assert first_frame_change(steered, unsteered) > 1
    other = clip(run(engine, PARAMS, image=still((200, 200, 0), (0, 0, 0))))
    assert first_frame_change(other, steered) > 1


def test_a_sparsectrl_for_another_unet_is_passed_over_and_insisting_says_so(
    engine, store, tiny_sparsectrl
):
    folder = install_sparsectrl(store, tiny_sparsectrl)
    config = json.loads((folder / "config.json").read_text())
    config["block_out_channels"] = [320, 640, 1280, 1280]
    (folder / "config.json").write_text(json.dumps(config))
    store.scan()
    made = clip(run(engine, PARAMS))
    assert "tiny-sparsectrl-rgb" not in [m["name"] for m in made.meta["recipe"]["models"]]
    refused = run(engine, PARAMS, method="sparsectrl")
    assert isinstance(refused, JobFailed) and refused.kind == "missing_model"
    assert "SparseCtrl" in refused.message and "tiny-sd15" in refused.message


def test_a_clip_past_the_motion_window_is_not_made_with_sparsectrl(engine, store, tiny_sparsectrl):
    install_sparsectrl(store, tiny_sparsectrl)
    long = clip(run(engine, PARAMS, frames=10, steps=2))  # auto: video to video instead
    assert long.frames.shape[0] == 10
    assert "tiny-sparsectrl-rgb" not in [m["name"] for m in long.meta["recipe"]["models"]]
    refused = run(engine, PARAMS, frames=10, method="sparsectrl")
    assert isinstance(refused, JobFailed) and "at most 8 frames" in refused.message


def test_cancel_stops_a_sparsectrl_clip_within_a_step(store, tiny_sparsectrl):
    install_sparsectrl(store, tiny_sparsectrl)
    params = dataclasses.replace(PARAMS, steps=40, method="sparsectrl")
    assert len(cancelled_at_the_first_step(store, IMAGE_TO_VIDEO.id, params)) <= 2
