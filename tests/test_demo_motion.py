"""The built-in motion model's clips, captions, scorer and training stages."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from demo_model import train
from demo_model.captions import is_held_out
from demo_model.motion_clips import (
    DIRECTIONS,
    FRAMES,
    MotionClip,
    clip_pairs,
    random_clip,
    render_clip,
    reversed_clip,
)
from demo_model.motion_scoring import FLICKER_LEVELS, direction_name, score_clip
from demo_model.motion_training import training_caption
from engine.home import RESOURCES

BASE = RESOURCES / "models" / "atelier-demo"


def _moving(direction: str) -> MotionClip:
    dx, dy = DIRECTIONS[direction]
    start = (0.5 - 0.25 * dx, 0.5 - 0.25 * dy)
    return MotionClip("blue", "square", "red", "medium", "move", direction, start=start)


@pytest.mark.parametrize("direction", list(DIRECTIONS))
def test_the_scorer_reads_each_direction_from_drawn_frames(direction):
    clip = _moving(direction)
    frames = render_clip(clip)
    assert frames.shape == (FRAMES, 128, 128, 3)
    score = score_clip(frames, clip)
    assert score.direction is True and score.consistent and not score.flickers
    assert score_clip(frames[::-1], clip).direction is False


def test_a_shape_that_stays_put_has_no_direction():
    clip = _moving("right")
    still = np.repeat(render_clip(clip)[:1], FRAMES, axis=0)
    assert direction_name([(0.3, 0.5)] * FRAMES) is None
    assert score_clip(still, clip).direction is False


def test_reversed_clips_are_the_frames_played_backwards():
    rng = np.random.default_rng(4)
    for _ in range(40):
        clip = random_clip(rng)
        backwards = render_clip(reversed_clip(clip))
        assert np.abs(backwards.astype(int) - render_clip(clip)[::-1]).max() <= 40
    assert reversed_clip(_moving("down left")).direction == "up right"


def test_flicker_and_a_lost_colour_are_caught():
    clip = _moving("up")
    frames = render_clip(clip).astype(np.int16)
    frames[1::2] += 12  # the whole picture pulses
    flickering = np.clip(frames, 0, 255).astype(np.uint8)
    assert score_clip(flickering, clip).flicker > FLICKER_LEVELS
    recoloured = render_clip(MotionClip("blue", "square", "green", "medium", "move", "up"))
    assert not score_clip(recoloured, clip).consistent


def test_held_out_wordings_never_reach_training():
    rng = np.random.default_rng(0)
    pairs = clip_pairs(1, True)
    held = [next(pairs)[1] for _ in range(20)]
    assert all(is_held_out(text) for text in held)
    clip = random_clip(rng)
    assert not any(is_held_out(training_caption(clip, rng)) for _ in range(200))


def test_the_motion_stages_train_resume_and_export(tmp_path):
    out = tmp_path / "motion"
    args = ["--stage", "motion-latents", "motion", "export-motion", "--out", str(BASE)]
    args += ["--work", str(tmp_path / "work"), "--motion-out", str(out), "--threads", "1"]
    args += ["--motion-clips", "4", "--motion-batch", "1"]
    assert train.main([*args, "--motion-steps", "1"]) == 0
    first = torch.load(tmp_path / "work" / "motion.pt", weights_only=True)["step"]
    assert train.main([*args[:1], "motion", *args[4:], "--motion-steps", "2"]) == 0
    assert first == 1
    assert torch.load(tmp_path / "work" / "motion.pt", weights_only=True)["step"] == 2
    settings = json.loads((out / "atelier.json").read_text())
    assert settings["base"] == "atelier-demo" and settings["frames"] == FRAMES
    from diffusers import MotionAdapter
    from safetensors import safe_open

    MotionAdapter.from_pretrained(out)  # loads as the video plugin loads it
    with safe_open(out / "diffusion_pytorch_model.safetensors", "pt") as weights:
        dtypes = {weights.get_tensor(name).dtype for name in sorted(weights.keys())}
    assert dtypes == {torch.float16}
    assert (out / "README.md").read_text().startswith("---")
