"""Jobs on real ComfyUI servers (started on 127.0.0.1 by tests/comfyui_server.py) through
Atelier's engine protocol: text to image, image to image and inpaint give watermarked
pictures whose recipe names the server; progress arrives; cancel takes a queued or running
job off the server (and only ours); a killed server's job fails over to another; a dropped
websocket reconnects without losing the result; what a server lacks is refused before
anything is sent; the CLI's --server and `atelier servers`. Skipped, with the reason, where
the server is not installed (packaging/install-comfyui; CI installs it)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.protocol import JobCancelled, JobFailed, JobFinished, JobProgress, JobStarted
from plugins.api import Plugin
from plugins.comfyui import remote_job
from plugins.comfyui.server_engine import ServerEngine
from plugins.comfyui.servers import ServerConfig
from plugins.diffusion import plugin as diffusion_plugin
from plugins.diffusion.params import (
    Img2ImgParams,
    InpaintParams,
    LoraSpec,
    OutpaintParams,
    Txt2ImgParams,
)
from plugins.provenance import plugin as provenance_plugin
from plugins.provenance import watermark
from plugins.registry import Registry
from tests.comfyui_server import CHECKPOINT_NAME, free_port

SIZE = 256  # a random model's noisy pictures hold the watermark from about this size
SMALL = 64  # where no mark is read: a step at 256 takes 1.5 s on the CPU, at 64 a tenth


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("ATELIER_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def registry(*more: Plugin) -> Registry:
    """The plugins a server job needs (image tasks, the safety step) and `more`."""
    made = Registry()
    for plugin in (diffusion_plugin, provenance_plugin, *more):
        made.add(plugin)
    return made


def engine_on(*servers) -> ServerEngine:
    configs = [ServerConfig(getattr(s, "url", s)) for s in servers]
    return ServerEngine.from_registry(registry(), servers=configs, preview_interval_s=None)


def txt2img(**changes) -> Txt2ImgParams:
    values = {"prompt": "a red circle", "steps": 3, "width": SMALL, "height": SMALL, "seed": 5}
    return Txt2ImgParams(**{**values, **changes})


def run(engine, task: str, params, timeout: float = 240.0) -> tuple[list, object]:
    """Submit and wait: the job's events and its terminal one."""
    events: list = []
    engine.subscribe(events.append)
    handle = engine.submit(task, params)
    ending = handle.future.result(timeout)
    return [e for e in events if e.job_id == handle.id], ending


def get(server, path: str):
    with urllib.request.urlopen(f"{server.url}{path}", timeout=10) as answer:
        return json.loads(answer.read())


def post(server, path: str, data: dict):
    request = urllib.request.Request(
        f"{server.url}{path}", json.dumps(data).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read() or b"null")


def bare_graph(steps: int, seed: int, size: int = SMALL) -> dict:
    """A stock text-to-image graph, as a bare client sends it."""
    return {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": CHECKPOINT_NAME}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "busy", "clip": ["1", 1]}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["1", 1]}},
        "4": {
            "class_type": "EmptyLatentImage",
            "inputs": {"width": size, "height": size, "batch_size": 1},
        },
        "5": {
            "class_type": "KSampler",
            "inputs": {
                "model": ["1", 0],
                "seed": seed,
                "steps": steps,
                "cfg": 7.0,
                "sampler_name": "euler",
                "scheduler": "normal",
                "positive": ["2", 0],
                "negative": ["3", 0],
                "latent_image": ["4", 0],
                "denoise": 1.0,
            },  # fmt: skip
        },
        "6": {"class_type": "VAEDecode", "inputs": {"samples": ["5", 0], "vae": ["1", 2]}},
        "7": {"class_type": "SaveImage", "inputs": {"images": ["6", 0], "filename_prefix": "b"}},
    }


def queue_ids(server) -> tuple[list[str], list[str]]:
    queue = get(server, "/queue")
    return [i[1] for i in queue["queue_running"]], [i[1] for i in queue["queue_pending"]]


