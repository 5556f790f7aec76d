"""Benchmark: composing with the built-in music model, as a designer does from the Text
to music mode.

On held-out captions (the full wording, which no training step used, of pieces from a
seed no training run uses), Atelier's Text to music task makes each piece with the
built-in model (atelier-demo-music, chosen by default). Each is scored by
demo_model/music_scoring.py against its caption (its instrument and drums classifiers
fitted on rendered pieces and on their copies through the model's codec):
- tempo: the share whose tempo (onset pulse on a beat grid) is within 5% of the caption's bpm;
- drums: the share where drums are heard exactly when the caption asks for them;
- instrument: the share where the instrument heard is the one named;
- mode: the share heard in the named mode (minor or major) on the named key note;
- seam_clicks: over `--long` pieces of 45 s, made in windows, the seams (where each
  window continues the last and where the decoder's pieces join) with a click.
The same scores for the rendered pieces themselves and for the codec's reconstruction
of them are printed as references: the scorer's own ceiling, and the codec's.
ratio: Atelier's music job against a bare `model.generate` (transformers, the same
folder, prompt, window, sampling and seed) for one window, alternating, median of
`--repeats`; target <= 1.05.

Targets (issue 19): tempo >= 0.80, drums >= 0.90, instrument >= 0.75, mode >= 0.75,
seam_clicks 0, ratio <= 1.05.

Run: python bench/music.py [--count 100] [--long 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from transformers import AutoProcessor, MusicgenForConditionalGeneration

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo_model.music_captions import full_caption  # noqa: E402
from demo_model.music_pieces import Piece, random_piece, render  # noqa: E402
from demo_model.music_scoring import (  # noqa: E402
    MusicScorer,
    fitted_scorer,
    is_minor,
    seam_clicks,
    tempo,
)
from engine.home import RESOURCES  # noqa: E402
from engine.model_store import ModelStore  # noqa: E402
from engine.protocol import JobFinished  # noqa: E402
from engine.worker import InlineEngine  # noqa: E402
from plugins.music.params import TextToMusicParams  # noqa: E402
from plugins.registry import discover  # noqa: E402

MODEL = RESOURCES / "models" / "atelier-demo-music"
SEED = 20261207
SECONDS = 6.0


def held_out(count: int) -> list[Piece]:
    rng = np.random.default_rng([SEED, 67])
    return [random_piece(rng) for _ in range(count)]


def _window() -> tuple[float, float]:
    music = json.loads((MODEL / "atelier.json").read_text())["music"]
    return music["window_s"], music["context_s"]


def _make(engine: InlineEngine, prompt: str, seconds: float, seed: int):
    params = TextToMusicParams(prompt=prompt, duration=seconds, seed=seed)
    event = engine.submit("music.text_to_music", params).future.result()
    if not isinstance(event, JobFinished):
        raise SystemExit(f"music failed: {getattr(event, 'message', event)}")
    return event.outputs[0]


def _scores(
    scorer: MusicScorer, sounds: list[np.ndarray], pieces: list[Piece], rate: int
) -> dict[str, float]:
    tempo_ok, drums_ok, kind_ok, mode_ok = [], [], [], []
    for samples, piece in zip(sounds, pieces, strict=True):
        kind, drums = scorer.score(samples, rate)
        tempo_ok.append(abs(tempo(samples, rate) - piece.bpm) <= 0.05 * piece.bpm)
        drums_ok.append(drums == piece.drums)
        kind_ok.append(kind == piece.instrument)
        mode_ok.append(is_minor(samples, piece.root, rate) == piece.minor)
    return {
        "tempo": float(np.mean(tempo_ok)),
        "drums": float(np.mean(drums_ok)),
        "instrument": float(np.mean(kind_ok)),
        "mode": float(np.mean(mode_ok)),
    }


def _round_trip(codec, sounds: list[np.ndarray]) -> list[np.ndarray]:
    """Each sound through the codec: encoded to its codes and decoded."""
    out = []
    with torch.no_grad():
        for samples in sounds:
            audio = torch.from_numpy(samples).float()[None, None]
            codes = codec.encode(audio, bandwidth=codec.config.target_bandwidths[-1])
            out.append(codec.decode(codes.audio_codes, [None])[0][0, 0, : len(samples)].numpy())
    return out


def _musicgen() -> MusicgenForConditionalGeneration:
    model = MusicgenForConditionalGeneration.from_pretrained(MODEL, local_files_only=True)
    return model.float().eval()


def quality(engine: InlineEngine, count: int) -> tuple[dict, dict, dict]:
    """Scores of the generated pieces, of the rendered pieces and of the codec's copies."""
    pieces = held_out(count)
    made, rate = [], 0
    for index, piece in enumerate(pieces):
        audio = _make(engine, full_caption(piece), SECONDS, index)
        made.append(audio.samples[0])
        rate = audio.rate
        if (index + 1) % 20 == 0:
            print(f"  {index + 1}/{count} pieces", flush=True)
    codec = _musicgen().audio_encoder
    scorer = fitted_scorer(through=lambda sounds: _round_trip(codec, sounds))
    rendered = [render(piece, SECONDS) for piece in pieces]
    copies = _round_trip(codec, rendered)
    return (
        _scores(scorer, made, pieces, rate),
        _scores(scorer, rendered, pieces, rate),
        _scores(scorer, copies, pieces, rate),
    )


