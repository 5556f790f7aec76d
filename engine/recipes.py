"""Recipes: how an output was made (task id and version, params, models, seed), stamped by
the engine on every output, and whether a recipe can be reused with the tasks installed now.

A task reports what it resolved for each output (its seed, size, the model's name...) under
meta[RESOLVED]; the models it loaded through its job context are recorded as it loads
them. Importable without torch or Qt.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from engine.model_entry import ModelEntry
from engine.protocol import Output
from plugins.api import Task, param_specs


def recipe_problem(recipe: Mapping[str, Any], tasks: Mapping[str, Task]) -> str | None:
    """Why reusing `recipe` may not give what made it, in one sentence; None when the task
    that made it is installed at the same or a newer version."""
    task_id = str(recipe.get("task", ""))
    task = tasks.get(task_id)
    if task is None:
        return f"It was made by the task {task_id!r}, which is not installed."
    version = recipe.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        return f"Its recipe does not say which version of {task.title} made it."
    if version > task.version:
        return (
            f"It was made by a newer version of {task.title} (version {version}; this "
            f"Atelier has version {task.version}): settings it does not know are left out."
        )
    return None


RESOLVED = "resolved"  # the meta key under which a task reports what it resolved


def model_record(entry: ModelEntry) -> dict[str, Any]:
    """A model as a recipe names it: name, family, hash (and variant when it has one)."""
    model = {"name": entry.name, "family": entry.family, "hash": entry.short_hash()}
    if entry.variant:
        model["variant"] = entry.variant
    return model


def recipe(
    task: Task, params: Any, models: Sequence[ModelEntry], resolved: Mapping[str, Any]
) -> dict[str, Any]:
    """Everything needed to make an output again, save its input pixels (DESIGN.md section
    5): the task and its version, the form's values updated with what the task resolved for
    this output (its seed, size, model name...), and the models used, with their hashes:
    "model" names the first, "models" lists them all when there are several. A job run on
    a server says which ("server": its URL, resolved by the task)."""
    specs = param_specs(type(params)) if dataclasses.is_dataclass(params) else []
    values = {f.name: getattr(params, f.name) for f, _ in specs}
    values.update({k: v for k, v in resolved.items() if k != "server"})
    made: dict[str, Any] = {"task": task.id, "version": task.version, "params": values}
    if "server" in resolved:
        made["server"] = str(resolved["server"])
    records = [model_record(entry) for entry in models]
    if records:
        made["model"] = records[0]
    if len(records) > 1:
        made["models"] = records
    return made


def stamp_recipes(
    task: Task, params: Any, outputs: Sequence[Output], models: Sequence[ModelEntry]
) -> tuple[Output, ...]:
    """Each output with meta["recipe"], made from what the task reported under
    meta[RESOLVED] (which is taken out); a recipe the task wrote itself is replaced."""
    stamped = []
    for output in outputs:
        meta = dict(output.meta)
        resolved = meta.pop(RESOLVED, None)
        resolved = resolved if isinstance(resolved, Mapping) else {}
        meta["recipe"] = recipe(task, params, models, resolved)
        stamped.append(dataclasses.replace(output, meta=meta))
    return tuple(stamped)
