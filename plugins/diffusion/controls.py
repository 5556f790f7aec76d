"""A job's controls on its pipeline: ControlNets, ControlNet-Union models and T2I-Adapters
steering where things go.

The active controls (strength above 0 and a step range start < end; the others are
dropped, so they change nothing) are found in the store by name, or the first installed
model of their kind that fits the checkpoint; a model made for another family or another
UNet gets a message naming both. The task's pipeline becomes its control version with
diffusers' `from_pipe` (the checkpoint's loaded parts shared, nothing reloaded), with the
control models loaded through the job context (so the recipe records them with their
hashes), and each control map is brought to the exact area the pipeline generates. A depth
control's photo becomes its depth map first (plugins.diffusion.depth).

Only the engine thread imports this module (diffusers inside its functions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.context import JobContext
from engine.control_models import ARCHITECTURES, UnetDims, checkpoint_dims, dims_fit
from engine.home import models_dir
from engine.model_entry import ModelEntry
from engine.model_families import family_label
from engine.protocol import JobError
from plugins.diffusion.control_loader import control_label, with_article
from plugins.diffusion.depth import depth_controls
from plugins.diffusion.families import BY_ID
from plugins.diffusion.mask_geometry import Box, resize
from plugins.diffusion.params import ControlSpec, SamplingParams, active_controls

TASK_MODES = ("txt2img", "img2img", "inpaint")
_CONTROLNET_PIPELINES = {
    "sd15": "StableDiffusionControlNet",
    "sd2": "StableDiffusionControlNet",
    "sdxl": "StableDiffusionXLControlNet",
}
_MODE_SUFFIX = {"txt2img": "Pipeline", "img2img": "Img2ImgPipeline", "inpaint": "InpaintPipeline"}
_ADAPTER_PIPELINES = {
    "sd15": "StableDiffusionAdapterPipeline",
    "sdxl": "StableDiffusionXLAdapterPipeline",
}
UNION_MODES = {"pose": 0, "depth": 1, "scribble": 2, "softedge": 2, "canny": 3, "lineart": 3}
MAX_NAMES_SHOWN = 8


@dataclass(frozen=True)
class ControlArea:
    """Where a job's control maps go: each map covers a picture of `size` (w, h), of which
    the pipeline generates `box` (None: all of it) at `work` (w, h) pixels."""

    size: tuple[int, int]
    work: tuple[int, int]
    box: Box | None = None

    def image(self, control_map: np.ndarray) -> Any:
        """`control_map` (h, w, 3) as the PIL image the pipeline takes for this area."""
        from PIL import Image

        covered = resize(control_map, self.size)
        if self.box is not None:
            covered = covered[self.box.slices()]
        return Image.fromarray(np.ascontiguousarray(resize(covered, self.work)))


@dataclass(frozen=True)
class Controlled:
    """A job's pipeline with its controls, and what it adds to each pipeline call and
    recipe. With no active control: the task's own pipeline, adding nothing."""

    pipe: Any
    controls: tuple[tuple[ControlSpec, ModelEntry], ...] = ()
    architecture: str = ""
    mode: str = "txt2img"
    warnings: tuple[str, ...] = ()  # for the job's result (a photo steering as it is)

    @property
    def legacy_steps(self) -> bool:
        """Whether the pipeline reports steps only through the older `callback` (the
        T2I-Adapter pipelines)."""
        return self.architecture == "t2i_adapter"

    def call_kwargs(self, area: ControlArea) -> dict[str, Any]:
        """The control arguments of the pipeline call, the maps brought to `area`."""
        if not self.controls:
            return {}
        specs = [spec for spec, _ in self.controls]
        images = [area.image(spec.image) for spec in specs]
        one = len(specs) == 1
        if self.architecture == "t2i_adapter":
            return _adapter_kwargs(specs, images, one)
        key = "image" if self.mode == "txt2img" and self.architecture == "controlnet" else None
        kwargs: dict[str, Any] = {
            key or "control_image": images[0] if one else images,
            "controlnet_conditioning_scale": _each([s.strength for s in specs], one),
            "control_guidance_start": _each([s.start for s in specs], one),
            "control_guidance_end": _each([s.end for s in specs], one),
        }
        if self.architecture == "union":
            modes = [UNION_MODES[s.kind] for s in specs]
            kwargs["control_image"] = [images[0]] if one else [[image] for image in images]
            kwargs["control_mode"] = [modes[0]] if one else [[mode] for mode in modes]
        return kwargs

    def recipe(self, extras: dict[str, Any]) -> dict[str, Any]:
        """What each image's recipe adds (for resolved_meta): "controls" and, with the
        task's `extras`, A1111's "ControlNet N" fields."""
        if not self.controls:
            return {"extras": extras} if extras else {}
        fields = {
            f"ControlNet {i}": (
                f"Module: {spec.kind}, Model: {entry.name} [{entry.short_hash()}], "
                f"Weight: {spec.strength:g}, Guidance Start: {spec.start:g}, "
                f"Guidance End: {spec.end:g}"
            )
            for i, (spec, entry) in enumerate(self.controls)
        }
        controls = [
            {
                "kind": s.kind,
                "model": e.name,
                "strength": s.strength,
                "start": s.start,
                "end": s.end,
            }
            for s, e in self.controls
        ]
        return {"controls": controls, "extras": {**extras, **fields}}


