"""The built-in motion model animates the built-in image model on a fresh install, as a
designer runs it: `atelier video` with no motion model named picks atelier-demo-motion
and writes an MP4 of its 16 frames at 8 fps that `atelier verify` reads; and its training
holds a clip together (a frame changes far less into the next than with an untrained
adapter, whose frames are drawn apart). Whether the shape moves the way the caption says
is bench/motion.py's to measure: these CPU-recipe weights mostly do not."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from app.cli import main
from demo_model.motion_training import make_adapter
from engine.home import RESOURCES
from engine.model_store import ModelStore
from engine.protocol import JobFinished
from engine.worker import InlineEngine
from plugins.registry import discover
from plugins.video.params import TextToVideoParams

SHIPPED = RESOURCES / "models" / "atelier-demo-motion"
pytestmark = pytest.mark.skipif(not SHIPPED.is_dir(), reason="the motion model is not built")
PROMPTS = (
    "a red circle moving from left to right on a blue background",
    "a green star growing on a white background",
)


def probe(path) -> dict:
    command = ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-show_format"]
    result = subprocess.run([*command, "-of", "json", str(path)], capture_output=True, check=True)
    return json.loads(result.stdout)


def test_atelier_video_on_the_built_in_model_uses_its_motion_model(with_builtin, tmp_path):
    out = tmp_path / "clip.mp4"
    assert (
        main(["video", PROMPTS[0], "--model", "atelier-demo", "--seed", "1", "-o", str(out)]) == 0
    )
    info = probe(out)
    (video,) = info["streams"]
    assert (video["width"], video["height"], video["nb_read_frames"]) == (128, 128, "16")
    assert video["r_frame_rate"] == "8/1"
    recipe = json.loads(info["format"]["tags"]["description"])["recipe"]
    assert [model["name"] for model in recipe["models"]][:2] == ["atelier-demo", SHIPPED.name]
    assert main(["verify", str(out)]) == 0


def frame_change(engine: InlineEngine, prompt: str, motion: str) -> float:
    """Mean absolute change (0-255) from each frame of a clip to the next."""
    params = TextToVideoParams(
        prompt=prompt,
        seed=1,
        model="atelier-demo",
        motion=motion,
        steps=20,
        cfg_scale=3.0,
        scheduler="DDIM",
    )
    event = engine.submit("video.text_to_video", params).future.result()
    assert isinstance(event, JobFinished)
    return float(np.abs(np.diff(event.outputs[0].frames.astype(np.float32), axis=0)).mean())


def test_its_training_holds_a_clip_together(with_builtin):
    untrained = with_builtin / "models" / "motion" / "untrained"
    make_adapter((32, 64, 128)).save_pretrained(untrained)
    engine = InlineEngine.from_registry(discover(), store=ModelStore(home=with_builtin))
    trained = [frame_change(engine, prompt, SHIPPED.name) for prompt in PROMPTS]
    drawn_apart = [frame_change(engine, prompt, "untrained") for prompt in PROMPTS]
    assert np.mean(trained) < 0.6 * np.mean(drawn_apart)
