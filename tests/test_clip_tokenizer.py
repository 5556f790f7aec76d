"""The CLIP tokenizer files shipped in resources/ are CLIP's own vocabulary, usable offline."""

from __future__ import annotations

import importlib.util
import json

import pytest

from engine.home import RESOURCES

CLIP_DIR = RESOURCES / "tokenizers" / "clip"
CONFIGS = RESOURCES / "configs"


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import CLIPTokenizer

    return CLIPTokenizer.from_pretrained(CLIP_DIR, local_files_only=True)


def test_vocabulary_has_clips_49408_tokens_with_the_special_ones_last():
    vocab = json.loads((CLIP_DIR / "vocab.json").read_text(encoding="utf-8"))
    assert len(vocab) == 49408
    assert sorted(vocab.values()) == list(range(49408))
    assert vocab["<|startoftext|>"] == 49406 and vocab["<|endoftext|>"] == 49407
    assert vocab["!"] == 0 and vocab["a</w>"] == 320


def test_merges_file_is_in_hugging_face_format():
    lines = (CLIP_DIR / "merges.txt").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#version: 0.2"
    assert len(lines) == 1 + 49152 - 256 - 2
    assert lines[1] == "i n" and all(len(line.split()) == 2 for line in lines[1:])


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("a photo of a cat", [49406, 320, 1125, 539, 320, 2368, 49407]),
        (
            "an astronaut riding a horse on mars",
            [49406, 550, 18376, 6765, 320, 4558, 525, 7496, 49407],
        ),
        ("Hello, World!", [49406, 3306, 267, 1002, 256, 49407]),
    ],
)
def test_tokenizer_gives_clips_known_ids(tokenizer, text, ids):
    assert tokenizer(text).input_ids == ids


def test_shipped_sd15_tokenizer_pads_with_end_of_text_to_77():
    from transformers import CLIPTokenizer

    tok = CLIPTokenizer.from_pretrained(CONFIGS / "sd15" / "tokenizer", local_files_only=True)
    ids = tok("a photo of a cat", padding="max_length").input_ids
    assert len(ids) == tok.model_max_length == 77
    assert ids[:7] == [49406, 320, 1125, 539, 320, 2368, 49407] and set(ids[7:]) == {49407}


def test_shipped_sdxl_second_tokenizer_pads_with_exclamation_mark():
    from transformers import CLIPTokenizer

    tok = CLIPTokenizer.from_pretrained(CONFIGS / "sdxl" / "tokenizer_2", local_files_only=True)
    ids = tok("a photo of a cat", padding="max_length").input_ids
    assert tok.pad_token == "!" and ids[7:] == [0] * 70


@pytest.mark.parametrize("folder", ["sd15/tokenizer", "sdxl/tokenizer", "sdxl/tokenizer_2"])
def test_config_tokenizer_files_link_to_the_one_shared_copy(folder):
    for name in ("vocab.json", "merges.txt"):
        link = CONFIGS / folder / name
        assert link.is_symlink() and link.resolve() == (CLIP_DIR / name).resolve()


@pytest.mark.skipif(importlib.util.find_spec("open_clip") is None, reason="needs open_clip")
def test_shipped_files_are_exactly_what_the_derivation_script_writes(tmp_path):
    path = RESOURCES.parent / "packaging" / "derive_clip_tokenizer.py"
    spec = importlib.util.spec_from_file_location("derive_clip_tokenizer", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    vocab, merges = script.derive(script.find_bpe_file())
    script.write(vocab, merges, tmp_path)
    for name in ("vocab.json", "merges.txt"):
        assert (tmp_path / name).read_bytes() == (CLIP_DIR / name).read_bytes()
