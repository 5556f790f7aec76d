"""Rebuild Atelier's built-in demo model from nothing.

    python -m demo_model.train                 # all stages, resuming where a run stopped
    python -m demo_model.train --stage vae     # one stage

Stages: vae (autoencoder on drawn scenes), latents (encode a fixed set of scenes),
unet (UNet + text encoder on the cached latents), export (fp16 diffusers folder with
its tokenizer, sampling defaults and model card). Every stage is seeded and saves a
resumable checkpoint under --work every two minutes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from engine.home import RESOURCES

STAGES = ("vae", "latents", "unet", "export")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m demo_model.train", description=__doc__)
    parser.add_argument("--stage", choices=(*STAGES, "all"), default="all")
    parser.add_argument("--out", type=Path, default=RESOURCES / "models" / "atelier-demo")
    parser.add_argument("--work", type=Path, default=Path("build") / "demo_model")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--vae-steps", type=int, default=2000)
    parser.add_argument("--vae-batch", type=int, default=16)
    parser.add_argument("--scenes", type=int, default=24000)
    parser.add_argument("--unet-steps", type=int, default=3300)
    parser.add_argument("--unet-batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: all)")
    return parser


def _log(message: str) -> None:
    print(time.strftime("%H:%M:%S"), message, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    stages = STAGES if args.stage == "all" else (args.stage,)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    _log(f"demo model: stages {', '.join(stages)} on {device}, work folder {args.work}")
    from .pipeline_stages import run_stage

    for stage in stages:
        began = time.monotonic()
        run_stage(stage, args, device, _log)
        _log(f"{stage} done in {(time.monotonic() - began) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
