"""One model on disk, as the model store lists it: its name, kind, family and format.

Torch-free; an entry's short hash (A1111 style) is read from its weights file on demand.
"""

from __future__ import annotations

import hashlib
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from engine.model_settings import ModelSettings
from engine.protocol import JobError
from engine.untrusted import display_path

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
_hash_cache: dict[tuple[str, int, int], str] = {}


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
        path = self.weights_file()
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):  # a pipe or a device would never end
            raise JobError("invalid_input", f"{display_path(path)} is not a regular file")
        key = (str(path), st.st_size, st.st_mtime_ns)
        if key not in _hash_cache:
            digest = hashlib.sha256()
            with path.open("rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
            _hash_cache[key] = digest.hexdigest()[:10]
        return _hash_cache[key]


def kind_label(kind: str) -> str:
    """A model kind as a designer would say it: "checkpoints" -> "checkpoint"."""
    return _KIND_LABELS.get(kind, kind)
