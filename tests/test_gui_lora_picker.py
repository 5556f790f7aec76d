"""The LoRA picker and `<lora:` completion edit the prompt text, the single truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog
from safetensors.numpy import save_file

from app.ui.lora_picker import LoraChooser
from app.ui.prompt_panel import PromptPanel
from engine.model_entry import ModelEntry
from plugins.diffusion import plugin
from plugins.diffusion.families import BY_ID


def lora_file(folder: Path, name: str, tags: dict[str, int] | None = None) -> ModelEntry:
    meta = {"ss_tag_frequency": json.dumps({"5_x": tags})} if tags else None
    path = folder / f"{name}.safetensors"
    save_file({"unet.a.lora_A.weight": np.zeros((4, 4), np.float32)}, str(path), metadata=meta)
    return ModelEntry(name, "loras", "lora", "single_file", path, path.stat().st_size, "atelier")


@pytest.fixture
def panel(qtbot, tmp_path):
    panel = PromptPanel({t.id: t for t in plugin.tasks}, families=BY_ID)
    qtbot.addWidget(panel)
    entries = [
        lora_file(tmp_path, "ink", {"inky": 9, "bold lines": 4}),
        lora_file(tmp_path, "paper"),
    ]
    panel.set_loras(entries)
    panel.form.set_value("prompt", "a fox")
    return panel


def prompt(panel) -> str:
    return panel.form.value("prompt")


def test_adding_weighing_and_removing_loras_edits_the_prompt(panel, qtbot):
    picker = panel.lora_picker
    assert picker.add_button.isEnabled()
    picker.add_loras(["ink", "paper"])
    assert prompt(panel) == "a fox <lora:ink:1> <lora:paper:1>"
    assert [row.name for row in picker.rows] == ["ink", "paper"]
    picker.rows[0].slider.setValue(13)  # 13 steps of 0.05
    assert prompt(panel) == "a fox <lora:ink:0.65> <lora:paper:1>"
    qtbot.mouseClick(picker.rows[1].remove, Qt.MouseButton.LeftButton)
    assert prompt(panel) == "a fox <lora:ink:0.65>"
    assert [row.name for row in picker.rows] == ["ink"]


def test_typed_tags_show_as_rows_and_the_picker_follows_edits(panel):
    picker = panel.lora_picker
    panel.form.set_value("prompt", "a fox <lora:paper:0.4> <lora:gone:2>")
    assert [(row.name, row.weight()) for row in picker.rows] == [("paper", 0.4), ("gone", 2.0)]
    assert "not installed" in picker.rows[1].label.text()
    panel.form.set_value("prompt", "a fox <lora:paper:0.8> <lora:gone:2>")
    assert picker.rows[0].weight() == 0.8 and picker.rows[0].value.text() == "0.8"


def test_trigger_words_are_shown_and_inserted_in_one_click(panel, qtbot):
    picker = panel.lora_picker
    picker.add_loras(["ink"])
    label = picker.rows[0].triggers_label
    assert picker.rows[0].trigger_words == ("inky", "bold lines")
    assert ">inky</a>" in label.text() and ">bold lines</a>" in label.text()
    label.linkActivated.emit("1")  # what a click on the second word sends
    assert prompt(panel) == "a fox, bold lines <lora:ink:1>"
    label.linkActivated.emit("1")  # once only
    assert prompt(panel) == "a fox, bold lines <lora:ink:1>"
    picker.add_loras(["paper"])
    assert not picker.rows[1].triggers_label.isVisibleTo(picker)  # no metadata: none shown


def test_the_chooser_adds_several_loras_at_once(panel, monkeypatch, qtbot):
    def tick_all(dialog):
        for index in range(dialog.list.count()):
            rect = dialog.list.visualItemRect(dialog.list.item(index))
            qtbot.mouseClick(dialog.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(LoraChooser, "exec", tick_all)
    panel.lora_picker.choose()
    assert prompt(panel) == "a fox <lora:ink:1> <lora:paper:1>"


def test_typing_lora_offers_installed_names_and_completes_the_tag(panel, qtbot):
    panel.show()
    edit = panel.form.widgets["prompt"]
    edit.setFocus()
    edit.moveCursor(edit.textCursor().MoveOperation.End)
    qtbot.keyClicks(edit, ", <lora:pa")
    completer = panel.lora_completer.completer
    popup = completer.popup()
    qtbot.waitUntil(popup.isVisible)
    assert completer.currentCompletion() == "paper"
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    assert prompt(panel) == "a fox, <lora:paper:1>"
    assert not popup.isVisible()
    assert [row.name for row in panel.lora_picker.rows] == ["paper"]


def test_no_loras_installed_disables_adding(panel):
    panel.set_loras([])
    assert not panel.lora_picker.add_button.isEnabled()
    assert "No LoRAs installed" in panel.lora_picker.add_button.toolTip()
