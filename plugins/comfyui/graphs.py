"""Atelier's image and clip jobs as ComfyUI API graphs of stock nodes.

Two graphs cover the four image tasks: text to image (an empty latent), and a repaint of an
uploaded picture at a strength, with a mask or without (image to image). Inpaint and
outpaint do their geometry here, as the local tasks do (plugins/diffusion/mask_geometry):
the mask is grown and feathered, the outpaint canvas extended, and the server's picture is
blended back into the original, so kept pixels stay exactly as they were. LoRAs chain
`LoraLoader`s; controls add `ControlNetLoader` + `ControlNetApplyAdvanced`. Image to video
is Stable Video Diffusion's stock graph (`ImageOnlyCheckpointLoader`,
`SVD_img2vid_Conditioning`, `VideoLinearCFGGuidance`), whose frames come back as pictures.
A graph names every node and model it needs: `Unsupported` says what a server lacks before
anything is sent. Torch-free.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from engine.model_entry import kind_label, same_name
from plugins.comfyui.server_info import ServerInfo
from plugins.diffusion.lora_tags import merged_loras, strip_tags
from plugins.diffusion.mask_geometry import (
    extend_canvas,
    outpaint_mask,
    place_mask,
    resize,
    rgba,
    soft_mask,
    work_size,
)
from plugins.diffusion.params import (
    MASK_THRESHOLD,
    ControlSpec,
    Img2ImgParams,
    InpaintParams,
    OutpaintParams,
    SamplingParams,
    Txt2ImgParams,
    ceil8,
    snap8,
)
from plugins.video.image_to_video import SVD_FPS, SVD_SIDE
from plugins.video.params import ImageToVideoParams

DEFAULT_SIDE = 512  # a size of 0 on a server: we cannot see its checkpoint's native size
FULL_REPAINT = 0.99  # from this strength up a masked repaint starts from noise
# Atelier's scheduler -> ComfyUI's (sampler_name, scheduler)
SAMPLERS = {
    "Euler": ("euler", "normal"),
    "Euler a": ("euler_ancestral", "normal"),
    "DPM++ 2M": ("dpmpp_2m", "normal"),
    "DPM++ 2M Karras": ("dpmpp_2m", "karras"),
    "DDIM": ("ddim", "ddim_uniform"),
    "UniPC": ("uni_pc", "normal"),
    "LCM": ("lcm", "sgm_uniform"),
}
LOCALLY = "Run it on the local engine instead."
SVD_FRAMES = 14  # Stable Video Diffusion's own clip length (the server does not say its model's)
SVD_NAMES = ("svd", "stable-video", "stable_video", "img2vid")  # how SVD checkpoints are named


class Unsupported(ValueError):
    """A job the server cannot run (it lacks a node or a model), said before sending it."""


Link = list[Any]  # [node id, output index]


@dataclass
class Graph:
    """An API graph being built: nodes by id, and the pictures it needs uploaded first."""

    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    # file name -> pixels, encoded as PNG only when sent (a plan is made for every server
    # that could take the picture, and only one of them gets it)
    uploads: dict[str, np.ndarray] = field(default_factory=dict)

    def add(self, class_type: str, **inputs: Any) -> str:
        node_id = str(len(self.nodes) + 1)
        self.nodes[node_id] = {"class_type": class_type, "inputs": inputs}
        return node_id

    def upload(self, name: str, pixels: np.ndarray) -> str:
        """A LoadImage-style name for `pixels`, uploaded before the graph is queued."""
        self.uploads[name] = pixels
        return name

    def rename_upload(self, name: str, stored: str) -> None:
        """The server stored the upload `name` as `stored`: point the loaders there."""
        for node in self.nodes.values():
            if node["inputs"].get("image") == name:
                node["inputs"]["image"] = stored


@dataclass(frozen=True)
class Plan:
    """A job for one server: the graph, the SaveImage node whose pictures are the result,
    and how to turn them into the job's output (`finish`, on the original pixels)."""

    graph: Graph
    output_node: str
    checkpoint: str
    width: int
    height: int
    original: np.ndarray | None = None  # (h, w, 4) picture to blend into, or None
    fps: float = 0.0  # a clip's frame rate: every picture the output node saves is a frame
    soft: np.ndarray | None = None  # (h, w) blend weight of the new pixels
    meta: dict[str, Any] = field(default_factory=dict)  # the output's, as the local task's

    def finish(self, picture: np.ndarray) -> np.ndarray:
        """The server's (h, w, 3 or 4) picture as the job's RGBA output."""
        picture = rgba(picture)
        if self.original is None:
            return picture
        h, w = self.original.shape[:2]
        if picture.shape[:2] != (h, w):
            picture = resize(picture, (w, h))
        weight = self.soft.astype(np.float32)[..., None] / 255.0
        new = np.concatenate([picture[..., :3], np.full((h, w, 1), 255, np.uint8)], axis=2)
        blended = np.round(self.original + (new.astype(np.float32) - self.original) * weight)
        return np.where(weight > 0, blended.astype(np.uint8), self.original)


