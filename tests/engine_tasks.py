"""Small torch-free tasks that exercise the engine's queue, progress, cancel and failures."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from engine.context import JobContext
from engine.protocol import ImageData, JobError, TaskResult
from plugins.api import Task

RELEASE = threading.Event()  # a "gate" step waits for this, so tests control timing
# "stuck" steps wait for this and never look at cancel, as one long torch call does
UNSTICK = threading.Event()


@dataclass(frozen=True)
class StepParams:
    steps: int = 3
    delay: float = 0.0
    gate: bool = False
    stuck: bool = False
    fail: str = ""  # "", "invalid", "missing", "crash", "oom"
    value: int = 0


def run_steps(params: StepParams, ctx: JobContext) -> TaskResult:
    for step in range(params.steps):
        if params.gate:
            while not RELEASE.wait(0.01):
                ctx.check_cancelled()
        if params.stuck:
            UNSTICK.wait(60)
        time.sleep(params.delay)
        if not params.stuck:
            ctx.check_cancelled()
        ctx.progress((step + 1) / params.steps, f"step {step + 1}")
    _maybe_fail(params.fail)
    pixels = np.full((8, 8, 4), params.value % 256, np.uint8)
    return TaskResult((ImageData(pixels, {"value": params.value}),))


def _maybe_fail(kind: str) -> None:
    if kind == "invalid":
        raise ValueError("bad parameter")
    if kind == "missing":
        raise JobError("missing_model", "no such model")
    if kind == "crash":
        raise KeyError("boom")
    if kind == "oom":
        raise RuntimeError("CUDA out of memory. Tried to allocate 2 GiB")


STEPS = Task("test.steps", 1, "Test steps", StepParams, "tests.engine_tasks:run_steps")
TASKS = {STEPS.id: STEPS}
