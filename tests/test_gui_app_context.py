"""The AppContext plugin panels get (app.ui.app_context), on an engine that only queues jobs:
run submits at once, cancel ends the events with JobCancelled, the window's Cancel reaches
every panel job; push is undoable; messages keep their level."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future

import numpy as np

from app.model.commands import AddLayer
from app.model.document import Document
from app.model.layers import RasterLayer
from app.ui.app_context import WindowContext
from app.ui.doc_session import DocumentSession
from app.ui.engine_bridge import EngineBridge
from app.ui.message_bar import MessageBar
from engine.protocol import JobCancelled, JobHandle, JobQueued
from plugins.diffusion import plugin as diffusion_plugin
from plugins.registry import Registry
from tests.test_gui_main_window import WAIT_MS, qt_loop  # noqa: F401 (a fixture)


class QueueOnlyEngine:
    """Queues jobs and never runs them; cancelling one ends it with JobCancelled."""

    def __init__(self) -> None:
        self.sinks: list = []
        self.submitted: list[str] = []
        self.cancelled: list[int] = []

    def subscribe(self, sink):
        self.sinks.append(sink)
        return lambda: self.sinks.remove(sink)

    def submit(self, task: str, params) -> JobHandle:
        self.submitted.append(task)
        job_id = len(self.submitted)
        self._emit(JobQueued(job_id, job_id - 1))
        return JobHandle(job_id, Future())

    def cancel(self, job_id: int) -> bool:
        self.cancelled.append(job_id)
        self._emit(JobCancelled(job_id))
        return True

    def _emit(self, event) -> None:
        for sink in self.sinks:
            sink(event)


def make_context(qt_loop, qtbot):  # noqa: F811
    engine = QueueOnlyEngine()
    session = DocumentSession(Document((32, 16), [RasterLayer.blank((32, 16), name="Paint")]))
    messages = MessageBar()
    qtbot.addWidget(messages)
    registry = Registry()
    registry.add(diffusion_plugin)
    bridge = EngineBridge(engine, qt_loop)
    return WindowContext(session, None, registry, bridge, messages), engine, session, messages


def read_all(qtbot, job) -> list:
    async def read() -> list:
        return [event async for event in job]

    task = asyncio.ensure_future(read())
    qtbot.waitUntil(task.done, timeout=WAIT_MS)
    return task.result()


def test_run_submits_at_once_and_cancel_ends_the_events(qt_loop, qtbot):  # noqa: F811
    context, engine, _, _ = make_context(qt_loop, qtbot)
    job = context.run("diffusion.txt2img", None)
    assert engine.submitted == ["diffusion.txt2img"]  # before anything is read
    job.cancel()
    assert engine.cancelled == [job.job_id]
    assert read_all(qtbot, job) == [JobQueued(job.job_id, 0), JobCancelled(job.job_id)]


def test_the_windows_cancel_reaches_every_panel_job(qt_loop, qtbot):  # noqa: F811
    context, engine, _, _ = make_context(qt_loop, qtbot)
    first, second = context.run("a", None), context.run("b", None)
    context.cancel_jobs()
    assert sorted(engine.cancelled) == [first.job_id, second.job_id]
    assert isinstance(read_all(qtbot, second)[-1], JobCancelled)


def test_push_is_one_undo_step_and_messages_keep_their_level(qt_loop, qtbot):  # noqa: F811
    context, _, session, messages = make_context(qt_loop, qtbot)
    assert context.document is session.doc and "diffusion.inpaint" in context.tasks
    stripe = RasterLayer.from_array(np.full((16, 8, 4), 200, np.uint8), (32, 16), name="Stripe")
    context.push(AddLayer(stripe))
    assert session.doc.layers[-1] is stripe and session.history.undo_label == "Add layer"
    session.undo()
    assert stripe not in session.doc.layers

    context.show_message("Careful", "warning")
    assert (messages.kind, messages.label.text()) == ("warning", "Careful")
    context.show_message("Hello", "shout")
    assert messages.kind == "info"


def test_a_panel_hears_of_every_change_to_the_document_until_it_stops(qt_loop, qtbot):  # noqa: F811
    context, _, session, _ = make_context(qt_loop, qtbot)
    heard: list[tuple[int, int]] = []
    stop = context.on_document_changed(lambda: heard.append(context.document.size))
    stripe = RasterLayer.from_array(np.full((16, 8, 4), 200, np.uint8), (32, 16), name="Stripe")
    context.push(AddLayer(stripe))
    session.undo()
    session.redo()
    assert len(heard) == 3
    session.set_document(Document((48, 24), [RasterLayer.blank((48, 24), name="New")]))
    assert heard == [(32, 16)] * 3 + [(48, 24)]
    stop()
    context.push(AddLayer(RasterLayer.blank((48, 24), name="Unheard")))
    assert len(heard) == 4
