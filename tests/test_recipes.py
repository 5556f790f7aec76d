"""Reusing a recipe says so when the task that made it is unknown or newer."""

from engine.recipes import recipe_problem
from plugins.diffusion import TXT2IMG

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
