"""The LoRAs of the server jobs run on (issue 20): while Run on is a server, the LoRA picker's
Add LoRA list and the prompt's `<lora:` completion offer that server's LoRAs by the name a tag
takes (the file's stem), without trigger words, and mark a tag of a LoRA the server lacks
(one it holds under another name, found by hash, is not lacking);
back on the local engine, the installed LoRAs again. The checkpoints and LoRAs come from one
listing of the server's models.

The window tests with a real server use the ComfyUI test server (tests/comfyui_server.py) and
skip where it is not installed."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialog
from safetensors.numpy import load_file, save_file

from app.model.canvas_areas import fill_target
from app.model.requests import build_request
from app.ui.lora_picker import LoraChooser
from app.ui.prompt_panel import PromptPanel
from app.ui.run_on import lora_names, shared_models
from engine.weights_hash import hash_metadata, tensor_hash
from plugins.comfyui import server_info
from plugins.comfyui.client import ComfyUIClient
from plugins.comfyui.servers import ServerConfig, save_servers
from plugins.diffusion import plugin as diffusion_plugin
from plugins.diffusion.families import BY_ID
from tests.test_gui_lora_picker import lora_file
from tests.test_gui_main_window import WAIT_MS, qt_loop  # noqa: F401 (a fixture)
from tests.test_gui_servers import server_window, unanswered_url  # noqa: F401 (a fixture)
from tests.test_model_store import LORA_KEYS, write_safetensors

pytest_plugins = ("tests.comfyui_server",)

# a LoRA of the tiny checkpoint's first attention block (zeros: it changes nothing), as
# ComfyUI's LoraLoader reads it
SERVER_LORA_KEYS = {
    "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": [4, 320],
    "lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight": [320, 4],
    "lora_unet_down_blocks_0_attentions_0_proj_in.alpha": [],
}


# -- the names and what several servers share ------------------------------------------------


def test_a_server_s_lora_files_are_offered_by_their_stems_once_each():
    files = ["styles/ink-style.safetensors", "Paper.pt", "old\\INK-STYLE.ckpt", "v1.5.lora.bin"]
    assert lora_names(files) == ["ink-style", "Paper", "v1.5.lora"]


def test_several_servers_share_the_checkpoints_and_loras_all_of_them_have():
    listings = {
        "rack": {
            "checkpoints": ["sd15.safetensors", "xl.safetensors"],
            "loras": ["styles/ink-style.safetensors", "paper.safetensors", "only-here.pt"],
        },
        "cloud": {
            "checkpoints": ["xl.safetensors", "SD15.safetensors"],
            "loras": ["Ink-Style.safetensors", "paper.safetensors"],
        },
    }
    asked: list[str] = []

    def models(url: str) -> Mapping[str, Sequence[str]]:
        asked.append(url)
        return listings[url]

    assert shared_models(models, ["rack", "cloud"]) == {
        "checkpoints": ["xl.safetensors"],  # a job names the server's exact file
        "loras": ["ink-style", "paper"],  # a tag matches a file's stem without case
        "controlnets": [],  # neither lists any (tests/test_gui_server_controls.py)
    }
    assert asked == ["rack", "cloud"]  # one listing of each server gives both kinds
    assert shared_models(models, ["cloud"])["loras"] == ["Ink-Style", "paper"]


# -- the picker and the completion -------------------------------------------------------------


@pytest.fixture
def panel(qtbot, tmp_path):
    panel = PromptPanel({t.id: t for t in diffusion_plugin.tasks}, families=BY_ID)
    qtbot.addWidget(panel)
    panel.set_loras([lora_file(tmp_path, "paper", {"papery": 3})])
    panel.form.set_value("prompt", "a fox <lora:paper:0.5> <lora:ink-style:1>")
    return panel


def row_labels(panel: PromptPanel) -> list[str]:
    return [row.label.text() for row in panel.lora_picker.rows]


def completions(panel: PromptPanel) -> list[str]:
    return panel.lora_completer.model.stringList()


def test_a_server_s_loras_replace_the_installed_ones_until_the_local_engine_is_back(panel):
    picker = panel.lora_picker
    assert row_labels(panel) == ["paper", "ink-style (not installed)"]
    assert picker.rows[0].trigger_words == ("papery",)

    panel.show_server_loras(["ink-style", "charcoal"], "not on the server")
    assert picker.names() == completions(panel) == ["ink-style", "charcoal"]
    assert row_labels(panel) == ["paper (not on the server)", "ink-style"]
    assert [row.trigger_words for row in picker.rows] == [(), ()]  # the server sends none
    assert picker.add_button.isEnabled()
    assert panel.form.value("prompt") == "a fox <lora:paper:0.5> <lora:ink-style:1>"  # kept

    panel.show_server_loras([], "not on the server")
    assert not picker.add_button.isEnabled()
    assert "No LoRAs where jobs run" in picker.add_button.toolTip()

    panel.show_server_loras(None, "")
    assert picker.names() == completions(panel) == ["paper"]
    assert row_labels(panel) == ["paper", "ink-style (not installed)"]
    assert picker.rows[0].trigger_words == ("papery",)


def test_a_rescan_while_on_a_server_keeps_offering_the_server_s_loras(panel, tmp_path):
    panel.show_server_loras(["ink-style"], "not on every server")
    panel.set_loras([lora_file(tmp_path, "paper"), lora_file(tmp_path, "chalk")])
    assert completions(panel) == ["ink-style"]
    assert row_labels(panel) == ["paper (not on every server)", "ink-style"]


# -- the window, with a real server ------------------------------------------------------------


@pytest.fixture
def lora_window(qtbot, atelier_home, server_window):  # noqa: F811
    """The window with one installed LoRA, "paper", whose trigger word is "papery"."""
    tags = json.dumps({"5_paper": {"papery": 3}})
    write_safetensors(
        atelier_home / "models" / "loras" / "paper.safetensors",
        LORA_KEYS,
        metadata={"ss_tag_frequency": tags},
    )
    with qtbot.waitSignal(server_window.models_shown, timeout=WAIT_MS):
        server_window.refresh_models()
    return server_window


def put_server_lora(base_dir: Path, name: str) -> None:
    """A LoRA file in a test server's LoRA folder (ComfyUI lists it at the next ask)."""
    write_safetensors(base_dir / "models" / "loras" / name, SERVER_LORA_KEYS)


