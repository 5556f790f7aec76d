"""The music plugin on tiny MusicGen models (mono, stereo, melody): exact duration and
rate, 45 s made window by window with no click at any seam, seeds, previews of the sound
so far, cancel and stop-and-keep, melody conditioning, continuing a clip, the licence in
the output, the default model and the model scan of MusicGen folders; and on tiny
Stable Audio Open and AudioLDM2 pipelines, in one run and window by window."""

from __future__ import annotations

import dataclasses
import json
import shutil
import threading
import wave

import numpy as np
import pytest
import torch

from app.model.audio_loudness import integrated_loudness, peak_db
from engine.model_store import ModelStore
from engine.protocol import AudioData, JobCancelled, JobFailed, JobFinished, JobProgress
from engine.worker import Engine, InlineEngine
from plugins.music import TEXT_TO_MUSIC
from plugins.music.families import BY_ID
from plugins.music.loudness import PEAK_CEILING_DB, to_loudness
from plugins.music.music_models import licence_label, pick_music_model
from plugins.music.params import TextToMusicParams, validate_text_to_music
from tests.fixtures.tiny_music import (
    AUDIOLDM2_RATE,
    HOP,
    RATE,
    STABLE_AUDIO_RATE,
    save_tiny_audioldm2,
    save_tiny_musicgen,
    save_tiny_stable_audio,
)

TASKS = {TEXT_TO_MUSIC.id: TEXT_TO_MUSIC}
FAST = TextToMusicParams(prompt="a calm piano melody", duration=3.3, seed=7)
WINDOW_S, CONTEXT_S = 10, 4  # the tiny models' atelier.json
MODELS = (
    "tiny-musicgen",
    "tiny-musicgen-stereo",
    "tiny-musicgen-melody",
    "tiny-stable-audio",
    "tiny-audioldm2",
)


@pytest.fixture(scope="session")
def tiny_music_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_music")
    save_tiny_musicgen(root / "tiny-musicgen", licence="cc-by-nc-4.0")
    save_tiny_musicgen(root / "tiny-musicgen-stereo", channels=2)
    save_tiny_musicgen(root / "tiny-musicgen-melody", melody=True)
    save_tiny_stable_audio(root / "tiny-stable-audio")
    save_tiny_audioldm2(root / "tiny-audioldm2")
    return root


@pytest.fixture
def store(home, tiny_music_models, tmp_path):
    for name in MODELS:
        shutil.copytree(tiny_music_models / name, home / "models" / "music" / name)
    return ModelStore(home=home, extra_folders=[], hf_cache=tmp_path / "no-hf-cache")


@pytest.fixture
def engine(store):
    eng = InlineEngine(TASKS, store=store, families=BY_ID)
    yield eng
    eng.shutdown()


@pytest.fixture
def unmarked_sound(monkeypatch):
    """Outputs keep the samples their task made (the safety step still records them)."""
    monkeypatch.setattr("plugins.provenance.watermark.embed_audio", lambda samples, *_: samples)


def run(engine, params=FAST, **changes):
    return engine.submit(TEXT_TO_MUSIC.id, dataclasses.replace(params, **changes)).future.result()


def sound(event) -> AudioData:
    assert isinstance(event, JobFinished), event
    (audio,) = event.outputs
    assert isinstance(audio, AudioData)
    return audio


