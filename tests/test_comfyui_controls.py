"""ControlNets on a real ComfyUI server (tests/comfyui_server.py): a text-to-image job with a
scribble control sends ControlNetLoader and ControlNetApplyAdvanced with our values, the server
loads the tiny random ControlNet for the tiny checkpoint, and its residuals change the picture;
at strength 0 the picture is the one without a control. Skipped where the server is not
installed (packaging/install-comfyui)."""

from __future__ import annotations

import json
import urllib.request

import numpy as np
import pytest

from engine.protocol import JobFinished
from plugins.comfyui.server_engine import ServerEngine
from plugins.comfyui.servers import ServerConfig
from plugins.diffusion import plugin as diffusion_plugin
from plugins.diffusion.params import ControlSpec, Txt2ImgParams
from plugins.registry import Registry
from tests.comfyui_server import tiny_controlnet

pytest_plugins = ("tests.comfyui_server",)

CONTROLNET = "control_tiny_scribble.safetensors"  # the file name tells its kind
SIZE = 64


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("ATELIER_HOME", str(tmp_path / "home"))


def scribble() -> np.ndarray:
    """A scribble map: white strokes on black."""
    image = np.zeros((SIZE, SIZE, 3), np.uint8)
    image[10:14, 8:56] = 255
    image[20:52, 30:34] = 255
    image[44:48, 12:52] = 255
    return image


def history(server) -> list[dict]:
    """The graphs of the server's finished jobs, oldest first."""
    with urllib.request.urlopen(f"{server.url}/history", timeout=10) as answer:
        return [entry["prompt"][2] for entry in json.loads(answer.read()).values()]


def nodes(graph: dict, class_type: str) -> list[dict]:
    return [node["inputs"] for node in graph.values() if node["class_type"] == class_type]


def test_a_scribble_controlnet_on_a_server_steers_the_picture(start_comfyui_server):
    server = start_comfyui_server()
    (server.base_dir / "models" / "controlnet" / CONTROLNET).symlink_to(tiny_controlnet())
    registry = Registry()
    registry.add(diffusion_plugin)
    engine = ServerEngine.from_registry(
        registry, servers=[ServerConfig(server.url)], preview_interval_s=None
    )

    def picture(*controls: ControlSpec) -> np.ndarray:
        params = Txt2ImgParams(
            prompt="a cat", steps=3, width=SIZE, height=SIZE, seed=7, controls=controls
        )
        ending = engine.submit("diffusion.txt2img", params).future.result(240)
        assert isinstance(ending, JobFinished), ending
        return ending.outputs[0].pixels[..., :3].astype(int)

    try:
        steered = picture(ControlSpec("scribble", scribble(), strength=1.0, end=0.8))
        # the server's file name, as the control layer's model picker names it
        idle = picture(ControlSpec("scribble", scribble(), model=CONTROLNET, strength=0.0))
        plain = picture()
    finally:
        engine.shutdown()

    first, second, third = history(server)
    for graph, strength, end in ((first, 1.0, 0.8), (second, 0.0, 1.0)):
        assert nodes(graph, "ControlNetLoader") == [{"control_net_name": CONTROLNET}]
        (applied,) = nodes(graph, "ControlNetApplyAdvanced")
        assert (applied["strength"], applied["start_percent"], applied["end_percent"]) == (
            strength,
            0.0,
            end,
        )
        assert applied["control_net"][0] in graph  # wired to the loader's output
    assert not nodes(third, "ControlNetLoader")
    assert np.abs(idle - plain).mean() < 1  # strength 0: as without a control
    assert np.abs(steered - plain).mean() > 2  # the random ControlNet's residuals
