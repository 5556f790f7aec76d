"""A diffusers `callback_on_step_end` that reports steps, sends throttled previews and cancels."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from engine.context import JobContext
from engine.protocol import ImageData

PREVIEW_INTERVAL_S = 0.1  # at most ten previews a second; DESIGN.md section 3


def step_callback(
    ctx: JobContext,
    total_steps: int,
    preview: Callable[[Any], ImageData] | None,
    *,
    start: float = 0.0,
    span: float = 1.0,
    stage: str = "denoising",
) -> Callable[..., dict]:
    """Progress runs from `start` to `start + span` over the steps of one pipeline call.

    Raises JobCancelledError at the end of the step in which cancel was requested, so a
    running generation stops within one step.
    """
    last_preview = [0.0]

    def on_step_end(pipe: Any, step: int, timestep: Any, kwargs: dict) -> dict:
        ctx.check_cancelled()
        fraction = start + span * (step + 1) / max(total_steps, 1)
        image = None
        now = time.monotonic()
        if preview is not None and now - last_preview[0] >= PREVIEW_INTERVAL_S:
            image = preview(kwargs["latents"])
            last_preview[0] = now
        ctx.progress(fraction, f"{stage}, step {step + 1} of {total_steps}", image)
        return kwargs

    return on_step_end
