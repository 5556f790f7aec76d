"""Benchmark: inpainting with the built-in model, as a designer does it on the canvas.

On held-out scenes (drawn from a seed the training never used), a square region is
selected (36 to 64 pixels a side, anywhere on the 128x128 picture) and Atelier's Inpaint
task is asked for "a <colour> <kind>" only, with the form's defaults (grow 8, feather 8,
context 64) and the model's sampling defaults. The named colour is neither the
background's nor any shape's of the scene. Each result is scored automatically
(demo_model/scoring.find_blobs on the region with a small margin):
- shape: the largest shape found in the region is of the named kind and colour;
- color: the largest shape found in the region has the named colour;
- seam: the pixels just outside the selection that the feathered mask may change (within
  grow + feather pixels of it) stay within a mean RGB difference of 12 of the original;
- outside: every pixel the feathered mask leaves alone is exactly as it was.
The same run repeats with the base model alone (no inpainting partner in the store: the
ordinary checkpoint with diffusers' latent blending), for comparison.

Targets (issue 15): shape >= 0.80, color >= 0.90, seam and outside ~1.

Run: python bench/inpaint.py [--count 100] [--models resources/models]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo_model.scenes import KINDS, PALETTE, Scene, random_scene, render  # noqa: E402
from demo_model.scoring import find_blobs  # noqa: E402
from engine.home import RESOURCES  # noqa: E402
from engine.model_store import ModelStore  # noqa: E402
from engine.protocol import JobFinished  # noqa: E402
from engine.worker import InlineEngine  # noqa: E402
from plugins.diffusion.mask_geometry import soft_mask  # noqa: E402
from plugins.diffusion.params import InpaintParams  # noqa: E402
from plugins.registry import discover  # noqa: E402

CRITERIA = ("shape", "color", "seam", "outside")
SEAM_LIMIT = 12.0  # mean RGB difference (0-255) in the changeable ring outside the selection
BASE = "atelier-demo"


class Case:
    """One held-out picture, its selected square and the prompt naming the new shape."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.scene: Scene = random_scene(rng)
        used = {self.scene.background, *(s.color for s in self.scene.shapes)}
        colours = [c for c in PALETTE if c not in used]
        self.colour = colours[int(rng.integers(len(colours)))]
        self.kind = KINDS[int(rng.integers(len(KINDS)))]
        side = int(rng.integers(36, 65))
        x, y = (int(v) for v in rng.integers(0, 128 - side + 1, size=2))
        self.box = (x, y, side, side)
        self.picture = render(self.scene)
        self.mask = np.zeros((128, 128), np.uint8)
        self.mask[y : y + side, x : x + side] = 255
        self.prompt = f"a {self.colour} {self.kind}"


def score(case: Case, result: np.ndarray, grow: int, feather: int) -> dict[str, bool]:
    soft = soft_mask(case.mask, grow, feather)
    selected = case.mask > 0
    ring = (soft > 0) & ~selected
    before, after = case.picture.astype(np.float32), result.astype(np.float32)
    seam = float(np.abs(after[ring] - before[ring]).mean()) if ring.any() else 0.0
    x, y, side, _ = case.box
    margin = 4
    crop = result[max(0, y - margin) : y + side + margin, max(0, x - margin) : x + side + margin]
    _, blobs = find_blobs(crop)
    big = [b for b in blobs if b.area >= 0.04 * side * side]
    largest = big[0] if big else None
    return {
        "shape": largest is not None and (largest.kind, largest.color) == (case.kind, case.colour),
        "color": largest is not None and largest.color == case.colour,
        "seam": seam <= SEAM_LIMIT,
        "outside": bool(np.array_equal(result[soft == 0], case.picture[soft == 0])),
    }


def run(store: ModelStore, cases: list[Case], settings: dict) -> dict[str, float]:
    engine = InlineEngine.from_registry(discover(), store=store)
    results: dict[str, list[bool]] = {key: [] for key in CRITERIA}
    for index, case in enumerate(cases):
        rgba = np.dstack([case.picture, np.full((128, 128), 255, np.uint8)])
        params = InpaintParams(
            prompt=case.prompt,
            image=rgba,
            mask=case.mask,
            seed=index,
            steps=settings["steps"],
            cfg_scale=settings["cfg_scale"],
            scheduler=settings["scheduler"],
            model=BASE,
        )
        event = engine.submit("diffusion.inpaint", params).future.result()
        if not isinstance(event, JobFinished):
            raise SystemExit(f"inpaint failed: {getattr(event, 'message', event)}")
        pixels = event.outputs[0].pixels[..., :3]
        for key, ok in score(case, pixels, params.grow, params.feather).items():
            results[key].append(ok)
    engine.shutdown()
    return {key: float(np.mean(hits)) for key, hits in results.items()}


def base_only_store(home: Path, models: Path) -> ModelStore:
    """A store that has the base model of `models` but not its inpainting partner."""
    alone = home / "builtin"
    alone.mkdir()
    (alone / BASE).symlink_to(models / BASE)
    return ModelStore(home=home, builtin_dir=alone)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--seed", type=int, default=20261205, help="held-out scenes' seed")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument(
        "--models", type=Path, default=RESOURCES / "models", help="the built-in models' folder"
    )
    args = parser.parse_args()
    settings = json.loads((args.models / BASE / "atelier.json").read_text())["defaults"]
    rng = np.random.default_rng(args.seed)
    cases = [Case(rng) for _ in range(args.count)]
    with tempfile.TemporaryDirectory() as home:
        began = time.perf_counter()
        rates = run(ModelStore(home=Path(home), builtin_dir=args.models), cases, settings)
        took = time.perf_counter() - began
        print(f"  {len(cases)} inpaints in {took:.0f} s")
        if not args.no_baseline:
            with tempfile.TemporaryDirectory() as other:
                base = run(base_only_store(Path(other), args.models), cases, settings)
            line = " ".join(f"{key}={base[key]:.3f}" for key in CRITERIA)
            print(f"  base model alone (no inpainting partner): {line}")
    print("  " + " ".join(f"{key}={rates[key]:.3f}" for key in CRITERIA))
    print(
        f"bench inpaint: shape={rates['shape']:.3f} color={rates['color']:.3f}"
        f" seam={rates['seam']:.3f}"
    )


if __name__ == "__main__":
    main()
