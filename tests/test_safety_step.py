"""The engine runs the safety and provenance step itself, on every job of every engine: no
plugin hook can remove, displace or undo it, and any failure of it fails the job."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import pytest

from engine.model_store import ModelStore
from engine.protocol import ImageData, JobFailed, JobFinished, JobProgress, TaskResult
from engine.worker import Engine, InlineEngine
from plugins.api import JobHook, Plugin, Task
from plugins.provenance import output_check, watermark
from plugins.provenance import plugin as provenance_plugin
from plugins.registry import Registry

SIZE = 128


@dataclass(frozen=True)
class PictureParams:
    prompt: str = "a garden"
    previews: int = 0


def picture() -> np.ndarray:
    """A photo-like RGBA picture, enough texture for the watermark."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    rgb = np.stack([120 + 80 * np.sin(6 * x), 100 + 90 * y, 140 - 60 * x * y], -1)
    rgb = (rgb + rng.normal(0, 6, rgb.shape)).clip(0, 255).astype(np.uint8)
    return np.dstack([rgb, np.full((SIZE, SIZE), 255, np.uint8)])


def run_picture(params: PictureParams, ctx) -> TaskResult:
    for step in range(params.previews):
        ctx.progress((step + 1) / params.previews, "painting", ImageData(picture()))
    return TaskResult((ImageData(picture()),))


PICTURE = Task("test.picture", 1, "Picture", PictureParams, "tests.test_safety_step:run_picture")


# hooks of hostile or careless plugins (module:function names point here)
def do_nothing(*args):
    return None


def keep_outputs(task_id, params, outputs, ctx):
    return outputs, ()


def strip_provenance(task_id, params, outputs, ctx):
    stripped = []
    for output in outputs:
        meta = {k: v for k, v in output.meta.items() if k != "provenance"}
        stripped.append(ImageData(output.pixels, meta))
    return stripped, ()


def raw_preview(task_id, params, image):
    return ImageData(picture(), {"raw": True})


HERE = "tests.test_safety_step"
IMPOSTOR = JobHook(  # claims the id the provenance hook had, and does nothing
    id="provenance.safety_and_marks",
    before=f"{HERE}:do_nothing",
    after=f"{HERE}:keep_outputs",
    preview=f"{HERE}:raw_preview",
)
STRIPPER = JobHook(id="careless.strip", after=f"{HERE}:strip_provenance")


def registry(hooks: tuple[JobHook, ...], hostile_first: bool) -> Registry:
    """A plugin with `hooks` and the provenance plugin, in either order."""
    hostile = Plugin("hostile", "1", "Hostile", tasks=(PICTURE,), hooks=hooks)
    reg = Registry()
    for plugin in (hostile, provenance_plugin) if hostile_first else (provenance_plugin, hostile):
        reg.add(plugin)
    return reg


@pytest.fixture(params=[(InlineEngine, True), (Engine, True), (InlineEngine, False)])
def make_engine(request, home):
    """Engines of both kinds, over registries whose hostile plugin comes first or last."""
    engines = []
    kind, hostile_first = request.param

    def make(*hooks: JobHook):
        reg = registry(hooks, hostile_first)
        eng = kind.from_registry(reg, store=ModelStore(home=home))
        eng.events = []
        eng.subscribe(eng.events.append)
        engines.append(eng)
        return eng

    yield make
    for eng in engines:
        eng.shutdown()


def result(engine, **changes):
    return engine.submit(PICTURE.id, PictureParams(**changes)).future.result(30)


def assert_marked(output: ImageData) -> None:
    record = output.meta["provenance"]
    found = watermark.detect_image(np.ascontiguousarray(output.pixels[..., :3]))
    assert found.present and found.payload == record["watermark"]["payload"]
    assert record["safety"]["output"]["checked"]


def test_a_hook_with_the_provenance_id_registered_first_displaces_nothing(make_engine):
    engine = make_engine(IMPOSTOR)
    event = result(engine)
    assert isinstance(event, JobFinished), event
    assert_marked(event.outputs[0])
    blocked = result(engine, prompt="gore everywhere")
    assert isinstance(blocked, JobFailed) and blocked.kind == "blocked_by_safety"


def test_a_hook_that_strips_the_provenance_runs_before_the_step_not_after(make_engine):
    event = result(make_engine(STRIPPER))
    assert isinstance(event, JobFinished), event
    assert_marked(event.outputs[0])


def test_previews_pass_the_output_check_after_every_plugin_hook(make_engine, monkeypatch):
    monkeypatch.setattr(
        output_check, "nudenet_scores", lambda pixels: {"FEMALE_BREAST_EXPOSED": 0.9}
    )
    engine = make_engine(IMPOSTOR)
    result(engine, previews=2)
    previews = [e.preview for e in engine.events if isinstance(e, JobProgress) and e.preview]
    assert previews  # the second came too soon after the first to be shown (preview_pace)
    for shown in previews:  # the impostor's raw preview was obscured all the same
        assert shown.meta == {"raw": True}
        assert not np.array_equal(shown.pixels, picture())


@pytest.mark.parametrize("previews", [0, 1])
def test_the_step_failing_to_import_fails_the_job(make_engine, monkeypatch, previews):
    engine = make_engine(IMPOSTOR)
    monkeypatch.setitem(sys.modules, "plugins.provenance.marking", None)
    event = result(engine, previews=previews)
    assert isinstance(event, JobFailed) and event.kind == "internal"
    assert "safety and provenance step failed" in event.message
    assert "import of plugins.provenance.marking" in event.message


def test_a_failing_check_of_the_outputs_fails_the_job(make_engine, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the marker broke")

    monkeypatch.setattr("plugins.provenance.marking.mark_output", broken)
    event = result(make_engine())
    assert isinstance(event, JobFailed)
    assert "safety and provenance step failed" in event.message
    assert "the marker broke" in event.message


def test_a_failing_preview_check_fails_the_job(make_engine, monkeypatch):
    def broken(pixels):
        raise ValueError("NudeNet broke")

    monkeypatch.setattr(output_check, "nudenet_scores", broken)
    engine = make_engine()
    event = result(engine, previews=1)
    assert isinstance(event, JobFailed) and "NudeNet broke" in event.message
    assert not any(isinstance(e, JobProgress) for e in engine.events)  # nothing unchecked
