"""From the document to one engine request, and from its outputs to what goes on the canvas.

Each task that the Generate panel offers names a Qt-free builder as its `request`
("module:function"), called as

    request(task, values, doc, size) -> Request     # or raises RequestError

with the form's values, the document and the (width, height) the panel's size fields ask
for; a task that can run its recipe again on the layer it made names `regenerate`, called as

    regenerate(task, values, doc, layer) -> Request

and one that can say what its mode works on (the canvas, the selection...) names `region`:

    region(task, values, doc) -> str

The pictures sent are the visible composite (what the designer sees), as the engine's
"values only" rule asks; nothing here touches Qt.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.model.candidates import Candidate
from app.model.clip_candidates import ClipCandidate
from app.model.document import Document
from app.model.layers import RasterLayer
from app.model.tiles import Rect
from engine.protocol import ImageData
from engine.recipes import recipe_problem
from plugins.api import Task, resolve

# Where one output goes: a candidate for the canvas, a clip for the timeline (video and
# sound: app.model.clip_candidates.clip_placement), or None when it has no place (model
# files go to their exporter).
Placement = Callable[[Any], Candidate | ClipCandidate | None]


class RequestError(ValueError):
    """The canvas is not ready for this task; the message says what to do."""


@dataclass
class Request:
    """One job to run and where each of its outputs goes."""

    task: Task
    params: Any
    preview: Rect  # where step previews show, in canvas pixels (now)
    place: Placement

    @property
    def task_id(self) -> str:
        return self.task.id

    def candidates(self, outputs: Iterable[Any]) -> list[Candidate | ClipCandidate]:
        """The outputs that have a place (the canvas, the timeline), titled after the task
        that made them."""
        placed = (self.place(output) for output in outputs)
        return [dataclasses.replace(c, title=self.task.title) for c in placed if c is not None]


def images(make: Callable[[ImageData], Candidate]) -> Placement:
    """A placement that puts each image output where `make` says, and nothing else."""
    return lambda output: make(output) if isinstance(output, ImageData) else None


def make_params(task: Task, values: Mapping[str, Any], **pixels: Any) -> Any:
    """The task's params from the form values (foreign keys dropped) plus pixel fields."""
    names = {f.name for f in dataclasses.fields(task.params_type)}
    known = {k: v for k, v in values.items() if k in names}
    return task.params_type(**known, **pixels)


def generate_tasks(tasks: Mapping[str, Task]) -> list[Task]:
    """The tasks the Generate panel offers, one mode each: those with a request builder,
    by their `order` (registration order among equals)."""
    return sorted((task for task in tasks.values() if task.request), key=lambda t: t.order)


def build_request(
    task: Task, values: Mapping[str, Any], doc: Document, size: tuple[int, int]
) -> Request:
    """The job `task`'s mode runs on `doc`; raises RequestError when the canvas is not ready."""
    if not task.request:
        raise RequestError(f"{task.title} cannot be run from the Generate panel.")
    return resolve(task.request)(task, values, doc, size)


def describe_region(task: Task, values: Mapping[str, Any], doc: Document) -> str:
    """The line saying what `task`'s mode would work on in `doc` now (its `region`
    function); empty for a task that does not say."""
    return resolve(task.region)(task, values, doc) if task.region else ""


def regenerate_request(
    layer: RasterLayer, doc: Document, tasks: Mapping[str, Task], values: Mapping[str, Any]
) -> Request:
    """Run the layer's recipe again (with `values`, e.g. a new seed) on the canvas as it is
    under the layer now, through its task's `regenerate` builder."""
    recipe = layer.recipe or {}
    task = tasks.get(str(recipe.get("task", "")))
    if task is None:
        raise RequestError(f"{recipe_problem(recipe, tasks)} It cannot be regenerated.")
    if not task.regenerate:
        raise RequestError(f"Layers made by {task.title} cannot be regenerated.")
    if layer.pixels.bbox() is None:
        raise RequestError("The layer is empty; there is nothing to regenerate.")
    return resolve(task.regenerate)(task, values, doc, layer)
