"""What a plugin panel may do in the window: the plugins.api.AppContext a panel factory gets.

Run a job and read its events, follow the events of the jobs the window runs, push an
undoable command on the current document, show a message, read the document, the model
store, the tasks and the exporters, and start file dialogs where the user's files are;
nothing else of the window.

    async for event in ctx.run(task_id, params):   # submitted at once
        ...  # JobQueued, JobStarted, JobProgress..., then one terminal event
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from app.model.commands import Command
from app.model.document import Document
from app.model.layers import Layer
from app.ui.dialog_folders import remember_folder, start_folder
from app.ui.doc_session import DocumentSession
from app.ui.engine_bridge import EngineBridge
from app.ui.generation import Generation
from app.ui.message_bar import MessageBar
from engine.model_store import ModelStore
from engine.protocol import Event
from plugins.api import Exporter, Task
from plugins.registry import Registry

LEVELS = ("info", "warning", "error")


class PanelJob:
    """One job a panel runs, submitted at once: its events, read with `async for`;
    `cancel()` stops it (a queued job at once, a running one within a step), and then
    JobCancelled ends the events."""

    def __init__(self, bridge: EngineBridge, task_id: str, params: Any) -> None:
        self._bridge = bridge
        self.job_id, self._events = bridge.start(task_id, params)

    def __aiter__(self) -> PanelJob:
        return self

    async def __anext__(self) -> Event:
        return await anext(self._events)

    def cancel(self) -> None:
        self._bridge.cancel(self.job_id)


class WindowContext:
    """The window's AppContext (plugins.api): one per window, shared by its panels."""

    def __init__(
        self,
        session: DocumentSession,
        store: ModelStore,
        registry: Registry,
        bridge: EngineBridge,
        messages: MessageBar,
        use_model: Callable[[str, str, Sequence[str]], None] | None = None,
        generation: Generation | None = None,
    ) -> None:
        self._session, self._store, self._registry = session, store, registry
        self._bridge, self._messages = bridge, messages
        self._use_model = use_model  # the window's (MainWindow.use_new_model)
        self._generation = generation  # the window's jobs (the Generate panel's)
        self._jobs: weakref.WeakSet[PanelJob] = weakref.WeakSet()

    @property
    def document(self) -> Document:
        return self._session.doc

    @property
    def store(self) -> ModelStore:
        return self._store

    @property
    def tasks(self) -> Mapping[str, Task]:
        return self._registry.tasks

    @property
    def exporters(self) -> Sequence[Exporter]:
        return self._registry.exporters

    @property
    def active_layer(self) -> Layer | None:
        return self._session.active

    def run(self, task_id: str, params: Any) -> PanelJob:
        job = PanelJob(self._bridge, task_id, params)
        self._jobs.add(job)
        return job

    def push(self, command: Command) -> None:
        """Apply `command` as one undo step; a refused edit shows in the message bar."""
        self._session.push(command)

    def show_message(self, text: str, level: str = "info") -> None:
        self._messages.show_message(text, level if level in LEVELS else "info")

    def on_document_changed(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback()` after every recorded change and when the document is replaced
        (the session says both as a history change); the function returned stops it."""
        self._session.history_changed.connect(callback)
        return lambda: self._session.history_changed.disconnect(callback)

    def on_job_event(self, callback: Callable[[Task | None, Event], None]) -> Callable[[], None]:
        """Call `callback(task, event)` with each event of the jobs the window runs (the
        Generate panel's; task None for one no plugin declares); the function returned
        stops it."""
        if self._generation is None:
            raise RuntimeError("this context has no window whose jobs to follow")

        def relay(task_id: str, event: Event) -> None:
            callback(self._registry.tasks.get(task_id), event)

        self._generation.job_event.connect(relay)
        return lambda: self._generation.job_event.disconnect(relay)

    def dialog_folder(self, action: str) -> Path:
        project = self._session.path
        return start_folder(action, project.parent if project else None)

    def remember_dialog_folder(self, action: str, chosen: Path) -> None:
        remember_folder(action, chosen)

    def use_new_model(self, kind: str, name: str, words: Sequence[str] = ()) -> None:
        """A panel saved a model into the model folders: the window rescans them and puts
        it to use (a LoRA into the prompt, with its trigger words)."""
        if self._use_model is None:
            raise RuntimeError("this context has no window to show new models in")
        self._use_model(kind, name, tuple(words))

    def cancel_jobs(self) -> None:
        """Cancel every job the panels run (the window's Cancel)."""
        for job in list(self._jobs):
            job.cancel()
