"""Running jobs on ComfyUI servers from the window (issue 20): Settings > Servers adds, checks,
saves and tests servers without freezing; the engine router sends the jobs of the tasks a
backend runs there and every other job to the local engine; the Generate panel's "Run on"
appears once a server is configured, lists that server's checkpoints, and offers a job the
server cannot run to the local engine.

Tests marked with a real server use the ComfyUI test server (tests/comfyui_server.py) and skip
where it is not installed; the routing test without one stands a second local engine in for
the backend's."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTabWidget

from app.model.canvas_areas import fill_target
from app.model.requests import build_request
from app.ui.engine_router import EngineRouter
from app.ui.preferences_dialog import PreferencesDialog, open_preferences
from engine.home import load_settings, settings_path
from engine.protocol import JobCancelled, JobFinished
from engine.worker import Engine
from plugins.api import Backend, Plugin
from plugins.comfyui import plugin as comfyui_plugin
from plugins.comfyui.servers import ServerConfig, load_servers, save_servers
from plugins.comfyui.ui_servers import NOT_TESTED, TESTING, ServersPage
from plugins.registry import Registry
from tests import engine_tasks
from tests.engine_tasks import STEPS, StepParams
from tests.test_gui_main_window import (  # noqa: F401 (qt_loop is a fixture)
    WAIT_MS,
    close_window,
    diffusion_registry,
    make_store,
    make_window,
    qt_loop,
)
from tests.test_gui_preferences import answer_preferences

pytest_plugins = ("tests.comfyui_server",)

OTHER_STEPS = dataclasses.replace(STEPS, id="test.other_steps", title="Other steps")
STAND_IN_TARGETS: list[list[str]] = []  # the targets each stand-in engine was made for


def stand_in_engine(registry: Registry, targets: Sequence[str], preview_interval_s: Any) -> Any:
    """A second local engine standing in for a backend's (the routing tests only)."""
    STAND_IN_TARGETS.append(list(targets))
    return Engine.from_registry(registry, preview_interval_s=preview_interval_s)


STAND_IN = Backend(
    id="stand_in",
    title="Stand-ins",
    tasks=(STEPS.id,),
    targets="plugins.comfyui.servers:targets",
    engine=f"{__name__}:stand_in_engine",
)


def steps_registry() -> Registry:
    registry = Registry()
    registry.add(Plugin("steps", "1", "Steps", tasks=(STEPS, OTHER_STEPS), backends=(STAND_IN,)))
    return registry


def unanswered_url() -> str:
    """The address of a port on this machine where no server listens."""
    from tests.comfyui_server import free_port  # here: pytest loads it as a plugin first

    return f"http://127.0.0.1:{free_port()}"


def checkpoint_name() -> str:
    """The file name of the checkpoint the test servers have."""
    from tests.comfyui_server import CHECKPOINT_NAME

    return CHECKPOINT_NAME


def fill_form(page: ServersPage, qtbot, url: str, token: str = "", name: str = "") -> None:
    """Press Add and type the server's details as a designer would."""
    qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
    assert page.form.isVisibleTo(page)
    for field, text in ((page.url, url), (page.token, token), (page.name, name)):
        field.clear()
        qtbot.keyClicks(field, text)


@pytest.fixture
def page(qtbot, home) -> ServersPage:
    page = ServersPage()
    qtbot.addWidget(page)
    page.show()
    return page


# -- Settings > Servers ----------------------------------------------------------------------


def test_an_address_that_is_no_server_s_says_why_and_nothing_is_saved(page, qtbot):
    fill_form(page, qtbot, "ftp://studio-rack:8188", name="Rack")
    assert page.url_error.isVisible()
    assert "must start with http:// or https://" in page.url_error.text()
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    assert page.form.isVisible() and page.name.text() == "Rack"  # what was typed is kept
    assert page.list.count() == 0 and load_servers() == []
    assert not settings_path().exists()

    page.url.clear()
    qtbot.keyClicks(page.url, "studio-rack:99999")
    assert "not a number from 1 to 65535" in page.url_error.text()