def plan(task_id: str, params: SamplingParams, seed: int, info: ServerInfo, label: str) -> Plan:
    """The graph of one image of `params` (seed `seed`) for a server with `info`; Unsupported
    naming what the server (`label`) lacks, ValueError for params no graph can express."""
    if isinstance(params, ImageToVideoParams):
        return _checked(_image_to_video(params, seed, info, label), info, label)
    if params.references:
        raise Unsupported(
            f"{label} cannot use reference images: IP-Adapter is not among ComfyUI's stock "
            f"nodes. {LOCALLY}"
        )
    if isinstance(params, Txt2ImgParams):
        made = _text_to_image(params, seed, info, label)
    elif isinstance(params, InpaintParams | OutpaintParams | Img2ImgParams):
        made = _repaint(params, seed, info, label)
    else:
        raise Unsupported(f"{label} cannot run {task_id} jobs. {LOCALLY}")
    return _checked(made, info, label)


def _checked(made: Plan, info: ServerInfo, label: str) -> Plan:
    """`made`, when the server has every node it names; else Unsupported."""
    missing = sorted({n["class_type"] for n in made.graph.nodes.values()} - info.nodes)
    if missing:
        raise Unsupported(f"{label} lacks the node(s) {', '.join(missing)}. {LOCALLY}")
    return made


def _text_to_image(params: Txt2ImgParams, seed: int, info: ServerInfo, label: str) -> Plan:
    graph = Graph()
    width, height = snap8(params.width or DEFAULT_SIDE), snap8(params.height or DEFAULT_SIDE)
    checkpoint, model, clip, vae = _models(graph, params, info, label)
    positive, negative = _conditioning(graph, params, clip, info, label, (width, height))
    latent = graph.add("EmptyLatentImage", width=width, height=height, batch_size=1)
    links = (model, positive, negative, [latent, 0], vae)
    save = _sample_and_save(graph, params, seed, info, label, links)
    return Plan(graph, save, checkpoint, width, height)


def _repaint(
    params: Img2ImgParams | InpaintParams | OutpaintParams, seed: int, info: ServerInfo, label: str
) -> Plan:
    if params.image is None:
        raise ValueError("This job needs a picture to work on.")
    original, soft, meta = _picture_and_mask(params)
    h, w = original.shape[:2]
    size = (snap8(w), snap8(h))
    graph = Graph()
    checkpoint, model, clip, vae = _models(graph, params, info, label)
    positive, negative = _conditioning(graph, params, clip, info, label, size)
    picture = graph.add(
        "LoadImage", image=graph.upload("atelier-picture.png", resize(original, size))
    )
    if soft is None:
        latent = graph.add("VAEEncode", pixels=[picture, 0], vae=vae)
    else:
        mask_png = graph.upload("atelier-mask.png", resize(np.repeat(soft[..., None], 3, 2), size))
        mask = graph.add("LoadImageMask", image=mask_png, channel="red")
        if params.strength >= FULL_REPAINT:
            latent = graph.add(
                "VAEEncodeForInpaint", pixels=[picture, 0], vae=vae, mask=[mask, 0], grow_mask_by=0
            )
        else:
            encoded = graph.add("VAEEncode", pixels=[picture, 0], vae=vae)
            latent = graph.add("SetLatentNoiseMask", samples=[encoded, 0], mask=[mask, 0])
    links = (model, positive, negative, [latent, 0], vae)
    save = _sample_and_save(graph, params, seed, info, label, links)
    if soft is None:
        return Plan(graph, save, checkpoint, *size, meta=meta)
    return Plan(graph, save, checkpoint, *size, original=original, soft=soft, meta=meta)


