"""Benchmark: how soon the first picture comes, against the bare denoising time of it.

Measured in one run, side by side (the machine may be shared: read the ratios):
- bare: the built-in model's diffusers pipeline called directly on a warm pipeline
  (bench/engine_overhead.py's BarePath) with the steps, CFG, scheduler and size of the
  window's first Generate (the model's defaults, 128x128; the window's prompt is the model's
  example and its seed random, which do not change the time), with the CPU threads the
  engine gives torch (engine.devices); the median of its rounds before and after the rest;
- window: `atelier` started offscreen with ATELIER_STARTUP_PROBE=generate, which clicks
  Generate as soon as the window has painted and the model picker is filled:
  window_s, from starting the process to the window's first paint; first_picture_s, to the
  canvas's first paint of the result (app.ui.launch.StartupProbe); the click to the picture
  is their difference (the engine warms up in the background from the first paint on);
- cli: a cold `atelier generate` of the same picture in a new process (imports, loading,
  the job, writing the PNG); cli_ratio is its seconds over bare's.
The launches and CLI runs alternate, LAUNCHES of each; medians are reported.

Run: python bench/first_image.py [--launches 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.ui.launch import FIRST_PICTURE, GENERATE_PROBE, MODELS_SHOWN, WINDOW_SHOWN  # noqa: E402
from bench.engine_overhead import (  # noqa: E402
    PROMPT,
    SEED,
    BarePath,
    Case,
    demo_case,
    probe_launch,
)
from engine.devices import choose_device_policy, use_cpu_threads  # noqa: E402
from engine.model_store import ModelStore  # noqa: E402

LAUNCHES = 3
BARE_ROUNDS = 3  # before, and again after, the launches
DONE = "Done"  # how the Generate panel's line begins when the picture came


def bare_seconds(bare: BarePath, case: Case, rounds: int) -> list[float]:
    """Seconds of `rounds` bare pipeline calls (already warm)."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        bare.run(case.params, case.size)
        times.append(time.perf_counter() - start)
    return times


def window_launch(home: Path) -> dict[str, float]:
    """One launch with Generate clicked as soon as the window is up: seconds to the window's
    first paint, to the filled model picker and to the first picture on the canvas."""
    reached = probe_launch(home, (WINDOW_SHOWN, MODELS_SHOWN, FIRST_PICTURE), GENERATE_PROBE)
    said = reached[FIRST_PICTURE][1]
    if not said.startswith(DONE):
        raise RuntimeError(f"the first Generate did not make a picture: {said}")
    return {milestone: seconds for milestone, (seconds, _said) in reached.items()}


def cli_seconds(home: Path, case: Case, out: Path) -> float:
    """Seconds of a cold `atelier generate` of the case's picture, in a new process."""
    params = case.params
    args = [PROMPT, "--seed", str(SEED), "--steps", str(params.steps), "--cfg"]
    args += [str(params.cfg_scale), "--scheduler", params.scheduler]
    args += ["--size", f"{case.size[0]}x{case.size[1]}", "-o", str(out)]
    code = "import sys; from app.cli import main; sys.exit(main(sys.argv[1:]))"
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", code, "generate", *args],
        cwd=ROOT,
        env={**os.environ, "ATELIER_HOME": str(home)},
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0 or not out.is_file():
        raise RuntimeError(f"atelier generate failed: {result.stderr[-2000:]}")
    out.unlink()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--launches", type=int, default=LAUNCHES)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="atelier-bench-"))
    store = ModelStore(home=home, extra_folders=[], hf_cache=home / "no-hf-cache")
    case, folder = demo_case(store)
    policy = choose_device_policy()
    use_cpu_threads(policy)
    bare = BarePath(folder, policy, case.params)
    bare.run(case.params, case.size)  # the first call warms the pipeline up
    bare_times = bare_seconds(bare, case, BARE_ROUNDS)
    launches, cli = [], []
    for _ in range(args.launches):
        launches.append(window_launch(home))
        cli.append(cli_seconds(home, case, home / "cli.png"))
    bare_times += bare_seconds(bare, case, BARE_ROUNDS)

    bare_s = statistics.median(bare_times)
    window_s = statistics.median(launch[WINDOW_SHOWN] for launch in launches)
    ready_s = statistics.median(launch[MODELS_SHOWN] for launch in launches)
    picture_s = statistics.median(launch[FIRST_PICTURE] for launch in launches)
    click_s = statistics.median(
        launch[FIRST_PICTURE] - max(launch[WINDOW_SHOWN], launch[MODELS_SHOWN])
        for launch in launches
    )
    cli_s = statistics.median(cli)
    size = f"{case.size[0]}x{case.size[1]}"
    print(
        f"first image: built-in model, {size}, {case.params.steps} steps, device "
        f"{policy.device}, {policy.cpu_threads} CPU thread(s), {args.launches} launches"
    )
    rows = [
        ("bare denoising (warm pipeline)", bare_s),
        ("launch to window shown", window_s),
        ("launch to model picker ready", ready_s),
        ("launch to first picture", picture_s),
        ("  of which click to picture", click_s),
        ("cold atelier generate", cli_s),
    ]
    for label, seconds in rows:
        print(f"  {label:<32} {seconds:7.2f} s  {seconds / bare_s:7.1f} x bare")
    print(
        f"bench first_image: window_s={window_s:.2f} first_picture_s={picture_s:.2f} "
        f"cli_ratio={cli_s / bare_s:.2f}"
    )


if __name__ == "__main__":
    main()
