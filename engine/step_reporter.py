"""Step reporting for every kind of model loop: progress, throttled previews and cancel.

One StepReporter follows the steps of one model call, whichever way the library reports
them:
- diffusers' `callback_on_step_end` (`reporter.on_step_end`, or `**reporter.step_end_kwargs()`),
- diffusers' older `callback(step, timestep, latents)` with `callback_steps`
  (`**reporter.legacy_kwargs()`: StableAudio and some audio and video pipelines),
- a transformers streamer (`generate(..., streamer=reporter)`): token loops, one step per
  `put` after the first, which carries the prompt;
- a transformers stopping criterion (`**reporter.token_kwargs()`), called once per new
  token by every generate() loop, MusicGen's included (in transformers 5.x its generate()
  hands the streamer the prompt only, never the tokens).
Each step raises JobCancelledError when cancel was requested, so a running job stops
within one step, and makes a preview only when the job's context says one is due (at the
pace previews are shown: engine.preview_pace), so no preview is made, or checked, in vain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.context import JobContext
from engine.protocol import ImageData


class StepReporter:
    """Reports the steps of one model call as job progress, from `start` to
    `start + span` over `total_steps`; `preview` turns a step's state (the latents, or
    the new tokens of a streamer) into a preview image."""

    def __init__(
        self,
        ctx: JobContext,
        total_steps: int,
        preview: Callable[[Any], ImageData] | None = None,
        *,
        start: float = 0.0,
        span: float = 1.0,
        stage: str = "denoising",
    ) -> None:
        self.ctx = ctx
        self.total_steps = total_steps
        self.preview = preview
        self.start = start
        self.span = span
        self.stage = stage
        self._prompt_seen = False  # a streamer's first put
        self._tokens = 0

    def step_done(self, step: int, state: Any = None) -> None:
        """Step `step` (counted from 0) is done; `state` is what a preview is made from."""
        self.ctx.check_cancelled()
        fraction = self.start + self.span * (step + 1) / max(self.total_steps, 1)
        image = None
        if self.preview is not None and state is not None and self.ctx.preview_due():
            image = self.preview(state)
        stage = f"{self.stage}, step {step + 1} of {self.total_steps}"
        self.ctx.progress(fraction, stage, image)

    # ---- diffusers, callback_on_step_end

    def on_step_end(self, pipe: Any, step: int, timestep: Any, kwargs: dict) -> dict:
        self.step_done(step, kwargs.get("latents"))
        return kwargs

    def step_end_kwargs(self) -> dict[str, Any]:
        """A pipeline call's arguments for reporting through `callback_on_step_end`."""
        return {"callback_on_step_end": self.on_step_end}

    # ---- diffusers, the older callback(step, timestep, latents)

    def on_step(self, step: int, timestep: Any, latents: Any) -> None:
        self.step_done(step, latents)

    def legacy_kwargs(self) -> dict[str, Any]:
        """A pipeline call's arguments for reporting through `callback` every step."""
        return {"callback": self.on_step, "callback_steps": 1}

    # ---- transformers streamer: generate(..., streamer=reporter)

    def put(self, value: Any) -> None:
        """A token loop's new tokens; the first put of a generate() call is its prompt."""
        if self._prompt_seen:
            self._token_done(value)
        self._prompt_seen = True

    def end(self) -> None:
        """The token loop is over (transformers calls this once, at its end)."""

    # ---- transformers stopping criterion

    def on_token(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        """A new token is in `input_ids`; never asks generate() to stop (cancel raises)."""
        import torch

        self._token_done(None)
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    def token_kwargs(self) -> dict[str, Any]:
        """A generate() call's arguments for reporting each new token."""
        from transformers import StoppingCriteriaList

        return {"stopping_criteria": StoppingCriteriaList([self.on_token])}

    def _token_done(self, state: Any) -> None:
        self._tokens += 1
        self.step_done(self._tokens - 1, state)
