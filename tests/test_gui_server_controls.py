"""The ControlNets of the server jobs run on (issue 20): while Run on is a server, a control
layer's model picker lists that server's ControlNets by file name (those whose name says the
layer's kind first), so the layer's model is the server's name for it; back on the local
engine, the installed ones again. They come from Run on's one listing of the server's models.

The window test with a real server uses the ComfyUI test server and the tiny ControlNet
(tests/comfyui_server.py) and skips where the server is not installed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from app.model.canvas_areas import fill_target
from app.model.control_layers import SetControl
from app.model.requests import build_request
from app.ui.control_properties import AUTOMATIC, INSTALLED_TIP, SERVER_TIP
from app.ui.run_on import shared_models
from plugins.comfyui import plugin as comfyui_plugin
from plugins.comfyui.servers import ServerConfig, save_servers
from plugins.diffusion import TXT2IMG
from tests.canvas_helpers import (  # noqa: F401 (fixtures)
    canvas_window_fixture,
    close_window,
    diffusion_registry,
    make_store,
    make_window,
    qt_loop,
    small_document,
)
from tests.comfyui_server import tiny_controlnet
from tests.test_comfyui_controls import history, nodes
from tests.test_gui_canvas_generate import choose_mode
from tests.test_gui_control_layers import scribble_circle
from tests.test_gui_main_window import WAIT_MS
from tests.test_gui_server_loras import count_listings

pytest_plugins = ("tests.comfyui_server",)

SERVER_CONTROLS = [
    "control_v11p_sd15_canny.safetensors",
    "sd15/control_v11p_sd15_scribble.safetensors",
    "t2i_sketch.pth",
]


def listed(props) -> list[str]:
    return [props.model.itemText(i) for i in range(props.model.count())]


def test_several_servers_share_the_controlnets_all_of_them_have():
    listings = {
        "rack": {"checkpoints": ["a.safetensors"], "controlnet": SERVER_CONTROLS},
        "cloud": {"checkpoints": ["a.safetensors"], "controlnet": SERVER_CONTROLS[:1]},
    }

    def models(url: str) -> Mapping[str, Sequence[str]]:
        return listings[url]

    assert shared_models(models, ["rack", "cloud"])["controlnets"] == SERVER_CONTROLS[:1]
    assert shared_models(models, ["rack"])["controlnets"] == SERVER_CONTROLS


def test_a_control_layer_offers_the_server_s_controlnets_by_file_name(canvas_window):
    win = canvas_window
    props = win.control_properties
    layer = scribble_circle(win)
    assert listed(props) == [AUTOMATIC] and props.model.toolTip() == INSTALLED_TIP

    props.show_server_controls(SERVER_CONTROLS)
    # the one whose name says "scribble" first: Automatic takes it on the server
    assert listed(props) == [
        AUTOMATIC,
        "sd15/control_v11p_sd15_scribble.safetensors",
        "control_v11p_sd15_canny.safetensors",
        "t2i_sketch.pth",
    ]
    assert props.model.currentData() == "" and props.model.toolTip() == SERVER_TIP
    props.model.setCurrentIndex(3)
    props.model.activated.emit(3)
    assert layer.control.model == "t2i_sketch.pth"  # the server's name for it
    assert win.session.history.undo_label == "Change control model"

    win.session.push(SetControl(layer.id, kind="canny"))  # the canny one first now
    assert listed(props)[1] == "control_v11p_sd15_canny.safetensors"
    assert props.model.currentText() == "t2i_sketch.pth"

    # a model chosen from the installed ones: the server file of that stem, as its graphs match
    win.session.push(SetControl(layer.id, model="control_v11p_sd15_scribble"))
    assert props.model.currentText() == "sd15/control_v11p_sd15_scribble.safetensors"
    assert layer.control.model == "control_v11p_sd15_scribble"  # unchanged until chosen
    win.session.push(SetControl(layer.id, model="depth-xl"))
    assert props.model.currentText() == "depth-xl (not available)"

    props.show_server_controls([])
    assert listed(props) == [AUTOMATIC, "depth-xl (not available)"]
    props.show_server_controls(None)  # the local engine again
    assert listed(props) == [AUTOMATIC, "depth-xl (not available)"]
    assert props.model.toolTip() == INSTALLED_TIP


@pytest.fixture
def server_canvas_window(qtbot, qt_loop, atelier_home, tiny_config_root, tmp_path):  # noqa: F811
    """The window with the ComfyUI plugin and a 64x64 document."""
    registry = diffusion_registry()
    registry.add(comfyui_plugin)
    store = make_store(atelier_home, tmp_path, tiny_config_root)
    win = make_window(qtbot, registry, store, close=False)  # closed unasked below
    win.files.new(small_document())
    win.canvas.actions_by_name["fit"].trigger()
    yield win
    close_window(win)


def test_run_on_a_real_server_offers_its_controlnet_and_a_chosen_one_runs_there(
    server_canvas_window, qtbot, start_comfyui_server, monkeypatch
):
    win = server_canvas_window
    props = win.control_properties
    server = start_comfyui_server()
    controlnet = "control_tiny_scribble.safetensors"
    (server.base_dir / "models" / "controlnet" / controlnet).symlink_to(tiny_controlnet())
    listings = count_listings(monkeypatch)
    choose_mode(win, TXT2IMG.id)
    layer = scribble_circle(win)
    installed = listed(props)

    save_servers([ServerConfig(server.url, name="Test server")])
    win.run_on.refresh()
    win.run_on.choose("Test server")
    qtbot.waitUntil(lambda: props.server_controls is not None, timeout=WAIT_MS)
    assert listings == [server.url]  # the checkpoints' listing brought the ControlNets
    assert listed(props) == [AUTOMATIC, controlnet]
    assert "its ControlNets" in win.run_on.note.text()
    props.model.setCurrentIndex(1)
    props.model.activated.emit(1)
    assert layer.control.model == controlnet

    panel = win.prompt_panel
    values = {**panel.mode_values(), "width": 64, "height": 64, "steps": 2}
    doc = win.session.doc
    with qtbot.waitSignal(win.generation.finished, timeout=WAIT_MS * 4):
        win.gen.run(build_request(panel.tasks[panel.mode], values, doc, fill_target(doc).size))
    (graph,) = history(server)
    assert nodes(graph, "ControlNetLoader") == [{"control_net_name": controlnet}]

    win.run_on.choose("Local engine")
    assert props.server_controls is None
    assert listed(props) == [*installed, f"{controlnet} (not available)"]
    assert len(listings) == 1
