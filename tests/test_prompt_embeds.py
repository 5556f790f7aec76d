"""Prompt embeddings: short prompts match diffusers exactly; long ones are chunked."""

from __future__ import annotations

import pytest
import torch

from engine.devices import DevicePolicy
from engine.model_loader import load_model
from engine.model_store import ModelStore
from plugins.diffusion.families import BY_ID
from plugins.diffusion.prompt_embeds import (
    CHUNK_TOKENS,
    MAX_CHUNKS,
    MAX_TOKENS,
    encode_prompts,
    framed,
    prompt_tokens,
    token_chunks,
)
from plugins.diffusion.sampling import prompt_warnings


@pytest.fixture(scope="module")
def pipes(tiny_models, tiny_config_root):
    store = ModelStore(home=tiny_models, extra_folders=[], config_root=tiny_config_root)
    store.scan()
    return {
        family: load_model(
            store.find(str(tiny_models / f"tiny-{family}")),
            store,
            BY_ID,
            DevicePolicy("cpu", "float32"),
        )
        for family in ("sd15", "sdxl")
    }


def test_short_sd15_prompt_equals_diffusers(pipes):
    pipe = pipes["sd15"]
    ours = encode_prompts(pipe, "a red fox", "blurry")
    theirs, negative = pipe.encode_prompt("a red fox", "cpu", 1, True, "blurry")
    assert ours.chunks == 1
    assert torch.equal(ours.prompt_embeds, theirs)
    assert torch.equal(ours.negative_prompt_embeds, negative)


@pytest.mark.parametrize("negative", ["", "blurry"])
def test_short_sdxl_prompt_equals_diffusers(pipes, negative):
    pipe = pipes["sdxl"]
    ours = encode_prompts(pipe, "a red fox", negative)
    embeds, neg, pooled, neg_pooled = pipe.encode_prompt(
        "a red fox", device="cpu", negative_prompt=negative or None
    )
    assert torch.equal(ours.prompt_embeds, embeds)
    assert torch.equal(ours.pooled_prompt_embeds, pooled)
    assert torch.equal(ours.negative_prompt_embeds, neg)
    assert torch.equal(ours.negative_pooled_prompt_embeds, neg_pooled)


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_long_prompt_is_encoded_in_chunks_of_77(pipes, family):
    pipe = pipes[family]
    prompt = ", ".join(f"word{i}" for i in range(60))  # well over 75 tokens
    assert len(token_chunks(prompt_tokens(pipe.tokenizer, prompt))) > 1
    embeds = encode_prompts(pipe, prompt, "")
    assert embeds.chunks > 1
    assert embeds.prompt_embeds.shape[1] == 77 * embeds.chunks
    assert embeds.negative_prompt_embeds.shape == embeds.prompt_embeds.shape


def test_every_token_lands_in_a_chunk(pipes):
    tokenizer = pipes["sd15"].tokenizer
    prompt = " ".join(["castle"] * 200)
    chunks = token_chunks(prompt_tokens(tokenizer, prompt))
    assert sum(len(c) for c in chunks) == 200 and all(len(c) <= CHUNK_TOKENS for c in chunks)
    ids = framed(tokenizer, chunks[0])
    assert len(ids) == 77 and ids[0] == tokenizer.bos_token_id and ids[76] == tokenizer.eos_token_id


def test_a_very_long_prompt_is_cut_with_a_warning_saying_how_much_was_used(pipes):
    """10,000 words took 8-17 s before; past MAX_TOKENS the rest is dropped and said so."""
    pipe = pipes["sd15"]
    embeds = encode_prompts(pipe, " ".join(["castle"] * 10_000), "")
    assert embeds.cut and embeds.chunks == MAX_CHUNKS
    assert embeds.prompt_embeds.shape[1] == 77 * MAX_CHUNKS
    (warning,) = prompt_warnings(embeds)
    assert f"only its first {MAX_TOKENS} tokens were used" in warning
    assert not encode_prompts(pipe, "a red fox", "").cut


def test_a_prompt_with_undecodable_bytes_is_encoded(pipes):
    """argv bytes that are not UTF-8 arrive as lone surrogates; the tokenizer crashed on them."""
    pipe = pipes["sdxl"]
    embeds = encode_prompts(pipe, "a red \udcff fox", "blur\udcc3")
    assert embeds.prompt_embeds.shape[1] == 77 and not embeds.cut
