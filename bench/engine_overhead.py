"""Benchmark: what Atelier's engine costs over a bare diffusers call doing the same work.

Measured side by side in one run, interleaved round by round (the order alternates):
- bare: the diffusers pipeline of the same model folder called directly on the main thread
  (same dtype, device policy, scheduler, size, steps, CFG and seed);
- engine: the same request through Atelier's engine as the app sends it: an Engine with
  the installed plugins (plugins.registry.discover()) runs the txt2img task on its thread,
  and the GUI bridge (qasync) brings its events and previews to the GUI thread, where
  previews become QImages. Besides the bare call's work it does its own: the job, step
  callback, latent previews, recipe, and its safety and provenance step (prompt check,
  image check of every preview and output, watermark and records; engine/safety_step.py),
  which no plugin can turn off. Its pictures differ from bare's by the watermark.
`ratio`: the engine's median time over bare's in the same round (the larger of the two
cases' medians). The time the safety step took within each engine job is measured too
(plugins.provenance.marking's entry points, timed), and `plumbing_ratio` leaves it out.
Cases: the built-in model (resources/models/atelier-demo) at its own defaults (atelier.json),
and a tiny SDXL (random weights, tests/fixtures/tiny_models) at 64x64, 20 steps.

max_stall_ms: the GUI thread's longest gap between ticks of a 1 ms QTimer heartbeat (an
offscreen QApplication) while the engine jobs run (target < 16 ms: one frame at 60 Hz);
the stall while the engine loads a model (each path's first job) is printed apart.
launch: `atelier` started offscreen with ATELIER_STARTUP_PROBE=1, seconds from starting the
process to the window's first paint and to a filled model picker (median of 3 launches).

--full-size (needs CUDA; sized to finish in a few minutes on an H100, not yet run on one):
full-size SD 1.5 (512x512) and SDXL (1024x1024) architectures with random weights (built
from resources/configs, in the engine's fp16/bf16; speed does not depend on the weights'
values), saved as model folders: iterations per second bare and through the engine, their
ratio, and peak GPU memory.

Run: python bench/engine_overhead.py [--rounds 5] [--full-size]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["QT_QPA_PLATFORM"] = "offscreen"  # the heartbeat needs no screen

import numpy as np  # noqa: E402
import qasync  # noqa: E402
import torch  # noqa: E402
from PySide6.QtCore import QElapsedTimer, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.ui.engine_bridge import EngineBridge  # noqa: E402
from app.ui.images import qimage_from_rgba  # noqa: E402
from app.ui.launch import MODELS_SHOWN, STARTUP_PROBE, WINDOW_SHOWN  # noqa: E402
from engine.devices import DevicePolicy, apply_policy, choose_device_policy  # noqa: E402
from engine.home import RESOURCES, models_dir  # noqa: E402
from engine.model_store import ModelStore  # noqa: E402
from engine.protocol import JobFinished, JobProgress  # noqa: E402
from engine.worker import Engine  # noqa: E402
from plugins.diffusion import TXT2IMG  # noqa: E402
from plugins.diffusion.params import Txt2ImgParams, model_defaults, native_size  # noqa: E402
from plugins.diffusion.schedulers import make_scheduler  # noqa: E402
from plugins.registry import Registry, discover  # noqa: E402

DEMO = "atelier-demo"
PROMPT = "a large red circle at the top left and a yellow star at the bottom right"
SEED = 7
HEARTBEAT_MS = 1
LAUNCHES = 3


@dataclass(frozen=True)
class Case:
    """One model and the request both paths make with it."""

    label: str
    params: Txt2ImgParams
    size: tuple[int, int]  # (width, height) the bare call is given (the engine resolves it)


@dataclass
class Timings:
    """Seconds per image for each path, peak GPU memory for each (on CUDA), and the GUI
    thread's longest stall while engine jobs ran and while the engine loaded the model."""

    seconds: dict[str, list[float]]
    peak_bytes: dict[str, int]
    stall_ms: float = 0.0
    loading_stall_ms: float = 0.0


class Heartbeat:
    """A QTimer ticking every HEARTBEAT_MS on the GUI thread while the `with` block runs
    the Qt loop; `longest_ms`: the longest gap between two ticks (the GUI's longest stall)."""

    def __enter__(self) -> Heartbeat:
        self.longest_ms = 0.0
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self.clock.start()
        self.timer.start(HEARTBEAT_MS)
        return self

    def _tick(self) -> None:
        self.longest_ms = max(self.longest_ms, self.clock.restart())

    def __exit__(self, *exc: object) -> None:
        self.timer.stop()