def test_a_server_is_saved_to_the_settings_file_and_tested_without_freezing(page, qtbot):
    url = unanswered_url()
    fill_form(page, qtbot, url.removeprefix("http://"), token="s3cret", name="Rack")
    assert not page.url_error.isVisible()
    assert page.token.echoMode() == page.token.EchoMode.Password
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)

    saved = json.loads(settings_path().read_text())["comfyui_servers"]
    assert saved == [{"url": url, "token": "s3cret", "name": "Rack"}]
    assert not page.form.isVisible()
    # saving tests the server on a thread of its own: the window is free while it asks
    assert page.line(0).startswith(f"Rack   {url}   (with a token)")
    assert TESTING in page.line(0)
    qtbot.waitUntil(lambda: TESTING not in page.line(0), timeout=WAIT_MS)
    assert "did not answer" in page.line(0) and "Rack" in page.line(0)

    qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)  # again, by its button
    assert TESTING in page.line(0)
    qtbot.waitUntil(lambda: "did not answer" in page.line(0), timeout=WAIT_MS)


def test_editing_a_server_to_another_s_address_is_refused_and_remove_removes(page, qtbot, home):
    first, second = unanswered_url(), unanswered_url()
    save_servers([ServerConfig(first, name="One"), ServerConfig(second, name="Two")])
    page = ServersPage()
    qtbot.addWidget(page)
    assert [page.line(row).split("\n")[1].strip() for row in (0, 1)] == [NOT_TESTED] * 2
    page.list.setCurrentRow(1)
    qtbot.mouseClick(page.edit_button, Qt.MouseButton.LeftButton)
    assert page.url.text() == second and page.name.text() == "Two"
    page.url.clear()
    qtbot.keyClicks(page.url, first)
    assert "in the list already" in page.url_error.text()
    assert not page.save_server()
    page.name.setText("Two renamed")
    page.url.setText(second)
    assert page.save_server()
    assert [s.name for s in load_servers()] == ["One", "Two renamed"]

    page.list.setCurrentRow(0)
    qtbot.mouseClick(page.remove_button, Qt.MouseButton.LeftButton)
    assert load_servers() == [ServerConfig(second, name="Two renamed")]
    assert page.list.count() == 1


def test_a_settings_file_that_cannot_be_written_is_reported_and_the_form_keeps_the_server(
    page, qtbot
):
    settings_path().mkdir(parents=True)  # a folder where the file should be
    fill_form(page, qtbot, "192.168.1.20:8188", name="Rack")
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    assert page.problem.isVisible() and "The servers were not saved" in page.problem.text()
    assert page.form.isVisible() and page.url.text() == "192.168.1.20:8188"
    assert page.list.count() == 0


def test_test_connection_shows_a_real_server_s_device_and_queue(page, qtbot, comfyui_server):
    fill_form(page, qtbot, comfyui_server.url, name="Test server")
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: TESTING not in page.line(0), timeout=WAIT_MS)
    assert "memory free; idle" in page.line(0) or "running" in page.line(0)


def test_the_preferences_dialog_shows_a_page_per_backend_under_its_title(qtbot, home):
    registry = Registry()
    registry.add(comfyui_plugin)
    dialog = PreferencesDialog(home, None, backends=registry.backends)
    qtbot.addWidget(dialog)
    tabs = dialog.findChild(QTabWidget)
    titles = [tabs.tabText(i) for i in range(tabs.count())]
    assert titles[-1] == "Servers"
    assert isinstance(tabs.widget(tabs.count() - 1), ServersPage)


# -- the router ------------------------------------------------------------------------------