def clicks(engine: InlineEngine, count: int) -> tuple[int, int]:
    """Clicks and seams over `count` pieces of 45 s."""
    window, context = _window()
    found = seams = 0
    for index, piece in enumerate(held_out(count)):
        audio = _make(engine, full_caption(piece), 45.0, 1000 + index)
        params = audio.meta["recipe"]["params"]
        window, context = params.get("window_s", window), params.get("context_s", context)
        joins = [window + k * (window - context) for k in range(int(45 / (window - context)))]
        joins += [10.0, 20.0, 30.0, 40.0]  # where the decoder's pieces join
        joins = [s for s in joins if s < 45.0]
        hop = audio.rate // 25
        found += seam_clicks(audio.samples[0], audio.rate, joins, hop)
        seams += len(joins)
    return found, seams


def speed(engine: InlineEngine, repeats: int) -> tuple[float, float]:
    """Median seconds of the music job and of bare generate, one window each."""
    model = _musicgen()
    processor = AutoProcessor.from_pretrained(MODEL, local_files_only=True)
    window, _ = _window()
    prompt = full_caption(held_out(1)[0])
    inputs = processor(text=[prompt], return_tensors="pt", padding=True)
    frames = round(window * model.config.audio_encoder.frame_rate)
    ours, bare = [], []
    for turn in range(repeats + 1):  # the first turn warms both up and is not counted
        began = time.perf_counter()
        _make(engine, prompt, window, turn)
        took_ours = time.perf_counter() - began
        torch.manual_seed(turn)
        began = time.perf_counter()
        with torch.no_grad():
            model.generate(
                **inputs, do_sample=True, guidance_scale=3.0, top_k=250, max_new_tokens=frames + 3
            )
        took_bare = time.perf_counter() - began
        if turn:
            ours.append(took_ours)
            bare.append(took_bare)
    return statistics.median(ours), statistics.median(bare)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100, help="held-out captions")
    parser.add_argument("--long", type=int, default=3, help="pieces of 45 s for the seams")
    parser.add_argument("--repeats", type=int, default=3, help="timed turns for the ratio")
    args = parser.parse_args(argv)
    engine = InlineEngine.from_registry(discover(), store=ModelStore())
    began = time.perf_counter()
    made, rendered, copies = quality(engine, args.count)
    print(f"{args.count} pieces of {SECONDS:.0f} s in {time.perf_counter() - began:.0f} s")
    for name, scores in (("rendered pieces", rendered), ("codec copies", copies)):
        print(f"reference, {name}: " + " ".join(f"{k}={v:.3f}" for k, v in scores.items()))
    found, seams = clicks(engine, args.long)
    print(f"seams: {found} clicks in {seams} seams over {args.long} pieces of 45 s")
    ours, bare = speed(engine, args.repeats)
    print(f"one window: Atelier's job {ours:.2f} s, bare generate {bare:.2f} s")
    engine.shutdown()
    print(
        f"bench music: tempo={made['tempo']:.3f} drums={made['drums']:.3f} "
        f"instrument={made['instrument']:.3f} mode={made['mode']:.3f} "
        f"seam_clicks={found} ratio={ours / bare:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
