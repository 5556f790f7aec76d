"""Benchmark: how well the built-in demo model follows prompts it never saw in training.

Generates one image per held-out caption (captions the training never used: see
demo_model/captions.is_held_out), one and two shapes, at the model's own sampling
defaults (its atelier.json), and scores each image automatically
(demo_model/scoring.py: palette-nearest colours, OpenCV contours for kind and position):
- background, color, shape (kind), position: share of captions right in that respect
  (position only over captions that state one);
- two_shapes: share of two-shape captions with exactly two shapes, both fully right;
- psnr: the VAE's reconstruction PSNR on 64 held-out scenes;
- seconds_per_image: one 128x128 image at the default steps, batch 1, and the ratio to
  the same diffusers pipeline with random weights of the same architecture (~1: the
  trained weights cost nothing extra).

Targets (issue 5): background >= 0.95, color >= 0.90, position >= 0.85, shape >= 0.80,
two_shapes >= 0.70.

Run: python bench/demo_model.py [--count 160] [--model resources/models/atelier-demo]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from diffusers import StableDiffusionPipeline  # noqa: E402

from demo_model.captions import Caption, pairs  # noqa: E402
from demo_model.scoring import score  # noqa: E402
from demo_model.vae_training import held_out_psnr  # noqa: E402

CRITERIA = ("background", "color", "position", "shape", "two_shapes")


def held_out_captions(count: int, seed: int = 7) -> list[Caption]:
    """`count` held-out captions, alternating one and two shapes."""
    one = (c for _, c in pairs(seed, held_out=True, max_shapes=1))
    two = (c for s, c in pairs(seed + 1, held_out=True, max_shapes=2) if len(s.shapes) == 2)
    return [next(one) if i % 2 == 0 else next(two) for i in range(count)]


def generate(pipeline, prompts: list[str], seeds: list[int], settings: dict) -> list[np.ndarray]:
    generators = [torch.Generator().manual_seed(s) for s in seeds]
    images = pipeline(
        prompts,
        num_inference_steps=settings["steps"],
        guidance_scale=settings["cfg_scale"],
        generator=generators,
        output_type="np",
    ).images
    return [(np.clip(image, 0, 1) * 255).round().astype(np.uint8) for image in images]


def seconds_per_image(pipeline, settings: dict, repeats: int = 5) -> float:
    generate(pipeline, ["a red circle on a blue background"], [0], settings)  # warm-up
    began = time.perf_counter()
    for i in range(repeats):
        generate(pipeline, ["a red circle on a blue background"], [i], settings)
    return (time.perf_counter() - began) / repeats


def random_twin(pipeline) -> StableDiffusionPipeline:
    """The same pipeline with freshly initialised (random) UNet, text encoder and VAE."""
    parts = {}
    for name in ("unet", "vae", "text_encoder"):
        module = getattr(pipeline, name)
        config = module.config
        parts[name] = (
            type(module)(config) if name == "text_encoder" else type(module).from_config(config)
        )
    return StableDiffusionPipeline(
        **parts,
        tokenizer=pipeline.tokenizer,
        scheduler=pipeline.scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=160)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--model", type=Path, default=ROOT / "resources/models/atelier-demo")
    parser.add_argument("--steps", type=int, default=0, help="override the model's default")
    parser.add_argument("--cfg", type=float, default=0, help="override the model's default")
    parser.add_argument(
        "--caption-seed", type=int, default=7, help="another seed: other held-out captions"
    )
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    settings = json.loads((args.model / "atelier.json").read_text())["defaults"]
    settings["steps"] = args.steps or settings["steps"]
    settings["cfg_scale"] = args.cfg or settings["cfg_scale"]
    pipeline = StableDiffusionPipeline.from_pretrained(
        args.model, dtype=torch.float32, local_files_only=True
    )
    pipeline.set_progress_bar_config(disable=True)
    captions = held_out_captions(args.count, args.caption_seed)
    results: dict[str, list[bool]] = defaultdict(list)
    by_kind: dict[str, list[bool]] = defaultdict(list)
    began = time.perf_counter()
    for start in range(0, len(captions), args.batch):
        chunk = captions[start : start + args.batch]
        seeds = list(range(start, start + len(chunk)))
        for caption, image in zip(
            chunk, generate(pipeline, [c.text for c in chunk], seeds, settings), strict=True
        ):
            checks = score(image, caption.described)
            for key in ("background", "color", "position", "shape"):
                if key in checks:
                    results[key].append(checks[key])
            if "all_shapes" in checks:
                results["two_shapes"].append(checks["all_shapes"])
            if len(caption.described.shapes) == 1:
                by_kind[caption.described.shapes[0].kind].append(checks["shape"])
    generation = time.perf_counter() - began
    rates = {key: float(np.mean(results[key])) for key in CRITERIA}
    for key in CRITERIA:
        print(f"  {key:<11} {rates[key]:.3f} over {len(results[key])} captions")
    for kind, hits in sorted(by_kind.items()):
        print(f"  shape {kind:<8} {np.mean(hits):.3f} over {len(hits)} one-shape captions")
    print(f"  {len(captions)} images in {generation:.0f} s (batches of {args.batch})")
    psnr = held_out_psnr(pipeline.vae)
    trained = seconds_per_image(pipeline, settings)
    twin = random_twin(pipeline)
    twin.set_progress_bar_config(disable=True)
    random = seconds_per_image(twin, settings)
    print(f"  random-weight twin: {random:.3f} s per image")
    print(
        "bench demo_model: "
        + " ".join(f"{key}={rates[key]:.3f}" for key in CRITERIA)
        + f" psnr={psnr:.2f} seconds_per_image={trained:.3f} speed_ratio={trained / random:.2f}"
    )


if __name__ == "__main__":
    main()
