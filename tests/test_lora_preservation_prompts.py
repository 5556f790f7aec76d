"""The prompts LoRA training's prior preservation keeps: a model folder's own list, else
Atelier's everyday one; each photo gets the list's next ones; the built-in model's list is
what its script writes, from captions the benchmark never holds out."""

from __future__ import annotations

import json

import pytest

from demo_model.captions import is_held_out
from demo_model.preservation_prompts import kept_prompts
from engine.home import RESOURCES
from plugins.lora_training.preservation_prompts import (
    GENERIC_LIST,
    LIST_FILE,
    preservation_prompts,
    prompts_for,
    read_prompts,
)


def test_a_model_folder_without_a_list_gets_the_everyday_prompts(tmp_path):
    prompts = preservation_prompts(tmp_path)
    assert prompts == read_prompts(GENERIC_LIST)
    assert len(prompts) >= 50 and len(set(prompts)) == len(prompts)
    assert not any(p.startswith("#") or not p for p in prompts)


def test_a_model_folder_list_wins_comments_and_blank_lines_left_out(tmp_path):
    (tmp_path / LIST_FILE).write_text("# mine\n a red box \n\na blue ring\n", encoding="utf-8")
    assert preservation_prompts(tmp_path) == ["a red box", "a blue ring"]


def test_an_unreadable_list_is_a_sentence_naming_the_file(tmp_path):
    (tmp_path / LIST_FILE).write_bytes(b"a red box\n\xff\xfe not text\n")
    with pytest.raises(ValueError, match="cannot be read from .*preservation_prompts.txt"):
        preservation_prompts(tmp_path)


def test_each_photo_gets_the_next_prompts_in_turn():
    prompts = ["a", "b", "c", "d", "e"]
    assert [prompts_for(prompts, photo, 2) for photo in range(4)] == [
        ["a", "b"],
        ["c", "d"],
        ["e", "a"],
        ["b", "c"],
    ]
    assert prompts_for([], 3, 2) == []
    assert prompts_for(prompts, 1, 0) == []


def test_the_built_in_models_list_is_its_scripts_and_holds_no_held_out_caption():
    shipped = read_prompts(RESOURCES / "models" / "atelier-demo" / LIST_FILE)
    assert shipped == kept_prompts()
    assert not any(is_held_out(text) for text in shipped)


def test_the_built_in_models_lora_recipe_is_its_export_scripts():
    from demo_model.export import LORA_TRAINING

    settings = json.loads((RESOURCES / "models" / "atelier-demo" / "atelier.json").read_text())
    assert settings["lora_training"] == LORA_TRAINING