def _image_to_video(params: ImageToVideoParams, seed: int, info: ServerInfo, label: str) -> Plan:
    """Stable Video Diffusion on the still, as the local task runs it: the still at about
    SVD's side in its own shape, its frame count (SVD's 14 when 0), rate, motion amount
    and noise, guidance rising from 1 over the frames to the CFG scale."""
    if params.image is None:
        raise ValueError("This job needs a still to animate.")
    if params.method not in ("auto", "svd"):
        raise Unsupported(
            f"{label} cannot animate by {params.method}: only Stable Video Diffusion is among "
            f"ComfyUI's stock nodes. {LOCALLY}"
        )
    checkpoint = _svd_checkpoint(params.video_model, info, label)
    still = rgba(params.image)
    size = work_size(still.shape[1::-1], params.work_size or SVD_SIDE)
    fps = params.fps or SVD_FPS
    graph = Graph()
    loader = graph.add("ImageOnlyCheckpointLoader", ckpt_name=checkpoint)
    picture = graph.add("LoadImage", image=graph.upload("atelier-still.png", resize(still, size)))
    conditioned = graph.add(
        "SVD_img2vid_Conditioning",
        clip_vision=[loader, 1],
        init_image=[picture, 0],
        vae=[loader, 2],
        width=size[0],
        height=size[1],
        video_frames=params.frames or SVD_FRAMES,
        motion_bucket_id=params.motion_bucket,
        fps=max(1, round(fps)),
        augmentation_level=params.noise_aug,
    )
    guided = graph.add("VideoLinearCFGGuidance", model=[loader, 0], min_cfg=1.0)
    sampler_name, scheduler = sampler_for(params.scheduler, info, label)
    sampler = graph.add(
        "KSampler",
        model=[guided, 0],
        seed=seed,
        steps=params.steps,
        cfg=max(1.0, params.cfg_scale),
        sampler_name=sampler_name,
        scheduler=scheduler,
        positive=[conditioned, 0],
        negative=[conditioned, 1],
        latent_image=[conditioned, 2],
        denoise=1.0,
    )
    decoded = graph.add("VAEDecode", samples=[sampler, 0], vae=[loader, 2])
    save = graph.add("SaveImage", images=[decoded, 0], filename_prefix="atelier-clip")
    return Plan(graph, save, checkpoint, *size, fps=float(fps))


def _svd_checkpoint(wanted: str, info: ServerInfo, label: str) -> str:
    """The server's Stable Video Diffusion checkpoint: the one named, else the first whose
    name says it is one (ComfyUI lists every checkpoint in one folder and says nothing of
    what each is)."""
    if wanted:
        return match_model(wanted, info, "checkpoints", label)
    for name in info.models.get("checkpoints", ()):
        if any(word in name.casefold() for word in SVD_NAMES):
            return name
    raise Unsupported(
        f"{label} has no Stable Video Diffusion checkpoint (one whose name holds "
        f"{' or '.join(repr(w) for w in SVD_NAMES)}; or name it under Video model). {LOCALLY}"
    )


def _picture_and_mask(
    params: Img2ImgParams | InpaintParams | OutpaintParams,
) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
    """The RGBA picture the server repaints, the blend weight of its new pixels (None: the
    whole picture is the result, as image to image makes it), and the output's meta as the
    local task writes it (where it was repainted, for the watermark; an outpaint's offset,
    for the canvas)."""
    image = rgba(params.image)
    soft = None
    meta: dict[str, Any] = {}
    if isinstance(params, OutpaintParams):
        amounts = tuple(ceil8(v) for v in (params.left, params.top, params.right, params.bottom))
        if not any(amounts):
            raise ValueError("Choose how far to extend the picture on at least one side.")
        soft = outpaint_mask(image.shape[1::-1], amounts, params.overlap)
        image = extend_canvas(image, *amounts)
        meta = {"offset": [amounts[0], amounts[1]], "extend": list(amounts)}
    elif isinstance(params, InpaintParams):
        if params.mask is None:
            raise ValueError("Inpaint needs a mask: select or paint the area to repaint.")
        mask = place_mask(params.mask, params.mask_origin, image.shape[1::-1])
        if not (mask >= MASK_THRESHOLD).any():
            raise ValueError("The mask is empty: select or paint the area to repaint.")
        soft = soft_mask(mask, params.grow, params.feather)
    h, w = image.shape[:2]
    meta["crop_rect"] = [0, 0, w, h]
    if soft is not None:
        meta["repaint_mask"] = soft  # where pixels may differ from the input (weight > 0)
    return image, soft, meta


def _models(
    graph: Graph, params: SamplingParams, info: ServerInfo, label: str
) -> tuple[str, Link, Link, Link]:
    """The checkpoint loader and the LoRA chain: (checkpoint name, model, clip, vae)."""
    checkpoint = match_model(params.model, info, "checkpoints", label)
    loader = graph.add("CheckpointLoaderSimple", ckpt_name=checkpoint)
    model, clip = [loader, 0], [loader, 1]
    for lora in merged_loras(params.loras, params.prompt, params.negative_prompt):
        if lora.weight == 0:
            continue
        name = match_model(lora.name, info, "loras", label)
        chained = graph.add(
            "LoraLoader",
            model=model,
            clip=clip,
            lora_name=name,
            strength_model=lora.weight,
            strength_clip=lora.weight,
        )
        model, clip = [chained, 0], [chained, 1]
    return checkpoint, model, clip, [loader, 2]


