"""Depth maps made by a depth model (DPT, Depth Anything): the Depth map task, and the
maps a job's depth controls get from their photos (plugins.diffusion.controls).

A depth model is a transformers folder of the store's `depth` kind (config.json,
model.safetensors, preprocessor_config.json), loaded offline, safetensors only, with no
code from the folder. The picture is resized and normalised with OpenCV as its
preprocessor_config.json says (so torchvision is never needed); the model's relative
inverse depth is brought back to the picture's size and stretched to 0-255 per picture:
near is white, far is black, as depth ControlNets expect. Only the engine thread runs
this module's functions; torch and transformers are imported inside them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from engine.context import JobContext
from engine.diffusers_folders import read_json_object
from engine.home import models_dir
from engine.model_entry import ModelEntry
from engine.model_loader import OFFLINE
from engine.protocol import ImageData, JobError, TaskResult
from engine.recipes import RESOLVED
from engine.untrusted import UntrustedInputError
from plugins.diffusion.control_maps import as_is, is_photo
from plugins.diffusion.families import DEPTH_FAMILIES
from plugins.diffusion.params import ControlSpec, DepthParams

if TYPE_CHECKING:
    import torch

    from engine.model_store import ModelStore

PREPROCESSOR = "preprocessor_config.json"
MAX_INPUT_SIDE = 2048  # a depth model's input side; real ones take 384 to 1036
_DPT_DEFAULTS = {"size": 384, "keep_aspect_ratio": False, "ensure_multiple_of": 1}


def load_depth(
    entry: ModelEntry, store: ModelStore, *, dtype: torch.dtype, device: str, variant: str | None
) -> Any:
    """The loader of the depth families: `entry` as a transformers depth estimation model in
    `dtype`, left on the CPU for the device policy."""
    from transformers import AutoModelForDepthEstimation

    model = AutoModelForDepthEstimation.from_pretrained(
        entry.path, dtype=dtype, use_safetensors=True, trust_remote_code=False, **OFFLINE
    )
    return model.eval()


def installed_depth_models(store: ModelStore) -> list[ModelEntry]:
    """The store's depth models of a family this plugin loads (torch-free: the window asks
    too, before it converts a photo layer to a Depth control layer)."""
    families = {family.id for family in DEPTH_FAMILIES}
    return [e for e in store.entries if e.kind == "depth" and e.family in families]


def no_depth_model(store: ModelStore) -> str:
    """Where to put a depth model, in one sentence."""
    return (
        f"Put a depth model (a Depth Anything or DPT folder from transformers, with config.json, "
        f"model.safetensors and preprocessor_config.json) in "
        f"{models_dir('depth', store.home)}/<name>/."
    )


def depth_model(ctx: JobContext, name: str = "") -> ModelEntry:
    """The depth model called `name`, else the first installed one; JobError
    ("missing_model") saying where to put one when there is none."""
    if name:
        return ctx.store.find(name, "depth")
    installed = installed_depth_models(ctx.store)
    if not installed:
        raise JobError("missing_model", f"No depth model is installed. {no_depth_model(ctx.store)}")
    return installed[0]


def model_input(picture: np.ndarray, entry: ModelEntry) -> np.ndarray:
    """`picture` ((h, w, 3|4) uint8) as the model's (1, 3, H, W) float32 input, resized and
    normalised as the folder's preprocessor_config.json says (DPT's defaults for what it
    leaves out); JobError when that file cannot be used."""
    try:
        config = {**_DPT_DEFAULTS, **read_json_object(entry.path / PREPROCESSOR)}
        width, height = _input_size(picture.shape[1], picture.shape[0], config)
        mean = np.asarray(config.get("image_mean", [0.5] * 3), np.float32).reshape(3)
        std = np.asarray(config.get("image_std", [0.5] * 3), np.float32).reshape(3)
        scale = float(config.get("rescale_factor", 1 / 255))
    except (OSError, UntrustedInputError, ValueError, TypeError, KeyError) as e:
        raise JobError(
            "invalid_input",
            f"The depth model '{entry.name}' cannot be used: its {PREPROCESSOR} is not "
            f"usable ({str(e)[:160]}). Copy the model's folder again.",
        ) from None
    if not std.all():
        raise JobError("invalid_input", f"The depth model '{entry.name}' has an image_std of 0.")
    rgb = cv2.resize(as_is(picture), (width, height), interpolation=cv2.INTER_CUBIC)
    normalised = (rgb.astype(np.float32) * scale - mean) / std
    return np.ascontiguousarray(normalised.transpose(2, 0, 1)[None])


def _input_size(width: int, height: int, config: dict[str, Any]) -> tuple[int, int]:
    """The model's input (w, h) for a picture of (width, height): transformers' DPT rule
    (the target size, the aspect kept by scaling as little as possible when asked, each
    side the nearest multiple of `ensure_multiple_of`). ValueError for sizes out of reach."""
    size = config["size"]
    target_h, target_w = (size, size) if isinstance(size, int) else (size["height"], size["width"])
    multiple = int(config["ensure_multiple_of"])
    if not 1 <= multiple <= MAX_INPUT_SIDE:
        raise ValueError(f"ensure_multiple_of is {multiple}")
    scale_h, scale_w = target_h / height, target_w / width
    if config["keep_aspect_ratio"]:
        scale_h = scale_w = scale_w if abs(1 - scale_w) < abs(1 - scale_h) else scale_h
    w, h = (
        max(multiple, round(s * side / multiple) * multiple)
        for s, side in ((scale_w, width), (scale_h, height))
    )
    if max(w, h) > MAX_INPUT_SIDE:
        raise ValueError(f"it asks for an input of {w}x{h} pixels")
    return w, h


def estimate(ctx: JobContext, picture: np.ndarray, entry: ModelEntry) -> np.ndarray:
    """The depth map of `picture` ((h, w, 3|4) uint8) made by the depth model `entry`, as
    (h, w) uint8: near = white, stretched to 0-255 (all black where it sees no depth)."""
    import torch

    model = ctx.model(entry)
    pixels = model_input(picture, entry)
    ctx.check_cancelled()
    with torch.inference_mode():
        tensor = torch.from_numpy(pixels).to(model.device, model.dtype)
        depth = model(pixel_values=tensor).predicted_depth[0].float().cpu().numpy()
    height, width = picture.shape[:2]
    depth = cv2.resize(depth, (width, height), interpolation=cv2.INTER_CUBIC)
    low, high = float(depth.min()), float(depth.max())
    if high - low < 1e-6:
        return np.zeros((height, width), np.uint8)
    return np.round((depth - low) / (high - low) * 255).astype(np.uint8)


def depth_controls(
    ctx: JobContext, chosen: Sequence[tuple[ControlSpec, ModelEntry]]
) -> tuple[list[tuple[ControlSpec, ModelEntry]], tuple[str, ...]]:
    """A job's controls with each depth control's photo (control_maps.is_photo) made into
    its depth map by the first installed depth model, and the warnings to show: with no
    depth model installed, a photo steers as it is."""
    photos = [spec.kind == "depth" and is_photo(spec.image) for spec, _ in chosen]
    if not any(photos):
        return list(chosen), ()
    installed = installed_depth_models(ctx.store)
    if not installed:
        note = (
            "A depth control's picture has colour, so it is taken for a photo, but no depth "
            "model is installed to make its depth map: it steers as it is. "
            f"{no_depth_model(ctx.store)}"
        )
        return list(chosen), (note,)
    made = []
    for (spec, entry), photo in zip(chosen, photos, strict=True):
        if photo:
            depth = estimate(ctx, spec.image, installed[0])
            spec = dataclasses.replace(spec, image=np.dstack([depth] * 3))
        made.append((spec, entry))
    return made, ()


def prepare(params: DepthParams, ctx: JobContext) -> None:
    """Load the depth model `run` will use (the engine's warm-up)."""
    ctx.model(depth_model(ctx, params.depth_model))


def run(params: DepthParams, ctx: JobContext) -> TaskResult:
    """The picture's depth map as an opaque grey picture of its size."""
    entry = depth_model(ctx, params.depth_model)
    ctx.progress(0.0, "Depth map")
    depth = estimate(ctx, params.image, entry)
    pixels = np.dstack([depth, depth, depth, np.full(depth.shape, 255, np.uint8)])
    ctx.progress(1.0, "Depth map")
    return TaskResult((ImageData(pixels, {RESOLVED: {"depth_model": entry.name}}),))
