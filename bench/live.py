"""Benchmark: live painting's scheduler against running every stroke's job.

The built-in model (resources/models/atelier-demo, 128x128) on the engine thread, as the
window runs it; a canvas gets STROKES brush strokes, STROKE_GAP_S apart (a designer
scribbling fast). Measured side by side in one run, the two ways alternating round by round:
- live: each stroke goes through app.model.live_jobs.LiveScheduler (the window's Live mode
  without its widgets): the request (app.model.live_settings, the Generate panel's text to
  image giving way to image to image on the painted canvas, seed fixed) is submitted after
  the quiet time, superseded jobs are cancelled, only the newest job's events pass;
- every stroke: the same request submitted at each stroke's end, every job run in turn.
jobs_run: the live jobs the engine actually started (JobStarted) in a round, the most of any
round. Latency: from the last stroke's end to the updated live picture (the newest job's
result made into its candidate, what the Live view shows); latency_ratio: every stroke's
median latency over live's.

Run: python bench/live.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import queue
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from app.model.brush import Brush, paint_stroke  # noqa: E402
from app.model.document import Document  # noqa: E402
from app.model.history import History  # noqa: E402
from app.model.layers import RasterLayer  # noqa: E402
from app.model.live_jobs import LiveScheduler  # noqa: E402
from app.model.live_settings import live_request, live_values  # noqa: E402
from app.model.requests import Request  # noqa: E402
from engine.model_store import ModelStore  # noqa: E402
from engine.protocol import TERMINAL_EVENTS, Event, JobFinished, JobStarted  # noqa: E402
from engine.worker import Engine  # noqa: E402
from plugins.diffusion import TXT2IMG  # noqa: E402
from plugins.diffusion.params import model_defaults  # noqa: E402
from plugins.registry import discover  # noqa: E402

DEMO = "atelier-demo"
SIZE = (128, 128)
STROKES = 20
STROKE_GAP_S = 0.05
ROUNDS = 3
SEED = 7
PROMPT = "a large red circle at the middle on a blue background"
WAIT_S = 120.0


class Canvas:
    """A white canvas with a layer to paint on, and the request its live job runs."""

    def __init__(self, tasks: dict, store: ModelStore) -> None:
        white = np.full((SIZE[1], SIZE[0], 4), 255, np.uint8)
        self.paint = RasterLayer.blank(SIZE, name="Paint")
        self.doc = Document(SIZE, [RasterLayer.from_array(white, name="Background"), self.paint])
        self.history = History(self.doc)
        self.tasks = tasks
        entry = store.find(DEMO)
        own = model_defaults(entry.settings.defaults)
        form = {"prompt": PROMPT, "model": DEMO, **own}
        self.values, self.settings = live_values(form, SEED, own)

    def stroke(self, index: int) -> None:
        """One red stroke, a little lower each time."""
        y = 20 + index * 4
        points = [(20 + x, y + (x % 9), 1.0) for x in range(0, 90, 3)]
        command, _ = paint_stroke(self.paint, Brush(size=10, color=(220, 30, 30)), points)
        self.history.push(command)

    def request(self) -> Request:
        return live_request(self.tasks, TXT2IMG, self.values, self.doc, SIZE)


class Events:
    """The engine's events, read on this thread after each submit (as the window does)."""

    def __init__(self, engine: Engine) -> None:
        self.queue: queue.Queue[Event] = queue.Queue()
        engine.subscribe(self.queue.put)

    def next(self, timeout: float) -> Event | None:
        try:
            return self.queue.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return None


