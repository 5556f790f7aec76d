"""Prompt embeddings without the 77-token limit: long prompts are encoded in chunks.

CLIP reads 77 tokens (75 plus start and end). A longer prompt is split into 75-token
chunks; each is encoded on its own and the results are joined along the sequence, the way
A1111 does, so nothing is silently cut. Short prompts give exactly diffusers' embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CHUNK_TOKENS = 75


@dataclass
class PromptEmbeds:
    """Keyword arguments for a Stable Diffusion (XL) pipeline call."""

    prompt_embeds: Any
    negative_prompt_embeds: Any
    pooled_prompt_embeds: Any = None
    negative_pooled_prompt_embeds: Any = None
    chunks: int = 1

    def as_kwargs(self) -> dict[str, Any]:
        kwargs = {
            "prompt_embeds": self.prompt_embeds,
            "negative_prompt_embeds": self.negative_prompt_embeds,
        }
        if self.pooled_prompt_embeds is not None:
            kwargs["pooled_prompt_embeds"] = self.pooled_prompt_embeds
            kwargs["negative_pooled_prompt_embeds"] = self.negative_pooled_prompt_embeds
        return kwargs


def token_chunks(tokenizer: Any, text: str) -> list[list[int]]:
    """The prompt's token ids (no start/end tokens) in chunks of 75; at least one chunk."""
    ids = tokenizer(text, add_special_tokens=False, truncation=False).input_ids
    return [ids[i : i + CHUNK_TOKENS] for i in range(0, len(ids), CHUNK_TOKENS)] or [[]]


def framed(tokenizer: Any, chunk: list[int]) -> list[int]:
    """A chunk with start and end tokens, padded to the model's 77 tokens."""
    ids = [tokenizer.bos_token_id, *chunk, tokenizer.eos_token_id]
    return ids + [tokenizer.pad_token_id] * (tokenizer.model_max_length - len(ids))


def encode_prompts(pipe: Any, prompt: str, negative: str) -> PromptEmbeds:
    """Embeddings for prompt and negative prompt, padded to the same number of chunks."""
    tokenizer = pipe.tokenizer
    positive, negative_chunks = token_chunks(tokenizer, prompt), token_chunks(tokenizer, negative)
    count = max(len(positive), len(negative_chunks))
    positive += [[]] * (count - len(positive))
    negative_chunks += [[]] * (count - len(negative_chunks))
    if getattr(pipe, "text_encoder_2", None) is not None:
        return _encode_xl(pipe, positive, negative_chunks, zero_negative=not negative.strip())
    return PromptEmbeds(_encode_sd(pipe, positive), _encode_sd(pipe, negative_chunks), chunks=count)


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
    return PromptEmbeds(embeds, negative_embeds, pooled, negative_pooled, chunks=len(positive))