class SafetyStepTimer:
    """Sums the seconds spent in the engine's safety and provenance step: the functions of
    plugins.provenance.marking that engine.safety_step resolves by name on every call."""

    FUNCTIONS = ("before_job", "after_job", "check_preview")

    def __init__(self) -> None:
        from plugins.provenance import marking

        self.seconds = 0.0
        for name in self.FUNCTIONS:
            setattr(marking, name, self._timed(getattr(marking, name)))

    def _timed(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args)
            finally:
                self.seconds += time.perf_counter() - start  # only the engine thread calls

        return timed

    def take(self) -> float:
        """The seconds summed since the last take."""
        seconds, self.seconds = self.seconds, 0.0
        return seconds


# ---- the two ways to make the same picture ------------------------------------------------


class BarePath:
    """The model folder's diffusers pipeline, called the way a script would call it."""

    def __init__(self, folder: Path, policy: DevicePolicy, params: Txt2ImgParams) -> None:
        from diffusers import DiffusionPipeline

        pipe = DiffusionPipeline.from_pretrained(
            folder, torch_dtype=policy.torch_dtype(), local_files_only=True
        )
        pipe.scheduler = make_scheduler(params.scheduler, pipe.scheduler.config)
        pipe.set_progress_bar_config(disable=True)
        self.pipe = apply_policy(pipe, policy)

    def run(self, params: Txt2ImgParams, size: tuple[int, int]) -> np.ndarray:
        result = self.pipe(
            prompt=params.prompt,
            negative_prompt=params.negative_prompt,
            num_inference_steps=params.steps,
            guidance_scale=params.cfg_scale,
            width=size[0],
            height=size[1],
            generator=torch.Generator("cpu").manual_seed(params.seed),
            output_type="np",
        )
        return (np.clip(result.images[0], 0, 1) * 255).round().astype(np.uint8)


class EnginePath:
    """Jobs through an Engine thread and the GUI bridge, read on the GUI thread (a qasync
    loop on the QApplication), as the window runs them."""

    def __init__(self, registry: Registry, store: ModelStore, loop: qasync.QEventLoop) -> None:
        self.engine = Engine.from_registry(registry, store=store)
        self.loop = loop
        self.bridge = EngineBridge(self.engine, loop)

    def run(self, params: Txt2ImgParams) -> np.ndarray:
        finished = self.loop.run_until_complete(self._job(params))
        return finished.outputs[0].pixels[..., :3]

    async def _job(self, params: Txt2ImgParams) -> JobFinished:
        async for event in self.bridge.run(TXT2IMG.id, params):
            if isinstance(event, JobProgress) and event.preview is not None:
                qimage_from_rgba(event.preview.pixels)  # what the window does with one
            last = event
        if not isinstance(last, JobFinished):
            raise RuntimeError(f"the engine job did not finish: {last}")
        return last

    def close(self) -> None:
        self.bridge.close()
        self.engine.shutdown()


# ---- measuring ---------------------------------------------------------------------------


def timed(run: Callable[[], Any], peaks: dict[str, int], name: str) -> float:
    """Seconds for one run (and, on CUDA, its peak GPU memory into `peaks`)."""
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    run()
    if cuda:
        torch.cuda.synchronize()
        peaks[name] = max(peaks.get(name, 0), torch.cuda.max_memory_allocated())
    return time.perf_counter() - start


def median_ratio(timings: Timings, name: str) -> float:
    """The median over rounds of `name`'s time over bare's in the same round."""
    pairs = zip(timings.seconds[name], timings.seconds["bare"], strict=True)
    return statistics.median(t / b for t, b in pairs)


