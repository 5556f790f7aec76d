"""Recipes: how an output was made (task id and version, params, models, seed), and whether
a recipe can be reused with the tasks installed now.

Importable without torch or Qt.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugins.api import Task


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
