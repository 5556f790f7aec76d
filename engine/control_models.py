"""Control models in the store (ControlNets, ControlNet-Union models, T2I-Adapters): what
each one is, what it was made for, and whether it fits a checkpoint.

A control model adds to a checkpoint's UNet, so it fits only a UNet of the same shape: the
same family and the same dims (cross-attention width and channels per level). Both are
read from a folder's config.json or from a single file's tensor shapes, so the built-in
scribble ControlNet (made from the small atelier-demo UNet) fits atelier-demo and not a
real SD 1.5. Its kind of map comes from atelier.json's "control_kind", else its name
(control_v11p_sd15_scribble, t2i-adapter-canny). Torch-free; files are read bounded
(engine.diffusers_folders, engine.checkpoint_files).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.checkpoint_files import read_safetensors_header
from engine.diffusers_folders import read_json_object
from engine.model_entry import ModelEntry
from engine.model_settings import ModelSettings
from engine.protocol import JobError
from engine.untrusted import UntrustedInputError

CONTROL_KINDS = ("scribble", "lineart", "softedge", "canny", "depth", "pose")
ARCHITECTURES = ("controlnet", "union", "t2i_adapter")
_KIND_WORDS = {  # words in a model's name that say which kind of map it takes
    "scribble": "scribble",
    "sketch": "scribble",
    "lineart": "lineart",
    "line": "lineart",
    "softedge": "softedge",
    "soft": "softedge",
    "hed": "softedge",
    "pidi": "softedge",
    "canny": "canny",
    "depth": "depth",
    "midas": "depth",
    "zoe": "depth",
    "pose": "pose",
    "openpose": "pose",
}
_LDM_LEVEL = re.compile(
    r"^(?:model\.diffusion_model\.|control_model\.)?input_blocks\.(\d+)\.0\.(out_layers\.3|op)\.weight$"
)
_DIFFUSERS_LEVEL = re.compile(
    r"^(?:unet\.|control_model\.)?down_blocks\.(\d+)\.resnets\.0\.conv2\.weight$"
)
_dims_cache: dict[tuple[str, int, int], UnetDims | None] = {}


@dataclass(frozen=True)
class UnetDims:
    """The shape of a UNet (or of the UNet a control model adds to): its cross-attention
    width (None for a T2I-Adapter, which has none) and its channels per level."""

    cross_attention_dim: int | None
    block_out_channels: tuple[int, ...]


@dataclass(frozen=True)
class ControlInfo:
    """What a control model is: `architecture` one of ARCHITECTURES, `base` the family it
    was made for ("sd15", "sd2", "sdxl"), `kind` the map it takes ("" when its name does not
    say; a union model takes them all), `dims` its UNet's shape when known, `base_model` the
    checkpoint its atelier.json names."""

    architecture: str
    base: str
    kind: str = ""
    dims: UnetDims | None = None
    base_model: str = ""

    def takes(self, kind: str) -> bool:
        """Whether it steers with maps of `kind` (a union model: every kind)."""
        return self.architecture == "union" or self.kind == kind


def kind_from_name(name: str) -> str:
    """The control kind a model's name says ("control_v11p_sd15_scribble" -> "scribble");
    "" when no word of it names one."""
    for word in re.split(r"[^a-z]+", name.casefold()):
        if word in _KIND_WORDS:
            return _KIND_WORDS[word]
    return ""


def _kind(name: str, settings: ModelSettings) -> str:
    declared = settings.control_kind.casefold()
    return declared if declared in CONTROL_KINDS else kind_from_name(name)


def folder_control(path: Path, name: str, settings: ModelSettings) -> ControlInfo | None:
    """The control model in a diffusers folder (config.json of a ControlNetModel,
    ControlNetUnionModel or T2IAdapter); None when it is none of them. Raises
    UntrustedInputError or OSError for an unusable config.json."""
    config = read_json_object(path / "config.json")
    cls = config.get("_class_name")
    if cls == "T2IAdapter":
        channels = _ints(config.get("channels"))
        base = "sdxl" if config.get("adapter_type") == "full_adapter_xl" else "sd15"
        dims = UnetDims(None, channels) if channels else None
        return ControlInfo("t2i_adapter", base, _kind(name, settings), dims, settings.base)
    if cls not in ("ControlNetModel", "ControlNetUnionModel"):
        return None
    cross = config.get("cross_attention_dim")
    cross = cross if isinstance(cross, int) and not isinstance(cross, bool) else None
    channels = _ints(config.get("block_out_channels"))
    dims = UnetDims(cross, channels) if cross and channels else None
    sdxl = config.get("addition_embed_type") == "text_time"
    base = "sdxl" if sdxl else "sd2" if cross == 1024 else "sd15"
    architecture = "union" if cls == "ControlNetUnionModel" else "controlnet"
    return ControlInfo(architecture, base, _kind(name, settings), dims, settings.base)


def file_control(name: str, shapes: Mapping[str, Sequence[int]]) -> ControlInfo:
    """The ControlNet in a single file, from its tensor names and shapes (LDM naming, as
    control_v11p_sd15_scribble.safetensors, or diffusers naming)."""
    dims = dims_from_shapes(shapes)
    sdxl = any("add_embedding." in k or "label_emb." in k for k in shapes)
    cross = dims.cross_attention_dim if dims else None
    base = "sdxl" if sdxl else "sd2" if cross == 1024 else "sd15"
    architecture = "union" if any("task_embedding" in k for k in shapes) else "controlnet"
    return ControlInfo(architecture, base, kind_from_name(name), dims)


def _ints(value: object) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        return ()
    ok = all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    return tuple(value) if ok else ()


def dims_from_shapes(shapes: Mapping[str, Sequence[int]]) -> UnetDims | None:
    """A UNet's (or ControlNet's) dims from its tensor shapes, in LDM or diffusers naming;
    None when the tensors do not tell."""
    cross = next(
        (s[1] for k, s in shapes.items() if k.endswith("attn2.to_k.weight") and len(s) == 2),
        None,
    )
    channels = _diffusers_channels(shapes) or _ldm_channels(shapes)
    return UnetDims(int(cross), channels) if cross and channels else None


def _diffusers_channels(shapes: Mapping[str, Sequence[int]]) -> tuple[int, ...]:
    levels = {int(m[1]): s[0] for k, s in shapes.items() if (m := _DIFFUSERS_LEVEL.match(k)) and s}
    return tuple(levels[i] for i in range(len(levels))) if levels else ()


def _ldm_channels(shapes: Mapping[str, Sequence[int]]) -> tuple[int, ...]:
    """Channels per level of LDM input blocks: each resnet's output channels, a level
    ending at each downsampling op."""
    blocks = sorted(
        (int(m[1]), m[2], s) for k, s in shapes.items() if (m := _LDM_LEVEL.match(k)) and s
    )
    channels: list[int] = []
    level = 0
    for _, part, shape in blocks:
        if part == "op":
            level += 1
        elif len(channels) <= level:
            channels.append(int(shape[0]))
    return tuple(channels)


def checkpoint_dims(entry: ModelEntry) -> UnetDims | None:
    """The UNet dims of a checkpoint: a folder's unet/config.json, a .safetensors file's
    shapes; None when they cannot be read cheaply (a .ckpt, a damaged file)."""
    try:
        st = entry.path.stat()
    except OSError:
        return None
    key = (str(entry.path), st.st_size, st.st_mtime_ns)
    if key not in _dims_cache:
        _dims_cache[key] = _read_dims(entry)
    return _dims_cache[key]


def _read_dims(entry: ModelEntry) -> UnetDims | None:
    try:
        if entry.format == "diffusers":
            config = read_json_object(entry.path / "unet" / "config.json")
            cross = config.get("cross_attention_dim")
            channels = _ints(config.get("block_out_channels"))
            return UnetDims(cross, channels) if isinstance(cross, int) and channels else None
        if entry.path.suffix.lower() == ".safetensors":
            header = read_safetensors_header(entry.path)
            shapes = {k: v.get("shape", ()) for k, v in header.items() if isinstance(v, dict)}
            return dims_from_shapes(shapes)
    except (OSError, UntrustedInputError, JobError):
        return None
    return None


def dims_fit(control: ControlInfo, unet: UnetDims | None) -> bool:
    """Whether a control model of these dims can steer a UNet of `unet`'s (True when
    either is unknown). A T2I-Adapter's channels cover the UNet's levels (SDXL adapters
    have one more)."""
    if control.dims is None or unet is None:
        return True
    mine = control.dims
    if mine.cross_attention_dim is None:
        return mine.block_out_channels[: len(unet.block_out_channels)] == unet.block_out_channels
    return mine == unet


def control_fits(control: ModelEntry, checkpoint: ModelEntry) -> bool:
    """Whether `control` (a store entry of kind "controlnet") can steer `checkpoint`: made
    for its family, and for a UNet of its dims (where those are unknown, for the
    checkpoint its atelier.json names, when it names one)."""
    info = control.control
    if info is None or info.base != checkpoint.family:
        return False
    dims = checkpoint_dims(checkpoint)
    if info.dims is not None and dims is not None:
        return dims_fit(info, dims)
    return not info.base_model or checkpoint.name.casefold().startswith(info.base_model.casefold())
