"""Image to video on a real ComfyUI server (tests/comfyui_server.py) with a tiny random
Stable Video Diffusion checkpoint it detects as SVD: the clip comes back as frames, passes
the same safety and provenance step as a local clip, and its recipe names the server; a
server without an SVD checkpoint refuses the job before anything is sent. Skipped, with the
reason, where the server is not installed (packaging/install-comfyui; CI installs it)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.protocol import JobFailed, JobFinished, VideoData
from plugins.comfyui.server_engine import ServerEngine
from plugins.comfyui.servers import ServerConfig
from plugins.video import plugin as video_plugin
from plugins.video.params import ImageToVideoParams
from tests.test_comfyui_remote import get, home, registry  # noqa: F401 (home: a fixture)

SIDE = 64
FRAMES = 2


def still() -> np.ndarray:
    picture = np.full((SIDE, SIDE, 4), 255, np.uint8)
    picture[16:48, 16:48, 1:3] = 0  # a red square on white
    return picture


def test_image_to_video_runs_on_a_server_with_stable_video_diffusion(tmp_path):
    from tests.comfyui_server import (
        ComfyUIServer,
        comfyui_unavailable,
        tiny_checkpoint,
        tiny_svd_checkpoint,
    )

    if comfyui_unavailable():
        pytest.skip(comfyui_unavailable())
    checkpoints = [tiny_checkpoint(), tiny_svd_checkpoint()]
    with ComfyUIServer(tmp_path / "server", checkpoints=checkpoints) as server:
        engine = ServerEngine.from_registry(
            registry(video_plugin), servers=[ServerConfig(server.url)], preview_interval_s=None
        )
        params = ImageToVideoParams(
            image=still(), frames=FRAMES, fps=6, steps=2, work_size=SIDE, seed=4, interpolate=True
        )
        ending = engine.submit("video.image_to_video", params).future.result(600)
        assert isinstance(ending, JobFinished), ending
        (clip,) = ending.outputs
        assert isinstance(clip, VideoData)
        # made on the server as 2 frames at 6 fps, smoothed here to 3 at 12 (interpolate)
        assert clip.frames.shape == (2 * FRAMES - 1, SIDE, SIDE, 3) and clip.fps == 12.0
        recipe = clip.meta["recipe"]
        assert recipe["server"] == server.url and recipe["task"] == "video.image_to_video"
        made = recipe["params"]
        assert made["frames"] == FRAMES and made["model"] == "atelier-tiny-svd.safetensors"
        assert clip.meta["provenance"]["watermark"]  # marked by the same step as local clips
        (record,) = get(server, "/history").values()
        sent = {node["class_type"] for node in record["prompt"][2].values()}
        assert {"ImageOnlyCheckpointLoader", "SVD_img2vid_Conditioning"} <= sent
        engine.shutdown()


def test_a_server_without_an_svd_checkpoint_refuses_the_clip_before_sending(comfyui_server):
    engine = ServerEngine.from_registry(
        registry(video_plugin), servers=[ServerConfig(comfyui_server.url)], preview_interval_s=None
    )
    before = len(get(comfyui_server, "/history"))
    params = ImageToVideoParams(image=still(), frames=FRAMES, steps=2, work_size=SIDE)
    ending = engine.submit("video.image_to_video", params).future.result(60)
    assert isinstance(ending, JobFailed) and ending.kind == "missing_model"
    assert "no Stable Video Diffusion checkpoint" in ending.message
    assert "local engine" in ending.message
    assert len(get(comfyui_server, "/history")) == before
    engine.shutdown()