def _each(values: list[float], one: bool) -> float | list[float]:
    return values[0] if one else values


def _adapter_kwargs(specs: Sequence[ControlSpec], images: list[Any], one: bool) -> dict[str, Any]:
    kwargs = {
        "image": images[0] if one else images,
        "adapter_conditioning_scale": _each([s.strength for s in specs], one),
    }
    if specs[0].end < 1:  # SDXL only (control_pipeline_class): the share of steps it acts in
        kwargs["adapter_conditioning_factor"] = specs[0].end
    return kwargs


def with_controls(
    ctx: JobContext, checkpoint: ModelEntry, pipe: Any, params: SamplingParams, mode: str
) -> Controlled:
    """`pipe` (the task's pipeline of `checkpoint`, in `mode`: one of TASK_MODES) with the
    params' active controls; JobError for a control that is missing, does not fit the
    checkpoint, or cannot steer this task."""
    chosen = resolve_controls(ctx, checkpoint, pipe, params.controls)
    if not chosen:
        return Controlled(pipe, mode=mode)
    chosen, warnings = depth_controls(ctx, chosen)
    architecture = _one_architecture(chosen)
    models = [ctx.model(entry) for _, entry in chosen]
    ctx.check_cancelled()
    cls_name = control_pipeline_class(checkpoint, architecture, mode, chosen)
    key = "adapter" if architecture == "t2i_adapter" else "controlnet"
    controlled = _pipeline_class(cls_name).from_pipe(
        pipe, **{key: models[0] if len(models) == 1 else models}
    )
    controlled.set_progress_bar_config(disable=True)
    return Controlled(controlled, tuple(chosen), architecture, mode, warnings)


def load_controls(
    ctx: JobContext, checkpoint: ModelEntry, pipe: Any, params: SamplingParams
) -> None:
    """Load the params' active control models (a task's `prepare`: the engine's warm-up)."""
    for _, entry in resolve_controls(ctx, checkpoint, pipe, params.controls):
        ctx.model(entry)


def _pipeline_class(cls_name: str) -> Any:
    import diffusers

    return getattr(diffusers, cls_name)


def control_pipeline_class(
    checkpoint: ModelEntry,
    architecture: str,
    mode: str,
    chosen: Sequence[tuple[ControlSpec, ModelEntry]],
) -> str:
    """The diffusers pipeline class that runs `mode` with controls of `architecture` on
    `checkpoint`'s family; JobError where diffusers has none."""
    family = checkpoint.family
    if architecture == "t2i_adapter":
        if mode != "txt2img" or family not in _ADAPTER_PIPELINES:
            raise JobError(
                "invalid_input",
                f"'{chosen[0][1].name}' is a T2I-Adapter; those steer only Text to image "
                "(on SD 1.x and SDXL). Use a ControlNet for this task.",
            )
        ends = {s.end for s, _ in chosen}
        if (
            any(s.start > 0 for s, _ in chosen)
            or len(ends) > 1
            or (family == "sd15" and ends != {1})
        ):
            raise JobError(
                "invalid_input",
                "T2I-Adapters act from the first step: on SD 1.x over all the steps (range "
                "0-1), on SDXL up to one end shared by all of them. Change the step ranges, "
                "or use a ControlNet.",
            )
        return _ADAPTER_PIPELINES[family]
    if architecture == "union":
        return f"StableDiffusionXLControlNetUnion{_MODE_SUFFIX[mode]}"
    return f"{_CONTROLNET_PIPELINES[family]}{_MODE_SUFFIX[mode]}"


def _one_architecture(chosen: Sequence[tuple[ControlSpec, ModelEntry]]) -> str:
    kinds = {entry.control.architecture for _, entry in chosen if entry.control}
    if len(kinds) > 1:
        names = ", ".join(f"'{e.name}' ({control_label(e)})" for _, e in chosen)
        raise JobError(
            "invalid_input",
            f"These controls cannot act together: {names}. Use ControlNets only, "
            "ControlNet-Union models only, or T2I-Adapters only in one job.",
        )
    return kinds.pop()


