"""The video plugin on tiny models: AnimateDiff text to video (frames, rate, size, seeds,
FreeNoise past the adapter's window, LoRAs), image to video (AnimateDiff on the still, or
Stable Video Diffusion), chunked decoding and what an out-of-memory decode keeps, smoothing,
cancel, the choice of motion adapter, the scan of video folders and the snapping rules."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
import torch

from engine.model_store import ModelStore
from engine.protocol import JobCancelled, JobFailed, JobFinished, JobProgress, VideoData
from engine.worker import Engine, InlineEngine
from plugins.diffusion import TXT2IMG
from plugins.diffusion.families import BY_ID as DIFFUSION_FAMILIES
from plugins.diffusion.params import LoraSpec, Txt2ImgParams
from plugins.video import IMAGE_TO_VIDEO, TEXT_TO_VIDEO
from plugins.video.decoding import decode_frames, latents_path
from plugins.video.families import BY_ID as VIDEO_FAMILIES
from plugins.video.motion_choice import pick_motion_adapter
from plugins.video.params import (
    ImageToVideoParams,
    TextToVideoParams,
    snap_video_size,
    validate_text_to_video,
)
from plugins.video.post import interpolate_2x
from tests.fixtures.tiny_video import save_tiny_motion_adapter, save_tiny_svd

TASKS = {t.id: t for t in (TEXT_TO_VIDEO, IMAGE_TO_VIDEO, TXT2IMG)}
FAMILIES = {**DIFFUSION_FAMILIES, **VIDEO_FAMILIES}
WINDOW = 8  # the tiny adapter's atelier.json "frames"
FAST = TextToVideoParams(prompt="a red circle", steps=2, width=64, height=64, frames=4, seed=3)
MOTION_SETTINGS = {"base": "tiny-sd15", "frames": WINDOW, "fps": 6}


@pytest.fixture(scope="session")
def tiny_video_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_video")
    save_tiny_motion_adapter(root / "tiny-motion", MOTION_SETTINGS)
    save_tiny_svd(root / "tiny-svd")
    return root


def _install(home, tiny_video_models, *names):
    for name, kind in names:
        shutil.copytree(tiny_video_models / name, home / "models" / kind / name)


@pytest.fixture
def store(atelier_home, tiny_config_root, tiny_video_models):
    _install(atelier_home, tiny_video_models, ("tiny-motion", "motion"))
    return ModelStore(home=atelier_home, extra_folders=[], config_root=tiny_config_root)


@pytest.fixture
def engine(store):
    eng = InlineEngine(TASKS, store=store, families=FAMILIES)
    yield eng
    eng.shutdown()


@pytest.fixture
def unmarked_frames(monkeypatch):
    """Clips keep the frames their task made (the safety step still checks and records
    them): for comparing clips whose recipes differ, and so their watermarks."""
    monkeypatch.setattr("plugins.provenance.watermark.embed_frames", lambda frames, _: frames)


def run(engine, params, **changes):
    task = TEXT_TO_VIDEO if isinstance(params, TextToVideoParams) else IMAGE_TO_VIDEO
    return engine.submit(task.id, dataclasses.replace(params, **changes)).future.result()


def clip(event) -> VideoData:
    assert isinstance(event, JobFinished), event
    (video,) = event.outputs
    assert isinstance(video, VideoData)
    return video


def still(size=64) -> np.ndarray:
    picture = np.zeros((size, size, 4), np.uint8)
    picture[..., 2] = 200
    picture[size // 4 : size // 2, size // 4 : size // 2, 0] = 255
    picture[..., 3] = 255
    return picture


# ---- text to video


def test_a_clip_has_the_frames_rate_and_size_asked_for(engine):
    video = clip(run(engine, FAST, width=80, height=64))
    assert video.frames.shape == (4, 64, 80, 3) and video.frames.dtype == np.uint8
    assert video.fps == 6  # the motion adapter's own rate
    recipe = video.meta["recipe"]
    assert recipe["task"] == "video.text_to_video" and recipe["model"]["name"] == "tiny-sd15"
    assert [m["name"] for m in recipe["models"]] == ["tiny-sd15", "tiny-motion"]
    assert recipe["params"]["motion"] == "tiny-motion" and recipe["params"]["frames"] == 4
    assert clip(run(engine, FAST, fps=12)).fps == 12
    assert not np.array_equal(video.frames[0], video.frames[-1])  # the frames differ


def test_same_seed_same_frames_other_seed_other_frames(engine):
    first, again = clip(run(engine, FAST)), clip(run(engine, FAST))
    assert np.array_equal(first.frames, again.frames)
    assert not np.array_equal(first.frames, clip(run(engine, FAST, seed=4)).frames)


def test_frames_past_the_adapters_window_slide_it_with_free_noise(engine):
    event = run(engine, FAST, frames=WINDOW + 4)
    assert clip(event).frames.shape[0] == WINDOW + 4
    assert any("FreeNoise" in w for w in event.warnings)
    assert clip(event).meta["recipe"]["params"]["context"] == WINDOW
    # the pipeline is left without FreeNoise: a short clip is made as before
    assert np.array_equal(clip(run(engine, FAST)).frames, clip(run(engine, FAST)).frames)


def test_step_previews_are_strips_of_frames(store):
    engine = InlineEngine(TASKS, store=store, families=FAMILIES, preview_interval_s=0.0)
    seen = []
    engine.subscribe(seen.append)
    clip(run(engine, FAST, frames=6))
    previews = [e.preview for e in seen if isinstance(e, JobProgress) and e.preview is not None]
    assert previews and previews[0].pixels.shape == (8, 4 * 8, 4)  # 4 frames of 8x8 latents


def test_a_lora_acts_in_the_clip_and_weight_0_is_none(engine, store, unmarked_frames):
    from tests.fixtures.tiny_loras import lora_weights, save_peft_lora

    save_peft_lora(lora_weights("sd15"), store.home / "models" / "loras" / "style.safetensors")
    store.scan()
    base = clip(run(engine, FAST)).frames
    styled = clip(run(engine, FAST, loras=(LoraSpec("style", 1.0),)))
    assert not np.array_equal(base, styled.frames)
    assert styled.meta["recipe"]["params"]["loras"] == [{"name": "style", "weight": 1.0}]
    assert np.array_equal(base, clip(run(engine, FAST, loras=(LoraSpec("style", 0.0),))).frames)
    # an image job after it still loads and drops LoRAs on the shared checkpoint
    image = Txt2ImgParams(prompt="a red circle", steps=2, width=64, height=64, seed=3)
    with_lora = dataclasses.replace(image, loras=(LoraSpec("style", 1.0),))
    assert isinstance(engine.submit(TXT2IMG.id, with_lora).future.result(), JobFinished)
    assert np.array_equal(base, clip(run(engine, FAST)).frames)


def cancelled_at_the_first_step(store, task_id: str, params) -> list[JobProgress]:
    """Run a job on a threaded engine, cancel it at its first step's progress, check it
    ends cancelled, and return the step events seen."""
    engine = Engine(TASKS, store=store, families=FAMILIES)
    steps_seen = []

    def on_event(event):
        if isinstance(event, JobProgress) and "step" in event.stage:
            steps_seen.append(event)
            if len(steps_seen) == 1:
                engine.cancel(event.job_id)

    engine.subscribe(on_event)
    try:
        handle = engine.submit(task_id, params)
        assert isinstance(handle.future.result(60), JobCancelled)
    finally:
        engine.shutdown()
    return steps_seen


def test_cancel_stops_a_clip_within_a_step(store):
    params = dataclasses.replace(FAST, steps=40)
    assert len(cancelled_at_the_first_step(store, TEXT_TO_VIDEO.id, params)) <= 2


def test_smooth_and_upscale_double_frames_and_size(engine):
    plain = clip(run(engine, FAST))
    both = clip(run(engine, FAST, interpolate=True, upscale=True))
    assert both.frames.shape == (7, 128, 128, 3) and both.fps == 2 * plain.fps
    assert both.meta["recipe"]["params"]["frames"] == 4  # the recipe makes the same clip


# ---- decoding


def _vae_decode(store):
    from plugins.video.text_to_video import vae_decoder
    from tests.fixtures.tiny_models import build_tiny_pipeline

    return vae_decoder(build_tiny_pipeline("sd15").vae)


def test_chunked_decoding_gives_the_whole_decodings_frames(store):
    decode = _vae_decode(store)
    latents = torch.randn(5, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    whole = decode_frames(decode, latents, 0, lambda f: None)
    chunked = decode_frames(decode, latents, 2, lambda f: None)
    assert whole.shape == (5, 64, 64, 3)
    assert np.abs(whole.astype(int) - chunked).max() <= 1


def test_out_of_memory_while_decoding_halves_the_chunk(store):
    decode = _vae_decode(store)
    sizes = []

    def tight(latents):
        sizes.append(len(latents))
        if len(latents) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
        return decode(latents)

    latents = torch.randn(5, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    frames = decode_frames(tight, latents, 0, lambda f: None)
    assert frames.shape[0] == 5 and sizes[:2] == [5, 2]
    assert np.abs(frames.astype(int) - decode_frames(decode, latents, 0, lambda f: None)).max() <= 1


def test_a_decode_that_never_fits_keeps_the_latents_and_a_rerun_decodes_them(
    engine, monkeypatch, unmarked_frames
):
    import plugins.video.text_to_video as t2v

    made = clip(run(engine, FAST)).frames
    decoder = t2v.vae_decoder

    def no_memory(vae):
        def decode(latents):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")

        return decode

    monkeypatch.setattr(t2v, "vae_decoder", no_memory)
    failed = run(engine, FAST)
    assert isinstance(failed, JobFailed) and failed.kind == "oom"
    assert "video-latents" in failed.message and "seed 3" in failed.message
    kept = list((engine.models.store.home / "video-latents").glob("*.safetensors"))
    assert len(kept) == 1
    monkeypatch.setattr(t2v, "vae_decoder", decoder)
    denoised = []
    monkeypatch.setattr(t2v, "denoise", lambda *a, **k: denoised.append(1))
    again = clip(run(engine, FAST, decode_chunk=1))
    assert not denoised  # only decoded
    assert np.abs(again.frames.astype(int) - made).max() <= 1
    assert not kept[0].exists()


# ---- image to video


def test_image_to_video_without_svd_runs_animatediff_on_the_still(engine):
    params = ImageToVideoParams(image=still(), frames=4, steps=10, seed=1, work_size=64)
    near = clip(run(engine, params, strength=0.2))
    far = clip(run(engine, params, strength=1.0))
    assert near.frames.shape == (4, 64, 64, 3)
    assert near.meta["recipe"]["params"]["motion"] == "tiny-motion"
    target = still()[..., :3].astype(int)
    assert np.abs(near.frames - target).mean() < np.abs(far.frames - target).mean()


def test_image_to_video_uses_stable_video_diffusion_when_installed(
    engine, store, tiny_video_models
):
    _install(store.home, tiny_video_models, ("tiny-svd", "video"))
    store.scan()
    params = ImageToVideoParams(image=still(), frames=3, steps=2, seed=1, work_size=64)
    video = clip(run(engine, params, motion_bucket=40, fps=10))
    assert video.frames.shape == (3, 64, 64, 3) and video.fps == 10
    assert video.meta["recipe"]["model"] == {
        "name": "tiny-svd",
        "family": "svd",
        "hash": video.meta["recipe"]["model"]["hash"],
    }
    assert np.array_equal(video.frames, clip(run(engine, params, motion_bucket=40, fps=10)).frames)
    animatediff = clip(run(engine, params, method="animatediff"))
    assert animatediff.meta["recipe"]["model"]["name"] == "tiny-sd15"


# ---- choosing and finding models


def test_the_adapter_made_for_the_checkpoint_is_chosen_first(store, tiny_video_models):
    motion = store.home / "models" / "motion"
    save_tiny_motion_adapter(motion / "a-other", {"base": "something-else"})
    store.scan()
    checkpoint = store.find("tiny-sd15")
    assert pick_motion_adapter(store, checkpoint).name == "tiny-motion"
    assert pick_motion_adapter(store, checkpoint, "a-other").name == "a-other"


def test_an_adapter_for_another_unet_is_refused_and_none_is_missing(store):
    from engine.protocol import JobError

    config = store.home / "models" / "motion" / "tiny-motion" / "config.json"
    data = json.loads(config.read_text())
    data["block_out_channels"] = [320, 640, 1280, 1280]
    config.write_text(json.dumps(data))
    store.scan()
    checkpoint = store.find("tiny-sd15")
    with pytest.raises(JobError) as refused:
        pick_motion_adapter(store, checkpoint, "tiny-motion")
    assert refused.value.kind == "invalid_input"
    with pytest.raises(JobError) as missing:
        pick_motion_adapter(store, checkpoint)
    assert missing.value.kind == "missing_model" and "motion" in missing.value.message


def test_the_scan_files_video_folders_by_family(store, tiny_video_models):
    _install(store.home, tiny_video_models, ("tiny-svd", "video"))
    wan = store.home / "models" / "video" / "wan-t2v"
    wan.mkdir()
    (wan / "model_index.json").write_text(json.dumps({"_class_name": "WanPipeline"}))
    store.scan()
    found = {e.name: (e.kind, e.family) for e in store.entries}
    assert found["tiny-motion"] == ("motion", "motion")
    assert found["tiny-svd"] == ("video", "svd")
    assert found["wan-t2v"] == ("video", "wan")
    assert store.find("tiny-motion", "motion").settings.frames == WINDOW


# ---- rules, checks and smoothing (torch-free)


@pytest.mark.parametrize(
    ("family", "asked", "made"),
    [
        ("wan", (81, 832, 480), (81, 832, 480)),
        ("wan", (16, 100, 70), (17, 96, 64)),
        ("wan", (2, 8, 8), (5, 16, 16)),
        ("cogvideox", (49, 720, 480), (49, 720, 480)),
        ("cogvideox", (16, 721, 487), (17, 720, 480)),
        ("cogvideox", (60, 720, 480), (57, 720, 480)),
        ("svd", (14, 1000, 570), (14, 1000, 570)),
    ],
)
def test_frame_counts_and_sizes_snap_to_each_models_rule(family, asked, made):
    frames, width, height, note = snap_video_size(family, *asked)
    assert (frames, width, height) == made
    assert bool(note) == (made != asked)
    if frames != asked[0]:
        assert f"{asked[0]} frames became {frames}" in note


def test_validation_names_what_to_fix():
    with pytest.raises(ValueError, match="prompt"):
        validate_text_to_video(dataclasses.replace(FAST, prompt=""))
    with pytest.raises(ValueError, match="Frames"):
        validate_text_to_video(dataclasses.replace(FAST, frames=1000))
    with pytest.raises(ValueError, match="context window"):
        validate_text_to_video(dataclasses.replace(FAST, context=1))
    validate_text_to_video(FAST)


def test_smoothing_puts_the_middle_frame_between_its_neighbours():
    def square_at(x):
        frame = np.zeros((64, 96, 3), np.uint8)
        frame[24:40, x : x + 16] = 255
        return frame

    frames = np.stack([square_at(16), square_at(32), square_at(48)])
    smooth = interpolate_2x(frames)
    assert smooth.shape == (5, 64, 96, 3)
    assert np.array_equal(smooth[0], frames[0]) and np.array_equal(smooth[2], frames[1])
    weights = smooth[1][..., 0].sum(axis=0).astype(float)
    centre = (weights * np.arange(96)).sum() / weights.sum()
    assert 29.5 <= centre <= 33.5  # 31.5 lies halfway between its neighbours' 23.5 and 39.5


def test_kept_latents_live_under_the_home(tmp_path):
    assert latents_path(tmp_path, "abc").parent == tmp_path / "video-latents"
