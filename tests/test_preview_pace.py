"""Previews are checked at the pace they are shown, not per step (engine.preview_pace): a
preview that would not be shown is neither made nor checked, every one that is shown was
checked, and every final image is checked; where nothing shows previews (the command line)
none is made or checked."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from engine import preview_pace
from engine.context import JobContext
from engine.model_store import ModelStore
from engine.preview_pace import PREVIEW_INTERVAL_S, PreviewPace
from engine.protocol import ImageData, JobFinished, JobProgress, TaskResult
from engine.step_reporter import StepReporter
from engine.worker import Engine, InlineEngine
from plugins.api import Task
from plugins.provenance import output_check

FLAGGED = {"FEMALE_BREAST_EXPOSED": 0.9}  # what the stand-in for NudeNet finds everywhere
NOW = [1000.0]  # the engine's clock (time.monotonic in engine.preview_pace), set by the task


@dataclass(frozen=True)
class StepsParams:
    steps: int = 12
    step_s: float = PREVIEW_INTERVAL_S * 0.4  # each step takes this long


def picture(step: int) -> np.ndarray:
    """A distinct striped picture per step (a check's blur evens the stripes out)."""
    pixels = np.zeros((32, 32, 4), np.uint8)
    pixels[:, ::2, :3] = 40 + step
    pixels[..., 3] = 255
    return pixels


def run_with_previews(params: StepsParams, ctx) -> TaskResult:
    """A task that sends a preview with every step, as a careless runner may."""
    for step in range(params.steps):
        NOW[0] += params.step_s
        ctx.progress(
            (step + 1) / params.steps, f"step {step + 1}", ImageData(picture(step), {"step": step})
        )
    return TaskResult((ImageData(picture(99)),))


PREVIEWING = Task("test.previews", 1, "Previews", StepsParams, f"{__name__}:run_with_previews")


@pytest.fixture
def checks(monkeypatch, home):
    """The pictures the output check looked at (it flags each one, so what it checked is
    blurred), on the engine's clock."""
    seen: list[np.ndarray] = []

    def nudenet_scores(pixels: np.ndarray) -> dict[str, float]:
        seen.append(np.array(pixels))
        return FLAGGED

    monkeypatch.setattr(output_check, "nudenet_scores", nudenet_scores)
    monkeypatch.setattr(preview_pace.time, "monotonic", lambda: NOW[0])
    return seen


def run_job(engine, params: StepsParams = StepsParams()) -> tuple[list[ImageData], JobFinished]:
    """The previews a job's listeners got, and its end."""
    events: list = []
    engine.subscribe(events.append)
    try:
        event = engine.submit(PREVIEWING.id, params).future.result(30)
    finally:
        engine.shutdown()
    assert isinstance(event, JobFinished), event
    return [e.preview for e in events if isinstance(e, JobProgress) and e.preview], event


@pytest.mark.parametrize("kind", [Engine, InlineEngine])
def test_only_previews_that_are_shown_are_checked_and_each_shown_one_was(checks, home, kind):
    engine = kind({PREVIEWING.id: PREVIEWING}, store=ModelStore(home=home))
    shown, finished = run_job(engine)
    steps = StepsParams().steps
    assert 1 < len(shown) < steps  # the pace, not every step
    assert len(checks) == len(shown) + 1  # the previews shown, and the final image
    for preview in shown:  # each one shown was checked: the flag got it blurred
        step = preview.meta["step"]
        assert any(np.array_equal(seen, picture(step)) for seen in checks)
        assert not np.array_equal(preview.pixels, picture(step))
    assert np.array_equal(checks[-1], picture(99))  # the final image, always
    safety = finished.outputs[0].meta["provenance"]["safety"]["output"]
    assert safety["checked"] and safety["action"] == "blurred"


def test_where_nothing_shows_previews_none_is_checked_but_the_result_is(checks, home):
    engine = InlineEngine(
        {PREVIEWING.id: PREVIEWING}, store=ModelStore(home=home), preview_interval_s=None
    )
    shown, finished = run_job(engine)
    assert shown == []
    assert len(checks) == 1 and np.array_equal(checks[0], picture(99))
    assert finished.outputs[0].meta["provenance"]["safety"]["output"]["checked"]


def test_a_step_reporter_makes_no_preview_that_would_not_be_shown(monkeypatch):
    monkeypatch.setattr(preview_pace.time, "monotonic", lambda: NOW[0])
    events: list = []
    made: list[str] = []

    def preview(latents: str) -> ImageData:
        made.append(latents)
        return ImageData(picture(len(made)))

    ctx = JobContext(1, events.append, None, None, lambda: None, preview_pace=PreviewPace())
    reporter = StepReporter(ctx, 10, preview)
    for step in range(10):
        NOW[0] += PREVIEW_INTERVAL_S * 0.4
        reporter.on_step_end(None, step, 0, {"latents": f"latents {step}"})
    shown = [e.preview for e in events if e.preview is not None]
    assert 1 < len(made) < 10 and len(made) == len(shown)
    assert len(events) == 10  # progress still comes with every step


def test_with_no_preview_pace_a_step_reporter_makes_none():
    events: list = []
    ctx = JobContext(1, events.append, None, None, lambda: None, preview_pace=PreviewPace(None))
    reporter = StepReporter(ctx, 3, lambda latents: pytest.fail("a preview was made"))
    for step in range(3):
        reporter.on_step_end(None, step, 0, {"latents": "latents"})
    assert [e.preview for e in events] == [None, None, None]