def run_case(
    case: Case,
    folder: Path,
    store: ModelStore,
    registry: Registry,
    safety: SafetyStepTimer,
    rounds: int,
) -> Timings:
    """Time `case` bare and through the engine: each path once to warm up (loading the
    model; the heartbeat runs), `rounds` interleaved rounds with the order alternating (no
    heartbeat: it would slow the engine thread it measures), then engine jobs again under
    the heartbeat."""
    loop = asyncio.get_event_loop()
    bare = BarePath(folder, choose_device_policy(), case.params)
    engine = EnginePath(registry, store, loop)
    paths = {
        "bare": lambda: bare.run(case.params, case.size),
        "engine": lambda: engine.run(case.params),
    }
    try:
        expected = paths["bare"]()
        with Heartbeat() as loading:
            made = engine.run(case.params)
        diff = int(np.abs(made.astype(int) - expected.astype(int)).max())
        print(f"  {case.label}: largest pixel difference engine vs bare: {diff}")
        seconds, peaks = {"bare": [], "engine": [], "safety step": []}, {}
        for r in range(rounds):
            for name in ("bare", "engine") if r % 2 == 0 else ("engine", "bare"):
                safety.take()
                seconds[name].append(timed(paths[name], peaks, name))
                if name == "engine":
                    seconds["safety step"].append(safety.take())
        with Heartbeat() as running:
            for _ in range(rounds):
                engine.run(case.params)
    finally:
        engine.close()
    return Timings(seconds, peaks, running.longest_ms, loading.longest_ms)


def plumbing_ratio(timings: Timings) -> float:
    """Like median_ratio for the engine, without the time of its safety step."""
    seconds = timings.seconds
    rounds = zip(seconds["engine"], seconds["safety step"], seconds["bare"], strict=True)
    return statistics.median((engine - safety) / bare for engine, safety, bare in rounds)


# ---- the models --------------------------------------------------------------------------


def demo_case(store: ModelStore) -> tuple[Case, Path]:
    """The built-in model at its own defaults and native size, as the window first offers it."""
    entry = store.find(DEMO)
    defaults = model_defaults(entry.settings.defaults)
    params = Txt2ImgParams(prompt=PROMPT, seed=SEED, model=DEMO, **defaults)
    side = native_size(entry)
    return Case("built-in model", params, (side, side)), entry.path


def tiny_sdxl_case(home: Path) -> tuple[Case, Path]:
    from tests.fixtures.tiny_models import save_tiny_diffusers

    folder = save_tiny_diffusers("sdxl", models_dir("checkpoints", home) / "tiny-sdxl")
    params = Txt2ImgParams(prompt=PROMPT, seed=SEED, model="tiny-sdxl", steps=20)
    return Case("tiny SDXL", replace(params, width=64, height=64), (64, 64)), folder


def random_pipeline(config_folder: Path, policy: DevicePolicy) -> Any:
    """A pipeline of the architecture in `config_folder` (a diffusers folder without
    weights, like resources/configs/sdxl) with random weights, on the policy's device."""
    import diffusers
    import transformers

    index = json.loads((config_folder / "model_index.json").read_text())
    parts: dict[str, Any] = {}
    with torch.device(policy.device):
        for name, spec in index.items():
            if name.startswith("_") or not isinstance(spec, list):
                continue
            library, cls_name = spec
            if name in ("safety_checker", "feature_extractor") or library is None:
                parts[name] = None
                continue
            cls = getattr(diffusers if library == "diffusers" else transformers, cls_name)
            folder = config_folder / name
            if name.startswith("tokenizer") or name == "scheduler":
                parts[name] = cls.from_pretrained(folder, local_files_only=True)
            elif library == "diffusers":
                parts[name] = cls.from_config(cls.load_config(folder))
            else:
                parts[name] = cls(cls.config_class.from_pretrained(folder, local_files_only=True))
    extra = {"requires_safety_checker": False} if "safety_checker" in parts else {}
    return getattr(diffusers, index["_class_name"])(**parts, **extra).to(policy.torch_dtype())


def full_size_cases(home: Path) -> list[tuple[Case, Path]]:
    """Full-size SD 1.5 at 512x512 and SDXL at 1024x1024, random weights, saved as model
    folders in `home` (as a downloaded diffusers model would be)."""
    policy = choose_device_policy()
    cases = []
    for family, side in (("sd15", 512), ("sdxl", 1024)):
        name = f"random-{family}"
        folder = models_dir("checkpoints", home) / name
        pipe = random_pipeline(RESOURCES / "configs" / family, policy)
        pipe.save_pretrained(folder, safe_serialization=True)
        del pipe
        torch.cuda.empty_cache()
        params = Txt2ImgParams(prompt=PROMPT, seed=SEED, model=name, width=side, height=side)
        cases.append((Case(f"{family} {side}x{side}", params, (side, side)), folder))
    return cases


