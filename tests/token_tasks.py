"""A token-loop model family for the engine's tests: a tiny GPT-2 of random weights saved as
transformers saves a model (config.json and model.safetensors in one folder), loaded by
its family's loader, and a task that runs `generate(streamer=...)` on it, as a music
plugin runs MusicGen. Built from a config, offline."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.context import JobContext
from engine.model_entry import ModelEntry
from engine.model_loader import OFFLINE
from engine.protocol import ImageData, TaskResult
from engine.recipes import RESOLVED
from engine.step_reporter import StepReporter
from plugins.api import ModelFamily, Task, param

VOCAB = 64
TINY_GPT2 = ModelFamily("tiny_gpt2", "Tiny GPT-2", "music", "tests.token_tasks:load_gpt2")
FAMILIES = {TINY_GPT2.id: TINY_GPT2}


def save_tiny_gpt2(folder: Path, seed: int = 0) -> Path:
    """A 1-layer GPT-2 with random (seeded) weights, saved with save_pretrained."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=VOCAB,
        n_positions=256,
        n_embd=16,
        n_layer=1,
        n_head=2,
        bos_token_id=0,
        eos_token_id=0,
    )
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


def gpt2_entry(folder: Path, name: str = "tiny-gpt2") -> ModelEntry:
    return ModelEntry(name, "music", TINY_GPT2.id, "diffusers", folder, 1, "extra")


LOADS: list[dict] = []  # the arguments of each load_gpt2 call


def load_gpt2(entry: ModelEntry, store, *, dtype, device, variant):
    """The family's loader: a transformers model, offline, from the entry's folder."""
    from transformers import GPT2LMHeadModel

    LOADS.append({"dtype": dtype, "device": device, "variant": variant})
    return GPT2LMHeadModel.from_pretrained(entry.path, dtype=dtype, **OFFLINE).eval()


@dataclass(frozen=True)
class TokensParams:
    tokens: int = param(12, "Tokens", minimum=1, maximum=200)
    seed: int = param(-1, "Seed")
    cancel_after: int = 0  # a test's cancel, requested after this many tokens (0: never)
    folder: str = ""


def run_tokens(params: TokensParams, ctx: JobContext) -> TaskResult:
    """Generate `tokens` tokens, reporting each one; the output shows the tokens as pixels."""
    import torch

    entry = gpt2_entry(Path(params.folder))
    model = ctx.model(entry)
    reporter = CancellingReporter(ctx, params.tokens, params.cancel_after, stage="composing")
    torch.manual_seed(params.seed if params.seed >= 0 else 0)
    prompt = torch.tensor([[1, 2, 3]])
    with torch.no_grad():
        tokens = model.generate(
            prompt,
            max_new_tokens=params.tokens,
            min_new_tokens=params.tokens,
            do_sample=True,
            streamer=reporter,
            pad_token_id=0,
        )
    row = tokens[0, prompt.shape[1] :].numpy().astype(np.uint8) * 4
    pixels = np.zeros((8, len(row), 4), np.uint8)
    pixels[:, :, 0], pixels[:, :, 3] = row, 255
    seed = params.seed if params.seed >= 0 else 0
    return TaskResult((ImageData(pixels, {RESOLVED: {"seed": seed}}),))


class CancellingReporter(StepReporter):
    """A StepReporter whose job asks for cancel after `cancel_after` steps, as a designer
    pressing Cancel mid-loop would."""

    def __init__(self, ctx: JobContext, total: int, cancel_after: int, stage: str) -> None:
        super().__init__(ctx, total, stage=stage)
        self.cancel_after = cancel_after
        self.steps = 0

    def step_done(self, step, state=None) -> None:
        super().step_done(step, state)
        self.steps += 1
        if self.cancel_after and self.steps >= self.cancel_after:
            self.ctx.request_cancel()


TOKENS = Task("test.tokens", 3, "Tokens", TokensParams, "tests.token_tasks:run_tokens")
TASKS = {TOKENS.id: TOKENS}