def _conditioning(
    graph: Graph,
    params: SamplingParams,
    clip: Link,
    info: ServerInfo,
    label: str,
    size: tuple[int, int],
) -> tuple[Link, Link]:
    """The prompts encoded (without their LoRA tags), with every control applied."""
    positive = [graph.add("CLIPTextEncode", text=strip_tags(params.prompt), clip=clip), 0]
    negative = [graph.add("CLIPTextEncode", text=strip_tags(params.negative_prompt), clip=clip), 0]
    for index, control in enumerate(params.controls):
        positive, negative = _control(
            graph, control, index, (positive, negative), info, label, size
        )
    return positive, negative


def _control(
    graph: Graph,
    control: ControlSpec,
    index: int,
    conditioning: tuple[Link, Link],
    info: ServerInfo,
    label: str,
    size: tuple[int, int],
) -> tuple[Link, Link]:
    installed = info.models.get("controlnet", ())
    wanted = control.model or next((n for n in installed if control.kind in n.lower()), "")
    if not wanted:
        raise Unsupported(f"{label} has no {control.kind} ControlNet. {LOCALLY}")
    name = match_model(wanted, info, "controlnet", label)
    loader = graph.add("ControlNetLoader", control_net_name=name)
    image = graph.add(
        "LoadImage", image=graph.upload(f"atelier-control-{index}.png", resize(control.image, size))
    )
    applied = graph.add(
        "ControlNetApplyAdvanced",
        positive=conditioning[0],
        negative=conditioning[1],
        control_net=[loader, 0],
        image=[image, 0],
        strength=control.strength,
        start_percent=control.start,
        end_percent=control.end,
    )
    return [applied, 0], [applied, 1]


def _sample_and_save(
    graph: Graph,
    params: SamplingParams,
    seed: int,
    info: ServerInfo,
    label: str,
    links: tuple[Link, Link, Link, Link, Link],
) -> str:
    """KSampler, VAEDecode and SaveImage on (model, positive, negative, latent, vae):
    the SaveImage node's id."""
    sampler_name, scheduler = sampler_for(params.scheduler, info, label)
    model, positive, negative, latent, vae = links
    sampler = graph.add(
        "KSampler",
        model=model,
        seed=seed,
        steps=params.steps,
        cfg=params.cfg_scale,
        sampler_name=sampler_name,
        scheduler=scheduler,
        positive=positive,
        negative=negative,
        latent_image=latent,
        denoise=float(getattr(params, "strength", 1.0)),
    )
    decoded = graph.add("VAEDecode", samples=[sampler, 0], vae=vae)
    return graph.add("SaveImage", images=[decoded, 0], filename_prefix="atelier")


def sampler_for(scheduler: str, info: ServerInfo, label: str) -> tuple[str, str]:
    """ComfyUI's sampler and scheduler for Atelier's scheduler, if the server has them."""
    sampler_name, schedule = SAMPLERS[scheduler]
    if sampler_name not in info.samplers or schedule not in info.schedules:
        raise Unsupported(
            f"{label} has no {scheduler} sampler ({sampler_name}, {schedule}); choose "
            f"another scheduler or {LOCALLY[0].lower()}{LOCALLY[1:]}"
        )
    return sampler_name, schedule


def match_model(wanted: str, info: ServerInfo, kind: str, label: str) -> str:
    """The server's file of `kind` ("checkpoints", "loras", "controlnet") for the model named
    `wanted` ("" = the first it offers): the file of the same name (engine.model_entry.same_name),
    else the file holding the same weights under another name (`info.find_copy`)."""
    offered = info.models.get(kind, ())
    if not offered:
        raise Unsupported(f"{label} has no {kind_label(kind)} installed. {LOCALLY}")
    if not wanted:
        return offered[0]
    for name in offered:
        if same_name(wanted, name):
            return name
    copy = info.find_copy(kind, wanted) if info.find_copy else None
    if copy is not None:
        return copy
    shown = ", ".join(offered[:5]) + (" ..." if len(offered) > 5 else "")
    raise Unsupported(
        f"{label} has no {kind_label(kind)} named {wanted!r} (it has {shown}). {LOCALLY}"
    )


def png_bytes(pixels: np.ndarray) -> bytes:
    """(h, w, 3 or 4) uint8 pixels as PNG bytes (RGB: the server takes no alpha)."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels[..., :3])).save(buffer, format="PNG")
    return buffer.getvalue()


def decode_picture(data: bytes) -> np.ndarray:
    """An image file's bytes as (h, w, 4) uint8 RGBA."""
    with Image.open(io.BytesIO(data)) as picture:
        return np.asarray(picture.convert("RGBA")).copy()
