"""Resumable training state (weights, EMA, optimizer, step, RNG) and an EMA of weights."""

from __future__ import annotations

import copy
import os
import time
from pathlib import Path

import numpy as np
import torch


class Ema:
    """Exponential moving average of a module's parameters, warming up over the first steps."""

    def __init__(self, module: torch.nn.Module, decay: float = 0.999) -> None:
        self.module = copy.deepcopy(module).eval().requires_grad_(False)
        self.decay = decay

    @torch.no_grad()
    def update(self, module: torch.nn.Module, step: int) -> None:
        decay = min(self.decay, (1 + step) / (10 + step))
        averages, live = list(self.module.parameters()), list(module.parameters())
        # One fused update for all parameters: a loop launched hundreds of tiny GPU kernels.
        torch._foreach_lerp_(averages, [p.detach() for p in live], 1 - decay)


def save_state(path: Path, state: dict, rng: np.random.Generator | None = None) -> None:
    """Write a checkpoint atomically, with the torch RNG state and `rng`'s, if given."""
    state = {**state, "torch_rng": torch.get_rng_state()}
    if rng is not None:
        state["numpy_rng"] = rng.bit_generator.state
    temporary = path.with_suffix(".tmp")
    torch.save(state, temporary)
    os.replace(temporary, path)


def load_state(
    path: Path, rng: np.random.Generator | None = None, device: str = "cpu"
) -> dict | None:
    """The checkpoint at `path` (restoring the RNGs), or None when there is none."""
    if not path.exists():
        return None
    state = torch.load(path, map_location=device, weights_only=True)
    torch.set_rng_state(state["torch_rng"].cpu())
    if rng is not None:
        rng.bit_generator.state = state["numpy_rng"]
    return state


def cosine_lr(step: int, total: int, peak: float, warmup: int) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return float(peak * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * min(1.0, progress)))))


def descend(optimizer: torch.optim.Optimizer, loss: torch.Tensor, parameters) -> None:
    """One optimizer step on `loss`, gradients clipped to norm 1."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(parameters, 1.0)
    optimizer.step()


def pace(began: float, start: int, done: int, steps: int) -> str:
    """Seconds per step since `began` (at step `start`) and the minutes left to `steps`."""
    rate = (time.monotonic() - began) / (done - start)
    return f"{rate:.2f} s/step, {rate * (steps - done) / 60:.0f} min left"