def live_round(engine: Engine, events: Events, canvas: Canvas) -> tuple[int, float]:
    """Strokes through the scheduler: (jobs the engine started, seconds from the last
    stroke to the newest result shown)."""
    scheduler = LiveScheduler(engine)
    started: set[int] = set()
    mine: set[int] = set()

    def run_due() -> None:
        job = scheduler.run_due(time.monotonic(), canvas.request)
        if job is not None:
            mine.add(job.id)

    def read_until(deadline: float, done: Callable[[Event], bool]) -> bool:
        """Read events, submitting the newest job when due, until `done(event)` of an
        accepted event (True) or the deadline (False)."""
        while (left := deadline - time.monotonic()) > 0:
            wait = scheduler.wait_s(time.monotonic())
            event = events.next(left if wait is None else min(left, wait))
            run_due()
            if event is None:
                continue
            if isinstance(event, JobStarted) and event.job_id in mine:
                started.add(event.job_id)
            if scheduler.accept(event) is not None and done(event):
                return True
        return False

    for index in range(STROKES):
        canvas.stroke(index)
        scheduler.changed(time.monotonic())
        read_until(time.monotonic() + STROKE_GAP_S, lambda e: False)
    last = time.monotonic()
    newest = canvas.request()

    def newest_shown(event: Event) -> bool:
        job = scheduler.shown
        if not isinstance(event, JobFinished) or job is None:
            return False
        job.request.candidates(event.outputs)  # what the Live view shows
        return np.array_equal(job.request.params.image, newest.params.image)

    if not read_until(last + WAIT_S, newest_shown):
        raise RuntimeError("the live picture of the last stroke never came")
    return len(started), time.monotonic() - last


def every_stroke_round(engine: Engine, events: Events, canvas: Canvas) -> tuple[int, float]:
    """Each stroke's job submitted at its end and run: (jobs, seconds from the last stroke
    to the last job's result)."""
    submitted: list[Request] = []
    ids: list[int] = []
    for index in range(STROKES):
        canvas.stroke(index)
        request = canvas.request()
        submitted.append(request)
        ids.append(engine.submit(request.task_id, request.params).id)
        time.sleep(STROKE_GAP_S)
    last = time.monotonic() - STROKE_GAP_S
    while (event := events.next(WAIT_S)) is not None:
        if isinstance(event, TERMINAL_EVENTS) and event.job_id == ids[-1]:
            submitted[-1].candidates(event.outputs)
            return len(ids), time.monotonic() - last
    raise RuntimeError("the last stroke's job never finished")


def drain(engine: Engine, events: Events) -> None:
    """Wait until the engine is idle and forget its events."""
    while engine.busy:
        time.sleep(0.05)
    while events.next(0.05) is not None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    registry = discover()
    store = ModelStore()
    engine = Engine.from_registry(registry, store=store)
    events = Events(engine)
    warm = Canvas(registry.tasks, store)
    warm.stroke(0)
    request = warm.request()
    engine.submit(request.task_id, request.params).future.result(WAIT_S)  # loads the model
    drain(engine, events)
    live, every = [], []
    for round_ in range(args.rounds):
        ways = [(live_round, live), (every_stroke_round, every)]
        for run, results in ways if round_ % 2 == 0 else ways[::-1]:
            results.append(run(engine, events, Canvas(registry.tasks, store)))
            drain(engine, events)
    engine.shutdown()

    live_s = statistics.median(seconds for _, seconds in live)
    every_s = statistics.median(seconds for _, seconds in every)
    jobs_run = max(jobs for jobs, _ in live)
    print(
        f"live painting: built-in model, {SIZE[0]}x{SIZE[1]}, {STROKES} strokes "
        f"{STROKE_GAP_S * 1000:.0f} ms apart, {warm.settings}, {args.rounds} rounds"
    )
    print(f"  {'':<28} {'jobs run':>9} {'latency':>10}")
    print(f"  {'live (scheduler)':<28} {jobs_run:>9} {live_s:>8.2f} s")
    print(f"  {'every stroke':<28} {STROKES:>9} {every_s:>8.2f} s")
    print(f"bench live: jobs_run={jobs_run} latency_ratio={every_s / live_s:.2f}")


if __name__ == "__main__":
    main()
