"""The Generate panel's Text to music mode: its model is a picker of the installed music
models with their licences (the default first), whose atelier.json defaults fill its
fields; it shows no LoRAs row, and an untouched example prompt becomes the music model's."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.ui.model_field import ModelField
from app.ui.prompt_panel import PromptPanel
from engine.model_entry import ModelEntry
from engine.model_settings import ModelSettings
from engine.model_store import ModelListing
from plugins.diffusion import plugin as diffusion_plugin
from plugins.diffusion.families import BY_ID
from plugins.music import TEXT_TO_MUSIC
from plugins.music import plugin as music_plugin

IMAGE_EXAMPLE = "a large red circle at the top left"
MUSIC_EXAMPLE = "a calm piano melody in A minor at 70 bpm, no drums"


def entry(name: str, kind: str, family: str, source: str = "atelier", **more) -> ModelEntry:
    return ModelEntry(name, kind, family, "diffusers", Path("/nowhere") / name, 1, source, **more)


LISTING = ModelListing(
    (
        entry(
            "atelier-demo",
            "checkpoints",
            "sd15",
            "builtin",
            settings=ModelSettings(example_prompt=IMAGE_EXAMPLE),
        ),
        entry(
            "facebook/musicgen-small",
            "music",
            "musicgen",
            "hf_cache",
            settings=ModelSettings(
                defaults={"guidance": 5, "top_k": 100, "temperature": "hot", "seed": 4}
            ),
        ),
        entry("ink", "loras", "lora"),
        entry(
            "atelier-demo-music",
            "music",
            "musicgen",
            "builtin",
            licence="Apache-2.0",
            settings=ModelSettings(example_prompt=MUSIC_EXAMPLE),
        ),
    ),
    (),
)


def listed_panel(qtbot, plugin, listing: ModelListing) -> PromptPanel:
    """The Generate panel of the diffusion modes and `plugin`'s, shown, with `listing`'s
    models (atelier-demo chosen)."""
    tasks = {t.id: t for t in (*diffusion_plugin.tasks, *plugin.tasks)}
    panel = PromptPanel(tasks, families=BY_ID)
    qtbot.addWidget(panel)
    panel.set_models(listing.picker_checkpoints(), "atelier-demo")
    panel.set_loras(listing.entries)
    panel.set_model_listing(listing)
    panel.show()
    return panel


@pytest.fixture
def panel(qtbot):
    return listed_panel(qtbot, music_plugin, LISTING)


def music_picker(panel) -> ModelField:
    return panel.mode_forms.forms[TEXT_TO_MUSIC.id].widgets["music_model"]


def test_the_music_model_is_picked_from_the_installed_ones_with_their_licences(panel):
    panel.set_mode(TEXT_TO_MUSIC.id)
    picker = music_picker(panel)
    assert isinstance(picker, ModelField) and picker.isVisibleTo(panel)  # not under More
    combo = picker.combo
    items = [combo.itemText(i) for i in range(combo.count())]
    assert [combo.itemData(i) for i in range(combo.count())] == [
        "atelier-demo-music",  # the built-in one, the default, first
        "facebook/musicgen-small",
    ]
    assert items[0].endswith("Licence: Apache-2.0")
    assert items[1].endswith("Licence: cc-by-nc-4.0 (non-commercial use only)")
    assert picker.note.text() == "Licence: Apache-2.0" and picker.note.isVisibleTo(panel)
    assert panel.mode_values()["music_model"] == "atelier-demo-music"
    combo.setCurrentIndex(1)
    assert "non-commercial" in picker.note.text()
    assert panel.mode_values()["music_model"] == "facebook/musicgen-small"


def test_a_recipes_music_model_is_chosen_and_a_missing_one_is_reported(panel):
    recipe = {
        "task": TEXT_TO_MUSIC.id,
        "params": {"prompt": "drums", "music_model": "facebook/musicgen-small"},
    }
    assert panel.load_recipe(recipe) == []
    assert panel.mode_values()["music_model"] == "facebook/musicgen-small"
    recipe["params"]["music_model"] = "facebook/musicgen-large"
    skipped = panel.load_recipe(recipe)
    assert skipped == ["music_model ('facebook/musicgen-large')"]
    assert panel.mode_values()["music_model"] == "facebook/musicgen-small"  # kept


def test_a_model_named_before_the_scan_is_chosen_when_it_is_listed(qtbot):
    panel = PromptPanel({TEXT_TO_MUSIC.id: TEXT_TO_MUSIC})
    qtbot.addWidget(panel)
    panel.mode_forms.forms[TEXT_TO_MUSIC.id].set_values({"music_model": "facebook/musicgen-small"})
    assert panel.mode_values()["music_model"] == ""  # nothing listed yet: the job's default
    panel.set_model_listing(LISTING)
    assert panel.mode_values()["music_model"] == "facebook/musicgen-small"


def music_form(panel):
    return panel.mode_forms.forms[TEXT_TO_MUSIC.id]


def test_a_chosen_music_models_defaults_fill_the_fields_they_fit(panel):
    panel.set_mode(TEXT_TO_MUSIC.id)
    form = music_form(panel)
    assert form.values()["guidance"] == 3.0  # the built-in model says nothing: the task's
    music_picker(panel).combo.setCurrentIndex(1)  # facebook/musicgen-small
    values = form.values()
    assert (values["guidance"], values["top_k"]) == (5.0, 100)
    assert values["temperature"] == 1.0  # "hot" is no temperature: dropped
    assert panel.mode_values()["seed"] == -1  # the seed is the designer's, whatever the model
    form.set_values({"guidance": 7.5})
    panel.set_model_listing(LISTING)  # a rescan keeping the model keeps what was typed
    assert form.values()["guidance"] == 7.5


def test_a_recipe_keeps_its_own_settings_over_its_models_defaults(panel, qtbot):
    recipe = {
        "task": TEXT_TO_MUSIC.id,
        "params": {"prompt": "drums", "music_model": "facebook/musicgen-small", "guidance": 2},
    }
    assert panel.load_recipe(recipe) == []
    assert music_form(panel).values()["guidance"] == 2.0
    early = PromptPanel({TEXT_TO_MUSIC.id: TEXT_TO_MUSIC})  # loaded before the scan
    qtbot.addWidget(early)
    early.load_recipe(recipe)
    early.set_model_listing(LISTING)
    assert early.mode_values()["music_model"] == "facebook/musicgen-small"
    assert music_form(early).values()["guidance"] == 2.0


def choose(panel, name: str) -> None:
    combo = music_picker(panel).combo
    combo.setCurrentIndex(combo.findData(name))


def test_fields_the_chosen_model_does_not_use_are_greyed_out_and_run_at_their_defaults(qtbot):
    more = (
        entry("stable-audio-open", "music", "stable_audio"),
        entry("facebook/musicgen-melody", "music", "musicgen_melody"),
    )
    panel = listed_panel(qtbot, music_plugin, ModelListing((*LISTING.entries, *more), ()))
    panel.set_mode(TEXT_TO_MUSIC.id)
    form = music_form(panel)
    widgets = form.widgets
    sampling = ("temperature", "top_k", "continue_from")
    form.set_values({"temperature": 1.5, "melody": "/music/tune.wav"})
    # the built-in MusicGen samples codes but follows no melody
    assert all(widgets[name].isEnabled() for name in sampling)
    assert not widgets["melody"].isEnabled()
    assert not form.advanced.layout_.labelForField(widgets["melody"]).isEnabled()
    assert panel.mode_values()["melody"] == "" and panel.mode_values()["temperature"] == 1.5
    choose(panel, "stable-audio-open")
    for name in (*sampling, "melody"):
        assert not widgets[name].isEnabled()
        assert widgets[name].toolTip().startswith("Not used by stable-audio-open.")
    assert widgets["guidance"].isEnabled() and widgets["duration"].isEnabled()
    assert panel.mode_values()["temperature"] == 1.0  # its default goes to the job ...
    assert widgets["temperature"].value() == 1.5  # ... while what was typed is kept
    choose(panel, "facebook/musicgen-melody")
    assert all(widgets[name].isEnabled() for name in (*sampling, "melody"))
    assert "Not used" not in widgets["melody"].toolTip()
    values = panel.mode_values()
    assert (values["melody"], values["temperature"]) == ("/music/tune.wav", 1.5)


def test_the_loras_row_shows_only_in_modes_that_take_loras(panel):
    assert panel.lora_picker.isVisibleTo(panel)  # text to image
    panel.set_mode(TEXT_TO_MUSIC.id)
    assert not panel.lora_picker.isVisibleTo(panel)
    panel.set_mode(panel.modes[0].id)
    assert panel.lora_picker.isVisibleTo(panel)


def test_an_untouched_example_prompt_becomes_the_music_models_and_back(panel):
    assert panel.form.value("prompt") == IMAGE_EXAMPLE
    panel.set_mode(TEXT_TO_MUSIC.id)
    assert panel.form.value("prompt") == MUSIC_EXAMPLE
    music_picker(panel).combo.setCurrentIndex(1)  # MusicGen says no example: the hint shows
    assert panel.form.value("prompt") == ""
    music_picker(panel).combo.setCurrentIndex(0)
    assert panel.form.value("prompt") == MUSIC_EXAMPLE
    panel.set_mode(panel.modes[0].id)
    assert panel.form.value("prompt") == IMAGE_EXAMPLE


def test_a_typed_prompt_is_never_replaced(panel):
    panel.form.set_value("prompt", "rain on a tin roof")
    panel.set_mode(TEXT_TO_MUSIC.id)
    music_picker(panel).combo.setCurrentIndex(1)
    panel.set_model_listing(LISTING)
    assert panel.form.value("prompt") == "rain on a tin roof"


def test_the_prompt_asks_for_music_in_text_to_music_and_for_a_picture_elsewhere(panel):
    prompt = panel.form.widgets["prompt"]
    panel.form.set_value("prompt", "")
    panel.set_mode(TEXT_TO_MUSIC.id)
    assert prompt.isVisibleTo(panel)  # the same field, in the music's words
    assert "instruments" in prompt.placeholderText()
    assert "instruments" in prompt.toolTip()
    panel.set_mode("diffusion.txt2img")
    assert prompt.placeholderText() == "What to draw."
    assert prompt.toolTip() == "What to draw."
