"""Benchmark: steering the built-in model with a scribble, as a designer does on a
scribble layer.

On held-out layouts (one to three shapes at free places and sizes, drawn from a seed no
training run uses), each shape's outline is scribbled by hand-like strokes (either
polarity) and Atelier's Text to image task is asked for the colours only ("a red circle
and a green star on a blue background") with the scribble as a control
(atelier-demo-scribble, through the control map a scribble layer gets). Each picture is
scored by demo_model/control_scoring.py:
- iou_hit: a shape's pixels (its colour) overlap where the scribble put it with an
  intersection over union of at least 0.5, per shape;
- color: the colour inside the shape is the one named, per shape;
- background: the colour around the shapes is the named background, per picture.
The same prompts run with no control for comparison (no_control_iou_hit).

Targets (issue 16): iou_hit >= 0.90, color >= 0.90, background >= 0.95.

Run: python bench/control.py [--count 100] [--control NAME]  (another ControlNet of the store,
e.g. a run being trained, exported into <ATELIER_HOME>/models/controlnet/NAME)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo_model.control_samples import caption, held_out_layouts, scribble  # noqa: E402
from demo_model.control_scoring import score_picture  # noqa: E402
from engine.home import RESOURCES  # noqa: E402
from engine.model_store import ModelStore  # noqa: E402
from engine.protocol import JobFinished  # noqa: E402
from engine.worker import InlineEngine  # noqa: E402
from plugins.diffusion.control_maps import control_map  # noqa: E402
from plugins.diffusion.params import ControlSpec, Txt2ImgParams  # noqa: E402
from plugins.registry import discover  # noqa: E402

BASE = "atelier-demo"
CONTROL = "atelier-demo-scribble"
KEYS = ("iou_hit", "color", "background")


def run(count: int, with_control: bool, control: str = CONTROL) -> tuple[dict[str, float], float]:
    """Scores over `count` held-out layouts (and iou_hit by how many shapes a layout
    holds, as "iou_hit_<n>") and the seconds per picture."""
    settings = json.loads((RESOURCES / "models" / BASE / "atelier.json").read_text())["defaults"]
    engine = InlineEngine.from_registry(discover(), store=ModelStore())
    scores: dict[str, list[bool]] = {key: [] for key in KEYS}
    by_count: dict[int, list[bool]] = {}
    rng = np.random.default_rng(20261206)
    began = time.perf_counter()
    for index, layout in enumerate(held_out_layouts(count)):
        prompt, drawn = caption(layout, rng), scribble(layout, rng)
        controls = (ControlSpec("scribble", control_map("scribble", drawn), model=control),)
        params = Txt2ImgParams(
            prompt=prompt,
            seed=index,
            width=128,
            height=128,
            model=BASE,
            controls=controls if with_control else (),
            **settings,
        )
        event = engine.submit("diffusion.txt2img", params).future.result()
        if not isinstance(event, JobFinished):
            raise SystemExit(f"generate failed: {getattr(event, 'message', event)}")
        for key, hits in score_picture(event.outputs[0].pixels, layout).items():
            scores[key] += hits
            if key == "iou_hit":
                by_count.setdefault(len(layout.shapes), []).extend(hits)
    seconds = (time.perf_counter() - began) / count
    engine.shutdown()
    means = {key: float(np.mean(hits)) for key, hits in scores.items()}
    means |= {f"iou_hit_{n}": float(np.mean(hits)) for n, hits in sorted(by_count.items())}
    return means, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100, help="held-out layouts (default 100)")
    parser.add_argument("--control", default=CONTROL, help=f"the ControlNet (default {CONTROL})")
    args = parser.parse_args(argv)
    controlled, with_time = run(args.count, with_control=True, control=args.control)
    plain, plain_time = run(args.count, with_control=False)
    print(f"{'':14}{'control':>10}{'none':>10}")
    for key in controlled:
        print(f"{key:14}{controlled[key]:>10.3f}{plain.get(key, 0.0):>10.3f}")
    print(f"{'s / picture':14}{with_time:>10.2f}{plain_time:>10.2f}")
    print(f"time with control / without: {with_time / plain_time:.2f}")
    print(
        f"bench control: iou_hit={controlled['iou_hit']:.3f} color={controlled['color']:.3f} "
        f"background={controlled['background']:.3f} no_control_iou_hit={plain['iou_hit']:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
