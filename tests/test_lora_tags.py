"""The `<lora:name:weight>` prompt syntax, a LoRA file's base family and trigger words
(torch-free)."""

from __future__ import annotations

import pytest

from plugins.diffusion.lora_files import lora_base_family, lora_file_triggers, trigger_words
from plugins.diffusion.lora_tags import (
    find_tags,
    merged_loras,
    remove_tag,
    set_tag,
    strip_tags,
)
from plugins.diffusion.params import LoraSpec
from tests.fixtures import tiny_loras


def test_tags_are_read_with_weights_defaulting_to_one():
    tags = find_tags("a cat <lora:Paper Cut:0.6>, <lora:ink> <lora:x:0.5:0.2>")
    assert [(t.name, t.weight) for t in tags] == [("Paper Cut", 0.6), ("ink", 1.0), ("x", 0.5)]


@pytest.mark.parametrize("tag", ["<lora:ink:heavy>", "<lora:ink:1e9>", "<lora:ink:nan>"])
def test_an_unusable_weight_is_one_sentence_naming_the_tag(tag):
    with pytest.raises(ValueError, match=tag):
        find_tags(f"a cat {tag}")


def test_stripping_leaves_the_words_and_no_doubled_separators():
    assert strip_tags("a cat <lora:ink:0.5>, <lora:b> on a mat") == "a cat, on a mat"
    assert strip_tags("<lora:ink>") == ""
    assert strip_tags("a  cat , untouched") == "a  cat , untouched"  # no tags: as typed


def test_merging_params_then_tags_the_later_weight_wins_in_the_first_place():
    loras = merged_loras(
        [LoraSpec("ink", 0.3), LoraSpec("paper")], "a <lora:INK:0.8>", "<lora:grain:0.2>"
    )
    assert loras == (LoraSpec("ink", 0.8), LoraSpec("paper", 1.0), LoraSpec("grain", 0.2))


def test_set_and_remove_edit_only_their_own_tag():
    prompt = "a cat <lora:ink:0.5>, on a mat <lora:paper>"
    assert set_tag(prompt, "INK", 0.25) == "a cat <lora:ink:0.25>, on a mat <lora:paper>"
    assert set_tag("a cat", "grain", 1) == "a cat <lora:grain:1>"
    assert set_tag("a cat <lora:ink> <lora:ink:2>", "ink", 0.7) == "a cat <lora:ink:0.7>"
    assert remove_tag(prompt, "paper") == "a cat <lora:ink:0.5>, on a mat"
    assert remove_tag(prompt, "ink") == "a cat, on a mat <lora:paper>"


def test_base_family_from_names_and_widths():
    sd15 = tiny_loras.lora_weights("sd15")
    sdxl = tiny_loras.lora_weights("sdxl")
    shapes = {f"unet.{k}": tuple(v.shape) for k, v in sd15.items()}
    assert lora_base_family(shapes) == "sd15"
    assert lora_base_family({f"unet.{k}": tuple(v.shape) for k, v in sdxl.items()}) == "sdxl"
    kohya = {"lora_unet_input_blocks_4_1_proj_in.lora_down.weight": (4, 640)}
    assert lora_base_family({**kohya, "lora_te2_text_model.x.lora_down.weight": (4, 8)}) == "sdxl"
    real = "lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight"
    assert lora_base_family({real: (8, 768)}) == "sd15"
    assert lora_base_family({real: (8, 1024)}) == "sd2"
    assert lora_base_family({real: (8, 2048)}) == "sdxl"
    assert lora_base_family({"something.lora_A.weight": (4, 4)}) == ""


def test_trigger_words_from_metadata(tmp_path):
    meta = tiny_loras.kohya_metadata({"inky": 40, "1girl": 3, "lineart": 12}, "inkstyle, bold")
    assert trigger_words(meta) == ("inkstyle", "bold", "inky", "lineart", "1girl")
    assert trigger_words({"ss_tag_frequency": "{not json"}) == ()
    path = tiny_loras.save_peft_lora(
        tiny_loras.lora_weights("sd15"), tmp_path / "ink.safetensors", metadata=meta
    )
    assert lora_file_triggers(path)[:2] == ("inkstyle", "bold")
    assert lora_file_triggers(tmp_path / "ink.pt") == ()
