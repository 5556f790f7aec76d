"""One model on disk, as the model store lists it: its name, kind, family and format.

Torch-free; an entry's hashes (engine.weights_hash) are read from its weights file on demand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from engine import weights_hash
from engine.model_settings import ModelSettings
from engine.protocol import JobError

if TYPE_CHECKING:
    from engine.control_models import ControlInfo
    from engine.ip_adapters import IpAdapterInfo

_KIND_LABELS = {
    "checkpoints": "checkpoint",
    "loras": "LoRA",
    "embeddings": "embedding",
    "vae": "VAE",
    "controlnet": "ControlNet",
    "ipadapter": "IP-Adapter",
    "depth": "depth model",
    "motion": "motion module",
    "video": "video model",
    "music": "music model",
    "upscalers": "upscaler",
    "safety": "safety model",
}
_WEIGHTS = re.compile(r".*\.(safetensors|bin|ckpt|pt|pth)(\.index\.json)?$")


def file_stem(name: str) -> str:
    """A model file's name without its folders and extension ("ink-style" for
    "styles/ink-style.safetensors", a Windows server's folders too): the name Atelier and
    ComfyUI's graphs also know the model by."""
    return PurePosixPath(name.replace("\\", "/")).stem


def same_name(wanted: str, name: str) -> bool:
    """Whether the file `name` (a server's, with folders and extension) is the model named
    `wanted`: the same file name, or the same name without folders and extension, without
    case."""
    return wanted.casefold() in (name.casefold(), file_stem(name).casefold())


@dataclass(frozen=True)
class ModelEntry:
    """One model on disk: a diffusers folder or a single checkpoint file."""

    name: str
    kind: str
    family: str
    format: str  # "diffusers" (a from_pretrained folder) | "single_file"
    path: Path
    size: int
    source: str  # "atelier" | "builtin" | "extra" | "hf_cache"
    licence: str | None = None
    variant: str = ""  # "inpaint": a dedicated inpainting checkpoint (9-channel UNet)
    # the folder's atelier.json (native size, defaults, example prompt); not part of identity
    settings: ModelSettings = field(default_factory=ModelSettings, compare=False)
    # a control model (kind "controlnet"): what it is and what it fits (engine.control_models)
    control: ControlInfo | None = field(default=None, compare=False)
    # an IP-Adapter (kind "ipadapter"): what it fits (engine.ip_adapters)
    ip_adapter: IpAdapterInfo | None = field(default=None, compare=False)

    def weights_file(self) -> Path:
        """The file that identifies the weights: the file itself, or a folder's UNet weights."""
        if self.format == "single_file":
            return self.path
        for sub in ("unet", "transformer", ""):
            files = [
                p for p in (self.path / sub).glob("*") if _WEIGHTS.match(p.name) and p.is_file()
            ]
            if files:  # prefer full-precision safetensors
                return min(
                    files, key=lambda p: (".fp16." in p.name, p.suffix != ".safetensors", p.name)
                )
        raise JobError("missing_model", f"{self.path} holds no weights file")

    def short_hash(self) -> str:
        """A1111-style short hash: the first 10 hex digits of the weights file's sha256."""
        return weights_hash.short_hash(self.weights_file())

    def tensor_hash(self) -> str:
        """The hash of a single `.safetensors` file's tensors (engine.weights_hash), the same
        for a renamed copy; "" for other formats, which record none."""
        if self.format != "single_file" or self.path.suffix.lower() != ".safetensors":
            return ""
        return weights_hash.tensor_hash(self.path)


def kind_label(kind: str) -> str:
    """A model kind as a designer would say it: "checkpoints" -> "checkpoint"."""
    return _KIND_LABELS.get(kind, kind)