# ---- launch ------------------------------------------------------------------------------


def probe_launch(
    home: Path, milestones: tuple[str, ...], probe: str = "1"
) -> dict[str, tuple[float, str]]:
    """Start `atelier` (offscreen) with ATELIER_STARTUP_PROBE=`probe` and let it quit as the
    probe asks: for each of the `milestones` (app.ui.launch's probe lines), the seconds
    from starting the process to its line, and what the line said after it."""
    env = {**os.environ, STARTUP_PROBE: probe, "ATELIER_HOME": str(home)}
    code = "import sys; from app.cli import main; sys.exit(main([]))"
    reached: dict[str, tuple[float, str]] = {}
    with tempfile.TemporaryFile("w+") as errors:
        start = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        for line in child.stdout:
            for milestone in milestones:
                if line.startswith(milestone):
                    detail = line[len(milestone) :].strip().removeprefix(": ")
                    reached[milestone] = (time.perf_counter() - start, detail)
        if child.wait(60) != 0 or len(reached) != len(milestones):
            errors.seek(0)
            tail = errors.read()[-3000:]
            raise RuntimeError(f"atelier did not start and quit as the probe asks:\n{tail}")
    return reached


def launch_times(home: Path) -> tuple[float, float]:
    """Seconds from starting `atelier` (offscreen) to the window's first paint and to a
    filled model picker, the median of LAUNCHES launches."""
    launches = [probe_launch(home, (WINDOW_SHOWN, MODELS_SHOWN)) for _ in range(LAUNCHES)]
    shown = statistics.median(launch[WINDOW_SHOWN][0] for launch in launches)
    ready = statistics.median(launch[MODELS_SHOWN][0] for launch in launches)
    return shown, ready


# ---- the report --------------------------------------------------------------------------


def report(case: Case, timings: Timings) -> None:
    steps = case.params.steps
    for name in ("bare", "engine"):
        median = statistics.median(timings.seconds[name])
        line = f"  {case.label:<16} {name:<7} {median:7.3f} s {steps / median:8.2f} it/s"
        if name == "engine":
            safety = statistics.median(timings.seconds["safety step"])
            line += f"  ratio {median_ratio(timings, name):.3f}  (safety step {safety:.3f} s;"
            line += f" without it {plumbing_ratio(timings):.3f})"
        if name in timings.peak_bytes:
            line += f"  peak {timings.peak_bytes[name] / 2**30:.2f} GiB"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--full-size", action="store_true", help="full-size SD 1.5 and SDXL")
    args = parser.parse_args()
    if args.full_size and not torch.cuda.is_available():
        sys.exit("--full-size needs a CUDA GPU (full-size SD 1.5 and SDXL); none is available")
    if not torch.cuda.is_available():
        torch.set_num_threads(1)  # a shared CPU: one thread keeps both paths steady
    app = QApplication.instance() or QApplication(["atelier-bench"])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    home = Path(tempfile.mkdtemp(prefix="atelier-bench-"))
    os.environ["ATELIER_HOME"] = str(home)
    store = ModelStore(home=home, extra_folders=[], hf_cache=home / "no-hf-cache")
    registry = discover()
    if args.full_size:
        cases, rounds = full_size_cases(home), min(args.rounds, 3)
    else:
        cases, rounds = [demo_case(store), tiny_sdxl_case(home)], args.rounds
    store.scan()
    print(f"engine overhead, {rounds} rounds, device {choose_device_policy().device}:")
    ratios, plumbing, stall, loading = [], [], 0.0, 0.0
    safety = SafetyStepTimer()
    for case, folder in cases:
        timings = run_case(case, folder, store, registry, safety, rounds)
        report(case, timings)
        ratios.append(median_ratio(timings, "engine"))
        plumbing.append(plumbing_ratio(timings))
        stall, loading = max(stall, timings.stall_ms), max(loading, timings.loading_stall_ms)
    print(f"  without the safety step: plumbing_ratio={max(plumbing):.3f}")
    print(f"  GUI stall while the engine loads a model: {loading:.1f} ms")
    shown, ready = launch_times(home)
    print(f"  launch: window shown after {shown:.2f} s, model picker ready after {ready:.2f} s")
    print(f"bench engine_overhead: ratio={max(ratios):.3f} max_stall_ms={stall:.1f}")


if __name__ == "__main__":
    main()
