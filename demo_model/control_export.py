"""Stage export-control: the scribble ControlNet as its own fp16 diffusers folder.

The folder holds the ControlNet alone (config.json and its weights), an atelier.json that
says which kind of control it is and which checkpoint it steers (`control_kind`, `base`),
and its model card. It fits only the built-in model's UNet (atelier-demo): its channels
are that model's, not SD 1.5's.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import torch
from diffusers import ControlNetModel

ABOUT = (
    "Built-in scribble control for atelier-demo: draw the outlines of circles, squares,"
    " triangles and stars anywhere, at any size, and name their colours in the prompt"
    ' ("a red circle on a blue background").'
)
MODEL_CARD = Path(__file__).with_name("CONTROL_MODEL_CARD.md")


def export_controlnet(trained: Path, base: Path, out: Path, log=print) -> None:
    """The trained ControlNet in fp16 with its settings and card, into `out` (replaced
    whole: built beside it, then renamed)."""
    controlnet = ControlNetModel.from_pretrained(trained).to(torch.float16)
    settings = {
        "control_kind": "scribble",
        "base": base.name,
        "example_prompt": "a red circle on a blue background",
        "about": ABOUT,
    }
    write_model_folder(controlnet, settings, MODEL_CARD, out, log)


def _umask_permissions(folder: Path) -> None:
    """Give every file in `folder` the mode the umask gives a new file: transformers writes
    its weights through a temporary file, which leaves them readable by their owner only."""
    umask = os.umask(0)
    os.umask(umask)
    for path in folder.rglob("*"):
        if path.is_file():
            path.chmod(0o666 & ~umask)


def write_model_folder(
    model, settings: dict, card: Path, out: Path, log=print, also: Sequence = ()
) -> None:
    """A model's folder (with the files of `also`, e.g. its processor) and its atelier.json
    and model card, into `out`, replaced whole: built beside it, then renamed, so a failed
    export leaves the old folder."""
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging, safe_serialization=True)
    for part in also:
        part.save_pretrained(staging)
    (staging / "atelier.json").write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    shutil.copyfile(card, staging / "README.md")
    _umask_permissions(staging)
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    log(f"export: {out} ({size / 2**20:.1f} MB)")
