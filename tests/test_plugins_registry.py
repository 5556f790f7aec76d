"""Third-party plugins through a REAL `atelier.plugins` entry point: found, run, docked.

The fake plugin is an installed distribution as importlib.metadata sees it: a
`fake_plugin-0.1.dist-info/` folder (METADATA + entry_points.txt) next to its module on
sys.path. Its task is numpy-only (no torch); its panel is a QLabel.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QDockWidget, QLabel

from engine.protocol import ImageData, JobFinished
from engine.worker import Engine
from plugins.registry import ENTRY_POINT_GROUP, discover
from tests.test_gui_main_window import WAIT_MS, make_store, make_window, qt_loop  # noqa: F401

PLUGIN_MODULE = '''
"""A third-party plugin: fills an image with one colour."""

from dataclasses import dataclass

from plugins.api import Panel, Plugin, Task, param


@dataclass(frozen=True)
class FillParams:
    size: int = param(16, "Size", minimum=1, maximum=256)
    value: int = param(0, "Value", minimum=0, maximum=255)


def validate(params):
    if params.size < 1:
        raise ValueError("Size must be at least 1.")


FILL = Task("fake.fill", 1, "Fill", FillParams, "fake_plugin.tasks:run", validate)
plugin = Plugin(
    id="fake",
    version="0.1",
    title="Fake",
    tasks=(FILL,),
    panels=(
        Panel("fake.panel", "Fake panel", "fake_plugin.panel:make"),
        Panel("fake.broken_panel", "Broken panel", "fake_plugin.panel:broken"),
    ),
)
NOT_A_PLUGIN = object()
'''
TASKS_MODULE = """
import numpy as np

from engine.protocol import ImageData, TaskResult


def run(params, ctx):
    for step in range(3):
        ctx.check_cancelled()
        ctx.progress((step + 1) / 3, f"fill {step + 1}/3")
    pixels = np.full((params.size, params.size, 4), params.value, np.uint8)
    return TaskResult((ImageData(pixels, {"value": params.value}),))
"""
PANEL_MODULE = """
from PySide6.QtWidgets import QLabel

CONTEXTS = []


def make(context):
    CONTEXTS.append(context)
    return QLabel(f"Fake panel for a canvas {context.document.width} wide")


def broken(context):
    raise RuntimeError("this panel is broken")
"""
ENTRY_POINTS = """
[atelier.plugins]
fake = fake_plugin:plugin
missing = no_such_module_for_atelier:plugin
wrong_type = fake_plugin:NOT_A_PLUGIN
"""


def write_distribution(site: Path) -> None:
    package = site / "fake_plugin"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(PLUGIN_MODULE))
    (package / "tasks.py").write_text(textwrap.dedent(TASKS_MODULE))
    (package / "panel.py").write_text(textwrap.dedent(PANEL_MODULE))
    info = site / "fake_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    (info / "top_level.txt").write_text("fake_plugin\n")


@pytest.fixture
def fake_plugin(tmp_path, monkeypatch):
    """Install the fake distribution for this test only."""
    site = tmp_path / "site-packages"
    write_distribution(site)
    monkeypatch.syspath_prepend(str(site))
    yield site
    for name in [m for m in sys.modules if m == "fake_plugin" or m.startswith("fake_plugin.")]:
        del sys.modules[name]


def test_discover_finds_the_plugin_through_its_entry_point(fake_plugin):
    from importlib.metadata import entry_points

    assert "fake" in {e.name for e in entry_points(group=ENTRY_POINT_GROUP)}
    registry = discover()
    assert "fake" in [p.id for p in registry.plugins]
    assert registry.tasks["fake.fill"].title == "Fill"
    assert [p.id for p in registry.panels if p.id.startswith("fake.")] == [
        "fake.panel",
        "fake.broken_panel",
    ]


def test_broken_plugins_are_reported_not_fatal(fake_plugin):
    registry = discover()
    errors = "\n".join(registry.errors)
    assert "missing:" in errors and "no_such_module_for_atelier" in errors
    assert "wrong_type:" in errors and "not a plugins.api.Plugin" in errors
    assert "fake.fill" in registry.tasks


@pytest.mark.usefixtures("unmarked_pixels")  # the engine marks every output; see its pixels
def test_the_engine_runs_the_plugin_task(fake_plugin, tmp_path):
    registry = discover()
    engine = Engine(registry.tasks, store=make_store(tmp_path / "home", tmp_path))
    try:
        params = registry.tasks["fake.fill"].params_type(size=8, value=42)
        event = engine.submit("fake.fill", params).future.result(timeout=30)
    finally:
        engine.shutdown()
    assert isinstance(event, JobFinished)
    (image,) = event.outputs
    assert isinstance(image, ImageData) and image.size == (8, 8)
    assert np.all(image.pixels == 42)


@pytest.mark.usefixtures("qt_loop")
def test_the_window_docks_the_plugin_panel_and_reports_the_broken_one(fake_plugin, qtbot, tmp_path):
    registry = discover()
    window = make_window(qtbot, registry, make_store(tmp_path / "home", tmp_path))
    try:
        dock = window.plugin_docks["fake.panel"]
        assert isinstance(dock, QDockWidget) and dock.windowTitle() == "Fake panel"
        assert isinstance(dock.widget(), QLabel) and dock.isVisible()
        assert dock in window.findChildren(QDockWidget)
        assert [window.context] == sys.modules["fake_plugin.panel"].CONTEXTS
        assert dock.widget().text() == f"Fake panel for a canvas {window.session.doc.width} wide"
        assert "fake.broken_panel" not in window.plugin_docks
        problems = "\n".join(window.plugin_errors)
        assert "this panel is broken" in problems and "no_such_module_for_atelier" in problems
        status = window.statusBar().currentMessage()
        assert "could not load" in status and "this panel is broken" in status
    finally:
        window.shutdown_engine()


@pytest.mark.usefixtures("qt_loop")
def test_the_plugin_task_runs_through_the_gui_bridge(fake_plugin, qtbot, tmp_path):
    registry = discover()
    window = make_window(qtbot, registry, make_store(tmp_path / "home", tmp_path))
    params = registry.tasks["fake.fill"].params_type(size=4, value=7)
    seen = []

    async def read_events():
        async for event in window.bridge.run("fake.fill", params):
            seen.append(type(event).__name__)

    try:
        task = asyncio.ensure_future(read_events())
        qtbot.waitUntil(task.done, timeout=WAIT_MS)
        task.result()
    finally:
        window.shutdown_engine()
    assert seen[:2] == ["JobQueued", "JobStarted"]
    assert seen[2:] == ["JobProgress"] * 3 + ["JobFinished"]
