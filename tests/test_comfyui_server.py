"""The ComfyUI test server itself (tests/comfyui_server.py): it starts, lists the tiny
checkpoint, runs a stock txt2img graph posted over plain HTTP to a 64x64 PNG, gives the same
pixels for the same seed, dies when killed and comes back on restart."""

from __future__ import annotations

import io
import json
import socket
import time
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING

import numpy as np
import pytest
from PIL import Image

if TYPE_CHECKING:
    from tests.comfyui_server import ComfyUIServer

pytest_plugins = ("tests.comfyui_server",)
CHECKPOINT = "atelier-tiny-sd15.safetensors"


def get_json(server: ComfyUIServer, path: str) -> dict:
    with urllib.request.urlopen(server.url + path, timeout=30) as reply:
        return json.load(reply)


def post_json(server: ComfyUIServer, path: str, body: dict) -> dict:
    request = urllib.request.Request(
        server.url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        return json.load(reply)


def txt2img_graph(seed: int) -> dict:
    """ComfyUI's stock text-to-image graph at 64x64, 4 euler steps."""
    return {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": CHECKPOINT}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red fox", "clip": ["1", 1]}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["1", 1]}},
        "4": {
            "class_type": "EmptyLatentImage",
            "inputs": {"width": 64, "height": 64, "batch_size": 1},
        },
        "5": {
            "class_type": "KSampler",
            "inputs": {
                "model": ["1", 0],
                "positive": ["2", 0],
                "negative": ["3", 0],
                "latent_image": ["4", 0],
                "seed": seed,
                "steps": 4,
                "cfg": 7.0,
                "sampler_name": "euler",
                "scheduler": "normal",
                "denoise": 1.0,
            },
        },
        "6": {"class_type": "VAEDecode", "inputs": {"samples": ["5", 0], "vae": ["1", 2]}},
        "7": {
            "class_type": "SaveImage",
            "inputs": {"images": ["6", 0], "filename_prefix": "atelier-test"},
        },
    }


def run_graph(server: ComfyUIServer, graph: dict, timeout: float = 180.0) -> dict:
    """Post `graph`, poll /history until it is done; its history entry."""
    prompt_id = post_json(server, "/prompt", {"prompt": graph, "client_id": "atelier-test"})[
        "prompt_id"
    ]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entry = get_json(server, f"/history/{prompt_id}").get(prompt_id)
        if entry is not None:
            assert entry["status"]["status_str"] == "success", entry["status"]
            return entry
        time.sleep(0.1)
    raise AssertionError(f"no result in {timeout:.0f} s:\n{server.log_tail()}")


def fetch_image(server: ComfyUIServer, entry: dict) -> Image.Image:
    """The one image a SaveImage node made, fetched through /view."""
    [image] = entry["outputs"]["7"]["images"]
    query = urllib.parse.urlencode({k: image[k] for k in ("filename", "subfolder", "type")})
    with urllib.request.urlopen(f"{server.url}/view?{query}", timeout=30) as reply:
        data = reply.read()
    picture = Image.open(io.BytesIO(data))
    assert picture.format == "PNG"
    return picture


def cached_nodes(entry: dict) -> list[str]:
    """The nodes whose cached outputs the server reused for this prompt."""
    return [
        n
        for kind, msg in entry["status"]["messages"]
        if kind == "execution_cached"
        for n in msg["nodes"]
    ]


def test_server_answers_with_its_device(comfyui_server):
    stats = get_json(comfyui_server, "/system_stats")
    assert comfyui_server.url.startswith("http://127.0.0.1:")
    assert [d["type"] for d in stats["devices"]] == ["cpu"]


def test_server_lists_the_tiny_checkpoint(comfyui_server):
    info = get_json(comfyui_server, "/object_info/CheckpointLoaderSimple")
    [names] = info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"]
    assert comfyui_server.checkpoints == (CHECKPOINT,)
    assert CHECKPOINT in names


def test_stock_txt2img_graph_gives_a_png_and_the_same_pixels_for_the_same_seed(comfyui_server):
    first = run_graph(comfyui_server, txt2img_graph(seed=7))
    picture = fetch_image(comfyui_server, first)
    assert picture.size == (64, 64) and picture.mode == "RGB"
    pixels = np.asarray(picture)
    assert pixels.std() > 0  # a picture, not a blank

    other = fetch_image(comfyui_server, run_graph(comfyui_server, txt2img_graph(seed=8)))
    assert not np.array_equal(np.asarray(other), pixels)  # the seed matters

    again = run_graph(comfyui_server, txt2img_graph(seed=7))
    assert "5" not in cached_nodes(again)  # the sampler ran again: not a cached copy
    assert np.array_equal(np.asarray(fetch_image(comfyui_server, again)), pixels)


def test_two_servers_answer_on_their_own_ports(comfyui_servers):
    first, second = comfyui_servers
    assert first.url != second.url and first.base_dir != second.base_dir
    for server in comfyui_servers:
        info = get_json(server, "/object_info/CheckpointLoaderSimple")
        [names] = info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"]
        assert CHECKPOINT in names


def test_killed_server_stops_answering_and_restarts_at_the_same_url(start_comfyui_server):
    server = start_comfyui_server()
    url = server.url
    server.kill()
    assert not server.running
    with pytest.raises(OSError):
        urllib.request.urlopen(url + "/system_stats", timeout=5)
    server.restart()
    assert server.url == url and server.running
    assert get_json(server, "/system_stats")["devices"]


def test_a_failed_start_raises_with_the_server_log(start_comfyui_server):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(RuntimeError, match="(?i)address already in use"):
            start_comfyui_server(port=taken.getsockname()[1])


def test_unavailable_server_says_how_to_install_it(monkeypatch, tmp_path):
    from tests.comfyui_server import comfyui_unavailable

    monkeypatch.setenv("ATELIER_COMFYUI_PYTHON", str(tmp_path / "no-python"))
    assert "run packaging/install-comfyui" in comfyui_unavailable()