def count_listings(monkeypatch) -> list[str]:
    """The servers' model listings from now on: the URL of each, as it is asked."""
    listings: list[str] = []
    real_models = server_info.models

    def counted_models(url: str) -> dict[str, tuple[str, ...]]:
        listings.append(url)
        return real_models(url)

    monkeypatch.setattr(server_info, "models", counted_models)  # resolved at each listing
    return listings


def test_a_server_that_does_not_answer_leaves_the_installed_loras(lora_window, qtbot):
    window, picker = lora_window, lora_window.prompt_panel.lora_picker
    assert picker.names() == ["paper"]
    save_servers([ServerConfig(unanswered_url(), name="Rack")])
    window.run_on.refresh()
    window.run_on.choose("Rack")
    qtbot.waitUntil(lambda: "Could not list" in window.run_on.note.text(), timeout=WAIT_MS)
    assert picker.names() == ["paper"] and picker.server_names is None


def test_run_on_a_real_server_offers_its_loras_and_a_chosen_one_runs_there(
    lora_window, qtbot, start_comfyui_server, monkeypatch
):
    window, panel = lora_window, lora_window.prompt_panel
    picker = panel.lora_picker
    server = start_comfyui_server()
    put_server_lora(server.base_dir, "styles/ink-style.safetensors")
    listings = count_listings(monkeypatch)
    panel.form.set_value("prompt", "a fox <lora:paper:0.5>")
    assert picker.rows[0].trigger_words == ("papery",)

    save_servers([ServerConfig(server.url, name="Test server")])
    window.run_on.refresh()
    window.run_on.choose("Test server")
    qtbot.waitUntil(lambda: picker.server_names is not None, timeout=WAIT_MS)
    assert listings == [server.url]  # checkpoints and LoRAs from one listing
    assert panel.model_name() == server.checkpoints[0]
    assert picker.names() == completions(panel) == ["ink-style"]
    assert row_labels(panel) == ["paper (not on the server)"]
    assert picker.rows[0].trigger_words == ()
    assert "its LoRAs" in window.run_on.note.text()

    # Add LoRA lists the server's LoRAs; choosing one tags it by its stem
    shown: list[list[str]] = []

    def choose_all(dialog: LoraChooser) -> QDialog.DialogCode:
        shown.append([dialog.list.item(i).text() for i in range(dialog.list.count())])
        dialog.list.selectAll()
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(LoraChooser, "exec", choose_all)
    panel.form.set_value("prompt", "a fox")
    picker.choose()
    assert shown == [["ink-style"]]
    assert panel.form.value("prompt") == "a fox <lora:ink-style:1>"
    assert row_labels(panel) == ["ink-style"]

    # the job runs on the server with the LoRA file the tag names
    task = panel.tasks[panel.mode]
    values = {**panel.mode_values(), "width": 64, "height": 64, "steps": 2}
    doc = window.session.doc
    with qtbot.waitSignal(window.generation.finished, timeout=WAIT_MS * 4):
        window.gen.run(build_request(task, values, doc, fill_target(doc).size))
    history = ComfyUIClient(ServerConfig(server.url)).get_json("/history")
    loaded = [
        node["inputs"]["lora_name"]
        for entry in history.values()
        for node in entry["prompt"][2].values()
        if node["class_type"] == "LoraLoader"
    ]
    assert loaded == ["styles/ink-style.safetensors"]

    window.run_on.choose("Local engine")
    assert picker.names() == completions(panel) == ["paper"]
    assert row_labels(panel) == ["ink-style (not installed)"]
    assert len(listings) == 1  # the local engine needs no listing


def test_an_installed_lora_the_server_holds_under_another_name_is_not_marked_missing(
    lora_window, qtbot, start_comfyui_server, atelier_home
):
    window, panel = lora_window, lora_window.prompt_panel
    picker = panel.lora_picker
    server = start_comfyui_server()
    local = atelier_home / "models" / "loras" / "paper.safetensors"
    copy = server.base_dir / "models" / "loras" / "studio" / "paper-v2.safetensors"
    copy.parent.mkdir(parents=True)
    # the same tensors under another name, recording their hash as kohya's trainers do
    save_file(load_file(local), str(copy), metadata=hash_metadata(tensor_hash(local)))
    put_server_lora(server.base_dir, "ink-style.safetensors")  # records no hash
    panel.form.set_value("prompt", "a fox <lora:paper:0.5> <lora:chalk:1>")

    save_servers([ServerConfig(server.url, name="Test server")])
    window.run_on.refresh()
    window.run_on.choose("Test server")
    qtbot.waitUntil(lambda: picker.server_names is not None, timeout=WAIT_MS)
    assert picker.names() == ["ink-style", "paper-v2", "paper"]
    assert row_labels(panel) == ["paper", "chalk (not on the server)"]