def write_wav(path, samples: np.ndarray, rate: int = RATE):
    """A 16-bit WAV of (C, N) samples."""
    with wave.open(str(path), "wb") as f:
        f.setnchannels(samples.shape[0])
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes((np.clip(samples.T, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def tune(notes_hz, seconds_each=1.0, rate=RATE) -> np.ndarray:
    t = np.arange(round(seconds_each * rate)) / rate
    return np.concatenate([0.5 * np.sin(2 * np.pi * f * t) for f in notes_hz])[None]


# ---- duration, rate, channels, seeds


def test_the_piece_has_the_models_rate_and_exactly_the_samples_asked(engine):
    audio = sound(run(engine))
    assert audio.rate == RATE and audio.samples.dtype == np.float32
    assert audio.samples.shape == (1, round(3.3 * RATE))
    assert np.abs(audio.samples).max() <= 1.0 and audio.samples.std() > 0
    stereo = sound(run(engine, music_model="tiny-musicgen-stereo", duration=2.05))
    assert stereo.samples.shape == (2, round(2.05 * RATE))
    assert not np.array_equal(stereo.samples[0], stereo.samples[1])


def test_same_seed_same_samples_other_seed_other_samples(engine):
    first, again = sound(run(engine)), sound(run(engine))
    assert np.array_equal(first.samples, again.samples)
    assert not np.array_equal(first.samples, sound(run(engine, seed=8)).samples)


def test_the_output_is_watermarked_tagged_and_carries_the_licence(engine):
    audio = sound(run(engine))
    assert audio.meta["licence"] == "cc-by-nc-4.0" and audio.meta["ai_generated"] is True
    record = audio.meta["provenance"]
    assert record["watermark"]["method"].endswith("-audio")
    assert record["digital_source_type"].endswith("trainedAlgorithmicMedia")
    recipe = audio.meta["recipe"]
    assert recipe["task"] == "music.text_to_music" and recipe["model"]["name"] == "tiny-musicgen"
    assert recipe["params"]["seed"] == 7 and recipe["params"]["window_s"] == WINDOW_S


# ---- windows and seams


def test_45_seconds_are_made_in_windows_that_join_without_a_click(engine, unmarked_sound):
    event = run(engine, duration=45.0)
    audio = sound(event)
    assert audio.samples.shape == (1, 45 * RATE)
    assert any("7 windows" in w for w in event.warnings)
    samples = audio.samples[0].astype(np.float64)
    jumps = np.abs(np.diff(samples))
    stride = WINDOW_S - CONTEXT_S
    seams = [WINDOW_S + k * stride for k in range(6)]  # where each continuation starts
    seams += [10, 20, 30, 40]  # where the decoder's pieces join
    for seconds in seams:
        at = seconds * RATE
        seam = jumps[at - 4 : at + 4].max()
        nearby = np.concatenate([jumps[at - 5 * HOP : at - HOP], jumps[at + HOP : at + 5 * HOP]])
        assert seam <= nearby.max(), f"a click at {seconds} s"


def test_previews_play_the_sound_made_so_far(store, unmarked_sound):
    engine = InlineEngine(TASKS, store=store, families=BY_ID, preview_interval_s=0.0)
    seen = []
    engine.subscribe(seen.append)
    audio = sound(run(engine, duration=25.0, loudness=0.0))  # as made: no level to match
    previews = [e.audio for e in seen if isinstance(e, JobProgress) and e.audio is not None]
    assert len(previews) >= 2
    lengths = [p.samples.shape[1] for p in previews]
    assert lengths == sorted(lengths) and 0 < lengths[0] < audio.samples.shape[1]
    for preview in previews:  # the beginning of the piece, as it will be
        assert preview.rate == RATE
        assert np.allclose(preview.samples, audio.samples[:, : preview.samples.shape[1]])
    seconds = [e.metrics["seconds"] for e in seen if isinstance(e, JobProgress) and e.metrics]
    assert seconds[-1] == pytest.approx(25.0) and max(seconds) <= 25.0


# ---- loudness


def test_the_piece_and_its_previews_are_brought_to_the_loudness_asked(store, unmarked_sound):
    engine = InlineEngine(TASKS, store=store, families=BY_ID, preview_interval_s=0.0)
    seen = []
    engine.subscribe(seen.append)
    event = run(engine, duration=25.0, loudness=-20.0)
    audio, made = sound(event), sound(run(engine, duration=25.0, loudness=0.0))
    as_made = integrated_loudness(made.samples, RATE)
    gain = audio.meta["recipe"]["params"]["gain_db"]
    scaled = made.samples * 10 ** (gain / 20)  # one gain for the whole piece (recorded in 0.01 dB)
    assert gain != 0 and np.allclose(audio.samples, scaled, rtol=0, atol=2e-3)
    peak_held = any("any louder" in w for w in event.warnings)
    if peak_held:  # the peaks kept it quieter: they sit at the ceiling
        assert peak_db(audio.samples) == pytest.approx(PEAK_CEILING_DB, abs=0.01)
    else:
        assert integrated_loudness(audio.samples, RATE) == pytest.approx(-20.0, abs=0.1)
    assert peak_db(audio.samples) <= PEAK_CEILING_DB + 0.01 and as_made != pytest.approx(-20, abs=1)
    previews = [e.audio for e in seen if isinstance(e, JobProgress) and e.audio is not None]
    level = integrated_loudness(previews[-1].samples, RATE)  # heard as loud as it will end
    assert abs(level - integrated_loudness(audio.samples, RATE)) < 3.0


def test_loudness_is_capped_by_the_peaks_and_silence_is_left_alone():
    rng = np.random.default_rng(0)
    quiet = (0.01 * rng.standard_normal((1, 16000))).astype(np.float32)
    louder, gain, note = to_loudness(quiet, 16000, -14.0)
    assert integrated_loudness(louder, 16000) == pytest.approx(-14.0, abs=0.1) and not note
    clicks = quiet.copy()
    clicks[0, ::4000] = 0.5  # spikes: -14 LUFS would push them past full scale
    held, gain, note = to_loudness(clicks, 16000, -14.0)
    assert peak_db(held) == pytest.approx(PEAK_CEILING_DB, abs=0.01) and "any louder" in note
    silence = np.zeros((1, 16000), np.float32)
    assert to_loudness(silence, 16000, -14.0)[1] == 0.0
    assert to_loudness(quiet, 16000, 0.0)[0] is quiet  # 0: as made


def test_a_loudness_out_of_range_is_refused_before_it_runs():
    with pytest.raises(ValueError, match="Loudness must be between -40 and 0"):
        validate_text_to_music(dataclasses.replace(FAST, loudness=-60.0))


# ---- cancel, stop and keep


def test_cancel_stops_within_a_token(store, monkeypatch):
    from plugins.music.musicgen import TokenWatch

    watch = TokenWatch.__call__
    after_cancel = []

    def counting(self, input_ids, scores, **kwargs):
        if self.ctx.cancel_requested:
            after_cancel.append(input_ids.shape[-1])
        return watch(self, input_ids, scores, **kwargs)

    monkeypatch.setattr(TokenWatch, "__call__", counting)
    engine = Engine(TASKS, store=store, families=BY_ID)

    def on_event(event):
        if isinstance(event, JobProgress) and event.metrics.get("seconds", 0) > 1:
            engine.cancel(event.job_id)

    engine.subscribe(on_event)
    handle = engine.submit(TEXT_TO_MUSIC.id, dataclasses.replace(FAST, duration=45.0))
    assert isinstance(handle.future.result(60), JobCancelled)
    engine.shutdown(timeout=60)
    assert after_cancel and len(after_cancel) == 1  # the token after cancel raised


def test_stop_keeps_what_is_made_and_says_how_much(store):
    engine = Engine(TASKS, store=store, families=BY_ID)
    asked = threading.Event()

    def on_event(event):
        made = event.metrics.get("seconds", 0) if isinstance(event, JobProgress) else 0
        if made >= 12 and not asked.is_set():
            asked.set()
            engine.stop(event.job_id)

    engine.subscribe(on_event)
    try:
        handle = engine.submit(TEXT_TO_MUSIC.id, dataclasses.replace(FAST, duration=45.0))
        event = handle.future.result(60)
    finally:
        engine.shutdown(timeout=60)
    audio = sound(event)
    kept = audio.samples.shape[1]
    assert 12 * RATE <= kept < 45 * RATE and kept % HOP == 0
    (note,) = [w for w in event.warnings if w.startswith("Stopped early")]
    assert f"kept the first {kept / RATE:.1f} s of 45.0 s" in note


# ---- melody and continuation


def test_a_melody_model_follows_the_melody_it_is_given(engine, tmp_path, unmarked_sound):
    rising = write_wav(tmp_path / "rising.wav", tune([262, 330, 392, 523]))
    falling = write_wav(tmp_path / "falling.wav", tune([523, 392, 330, 262]))
    melody = dataclasses.replace(FAST, music_model="tiny-musicgen-melody", duration=12.0)
    up = sound(run(engine, melody, melody=str(rising)))
    assert up.samples.shape == (1, 12 * RATE)
    assert np.array_equal(up.samples, sound(run(engine, melody, melody=str(rising))).samples)
    assert not np.array_equal(up.samples, sound(run(engine, melody, melody=str(falling))).samples)
    plain = run(engine, melody=str(rising))  # tiny-musicgen has no melody conditioning
    assert isinstance(plain, JobFailed) and "melody model" in plain.message


def test_a_continuation_hears_the_clip_it_continues(engine, tmp_path, unmarked_sound):
    first = sound(run(engine, duration=6.0))
    clip = write_wav(tmp_path / "first.wav", first.samples)
    other = write_wav(tmp_path / "other.wav", tune([440, 220, 660, 330, 550, 110]))
    after = sound(run(engine, duration=4.0, continue_from=str(clip)))
    assert after.samples.shape == (1, 4 * RATE)
    assert after.meta["recipe"]["params"]["continue_from"] == str(clip)
    elsewhere = sound(run(engine, duration=4.0, continue_from=str(other)))
    assert not np.array_equal(after.samples, elsewhere.samples)
    fresh = sound(run(engine, duration=4.0))
    assert not np.array_equal(after.samples, fresh.samples)
    broken = run(engine, continue_from=str(write_bytes(tmp_path / "bad.wav")))
    assert isinstance(broken, JobFailed) and broken.kind == "invalid_input"


def write_bytes(path):
    path.write_bytes(b"not a sound at all")
    return path


# ---- models: scan, default, licence


def test_musicgen_folders_are_music_models_from_every_place(store, tiny_music_models, tmp_path):
    hf = tmp_path / "hf"
    snapshot = hf / "models--facebook--musicgen-small" / "snapshots" / "abc123"
    shutil.copytree(tiny_music_models / "tiny-musicgen-stereo", snapshot)
    builtin = tmp_path / "builtin"
    shutil.copytree(tiny_music_models / "tiny-musicgen", builtin / "atelier-demo-music")
    found = ModelStore(home=store.home, extra_folders=[], hf_cache=hf, builtin_dir=builtin)
    music = {e.name: e for e in found.scan() if e.kind == "music"}
    assert music["facebook/musicgen-small"].family == "musicgen"
    assert music["tiny-musicgen-melody"].family == "musicgen_melody"
    assert music["atelier-demo-music"].source == "builtin"
    assert pick_music_model(found).name == "atelier-demo-music"  # the built-in one first
    assert licence_label(music["facebook/musicgen-small"]).endswith("(non-commercial use only)")
    assert licence_label(music["tiny-musicgen-stereo"]) == "licence not stated"
    without_builtin = ModelStore(home=store.home, extra_folders=[], hf_cache=hf)
    assert pick_music_model(without_builtin).family == "musicgen"


def test_no_music_model_says_where_to_put_one(home, tmp_path):
    engine = InlineEngine(TASKS, store=ModelStore(home=home, hf_cache=tmp_path / "none"))
    event = run(engine)
    assert isinstance(event, JobFailed) and event.kind == "missing_model"
    assert "musicgen-small" in event.message and str(home / "models" / "music") in event.message


# ---- Stable Audio Open and AudioLDM2


@pytest.mark.parametrize(
    ("model", "family", "rate", "channels", "longest"),
    [
        ("tiny-stable-audio", "stable_audio", STABLE_AUDIO_RATE, 2, 2.0),
        ("tiny-audioldm2", "audioldm2", AUDIOLDM2_RATE, 1, 30.0),
    ],
)
def test_a_diffusion_pipeline_makes_the_piece_in_one_run(
    engine, unmarked_sound, tmp_path, model, family, rate, channels, longest
):
    piece = dataclasses.replace(FAST, music_model=model, duration=1.25)
    audio = sound(run(engine, piece))
    assert audio.rate == rate and audio.samples.shape == (channels, 1.25 * rate)
    assert audio.meta["recipe"]["model"]["family"] == family
    assert audio.meta["recipe"]["params"]["steps"] == 3  # its atelier.json's
    assert np.array_equal(audio.samples, sound(run(engine, piece)).samples)
    assert not np.array_equal(audio.samples, sound(run(engine, piece, seed=8)).samples)
    at_once = run(engine, piece, duration=longest)
    assert not any("windows" in note for note in at_once.warnings)
    melody = run(engine, piece, melody=str(write_wav(tmp_path / "melody.wav", tune([440.0]))))
    assert isinstance(melody, JobFailed) and "choose a MusicGen model" in melody.message


@pytest.fixture
def windows_made(monkeypatch):
    """The latents of each window a diffusion pipeline makes, as it returns them."""
    from plugins.music import audio_pipelines
    from plugins.music.pipeline_windows import LatentAudio

    made = []

    def recorded(call, decode, axis, frames, per_frame):
        def recording(seed, callback):
            made.append(call(seed, callback).clone())
            return made[-1]

        return LatentAudio(recording, decode, axis, frames, per_frame)

    monkeypatch.setattr(audio_pipelines, "LatentAudio", recorded)
    return made


@pytest.mark.parametrize(
    ("model", "rate", "channels", "duration", "windows", "axis", "per_frame"),
    [
        ("tiny-stable-audio", STABLE_AUDIO_RATE, 2, 5.0, 4, -1, 8),
        ("tiny-audioldm2", AUDIOLDM2_RATE, 1, 45.0, 2, 2, 320),
    ],
)
def test_a_diffusion_pipeline_makes_a_longer_piece_in_windows_each_going_on_from_the_last(
    engine, unmarked_sound, windows_made, model, rate, channels, duration, windows, axis, per_frame
):
    piece = dataclasses.replace(FAST, music_model=model, duration=duration)
    seen = []
    engine.subscribe(seen.append)
    event = run(engine, piece)
    audio = sound(event)
    assert audio.samples.shape == (channels, duration * rate)
    fractions = [e.fraction for e in seen if isinstance(e, JobProgress)]
    assert fractions == sorted(fractions)  # the bar only moves on
    assert sum("window 2 of" in e.stage for e in seen if isinstance(e, JobProgress)) == 3
    (note,) = [w for w in event.warnings if "windows" in w]
    assert f"made in {windows} windows" in note
    resolved = audio.meta["recipe"]["params"]
    assert len(windows_made) == windows
    frames = round(resolved["window_s"] * rate / per_frame)  # those of the window's sound
    shared = round(resolved["context_s"] * rate / per_frame)
    assert 0 < shared < frames <= windows_made[0].shape[axis]
    for before, after in zip(windows_made, windows_made[1:], strict=False):
        # the next window starts with exactly the frames the last one ended with ...
        held = after.narrow(axis, 0, shared)
        assert torch.equal(held, before.narrow(axis, frames - shared, shared))
        # ... and goes on with new ones
        assert not torch.allclose(after.narrow(axis, shared, shared), held)
    again = run(engine, piece)
    assert np.array_equal(audio.samples, sound(again).samples)


def test_windows_join_without_a_click(engine, unmarked_sound):
    """The tiny Stable Audio model's windows (2 s, sharing 1 s) crossfade where they share
    frames; at neither edge of a shared stretch does the sound jump."""
    audio = sound(run(engine, FAST, music_model="tiny-stable-audio", duration=5.0))
    samples = audio.samples.astype(np.float64)
    assert np.abs(samples).max() > 1e-3  # not silence, where no jump could show
    jumps = np.abs(np.diff(samples, axis=1)).max(axis=0)
    frames, shared = 2 * STABLE_AUDIO_RATE, STABLE_AUDIO_RATE  # a window, what windows share
    for start in (1 * (frames - shared), 2 * (frames - shared), 3 * (frames - shared)):
        for at in (start, start + shared):  # a window begins, the one before it ends
            seam = jumps[at - 4 : at + 4].max()
            nearby = np.concatenate([jumps[at - 400 : at - 40], jumps[at + 40 : at + 400]])
            assert seam <= nearby.max(), f"a click at sample {at}"


def test_a_stop_keeps_the_windows_already_made(store, unmarked_sound):
    engine = Engine(TASKS, store=store, families=BY_ID)
    asked = threading.Event()

    def on_event(event):
        second = isinstance(event, JobProgress) and "window 2 of" in event.stage
        if second and not asked.is_set():
            asked.set()
            engine.stop(event.job_id)

    engine.subscribe(on_event)
    try:
        piece = dataclasses.replace(FAST, music_model="tiny-stable-audio", duration=5.0)
        event = engine.submit(TEXT_TO_MUSIC.id, piece).future.result(60)
    finally:
        engine.shutdown(timeout=60)
    audio = sound(event)
    assert audio.samples.shape == (2, 2 * STABLE_AUDIO_RATE)  # the first window, whole
    assert any("kept the first 2.0 s of 5.0 s" in w for w in event.warnings)


@pytest.mark.parametrize("model", ["tiny-stable-audio", "tiny-audioldm2"])
def test_a_diffusion_pipeline_reports_each_step_and_cancels_within_the_run(store, model):
    engine = Engine(TASKS, store=store, families=BY_ID)
    stages = []

    def on_event(event):
        if isinstance(event, JobProgress) and event.stage.startswith("denoising"):
            stages.append(event.stage)
            engine.cancel(event.job_id)

    engine.subscribe(on_event)
    try:
        piece = dataclasses.replace(FAST, music_model=model, duration=1.0)
        event = engine.submit(TEXT_TO_MUSIC.id, piece).future.result(60)
    finally:
        engine.shutdown(timeout=60)
    assert isinstance(event, JobCancelled)
    assert stages == ["denoising, step 1 of 3"]  # the next step's report raised


def test_an_audioldm2_folder_with_a_bare_gpt2_language_model_still_runs(
    engine, store, unmarked_sound
):
    """The first AudioLDM2 releases list their language model as GPT2Model, which diffusers'
    pipeline cannot generate with under today's transformers; loaded as GPT2LMHeadModel,
    the same weights make the same piece."""
    from transformers import GPT2LMHeadModel

    music = store.home / "models" / "music"
    old = music / "tiny-audioldm2-gpt2model"
    shutil.copytree(music / "tiny-audioldm2", old)
    shutil.rmtree(old / "language_model")
    GPT2LMHeadModel.from_pretrained(
        music / "tiny-audioldm2" / "language_model"
    ).transformer.save_pretrained(old / "language_model")
    index = json.loads((old / "model_index.json").read_text())
    index["language_model"] = ["transformers", "GPT2Model"]
    (old / "model_index.json").write_text(json.dumps(index))
    store.scan()
    piece = dataclasses.replace(FAST, duration=1.0)
    made = sound(run(engine, piece, music_model="tiny-audioldm2-gpt2model")).samples
    assert np.array_equal(made, sound(run(engine, piece, music_model="tiny-audioldm2")).samples)


# ---- the command line


def test_atelier_music_takes_the_models_defaults_and_given_flags_win(store, monkeypatch):
    from app import cli_generate
    from app.cli import main

    folder = store.home / "models" / "music" / "tiny-musicgen"
    settings = json.loads((folder / "atelier.json").read_text())
    settings["defaults"] = {"guidance": 4.5, "top_k": 50, "prompt": "not the designer's"}
    (folder / "atelier.json").write_text(json.dumps(settings))
    asked = []
    monkeypatch.setattr(
        cli_generate, "run_task", lambda _r, _t, params, *_a, **_k: asked.append(params) or 0
    )
    args = ["music", "drums", "--model", "tiny-musicgen", "-o", str(store.home / "x.flac")]
    assert main(args) == main([*args, "--guidance", "2"]) == 0
    assert (asked[0].guidance, asked[0].top_k, asked[0].prompt) == (4.5, 50, "drums")
    assert (asked[1].guidance, asked[1].top_k) == (2.0, 50)
    assert main([*args[:2], "--model", "not-installed", *args[4:]]) == 0  # the job says so
    assert (asked[2].guidance, asked[2].music_model) == (3.0, "not-installed")


def test_atelier_music_writes_the_piece_with_its_licence(store, tmp_path, monkeypatch):
    from app.cli import main
    from plugins.provenance.media_tags import flac_tags
    from tests.test_video_export import probe

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-hf-cache"))
    track = tmp_path / "track.flac"
    args = ["music", "a calm piano melody", "--duration", "45", "--seed", "3"]
    assert main([*args, "--model", "tiny-musicgen", "-o", str(track)]) == 0
    (stream,) = probe(track)["streams"]
    assert stream["codec_name"] == "flac" and int(stream["sample_rate"]) == RATE
    assert stream["channels"] == 1 and int(stream["duration_ts"]) == 45 * RATE
    tags = flac_tags(track.read_bytes())
    assert "cc-by-nc-4.0" in tags["COPYRIGHT"] and tags["TITLE"] == "a calm piano melody"
