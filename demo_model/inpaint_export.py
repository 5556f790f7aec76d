"""Stage export-inpaint: the inpainting variant as its own fp16 diffusers folder.

Its VAE, text encoder and tokenizer are copied from the exported base model (they were not
trained again), its UNet is the inpainting run's EMA UNet. Atelier pairs it with the base
model by name (`atelier-demo` and `atelier-demo-inpaint`): Inpaint and Outpaint with the
base model chosen use this one.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from diffusers import AutoencoderKL, StableDiffusionInpaintPipeline, UNet2DConditionModel
from transformers import CLIPTextModel, CLIPTokenizer

from .architecture import sampling_scheduler
from .export import write_folder

ABOUT = (
    "Built-in inpainting model: repaints a selected region of a built-in model's picture"
    ' with the shape the prompt names ("a yellow star") or with the background around'
    " it (a prompt naming only the background). Used for Inpaint and Outpaint when"
    " atelier-demo is chosen."
)
MODEL_CARD = Path(__file__).with_name("INPAINT_MODEL_CARD.md")


def export_inpaint_pipeline(base: Path, trained_unet: Path, out: Path, log=print) -> None:
    """The base folder's parts with the trained 9-channel UNet, into `out` (replaced)."""
    base_settings = json.loads((base / "atelier.json").read_text(encoding="utf-8"))
    settings = {
        **base_settings,
        "defaults": {**base_settings["defaults"], "steps": 20},
        "example_prompt": "a large yellow star",
        "about": ABOUT,
    }
    pipeline = StableDiffusionInpaintPipeline(
        vae=AutoencoderKL.from_pretrained(base / "vae"),
        text_encoder=CLIPTextModel.from_pretrained(base / "text_encoder"),
        tokenizer=CLIPTokenizer.from_pretrained(base / "tokenizer"),
        unet=UNet2DConditionModel.from_pretrained(trained_unet),
        scheduler=sampling_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    ).to(torch.float16)
    write_folder(pipeline, base / "tokenizer", settings, MODEL_CARD, out, log)