def wait_for(condition, timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(0.1)


def wait_idle(server) -> None:
    wait_for(lambda: queue_ids(server) == ([], []), 300, "the server to be idle")


def assert_marked(image, server) -> None:
    found = watermark.detect_image(np.ascontiguousarray(image.pixels[..., :3]))
    assert found.present and found.payload == image.meta["provenance"]["watermark"]["payload"]
    assert image.meta["provenance"]["safety"]["output"]["checked"]
    assert image.meta["recipe"]["server"] == server.url


# ---- the three image tasks -------------------------------------------------------------------


def test_text_to_image_on_a_server_is_watermarked_and_repeatable(comfyui_server):
    engine = engine_on(comfyui_server)
    big = {"width": SIZE, "height": SIZE, "steps": 2}
    events, ending = run(engine, "diffusion.txt2img", txt2img(batch_count=2, **big))
    assert isinstance(ending, JobFinished), ending
    assert [type(e) for e in events[:2]] == [type(events[0]), JobStarted]
    assert any(isinstance(e, JobProgress) and 0 < e.fraction < 1 for e in events)
    first, second = ending.outputs
    for image, seed in ((first, 5), (second, 6)):
        assert image.size == (SIZE, SIZE)
        assert_marked(image, comfyui_server)
        recipe = image.meta["recipe"]
        assert recipe["params"]["seed"] == seed and recipe["params"]["model"] == CHECKPOINT_NAME
    assert not np.array_equal(first.pixels, second.pixels)  # two seeds, two pictures
    _, again = run(engine, "diffusion.txt2img", txt2img(seed=6, **big))
    # the same seed on the same server: the same pixels (each output's mark is its own)
    made = again.outputs[0].pixels[..., :3].astype(int)
    assert np.abs(made - second.pixels[..., :3].astype(int)).mean() < 3
    engine.shutdown()


def test_image_to_image_and_inpaint_on_a_server(comfyui_server):
    engine = engine_on(comfyui_server)
    rng = np.random.default_rng(3)
    picture = rng.integers(0, 255, (SIZE, 320, 4), np.uint8)
    picture[..., 3] = 255
    params = Img2ImgParams(prompt="a painting", steps=2, seed=1, strength=0.6, image=picture)
    _, ending = run(engine, "diffusion.img2img", params)
    assert isinstance(ending, JobFinished), ending
    assert ending.outputs[0].size == (320, SIZE)
    assert_marked(ending.outputs[0], comfyui_server)

    mask = np.zeros((SIZE, 320), np.uint8)
    mask[48:112, 80:160] = 255
    params = InpaintParams(
        prompt="a hole", steps=3, seed=1, image=picture, mask=mask, grow=0, feather=2
    )
    _, ending = run(engine, "diffusion.inpaint", params)
    assert isinstance(ending, JobFinished), ending
    made = ending.outputs[0]
    assert made.size == (320, SIZE) and made.meta["recipe"]["server"] == comfyui_server.url
    far = np.ones(mask.shape, bool)
    far[32:128, 64:176] = False
    # the kept pixels: as they were, but for the faint mark of the new area's edge blocks
    kept = np.abs(made.pixels[far].astype(int) - picture[far].astype(int))
    assert kept.mean() < 1.0
    inside = np.abs(made.pixels[60:100, 92:148].astype(int) - picture[60:100, 92:148].astype(int))
    assert inside.mean() > 20  # repainted
    engine.shutdown()


def test_outpaint_on_a_server_extends_the_picture_and_keeps_it(comfyui_server):
    engine = engine_on(comfyui_server)
    picture = np.random.default_rng(4).integers(0, 255, (SIZE, SIZE, 4), np.uint8)
    picture[..., 3] = 255
    params = OutpaintParams(prompt="more", steps=2, seed=2, image=picture, right=64, overlap=8)
    _, ending = run(engine, "diffusion.outpaint", params)
    assert isinstance(ending, JobFinished), ending
    made = ending.outputs[0]
    assert made.size == (SIZE + 64, SIZE) and made.meta["offset"] == [0, 0]
    kept = np.abs(made.pixels[:, : SIZE - 16].astype(int) - picture[:, : SIZE - 16].astype(int))
    assert kept.mean() < 1.0  # the old picture, untouched but for the new area's edge blocks
    assert made.meta["recipe"]["server"] == comfyui_server.url
    engine.shutdown()


def test_a_job_the_server_cannot_run_is_refused_before_sending(comfyui_server):
    engine = engine_on(comfyui_server)
    before = len(get(comfyui_server, "/history"))
    _, ending = run(engine, "diffusion.txt2img", txt2img(loras=(LoraSpec("no-such-lora"),)))
    assert isinstance(ending, JobFailed) and ending.kind == "missing_model"
    assert "no LoRA installed" in ending.message and "local engine" in ending.message
    _, ending = run(engine, "diffusion.txt2img", txt2img(model="sdxl-base"))
    assert isinstance(ending, JobFailed) and "no checkpoint named 'sdxl-base'" in ending.message
    assert len(get(comfyui_server, "/history")) == before  # nothing reached the server
    engine.shutdown()


def test_step_previews_come_from_a_server_that_sends_them(tmp_path):
    from tests.comfyui_server import ComfyUIServer, comfyui_unavailable, tiny_checkpoint

    if comfyui_unavailable():
        pytest.skip(comfyui_unavailable())
    extra = ["--preview-method", "latent2rgb"]
    with ComfyUIServer(
        tmp_path / "server", checkpoints=[tiny_checkpoint()], extra_args=extra
    ) as server:
        configs = [ServerConfig(server.url)]
        engine = ServerEngine.from_registry(registry(), servers=configs, preview_interval_s=0.0)
        events, ending = run(engine, "diffusion.txt2img", txt2img(steps=12, seed=3))
        assert isinstance(ending, JobFinished), ending
        previews = [e.preview for e in events if isinstance(e, JobProgress) and e.preview]
        assert previews and previews[0].pixels.shape[2] == 4
        engine.shutdown()


# ---- cancel ----------------------------------------------------------------------------------


def test_cancel_of_a_queued_job_deletes_it_and_leaves_the_others_running(comfyui_server):
    wait_idle(comfyui_server)
    blocker = post(comfyui_server, "/prompt", {"prompt": bare_graph(150, 1), "client_id": "x"})
    engine = engine_on(comfyui_server)
    events: list = []
    engine.subscribe(events.append)
    handle = engine.submit("diffusion.txt2img", txt2img(seed=77))
    wait_for(lambda: len(queue_ids(comfyui_server)[1]) == 1, 60, "our job to wait on the server")
    assert engine.cancel(handle.id)
    assert isinstance(handle.future.result(1), JobCancelled)
    wait_for(lambda: queue_ids(comfyui_server)[1] == [], 10, "our job to leave the queue")
    assert queue_ids(comfyui_server)[0] == [blocker["prompt_id"]]  # the other one runs on
    wait_idle(comfyui_server)
    status = get(comfyui_server, f"/history/{blocker['prompt_id']}")[blocker["prompt_id"]]
    assert status["status"]["completed"]  # it was not interrupted
    engine.shutdown()


def test_cancel_of_a_running_job_interrupts_it_on_the_server(comfyui_server):
    wait_idle(comfyui_server)
    engine = engine_on(comfyui_server)
    started = threading.Event()
    engine.subscribe(lambda e: isinstance(e, JobProgress) and e.fraction > 0 and started.set())
    handle = engine.submit("diffusion.txt2img", txt2img(steps=150, seed=91))
    assert started.wait(120), "no progress from the server"
    running = queue_ids(comfyui_server)[0]
    assert len(running) == 1
    engine.cancel(handle.id)
    assert isinstance(handle.future.result(1), JobCancelled)  # at once, for the window
    wait_for(lambda: queue_ids(comfyui_server)[0] == [], 30, "the server to stop our job")
    record = get(comfyui_server, f"/history/{running[0]}")[running[0]]
    kinds = [message[0] for message in record["status"]["messages"]]
    assert "execution_interrupted" in kinds
    engine.shutdown()


# ---- servers that go away --------------------------------------------------------------------


def test_a_killed_server_has_its_job_sent_to_another(start_comfyui_server, monkeypatch):
    monkeypatch.setattr(remote_job, "RECONNECT_S", 2.0)
    first, second = start_comfyui_server(), start_comfyui_server()
    engine = engine_on(first, second)
    progressed = threading.Event()
    engine.subscribe(lambda e: isinstance(e, JobProgress) and e.fraction > 0 and progressed.set())
    handle = engine.submit("diffusion.txt2img", txt2img(steps=150, seed=12))
    assert progressed.wait(120), "no progress from the first server"
    assert queue_ids(first)[0], "the idle first server should have taken the job"
    first.kill()
    ending = handle.future.result(300)
    assert isinstance(ending, JobFinished), ending
    assert ending.outputs[0].meta["recipe"]["server"] == second.url
    engine.shutdown()


class DroppingProxy:
    """A TCP proxy in front of a server whose open connections can be cut at once."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", free_port()))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.open: list[socket.socket] = []
        self.drops = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                end.close()

    def drop_all(self) -> None:
        self.drops += 1
        for connection in self.open:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self.open = []

    def close(self) -> None:
        self.listener.close()
        self.drop_all()


def test_a_dropped_websocket_reconnects_and_the_result_is_not_lost(comfyui_server):
    wait_idle(comfyui_server)
    proxy = DroppingProxy(int(comfyui_server.url.rsplit(":", 1)[1]))
    engine = engine_on(proxy.url)
    progressed = threading.Event()
    engine.subscribe(lambda e: isinstance(e, JobProgress) and e.fraction > 0 and progressed.set())
    handle = engine.submit("diffusion.txt2img", txt2img(steps=40, seed=uuid.uuid4().int % 1000))
    assert progressed.wait(120)
    proxy.drop_all()  # the websocket and any request under way are cut mid-job
    ending = handle.future.result(240)
    assert isinstance(ending, JobFinished), ending
    assert ending.outputs[0].size == (SMALL, SMALL)
    assert len(get(comfyui_server, "/history")) >= 1
    engine.shutdown()
    proxy.close()


def test_a_batch_is_spread_over_two_servers_in_seed_order(comfyui_servers):
    for server in comfyui_servers:
        wait_idle(server)
    engine = engine_on(*comfyui_servers)
    _, ending = run(engine, "diffusion.txt2img", txt2img(batch_count=2, seed=40, steps=8))
    assert isinstance(ending, JobFinished), ending
    seeds = [image.meta["recipe"]["params"]["seed"] for image in ending.outputs]
    servers = {image.meta["recipe"]["server"] for image in ending.outputs}
    assert seeds == [40, 41] and servers == {s.url for s in comfyui_servers}
    engine.shutdown()


def test_results_of_a_queue_of_jobs_arrive_in_submission_order(comfyui_servers):
    engine = engine_on(*comfyui_servers)
    finished: list[int] = []
    engine.subscribe(lambda e: isinstance(e, JobFinished) and finished.append(e.job_id))
    slow = engine.submit("diffusion.txt2img", txt2img(steps=40, seed=301))
    quick = engine.submit("diffusion.txt2img", txt2img(steps=2, seed=302))
    assert isinstance(quick.future.result(240), JobFinished)
    assert isinstance(slow.future.result(240), JobFinished)
    assert finished == [slow.id, quick.id]
    engine.shutdown()


# ---- the command line ------------------------------------------------------------------------


def test_cli_generates_on_a_server_and_lists_servers(comfyui_server, tmp_path, capsys):
    from app.cli import main

    out = tmp_path / "remote.png"
    args = ["generate", "a blue square", "--steps", "2", "--size", f"{SIZE}x{SIZE}"]
    assert main([*args, "--seed", "8", "--server", comfyui_server.url, "-o", str(out)]) == 0
    with Image.open(out) as saved:
        assert saved.size == (SIZE, SIZE)
    assert main(["verify", str(out)]) == 0
    assert "carries Atelier's watermark" in capsys.readouterr().out

    assert main(["servers", "--add", comfyui_server.url, "--name", "Test box"]) == 0
    listed = capsys.readouterr().out
    assert "Test box" in listed and "ok: " in listed and "1 checkpoints" in listed
    dead = f"http://127.0.0.1:{free_port()}"
    assert main(["servers", "--add", dead]) == 1  # one of them does not answer
    assert "unreachable" in capsys.readouterr().out
    assert main(["generate", "x", "--server", dead, "-o", str(tmp_path / "n.png")]) == 1
    assert "No server answered" in capsys.readouterr().err