# ---- which model each control uses


def resolve_controls(
    ctx: JobContext, checkpoint: ModelEntry, pipe: Any, controls: Sequence[ControlSpec]
) -> list[tuple[ControlSpec, ModelEntry]]:
    """Each active control with its model: the one it names, else the first installed one
    of its kind that fits `checkpoint`; JobError when there is none or it does not fit."""
    unet = _pipe_dims(pipe) or checkpoint_dims(checkpoint)
    chosen = []
    for spec in active_controls(controls):
        entry = (
            find_control(ctx, checkpoint, spec)
            if spec.model
            else pick_control(ctx, checkpoint, spec)
        )
        check_fit(entry, checkpoint, spec, unet)
        chosen.append((spec, entry))
    return chosen


def _pipe_dims(pipe: Any) -> UnetDims | None:
    """The dims of the UNet `pipe` runs (the checkpoint's, exactly as loaded)."""
    config = getattr(getattr(pipe, "unet", None), "config", None)
    if config is None:
        return None
    return UnetDims(config.cross_attention_dim, tuple(config.block_out_channels))


def find_control(ctx: JobContext, checkpoint: ModelEntry, spec: ControlSpec) -> ModelEntry:
    """The control model `spec` names; JobError("missing_model") listing the installed
    ones of its kind for `checkpoint`."""
    try:
        entry = ctx.store.find(spec.model, "controlnet")
    except JobError as e:
        if e.kind != "missing_model":
            raise
        raise JobError(
            "missing_model",
            f"No control model named '{spec.model}' is installed. "
            f"{_installed(ctx, checkpoint, spec.kind)}",
        ) from None
    if entry.control is None:
        raise JobError("invalid_input", f"'{entry.name}' is not a control model Atelier knows.")
    return entry


def pick_control(ctx: JobContext, checkpoint: ModelEntry, spec: ControlSpec) -> ModelEntry:
    """The first installed control model of `spec`'s kind that fits `checkpoint`."""
    fitting = sorted(  # ControlNets first: they steer every task
        ctx.store.controls_for(checkpoint, spec.kind),
        key=lambda e: ARCHITECTURES.index(e.control.architecture),
    )
    if not fitting:
        raise JobError(
            "missing_model",
            f"No {spec.kind} control model for '{checkpoint.name}' "
            f"({family_label(checkpoint.family, BY_ID)}) is installed. "
            f"{_installed(ctx, checkpoint, spec.kind)}",
        )
    return fitting[0]


def _installed(ctx: JobContext, checkpoint: ModelEntry, kind: str) -> str:
    names = [e.name for e in ctx.store.controls_for(checkpoint, kind)]
    shown = ", ".join(names[:MAX_NAMES_SHOWN]) + (" ..." if len(names) > MAX_NAMES_SHOWN else "")
    return (
        f"Installed {kind} controls for it: {shown or 'none'}. Put ControlNets or T2I-Adapters "
        f"in {models_dir('controlnet', ctx.store.home)}, or add your A1111, ComfyUI or "
        "InvokeAI model folder in Settings."
    )


def check_fit(
    control: ModelEntry, checkpoint: ModelEntry, spec: ControlSpec, unet: UnetDims | None
) -> None:
    """JobError("invalid_input") when `control` cannot steer `checkpoint` (whose UNet has
    dims `unet`) with maps of `spec.kind`, naming both."""
    info = control.control
    ours = family_label(checkpoint.family, BY_ID)
    if info.base != checkpoint.family:
        theirs = family_label(info.base, BY_ID)
        raise JobError(
            "invalid_input",
            f"'{control.name}' is {control_label(control)} but '{checkpoint.name}' is {ours}. "
            f"Choose a control model made for {ours}, or {with_article(theirs)} model.",
        )
    if not dims_fit(info, unet):
        made_from = f" (it was made from '{info.base_model}')" if info.base_model else ""
        raise JobError(
            "invalid_input",
            f"'{control.name}' was made for a {ours} model of another size than "
            f"'{checkpoint.name}'{made_from}. Choose a control model made for "
            f"'{checkpoint.name}', or the model it was made for.",
        )
    if not info.takes(spec.kind) and info.kind:
        raise JobError(
            "invalid_input",
            f"'{control.name}' is a {info.kind} control; it cannot steer with a {spec.kind} "
            f"map. Choose a {spec.kind} control model, or leave the model empty.",
        )
