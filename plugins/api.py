"""What a plugin declares: tasks with typed parameters, GUI panels, job hooks, and how to
find them.

Importable without torch or Qt: a task names its run function as "module:function" and the
engine imports it on its own thread; a panel names its widget factory the same way, and so
does a job hook its functions.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Param:
    """How one params field is shown: label, help, range, choices, CLI flag."""

    label: str
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()
    multiline: bool = False
    cli: str = ""  # the CLI flag, e.g. "--cfg"; default: --field-name
    advanced: bool = False


def param(default: Any, label: str, **spec: Any) -> Any:
    """A dataclass field carrying a Param spec in its metadata."""
    return field(default=default, metadata={"param": Param(label=label, **spec)})


def param_specs(params_type: type) -> list[tuple[dataclasses.Field, Param]]:
    """The fields of a params dataclass that carry a Param spec, in declaration order."""
    return [
        (f, f.metadata["param"]) for f in dataclasses.fields(params_type) if "param" in f.metadata
    ]


def resolve(reference: str) -> Callable[..., Any]:
    """Import "package.module:attribute" and return the attribute."""
    module_name, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


@dataclass(frozen=True)
class Task:
    """A unit of engine work. `id` goes into every recipe, with `version`."""

    id: str
    version: int
    title: str
    params_type: type
    runner: str  # "module:function", called as function(params, ctx) -> TaskResult
    validate: Callable[[Any], None] | None = None  # raises ValueError on bad params; no torch


@dataclass(frozen=True)
class Panel:
    """A GUI panel; `factory` ("module:function") builds a QWidget from the app context."""

    id: str
    title: str
    factory: str


@dataclass(frozen=True)
class JobHook:
    """Functions ("module:function", imported on the engine thread) run around every job.

    - `before(task_id, params)` runs before the task; raising `JobError` refuses the job
      (e.g. kind "blocked_by_safety" with a message naming the category).
    - `after(task_id, params, outputs, ctx) -> (outputs, warnings)` runs on the outputs
      of every finished job, before anyone sees them; it may replace, drop or mark them.
    - `preview(task_id, params, image) -> ImageData | None` runs on every progress
      preview; None drops the preview.
    Hooks run in registration order; an exception in any of them fails the job.
    """

    id: str
    before: str = ""
    after: str = ""
    preview: str = ""


@dataclass(frozen=True)
class Plugin:
    id: str
    version: str
    title: str
    tasks: Sequence[Task] = ()
    panels: Sequence[Panel] = ()
    hooks: Sequence[JobHook] = ()
