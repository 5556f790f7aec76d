"""The LoRA picker and `<lora:` completion offer the LoRAs that fit the chosen checkpoint's
family (one whose file does not say stays offered); a LoRA of the prompt that does not fit
keeps its row, marked; a server's LoRAs (which say no family) are all offered."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from app.ui.prompt_panel import PromptPanel
from engine.model_entry import ModelEntry
from plugins.diffusion import plugin
from plugins.diffusion.families import BY_ID
from tests.test_gui_lora_picker import lora_file

TO_K = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight"


def family_lora(folder: Path, name: str, width: int) -> ModelEntry:
    """A kohya LoRA whose cross-attention input is `width` wide (768: SD 1.x, 2048: SDXL)."""
    path = folder / f"{name}.safetensors"
    save_file({TO_K: np.zeros((4, width), np.float16)}, str(path))
    return ModelEntry(name, "loras", "lora", "single_file", path, path.stat().st_size, "atelier")


def checkpoint(folder: Path, name: str, family: str) -> ModelEntry:
    return ModelEntry(name, "checkpoints", family, "diffusers", folder / name, 0, "atelier")


@pytest.fixture
def panel(qtbot, tmp_path):
    panel = PromptPanel({t.id: t for t in plugin.tasks}, families=BY_ID)
    qtbot.addWidget(panel)
    panel.set_loras(
        [
            family_lora(tmp_path, "ink-xl", 2048),
            family_lora(tmp_path, "paper-15", 768),
            lora_file(tmp_path, "any-style"),  # its tensors do not say a family
        ]
    )
    panel.set_models(
        [checkpoint(tmp_path, "dream", "sd15"), checkpoint(tmp_path, "vista", "sdxl")], "dream"
    )
    panel.form.set_value("prompt", "a fox")
    return panel


def completions(panel) -> list[str]:
    return panel.lora_completer.model.stringList()


def choose(panel, name: str) -> None:
    panel.model_picker.setCurrentIndex(panel.model_picker.findData(name))


def test_the_loras_offered_are_those_of_the_checkpoint_s_family(panel):
    picker = panel.lora_picker
    assert picker.names() == ["any-style", "paper-15"]
    assert completions(panel) == ["any-style", "paper-15"]
    choose(panel, "vista")
    assert picker.names() == ["any-style", "ink-xl"]
    assert completions(panel) == ["any-style", "ink-xl"]


def test_a_lora_in_the_prompt_that_does_not_fit_is_kept_and_marked(panel):
    picker = panel.lora_picker
    panel.form.set_value("prompt", "a fox <lora:ink-xl:0.7> <lora:paper-15:1>")
    labels = [row.label.text() for row in picker.rows]
    assert labels == ["ink-xl (made for SDXL: does not fit the model)", "paper-15"]
    assert picker.rows[0].weight() == 0.7
    choose(panel, "vista")  # now the other one does not fit
    labels = [row.label.text() for row in picker.rows]
    assert labels == ["ink-xl", "paper-15 (made for Stable Diffusion 1.x: does not fit the model)"]
    assert panel.form.value("prompt") == "a fox <lora:ink-xl:0.7> <lora:paper-15:1>"


def test_a_server_s_loras_are_all_offered(panel):
    picker = panel.lora_picker
    panel.show_server_loras(["ink-xl", "far-away"], "not on the server")
    assert picker.names() == ["ink-xl", "far-away"]
    assert completions(panel) == ["ink-xl", "far-away"]
    panel.show_server_loras(None, "")
    assert completions(panel) == ["any-style", "paper-15"]
