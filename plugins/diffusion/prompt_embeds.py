"""Prompt embeddings without the 77-token limit: long prompts are encoded in chunks.

CLIP reads 77 tokens (75 plus start and end). A longer prompt is split into 75-token
chunks; each is encoded on its own and the results are joined along the sequence, the way
A1111 does. Short prompts give exactly diffusers' embeddings.

A prompt is used up to MAX_CHUNKS chunks (750 tokens, far past what CLIP attends to);
beyond that each chunk only costs time (a 10,000-word prompt took 8-17 s on a 2-core
CPU), so the rest is dropped and the task's warning says how much was used.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from engine.untrusted import clean_text

CHUNK_TOKENS = 75
MAX_CHUNKS = 10
MAX_TOKENS = CHUNK_TOKENS * MAX_CHUNKS
MAX_PROMPT_CHARACTERS = 40 * MAX_TOKENS  # a bound on tokenizing time, far past MAX_TOKENS


@dataclass
class PromptEmbeds:
    """Keyword arguments for a Stable Diffusion (XL) pipeline call."""

    prompt_embeds: Any
    negative_prompt_embeds: Any
    pooled_prompt_embeds: Any = None
    negative_pooled_prompt_embeds: Any = None
    chunks: int = 1
    tokens: int = 0  # the longer prompt's length in tokens (before any cut)
    cut: bool = False  # a prompt was longer than MAX_TOKENS and was cut there

    def as_kwargs(self) -> dict[str, Any]:
        kwargs = {
            "prompt_embeds": self.prompt_embeds,
            "negative_prompt_embeds": self.negative_prompt_embeds,
        }
        if self.pooled_prompt_embeds is not None:
            kwargs["pooled_prompt_embeds"] = self.pooled_prompt_embeds
            kwargs["negative_pooled_prompt_embeds"] = self.negative_pooled_prompt_embeds
        return kwargs


def prompt_tokens(tokenizer: Any, text: str) -> list[int]:
    """The prompt's token ids (no start/end tokens), all of them; text that is not valid
    Unicode (lone surrogates) is cleaned first, and only MAX_PROMPT_CHARACTERS are read."""
    text = clean_text(text[:MAX_PROMPT_CHARACTERS])
    return tokenizer(text, add_special_tokens=False, truncation=False).input_ids


def token_chunks(ids: list[int]) -> list[list[int]]:
    """Token ids in chunks of 75, at most MAX_CHUNKS of them; at least one chunk."""
    ids = ids[:MAX_TOKENS]
    return [ids[i : i + CHUNK_TOKENS] for i in range(0, len(ids), CHUNK_TOKENS)] or [[]]


def framed(tokenizer: Any, chunk: list[int]) -> list[int]:
    """A chunk with start and end tokens, padded to the model's 77 tokens."""
    ids = [tokenizer.bos_token_id, *chunk, tokenizer.eos_token_id]
    return ids + [tokenizer.pad_token_id] * (tokenizer.model_max_length - len(ids))


def encode_prompts(pipe: Any, prompt: str, negative: str) -> PromptEmbeds:
    """Embeddings for prompt and negative prompt, padded to the same number of chunks."""
    tokenizer = pipe.tokenizer
    ids = prompt_tokens(tokenizer, prompt), prompt_tokens(tokenizer, negative)
    positive, negative_chunks = token_chunks(ids[0]), token_chunks(ids[1])
    count = max(len(positive), len(negative_chunks))
    positive += [[]] * (count - len(positive))
    negative_chunks += [[]] * (count - len(negative_chunks))
    if getattr(pipe, "text_encoder_2", None) is not None:
        embeds = _encode_xl(pipe, positive, negative_chunks, zero_negative=not negative.strip())
    else:
        embeds = PromptEmbeds(_encode_sd(pipe, positive), _encode_sd(pipe, negative_chunks))
    tokens = max(len(i) for i in ids)
    cut = tokens > MAX_TOKENS or max(len(prompt), len(negative)) > MAX_PROMPT_CHARACTERS
    return dataclasses.replace(embeds, chunks=count, tokens=tokens, cut=cut)


def _ids(tokenizer: Any, chunk: list[int], device: Any) -> Any:
    import torch

    return torch.tensor([framed(tokenizer, chunk)], device=device)


def _encode_sd(pipe: Any, chunks: list[list[int]]) -> Any:
    import torch

    device = pipe.text_encoder.device
    with torch.no_grad():
        parts = [pipe.text_encoder(_ids(pipe.tokenizer, c, device))[0] for c in chunks]
    return torch.cat(parts, dim=1)


def _encode_xl_side(pipe: Any, chunks: list[list[int]]) -> tuple[Any, Any]:
    """SDXL: both encoders' penultimate hidden states side by side; pooled from chunk one."""
    import torch

    pooled = None
    parts = []
    with torch.no_grad():
        for chunk in chunks:
            states = []
            for tokenizer, encoder in (
                (pipe.tokenizer, pipe.text_encoder),
                (pipe.tokenizer_2, pipe.text_encoder_2),
            ):
                out = encoder(_ids(tokenizer, chunk, encoder.device), output_hidden_states=True)
                if pooled is None and out[0].ndim == 2:
                    pooled = out[0]
                states.append(out.hidden_states[-2])
            parts.append(torch.cat(states, dim=-1))
    return torch.cat(parts, dim=1), pooled


def _encode_xl(
    pipe: Any, positive: list[list[int]], negative: list[list[int]], zero_negative: bool
) -> PromptEmbeds:
    import torch

    embeds, pooled = _encode_xl_side(pipe, positive)
    if zero_negative and pipe.config.force_zeros_for_empty_prompt:
        negative_embeds, negative_pooled = torch.zeros_like(embeds), torch.zeros_like(pooled)
    else:
        negative_embeds, negative_pooled = _encode_xl_side(pipe, negative)
    return PromptEmbeds(embeds, negative_embeds, pooled, negative_pooled)