class Events:
    """The events a sink received, by job id."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.lock = threading.Lock()

    def __call__(self, event: Any) -> None:
        with self.lock:
            self.events.append(event)

    def of(self, job_id: int) -> list[Any]:
        with self.lock:
            return [e for e in self.events if e.job_id == job_id]


def test_the_router_sends_the_backend_s_tasks_there_and_the_rest_to_the_local_engine(home):
    registry = steps_registry()
    local = Engine.from_registry(registry)
    router = EngineRouter(registry, local)
    everything, only_local = Events(), Events()
    unsubscribe = router.subscribe(everything)  # before the backend engine exists
    local.subscribe(only_local)
    try:
        router.set_target(STAND_IN, ["http://rack:8188", "http://cloud:8188"])
        STAND_IN_TARGETS.clear()
        remote = router.submit(STEPS.id, StepParams(steps=2, value=7))
        here = router.submit(OTHER_STEPS.id, StepParams(steps=2, value=9))
        assert isinstance(remote.future.result(60), JobFinished)
        assert isinstance(here.future.result(60), JobFinished)
        assert STAND_IN_TARGETS == [["http://rack:8188", "http://cloud:8188"]]
        assert only_local.of(remote.id) == [] and only_local.of(here.id)
        assert isinstance(everything.of(remote.id)[-1], JobFinished)  # a later engine's too
        assert isinstance(everything.of(here.id)[-1], JobFinished)

        again = router.submit(STEPS.id, StepParams(steps=1))
        assert isinstance(again.future.result(60), JobFinished)
        assert len(STAND_IN_TARGETS) == 1  # the backend's engine is made once per target set

        engine_tasks.RELEASE.clear()
        gated = router.submit(STEPS.id, StepParams(steps=1, gate=True))
        assert router.busy
        router.renew()  # Settings > Servers changed while the job runs
        assert router.cancel(gated.id)  # still found, on the engine made before the change
        assert isinstance(gated.future.result(60), JobCancelled)
        assert not router.cancel(10**9)
        renewed = router.submit(STEPS.id, StepParams(steps=1))
        assert isinstance(renewed.future.result(60), JobFinished)
        assert len(STAND_IN_TARGETS) == 2  # made anew after the change
        assert isinstance(everything.of(renewed.id)[-1], JobFinished)

        router.set_target(None)
        back = router.submit(STEPS.id, StepParams(steps=1))
        assert isinstance(back.future.result(60), JobFinished)
        assert only_local.of(back.id)
    finally:
        engine_tasks.RELEASE.set()
        unsubscribe()
        router.shutdown(timeout=5)
    assert not local.busy


def test_the_router_runs_text_to_image_on_a_real_server(home, comfyui_server):
    registry = diffusion_registry()
    registry.add(comfyui_plugin)
    registry.add(Plugin("steps", "1", "Steps", tasks=(STEPS,)))
    local = Engine.from_registry(registry)
    router = EngineRouter(registry, local)
    only_local = Events()
    local.subscribe(only_local)
    try:
        (backend,) = registry.backends
        router.set_target(backend, [comfyui_server.url])
        params = registry.tasks["diffusion.txt2img"].params_type(
            prompt="a red circle", model=checkpoint_name(), width=64, height=64, steps=2, seed=5
        )
        remote = router.submit("diffusion.txt2img", params)
        here = router.submit(STEPS.id, StepParams(steps=1))
        finished = remote.future.result(300)
        assert isinstance(finished, JobFinished), finished
        assert finished.outputs[0].pixels.shape == (64, 64, 4)
        assert isinstance(here.future.result(60), JobFinished)
        assert only_local.of(remote.id) == [] and only_local.of(here.id)
    finally:
        router.shutdown(timeout=5)


# -- the Generate panel's Run on -------------------------------------------------------------


@pytest.fixture
def server_window(qtbot, qt_loop, atelier_home, tiny_config_root, tmp_path):  # noqa: F811
    registry = diffusion_registry()
    registry.add(comfyui_plugin)
    window = make_window(qtbot, registry, make_store(atelier_home, tmp_path, tiny_config_root))
    yield window
    close_window(window)


def offered(window) -> list[str]:
    combo = window.run_on.combo
    return [combo.itemText(i) for i in range(combo.count())]


def test_run_on_appears_with_servers_and_keeps_the_local_models_when_they_do_not_answer(
    server_window, qtbot
):
    window, panel = server_window, server_window.prompt_panel
    assert window.run_on.isHidden() and offered(window) == ["Local engine"]
    rack, cloud = unanswered_url(), unanswered_url()
    save_servers([ServerConfig(rack, name="Rack")])
    window.run_on.refresh()  # what closing Edit > Preferences does
    assert not window.run_on.isHidden() and offered(window) == ["Local engine", "Rack"]
    save_servers([ServerConfig(rack, name="Rack"), ServerConfig(cloud, name="Cloud")])
    window.run_on.refresh()
    assert offered(window) == ["Local engine", "Rack", "Cloud", "All servers"]
    assert window.run_on.combo.currentText() == "Local engine"

    window.run_on.choose("Rack")
    assert window.engine.remote and window.engine.targets == (rack,)
    assert load_settings()["run_on"] == {"backend": "comfyui", "targets": [rack]}
    qtbot.waitUntil(lambda: "Could not list" in window.run_on.note.text(), timeout=WAIT_MS)
    assert "did not answer" in window.run_on.note.text()
    assert panel.model_name() == "tiny-sd15"  # the installed models stay

    panel.set_mode("diffusion.depth")  # a task the servers do not run
    assert "Depth" in window.run_on.note.text() and "runs on the local engine" in (
        window.run_on.note.text()
    )
    window.run_on.choose("All servers")
    assert window.engine.targets == (rack, cloud)
    save_servers([ServerConfig(cloud, name="Cloud")])
    window.run_on.refresh()  # the chosen set is gone: back to the local engine
    assert offered(window) == ["Local engine", "Cloud"]
    assert not window.engine.remote and load_settings()["run_on"] is None


def test_a_server_added_in_edit_preferences_appears_under_run_on(server_window, qtbot):
    window, url = server_window, unanswered_url()

    def add_server(dialog: PreferencesDialog) -> None:
        page = dialog.findChild(ServersPage)
        fill_form(page, qtbot, url, name="Rack")
        qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)

    answer_preferences(add_server)
    open_preferences(window)
    assert not window.run_on.isHidden() and offered(window) == ["Local engine", "Rack"]
    assert load_servers() == [ServerConfig(url, name="Rack")]


def run_on_real_server(window, qtbot, server) -> None:
    """Run on the real `server`, named "Test server", once its checkpoints are listed."""
    save_servers([ServerConfig(server.url, name="Test server")])
    window.run_on.refresh()
    window.run_on.choose("Test server")
    panel = window.prompt_panel
    qtbot.waitUntil(lambda: panel.model_name() == checkpoint_name(), timeout=WAIT_MS)


def test_run_on_lists_a_real_server_s_checkpoints_and_offers_a_refused_job_locally(
    server_window, qtbot, comfyui_server
):
    window, panel = server_window, server_window.prompt_panel
    run_on_real_server(window, qtbot, comfyui_server)
    assert "checkpoints of Test server" in window.run_on.note.text()

    # a job of a model the server lacks (a recipe of a local model) is refused there...
    task = panel.tasks[panel.mode]
    values = {**panel.mode_values(), "model": "tiny-sd15", "width": 64, "height": 64}
    values["steps"] = 2
    doc = window.session.doc
    with qtbot.waitSignal(window.generation.failed, timeout=WAIT_MS) as failed:
        window.gen.run(build_request(task, values, doc, fill_target(doc).size))
    kind, message = failed.args
    assert "Run it on the local engine" in message, (kind, message)
    bar = window.messages
    assert bar.action_button.isVisible() and bar.action_button.text() == "Run locally"
    # ...and Run locally runs it here, with the same params
    with qtbot.waitSignal(window.generation.finished, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(bar.action_button, Qt.MouseButton.LeftButton)
    assert window.run_on.combo.currentText() == "Local engine" and not window.engine.remote
    recipe = finished.args[0].outputs[0].meta["recipe"]
    assert recipe["params"]["model"] == "tiny-sd15"


def test_run_locally_takes_the_installed_default_for_a_checkpoint_only_the_server_has(
    server_window, qtbot, comfyui_server
):
    window, panel = server_window, server_window.prompt_panel
    run_on_real_server(window, qtbot, comfyui_server)
    task = panel.tasks[panel.mode]
    values = {**panel.mode_values(), "width": 64, "height": 64, "steps": 2}
    assert values["model"] == checkpoint_name()  # the server's file, unknown here
    doc = window.session.doc
    request = build_request(task, values, doc, fill_target(doc).size)
    with qtbot.waitSignal(window.generation.finished, timeout=WAIT_MS) as finished:
        window.run_on.run_locally(request)
    assert not window.engine.remote
    assert finished.args[0].outputs[0].meta["recipe"]["params"]["model"] == "tiny-sd15"
    assert "is not installed here" in window.messages.text


def test_a_local_run_leaves_out_models_only_the_server_has():
    import numpy as np

    from app.ui.run_on import installed_models
    from plugins.diffusion.params import ControlSpec, Txt2ImgParams

    scribble = np.zeros((8, 8, 3), np.uint8)
    controls = (
        ControlSpec("scribble", scribble, model="control_tiny_scribble.safetensors"),
        ControlSpec("canny", scribble, model="Canny-SD15"),
    )
    params = Txt2ImgParams(model="server-only.safetensors", controls=controls)
    local, missing = installed_models(params, {"tiny-sd15", "canny-sd15"})
    assert missing == ["server-only.safetensors", "control_tiny_scribble.safetensors"]
    assert local.model == "" and [c.model for c in local.controls] == ["", "Canny-SD15"]
    kept = Txt2ImgParams(model="TINY-sd15")
    assert installed_models(kept, {"tiny-sd15"}) == (kept, [])
