"""Stage 4: the shipped fp16 diffusers folder, its sampling defaults and its model card."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from diffusers import AutoencoderKL, StableDiffusionPipeline, UNet2DConditionModel
from transformers import CLIPTextModel, CLIPTokenizer

from .architecture import IMAGE_SIZE, sampling_scheduler
from .latent_rgb_fit import fit_vae_latent_rgb
from .preservation_prompts import write_list

EXAMPLE_PROMPT = (
    "a large red circle at the top left and a yellow star at the bottom right on a blue background"
)
ABOUT = (
    "Built-in demo model: flat circles, squares, triangles and stars in nine colours, three"
    " sizes and nine places on a plain background, 128x128. Other words (a cat, a photo,"
    " a style) mean nothing to it."
)
# LoRA training's recipe for this model (plugins/lora_training/presets.py replaces its
# preset's fields by these): SD 1.5's preset would take hours on a CPU and learn nothing at
# 128 px. Prior preservation by the base output at weight 20, each photo also paired with
# one caption of the model's own grammar (its preservation_prompts.txt): bench/train_lora.py
# measured the crescent in 65% of trigger prompts and 1 point of drift (88% and 19 without
# the kept prompts).
LORA_TRAINING = {
    "layers": "blocks",
    "rank": 16,
    "learning_rate": 0.001,
    "batch_size": 8,
    "steps": 1200,
    "prior_weight": 20.0,
    "prior_prompts": 1,
}
# Read by Atelier when this model is chosen (engine.model_settings): the form's defaults,
# the example prompt, the line shown under the model's name and the LoRA recipe.
# Export adds "latent_rgb", the previews' latent-to-RGB map fitted to the trained VAE.
SETTINGS = {
    "native_size": IMAGE_SIZE,
    "defaults": {"steps": 20, "cfg_scale": 3.0, "scheduler": "DDIM"},
    "example_prompt": EXAMPLE_PROMPT,
    "about": ABOUT,
    "lora_training": LORA_TRAINING,
}
MODEL_CARD = Path(__file__).with_name("MODEL_CARD.md")


def export_pipeline(work: Path, trained: Path, vae_folder: Path, out: Path, log=print) -> None:
    """Assemble the trained parts (UNet and text encoder from `trained`, the rest from
    `work`) into `out` (replaced whole), weights in fp16."""
    scale = torch.load(work / "latents.pt", weights_only=True)["scale"]
    vae = AutoencoderKL.from_pretrained(vae_folder)
    vae.register_to_config(scaling_factor=scale)
    settings = {**SETTINGS, "latent_rgb": fit_vae_latent_rgb(vae, scale)}
    pipeline = StableDiffusionPipeline(
        vae=vae,
        text_encoder=CLIPTextModel.from_pretrained(trained / "text_encoder"),
        tokenizer=CLIPTokenizer.from_pretrained(work / "tokenizer"),
        unet=UNet2DConditionModel.from_pretrained(trained / "unet"),
        scheduler=sampling_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    ).to(torch.float16)
    write_folder(pipeline, work / "tokenizer", settings, MODEL_CARD, out, log)
    write_list(out)  # the prompts LoRA training keeps


def write_folder(pipeline, tokenizer: Path, settings: dict, card: Path, out: Path, log) -> None:
    """Save an fp16 pipeline with its tokenizer files, atelier.json and model card into
    `out`, replacing it whole (built beside it, then renamed)."""
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    pipeline.save_pretrained(staging, safe_serialization=True)
    for name in ("vocab.json", "merges.txt"):  # for transformers' slow CLIPTokenizer too
        shutil.copyfile(tokenizer / name, staging / "tokenizer" / name)
    (staging / "atelier.json").write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    shutil.copyfile(card, staging / "README.md")
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    log(f"export: {out} ({size / 2**20:.1f} MB)")
