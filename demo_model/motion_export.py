"""Stage export-motion: the built-in motion adapter as its own fp16 diffusers folder.

The folder holds the MotionAdapter alone (config.json and its weights), an atelier.json
that says which checkpoint it animates and how (`base`, frames, fps, sampling defaults),
and its model card. It fits only the built-in model's UNet (atelier-demo): its channels
are that model's, not SD 1.5's.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import MotionAdapter

from .control_export import write_model_folder
from .motion_clips import FPS, FRAMES

ABOUT = (
    "Built-in motion model for atelier-demo: one circle, square, triangle or star on a plain"
    " background moving left, right, up, down or diagonally, growing, shrinking, turning,"
    " changing colour or bouncing, 16 frames at 8 fps."
)
EXAMPLE_PROMPT = "a red circle moving from left to right on a blue background"
MODEL_CARD = Path(__file__).with_name("MOTION_MODEL_CARD.md")


def export_motion_adapter(trained: Path, base: Path, out: Path, log=print) -> None:
    """The trained adapter in fp16 with its settings and card, into `out` (replaced whole:
    built beside it, then renamed)."""
    adapter = MotionAdapter.from_pretrained(trained).to(torch.float16)
    settings = {
        "base": base.name,
        "frames": FRAMES,
        "fps": FPS,
        "native_size": 128,
        "defaults": {"steps": 20, "cfg_scale": 3.0, "scheduler": "DDIM"},
        "example_prompt": EXAMPLE_PROMPT,
        "about": ABOUT,
    }
    write_model_folder(adapter, settings, MODEL_CARD, out, log)
