"""Benchmark: animating with the built-in models, as a designer does from the Generate
panel's Text to video and Image to video modes.

On held-out motion captions (wordings no training step saw, from a seed no training run
uses), Atelier's Text to video task makes each clip with atelier-demo and its default
motion model (atelier-demo-motion, chosen automatically), at the motion model's own
settings. Each clip is scored by demo_model/motion_scoring.py:
- direction: of the clips whose caption names a direction, the share where the named
  shape's tracked centre travelled that way (the nearest of eight directions);
- consistency: the share of clips where a shape of the named colour and kind is found in
  every frame (for a colour change: the first colour at the start, the second at the end);
- flicker: the share of clips whose background (the pixels no shape ever covers) changes
  by more than 4 levels on average from one frame to the next (lower is better).
Image to video: the first frame of each of the first `--i2v` clips, drawn as the
procedural scene, is animated with the same caption (AnimateDiff on the still, the
task's default strength); i2v_first_frame_psnr is the mean PSNR of the clip's first
frame against the still.

Targets (issue 18): direction >= 0.90, consistency >= 0.90, flicker small, the first
frame within a few dB of the still.

Run: python bench/motion.py [--count 100] [--i2v 30]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo_model.motion_clips import clip_pairs, render_clip  # noqa: E402
from demo_model.motion_scoring import score_clip  # noqa: E402
from engine.home import RESOURCES  # noqa: E402
from engine.model_store import ModelStore  # noqa: E402
from engine.protocol import JobFinished  # noqa: E402
from engine.worker import InlineEngine  # noqa: E402
from plugins.registry import discover  # noqa: E402
from plugins.video.params import ImageToVideoParams, TextToVideoParams  # noqa: E402

BASE = "atelier-demo"
MOTION = "atelier-demo-motion"
SEED = 20261206


def _settings() -> dict:
    return json.loads((RESOURCES / "models" / MOTION / "atelier.json").read_text())["defaults"]


def _frames(engine: InlineEngine, task: str, params) -> np.ndarray:
    event = engine.submit(task, params).future.result()
    if not isinstance(event, JobFinished):
        raise SystemExit(f"{task} failed: {getattr(event, 'message', event)}")
    return event.outputs[0].frames


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255**2 / max(error, 1e-10)))


def run(count: int, i2v: int) -> tuple[dict[str, float], Counter, float]:
    """The scores over `count` held-out captions, the clips per motion, and seconds a clip."""
    engine = InlineEngine.from_registry(discover(), store=ModelStore())
    settings = _settings()
    directions, kept, flickers, psnrs, motions = [], [], [], [], Counter()
    began = time.perf_counter()
    for index, (clip, text) in zip(range(count), clip_pairs(SEED, True), strict=False):
        params = TextToVideoParams(prompt=text, seed=index, model=BASE, **settings)
        score = score_clip(_frames(engine, "video.text_to_video", params), clip)
        motions[clip.motion] += 1
        kept.append(score.consistent)
        flickers.append(score.flickers)
        if score.direction is not None:
            directions.append(score.direction)
        if index < i2v:
            still = render_clip(clip)[0]
            rgba = np.dstack([still, np.full(still.shape[:2], 255, np.uint8)])
            params = ImageToVideoParams(
                prompt=text, seed=index, model=BASE, method="animatediff", image=rgba, **settings
            )
            psnrs.append(_psnr(_frames(engine, "video.image_to_video", params)[0], still))
        if (index + 1) % 10 == 0:
            print(f"  {index + 1}/{count} clips", flush=True)
    seconds = (time.perf_counter() - began) / count
    engine.shutdown()
    scores = {
        "direction": float(np.mean(directions)) if directions else float("nan"),
        "consistency": float(np.mean(kept)),
        "flicker": float(np.mean(flickers)),
        "i2v_first_frame_psnr": float(np.mean(psnrs)) if psnrs else float("nan"),
    }
    return scores, motions, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100, help="held-out captions (default 100)")
    parser.add_argument("--i2v", type=int, default=30, help="of them also animated from a still")
    args = parser.parse_args(argv)
    scores, motions, seconds = run(args.count, args.i2v)
    print(f"clips per motion: {dict(motions)}; {seconds:.1f} s a clip (text to video + still)")
    print(
        f"bench motion: direction={scores['direction']:.3f} "
        f"consistency={scores['consistency']:.3f} flicker={scores['flicker']:.3f} "
        f"i2v_first_frame_psnr={scores['i2v_first_frame_psnr']:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
