"""One step reporter for every loop style: diffusers' callback_on_step_end, the older
callback(step, timestep, latents), transformers streamers and stopping criteria. Each
reports progress per step, sends throttled previews, and cancel stops within one step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import preview_pace
from engine.context import JobContext
from engine.model_store import ModelStore
from engine.preview_pace import PREVIEW_INTERVAL_S
from engine.protocol import ImageData, JobCancelled, JobCancelledError, JobFinished, JobProgress
from engine.step_reporter import StepReporter
from engine.worker import InlineEngine
from tests import token_tasks


def job_context() -> tuple[JobContext, list]:
    events: list = []
    return JobContext(1, events.append, None, None, lambda: None), events


def preview(latents) -> ImageData:
    return ImageData(np.zeros((2, 2, 4), np.uint8), {"from": latents})


def diffusers_loop(steps: int, callback_on_step_end) -> None:
    """The loop of a diffusers pipeline calling callback_on_step_end."""
    for i in range(steps):
        callback_on_step_end(None, i, 1000 - i, {"latents": f"latents {i}"})


def legacy_loop(steps: int, callback, callback_steps: int) -> None:
    """The loop of an older diffusers pipeline calling callback(step, timestep, latents)."""
    for i in range(steps):
        if i % callback_steps == 0:
            callback(i, 1000 - i, f"latents {i}")


@pytest.fixture
def clock(monkeypatch):
    """time.monotonic as the test sets it."""
    now = [100.0]
    monkeypatch.setattr(preview_pace.time, "monotonic", lambda: now[0])
    return now


@pytest.mark.parametrize("style", ["step_end", "legacy"])
def test_diffusers_styles_report_each_step_within_their_span(style):
    ctx, events = job_context()
    reporter = StepReporter(ctx, 4, start=0.5, span=0.5, stage="image 2 of 2")
    if style == "step_end":
        diffusers_loop(4, **reporter.step_end_kwargs())
    else:
        legacy_loop(4, **reporter.legacy_kwargs())
    assert [e.fraction for e in events] == pytest.approx([0.625, 0.75, 0.875, 1.0])
    assert events[-1].stage == "image 2 of 2, step 4 of 4"


@pytest.mark.parametrize("style", ["step_end", "legacy"])
def test_previews_come_at_most_every_interval(style, clock):
    ctx, events = job_context()
    reporter = StepReporter(ctx, 6, preview)

    def tick():
        clock[0] += PREVIEW_INTERVAL_S * 0.6

    if style == "step_end":
        for i in range(6):
            reporter.on_step_end(None, i, 0, {"latents": f"latents {i}"})
            tick()
    else:
        for i in range(6):
            reporter.on_step(i, 0, f"latents {i}")
            tick()
    shown = [e.preview.meta["from"] for e in events if e.preview is not None]
    assert shown == ["latents 0", "latents 2", "latents 4"]


@pytest.mark.parametrize("style", ["step_end", "legacy"])
def test_cancel_stops_a_diffusers_loop_within_one_step(style):
    ctx, events = job_context()
    reporter = StepReporter(ctx, 50)
    original = reporter.step_done

    def cancel_at_step_3(step, state=None):
        original(step, state)
        if step == 2:
            ctx.request_cancel()

    reporter.step_done = cancel_at_step_3
    with pytest.raises(JobCancelledError):
        if style == "step_end":
            diffusers_loop(50, **reporter.step_end_kwargs())
        else:
            legacy_loop(50, **reporter.legacy_kwargs())
    assert len(events) == 3


# ---- token loops: a tiny GPT-2 run by an engine job, through its family's loader


@pytest.fixture(scope="module")
def gpt2_folder(tmp_path_factory):
    return token_tasks.save_tiny_gpt2(tmp_path_factory.mktemp("gpt2") / "tiny-gpt2")


@pytest.fixture
def engine(tmp_path):
    eng = InlineEngine(
        token_tasks.TASKS, store=ModelStore(home=tmp_path), families=token_tasks.FAMILIES
    )
    eng.events = []
    eng.subscribe(eng.events.append)
    return eng


def test_a_streamer_reports_each_token_of_generate(engine, gpt2_folder):
    params = token_tasks.TokensParams(tokens=12, seed=5, folder=str(gpt2_folder))
    event = engine.submit("test.tokens", params).future.result()
    assert isinstance(event, JobFinished), event
    progress = [e for e in engine.events if isinstance(e, JobProgress)]
    assert [e.fraction for e in progress] == pytest.approx([(i + 1) / 12 for i in range(12)])
    assert progress[-1].stage == "composing, step 12 of 12"
    assert event.outputs[0].size == (12, 8)  # the 12 tokens generate() made


def test_cancel_stops_generate_mid_loop(engine, gpt2_folder):
    params = token_tasks.TokensParams(tokens=40, cancel_after=5, folder=str(gpt2_folder))
    event = engine.submit("test.tokens", params).future.result()
    assert isinstance(event, JobCancelled)
    assert len([e for e in engine.events if isinstance(e, JobProgress)]) == 5


# ---- MusicGen's loop, which calls stopping criteria once per token


@pytest.fixture(scope="module")
def tiny_musicgen():
    """A MusicGen of random weights a few thousand parameters big, built from configs."""
    from transformers import (
        EncodecConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        T5Config,
    )

    torch.manual_seed(0)
    text = T5Config(vocab_size=32, d_model=8, d_ff=16, num_layers=1, num_heads=2, d_kv=4)
    audio = EncodecConfig(
        hidden_size=8, num_filters=2, num_residual_layers=1, upsampling_ratios=[2, 2],
        codebook_size=16, codebook_dim=8, target_bandwidths=[4.0], sampling_rate=800,
        audio_channels=1, num_lstm_layers=1, compress=2,
    )  # fmt: skip
    decoder = MusicgenDecoderConfig(
        vocab_size=16, hidden_size=8, num_hidden_layers=1, ffn_dim=16, num_attention_heads=2,
        num_codebooks=2, max_position_embeddings=256, pad_token_id=16, bos_token_id=16,
    )  # fmt: skip
    config = MusicgenConfig(
        text_encoder=text.to_dict(), audio_encoder=audio.to_dict(), decoder=decoder.to_dict()
    )
    return MusicgenForConditionalGeneration(config).eval()


def musicgen(model, reporter: StepReporter, tokens: int):
    return model.generate(
        input_ids=torch.tensor([[1, 2, 3]]),
        max_new_tokens=tokens,
        min_new_tokens=tokens,
        do_sample=True,
        guidance_scale=None,
        **reporter.token_kwargs(),
    )


def test_musicgen_reports_each_token_through_the_stopping_criteria(tiny_musicgen):
    ctx, events = job_context()
    musicgen(tiny_musicgen, StepReporter(ctx, 10, stage="composing"), 10)
    assert [e.fraction for e in events] == pytest.approx([(i + 1) / 10 for i in range(10)])


def test_cancel_stops_musicgen_mid_loop(tiny_musicgen):
    ctx, events = job_context()
    reporter = StepReporter(ctx, 60)
    emit = ctx.emit

    def cancel_after_four(event):
        emit(event)
        if len(events) == 4:
            ctx.request_cancel()

    ctx.emit = cancel_after_four
    with pytest.raises(JobCancelledError):
        musicgen(tiny_musicgen, reporter, 60)
    assert len(events) == 4
