"""The engine stamps every output's recipe; reusing a recipe says so when the task that made
it is unknown or newer."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from engine.model_store import ModelStore
from engine.protocol import ImageData, JobFinished, TaskResult
from engine.recipes import RESOLVED, recipe_problem
from engine.worker import InlineEngine
from plugins.api import Task, param
from plugins.diffusion import TXT2IMG
from plugins.registry import discover

SAMPLE = Path(__file__).parent / "plugin_sample"

TASKS = {TXT2IMG.id: TXT2IMG}


def test_a_recipe_of_an_installed_task_at_its_version_or_older_has_no_problem():
    assert recipe_problem({"task": TXT2IMG.id, "version": TXT2IMG.version}, TASKS) is None
    assert recipe_problem({"task": TXT2IMG.id, "version": 0}, TASKS) is None


def test_an_unknown_task_a_newer_version_and_a_missing_version_are_each_named():
    assert "not installed" in recipe_problem({"task": "music.gen", "version": 1}, TASKS)
    newer = recipe_problem({"task": TXT2IMG.id, "version": TXT2IMG.version + 1}, TASKS)
    assert "newer version of Text to image" in newer
    assert "does not say which version" in recipe_problem({"task": TXT2IMG.id}, TASKS)
    assert "does not say" in recipe_problem({"task": TXT2IMG.id, "version": True}, TASKS)


# ---- the engine stamps every output's recipe


@pytest.fixture
def sample_tasks(monkeypatch):
    """The sample plugin's tasks (tests/plugin_sample), as if it were pip-installed."""
    monkeypatch.syspath_prepend(str(SAMPLE))
    return discover().tasks


def test_a_task_that_uses_no_model_still_gets_a_recipe(sample_tasks, home):
    engine = InlineEngine(sample_tasks)
    params = sample_tasks["sample.stripes"].params_type(stripes=3, colour="blue")
    event = engine.submit("sample.stripes", params).future.result()
    assert isinstance(event, JobFinished), event
    made = event.outputs[0].meta["recipe"]
    assert made == {
        "task": "sample.stripes",
        "version": 1,
        "params": {"stripes": 3, "colour": "blue", "width": 64, "height": 64},
    }
    assert recipe_problem(made, sample_tasks) is None
    assert "provenance" in event.outputs[0].meta  # stamped before the safety step marks it


@dataclass(frozen=True)
class MadeParams:
    prompt: str = param("", "Prompt")
    seed: int = param(-1, "Seed")
    count: int = param(2, "Count")
    folder: str = ""  # no Param spec: not part of the recipe
    own_recipe: bool = False


def run_made(params: MadeParams, ctx) -> TaskResult:
    """Uses every model of the test store, reports a seed per output; may write a recipe of
    its own, which the engine replaces."""
    for entry in ctx.store.entries:
        ctx.uses(entry)  # as ctx.model(entry) does, without loading it
    outputs = []
    for index in range(params.count):
        meta = {RESOLVED: {"seed": 100 + index, "count": 1}, "kept": index}
        if params.own_recipe:
            meta["recipe"] = {"task": "forged", "version": 99}
        outputs.append(ImageData(np.full((8, 8, 4), index, np.uint8), meta))
    return TaskResult(tuple(outputs))


MADE = Task("test.made", 2, "Made", MadeParams, "tests.test_recipes:run_made")


def test_the_recipe_holds_what_the_task_resolved_and_every_model_with_its_hash(
    atelier_home,
):
    store = ModelStore(home=atelier_home, extra_folders=[])
    engine = InlineEngine({MADE.id: MADE}, store=store)
    event = engine.submit(MADE.id, MadeParams(prompt="a kite", own_recipe=True)).future.result()
    assert isinstance(event, JobFinished), event
    first, second = (output.meta for output in event.outputs)
    assert RESOLVED not in first and first["kept"] == 0  # the task's other meta is kept
    assert first["recipe"]["task"] == MADE.id and first["recipe"]["version"] == 2
    assert first["recipe"]["params"] == {"prompt": "a kite", "seed": 100, "count": 1}
    assert second["recipe"]["params"]["seed"] == 101
    models = first["recipe"]["models"]
    assert sorted(m["name"] for m in models) == sorted(e.name for e in store.entries)
    assert first["recipe"]["model"] == models[0]
    tiny = next(m for m in models if m["name"] == "tiny-sd15-single")
    assert tiny == {
        "name": "tiny-sd15-single",
        "family": "sd15",
        "hash": store.find("tiny-sd15-single").short_hash(),
    }


def run_plain(params, ctx) -> TaskResult:
    return TaskResult((ImageData(np.zeros((8, 8, 4), np.uint8), {RESOLVED: {"seed": 1}}),))


def test_params_that_are_not_a_dataclass_give_a_recipe_of_what_was_resolved(home):
    plain = Task("test.plain", 1, "Plain", dict, "tests.test_recipes:run_plain")
    event = InlineEngine({plain.id: plain}).submit(plain.id, {"any": "thing"}).future.result()
    assert isinstance(event, JobFinished), event
    assert event.outputs[0].meta["recipe"]["params"] == {"seed": 1}
