"""Finds plugins through the `atelier.plugins` entry point, the built-ins included."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from importlib.metadata import entry_points

from plugins.api import Backend, Exporter, JobHook, ModelFamily, Panel, Plugin, Task

ENTRY_POINT_GROUP = "atelier.plugins"
log = logging.getLogger(__name__)


@dataclass
class Registry:
    """The loaded plugins, their tasks by id, panels and job hooks; broken plugins are listed."""

    plugins: list[Plugin] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def tasks(self) -> dict[str, Task]:
        return {task.id: task for plugin in self.plugins for task in plugin.tasks}

    @property
    def panels(self) -> list[Panel]:
        return [panel for plugin in self.plugins for panel in plugin.panels]

    @property
    def hooks(self) -> list[JobHook]:
        """Every plugin's job hooks, in plugin order (pass to the engine: `hooks=`)."""
        return [hook for plugin in self.plugins for hook in plugin.hooks]

    @property
    def exporters(self) -> list[Exporter]:
        """Every plugin's exporters, in plugin order."""
        return [exporter for plugin in self.plugins for exporter in plugin.exporters]

    @property
    def families(self) -> dict[str, ModelFamily]:
        """The model families the plugins load, by family id."""
        return {family.id: family for plugin in self.plugins for family in plugin.families}

    @property
    def backends(self) -> list[Backend]:
        """Where else jobs can run (servers), in plugin order."""
        return [backend for plugin in self.plugins for backend in plugin.backends]

    def add(self, plugin: Plugin) -> None:
        if any(p.id == plugin.id for p in self.plugins):
            raise ValueError(f"plugin {plugin.id} is registered twice")
        clash = set(self.tasks) & {task.id for task in plugin.tasks}
        if clash:
            raise ValueError(f"plugin {plugin.id} redefines task(s) {sorted(clash)}")
        self.plugins.append(plugin)


def discover() -> Registry:
    """Load every installed plugin; one that fails to load is reported, not fatal."""
    registry = Registry()
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            plugin = entry.load()
            if not isinstance(plugin, Plugin):
                raise TypeError(f"{entry.value} is not a plugins.api.Plugin")
            registry.add(plugin)
        except Exception as exc:  # a third-party plugin must not take the app down
            log.warning("plugin %s failed to load: %s", entry.name, exc)
            registry.errors.append(f"{entry.name}: {exc}")
    return registry
