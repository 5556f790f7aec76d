"""The video modes' model fields are pickers of the installed models (Param.models), with
their automatic choice first: Motion model lists the motion adapters, Video model the Stable
Video Diffusion models (image to video) or the Wan and CogVideoX pipelines (text to video).
A designer picks instead of typing a name."""

from __future__ import annotations

import pytest

from app.ui.model_field import ModelField
from app.ui.prompt_panel import PromptPanel
from engine.model_settings import ModelSettings
from engine.model_store import ModelListing
from plugins.video import IMAGE_TO_VIDEO, TEXT_TO_VIDEO
from plugins.video import plugin as video_plugin
from tests.test_gui_music_mode import entry, listed_panel

LISTING = ModelListing(
    (
        entry("atelier-demo", "checkpoints", "sd15", "builtin"),
        entry("demo-motion", "motion", "motion", settings=ModelSettings(base="atelier-demo")),
        entry("zoom-in", "motion", "motion_lora"),
        entry("svd-xt", "video", "svd"),
        entry("wan-1.3b", "video", "wan"),
        entry("cogvideox-2b", "video", "cogvideox"),
    ),
    (),
)


@pytest.fixture
def panel(qtbot):
    return listed_panel(qtbot, video_plugin, LISTING)


def picker(panel, task_id: str, name: str) -> ModelField:
    widget = panel.mode_forms.forms[task_id].widgets[name]
    assert isinstance(widget, ModelField)
    return widget


def offered(field: ModelField) -> list[tuple[str, str]]:
    combo = field.combo
    return [(combo.itemText(i), combo.itemData(i)) for i in range(combo.count())]


def test_motion_model_offers_the_adapters_after_the_automatic_choice(panel):
    panel.set_mode(TEXT_TO_VIDEO.id)
    field = picker(panel, TEXT_TO_VIDEO.id, "motion")
    assert offered(field) == [
        ("Automatic (one that fits the checkpoint)", ""),
        ("demo-motion  \N{MIDDLE DOT}  made for atelier-demo", "demo-motion"),
    ]  # a motion LoRA is no adapter
    assert panel.mode_values()["motion"] == "" and not field.note.isVisibleTo(panel)
    field.combo.setCurrentIndex(1)
    assert panel.mode_values()["motion"] == "demo-motion"
    assert field.note.text() == "made for atelier-demo"


def test_each_video_mode_offers_its_own_video_models(panel):
    panel.set_mode(TEXT_TO_VIDEO.id)
    assert offered(picker(panel, TEXT_TO_VIDEO.id, "video_model")) == [
        ("None (AnimateDiff on the checkpoint)", ""),
        ("wan-1.3b  \N{MIDDLE DOT}  Wan", "wan-1.3b"),
        ("cogvideox-2b  \N{MIDDLE DOT}  CogVideoX", "cogvideox-2b"),
    ]
    panel.set_mode(IMAGE_TO_VIDEO.id)
    assert offered(picker(panel, IMAGE_TO_VIDEO.id, "video_model")) == [
        ("Automatic (the first installed)", ""),
        ("svd-xt", "svd-xt"),
    ]


def test_a_recipes_models_are_chosen_and_one_not_installed_is_reported(panel):
    recipe = {
        "task": IMAGE_TO_VIDEO.id,
        "params": {"prompt": "", "video_model": "svd-xt", "motion": "demo-motion"},
    }
    assert panel.load_recipe(recipe) == []
    values = panel.mode_values()
    assert (values["video_model"], values["motion"]) == ("svd-xt", "demo-motion")
    recipe["params"]["video_model"] = "svd-gone"
    assert panel.load_recipe(recipe) == ["video_model ('svd-gone')"]
    assert panel.mode_values()["video_model"] == "svd-xt"  # kept


def test_with_nothing_installed_the_automatic_choice_stays(qtbot):
    panel = PromptPanel({TEXT_TO_VIDEO.id: TEXT_TO_VIDEO})
    qtbot.addWidget(panel)
    panel.set_model_listing(ModelListing((), ()))
    field = picker(panel, TEXT_TO_VIDEO.id, "motion")
    assert offered(field) == [("Automatic (one that fits the checkpoint)", "")]
    assert panel.mode_values()["motion"] == ""
