"""Rebuild Atelier's built-in demo model from nothing.

    python -m demo_model.train                 # all stages, resuming where a run stopped
    python -m demo_model.train --stage vae     # one stage
    python -m demo_model.train --stage motion-latents motion export-motion

Stages: vae (autoencoder on drawn scenes), latents (encode a fixed set of scenes),
unet (UNet + text encoder on the cached latents), refine (a second run from those
weights at a larger batch and lower learning rate; GPU recipe only), export (fp16
diffusers folder with its tokenizer, sampling defaults and model card); then the
inpainting variant from the exported model: inpaint-latents (encode regions to repaint
and their results), inpaint (the 9-channel UNet), export-inpaint (its own folder,
--inpaint-out); and the scribble ControlNet from the exported model: control-latents
(encode freely placed shapes), control (the ControlNet, scribbles drawn afresh each
step), control-binding (a second run from those weights on more layouts of two and three
shapes), export-control (its own folder, --control-out); and the motion adapter from the exported
model: motion-latents (encode procedural animations), motion (the adapter's temporal
layers, clips played forwards and backwards), export-motion (its own folder,
--motion-out); and the music model, which stands alone: music-codec (an EnCodec codec
on rendered procedural pieces), music-tokens (their codes and the caption tokenizer),
music (the MusicGen text encoder and decoder), export-music (its own folder,
--music-out). Every stage is seeded and saves a
resumable checkpoint under --work every two minutes.

The scene count and the UNet's steps and batches default to a recipe for the machine:
on a CPU one that fits 90 minutes on two cores; on a GPU the one the shipped weights
were trained with (more scenes, larger batches, a refining run).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from engine.home import RESOURCES

STAGES = (
    "vae",
    "latents",
    "unet",
    "refine",
    "export",
    "inpaint-latents",
    "inpaint",
    "export-inpaint",
    "control-latents",
    "control",
    "control-binding",
    "export-control",
    "motion-latents",
    "motion",
    "export-motion",
    "music-codec",
    "music-tokens",
    "music",
    "export-music",
)
RECIPES = {
    "cpu": {
        "scenes": 24000,
        "unet_steps": 3300,
        "unet_batch": 64,
        "refine_steps": 0,
        "inpaint_samples": 12000,
        "inpaint_steps": 3200,
        "inpaint_batch": 64,
        "control_samples": 12000,
        "control_steps": 2500,
        "control_batch": 32,
        "control_binding_samples": 6000,
        "control_binding_steps": 1600,
        "motion_clips": 2000,
        "motion_steps": 2400,
        "motion_batch": 2,
        "music_pieces": 1200,
        "music_codec_steps": 2500,
        "music_codec_batch": 24,
        "music_steps": 5000,
        "music_batch": 12,
    },
    "cuda": {
        "scenes": 128000,
        "unet_steps": 2100,
        "unet_batch": 256,
        "refine_steps": 900,
        "inpaint_samples": 64000,
        "inpaint_steps": 4000,
        "inpaint_batch": 256,
        "control_samples": 64000,
        "control_steps": 4000,
        "control_batch": 256,
        "control_binding_samples": 32000,
        "control_binding_steps": 1500,
        "motion_clips": 16000,
        "motion_steps": 6000,
        "motion_batch": 16,
        "music_pieces": 12000,
        "music_codec_steps": 20000,
        "music_codec_batch": 64,
        "music_steps": 12000,
        "music_batch": 64,
    },
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m demo_model.train", description=__doc__)
    parser.add_argument("--stage", nargs="+", choices=(*STAGES, "all"), default=["all"])
    parser.add_argument("--out", type=Path, default=RESOURCES / "models" / "atelier-demo")
    parser.add_argument("--work", type=Path, default=Path("build") / "demo_model")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--vae-steps", type=int, default=2000)
    parser.add_argument("--vae-batch", type=int, default=16)
    parser.add_argument("--scenes", type=int, help="default: the device's recipe")
    parser.add_argument("--unet-steps", type=int, help="default: the device's recipe")
    parser.add_argument("--unet-batch", type=int, help="default: the device's recipe")
    parser.add_argument("--refine-steps", type=int, help="default: the device's recipe")
    parser.add_argument("--refine-batch", type=int, default=1024)
    parser.add_argument("--refine-lr", type=float, default=6e-4)
    parser.add_argument(
        "--inpaint-out", type=Path, help="default: beside --out, its name plus -inpaint"
    )
    parser.add_argument("--inpaint-samples", type=int, help="default: the device's recipe")
    parser.add_argument("--inpaint-steps", type=int, help="default: the device's recipe")
    parser.add_argument("--inpaint-batch", type=int, help="default: the device's recipe")
    parser.add_argument(
        "--control-out", type=Path, help="default: beside --out, its name plus -scribble"
    )
    parser.add_argument("--control-samples", type=int, help="default: the device's recipe")
    parser.add_argument("--control-steps", type=int, help="default: the device's recipe")
    parser.add_argument("--control-batch", type=int, help="default: the device's recipe")
    parser.add_argument("--control-binding-samples", type=int, help="default: the device's recipe")
    parser.add_argument("--control-binding-steps", type=int, help="default: the device's recipe")
    parser.add_argument(
        "--motion-out", type=Path, help="default: beside --out, its name plus -motion"
    )
    parser.add_argument("--motion-clips", type=int, help="default: the device's recipe")
    parser.add_argument("--motion-steps", type=int, help="default: the device's recipe")
    parser.add_argument("--motion-batch", type=int, help="default: the device's recipe")
    parser.add_argument(
        "--music-out", type=Path, help="default: beside --out, its name plus -music"
    )
    parser.add_argument("--music-size", choices=("full", "tiny"), default="full")
    parser.add_argument("--music-pieces", type=int, help="default: the device's recipe")
    parser.add_argument("--music-codec-steps", type=int, help="default: the device's recipe")
    parser.add_argument("--music-codec-batch", type=int, help="default: the device's recipe")
    parser.add_argument("--music-crop", type=float, default=0.5, help="codec crops, seconds")
    parser.add_argument("--music-steps", type=int, help="default: the device's recipe")
    parser.add_argument("--music-batch", type=int, help="default: the device's recipe")
    parser.add_argument("--music-window", type=float, default=6.0, help="decoder window, s")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: all)")
    return parser


def _log(message: str) -> None:
    print(time.strftime("%H:%M:%S"), message, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    stages = STAGES if "all" in args.stage else tuple(args.stage)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    args.inpaint_out = args.inpaint_out or args.out.with_name(args.out.name + "-inpaint")
    args.control_out = args.control_out or args.out.with_name(args.out.name + "-scribble")
    args.motion_out = args.motion_out or args.out.with_name(args.out.name + "-motion")
    args.music_out = args.music_out or args.out.with_name(args.out.name + "-music")
    for name, value in RECIPES[device].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
    _log(f"demo model: stages {', '.join(stages)} on {device}, work folder {args.work}")
    from .pipeline_stages import run_stage

    for stage in stages:
        began = time.monotonic()
        run_stage(stage, args, device, _log)
        _log(f"{stage} done in {(time.monotonic() - began) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
