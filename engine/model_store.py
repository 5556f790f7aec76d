"""The model store: finds the models on this computer and says what each one is.

Scans Atelier's own `<home>/models/<kind>/` folders, the built-in demo model, model
folders of other tools the user added (A1111, ComfyUI, InvokeAI; read in place) and the
Hugging Face cache. Torch-free at import; scanning reads safetensors headers and JSON
configs only (a .ckpt is opened with the safe weights-only loader, once per file version).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from engine.checkpoint_files import (
    INPAINT_CHANNELS,
    detect_family,
    detect_variant,
    load_ckpt_state_dict,
    read_safetensors_header,
    safetensors_metadata,
    tensor_names,
)
from engine.home import MODEL_KINDS, RESOURCES, atelier_home, extra_model_folders, models_dir
from engine.model_settings import ModelSettings, read_model_settings
from engine.protocol import JobError

BUILTIN_MODELS = RESOURCES / "models"  # the models shipped with Atelier (the demo model)
SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth")
SD_KINDS = ("checkpoints", "loras", "vae", "controlnet")  # classified by their content
FAMILY_KIND = {
    "sd15": "checkpoints",
    "sd2": "checkpoints",
    "sdxl": "checkpoints",
    "sdxl_refiner": "checkpoints",
    "lora": "loras",
    "vae": "vae",
    "controlnet": "controlnet",
    "motion": "motion",
    "svd": "video",
    "audioldm2": "music",
    "musicldm": "music",
    "stable_audio": "music",
}
_CLASS_FAMILY = {  # diffusers _class_name -> family, besides the Stable Diffusion pipelines
    "AutoencoderKL": "vae",
    "ControlNetModel": "controlnet",
    "MotionAdapter": "motion",
    "StableVideoDiffusionPipeline": "svd",
    "AudioLDM2Pipeline": "audioldm2",
    "MusicLDMPipeline": "musicldm",
    "StableAudioPipeline": "stable_audio",
}
_TOOL_SUBDIRS = {  # A1111, ComfyUI and InvokeAI model folders (kind of what they usually hold)
    "Stable-diffusion": "checkpoints",
    "Lora": "loras",
    "LyCORIS": "loras",
    "VAE": "vae",
    "ControlNet": "controlnet",
    "checkpoints": "checkpoints",
    "loras": "loras",
    "vae": "vae",
    "controlnet": "controlnet",
    "diffusers": "checkpoints",
    "sd-1": "checkpoints",
    "sd-2": "checkpoints",
    "sdxl": "checkpoints",
    "sdxl-refiner": "checkpoints",
}
_KIND_LABELS = {
    "checkpoints": "checkpoint",
    "loras": "LoRA",
    "vae": "VAE",
    "controlnet": "ControlNet",
    "motion": "motion module",
    "video": "video model",
    "music": "music model",
    "upscalers": "upscaler",
    "safety": "safety model",
}
_SOURCE_RANK = {"atelier": 0, "builtin": 1, "extra": 2, "hf_cache": 3}
_WEIGHTS = re.compile(r".*\.(safetensors|bin|ckpt|pt|pth)(\.index\.json)?$")
_MAX_DEPTH = 4
_family_cache: dict[tuple[str, int, int], tuple[str, str | None, str]] = {}
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

    def weights_file(self) -> Path:
        """The file that identifies the weights: the file itself, or a folder's UNet weights."""
        if self.format == "single_file":
            return self.path
        for sub in ("unet", "transformer", ""):
            files = [p for p in (self.path / sub).glob("*") if _WEIGHTS.match(p.name)]
            if files:  # prefer full-precision safetensors
                return min(
                    files, key=lambda p: (".fp16." in p.name, p.suffix != ".safetensors", p.name)
                )
        raise JobError("missing_model", f"{self.path} holds no weights file")

    def short_hash(self) -> str:
        """A1111-style short hash: the first 10 hex digits of the weights file's sha256."""
        path = self.weights_file()
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns)
        if key not in _hash_cache:
            digest = hashlib.sha256()
            with path.open("rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
            _hash_cache[key] = digest.hexdigest()[:10]
        return _hash_cache[key]


def default_hf_cache() -> Path:
    """HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    return Path.home() / ".cache" / "huggingface" / "hub"


class ModelStore:
    """Scans the model folders; finds models by name."""

    def __init__(
        self,
        home: Path | None = None,
        extra_folders: list[Path] | None = None,
        hf_cache: Path | None = None,
        builtin_dir: Path | None = None,
        config_root: Path | None = None,
    ) -> None:
        self.home = Path(home) if home is not None else atelier_home()
        extra = extra_model_folders(self.home) if extra_folders is None else extra_folders
        self.extra_folders = [Path(p) for p in extra]
        self.hf_cache = Path(hf_cache) if hf_cache is not None else default_hf_cache()
        self.builtin_dir = Path(builtin_dir) if builtin_dir is not None else BUILTIN_MODELS
        self.config_root = Path(config_root) if config_root is not None else RESOURCES / "configs"
        self.problems: list[str] = []
        self._entries: list[ModelEntry] | None = None

    # ---- scanning

    def scan(self) -> list[ModelEntry]:
        """Rescan every folder; skipped files are explained in self.problems."""
        self.problems = []
        found: list[ModelEntry] = []
        for kind in MODEL_KINDS:
            found += self._walk(models_dir(kind, self.home), kind, "atelier", _MAX_DEPTH)
        found += self._walk(self.builtin_dir, "checkpoints", "builtin", 1)
        for folder in self.extra_folders:
            if not folder.is_dir():
                self.problems.append(f"{folder}: skipped: the added model folder does not exist")
                continue
            for root, kind in _extra_roots(folder):
                found += self._walk(root, kind, "extra", _MAX_DEPTH)
        found += self._scan_hf_cache()
        found.sort(key=lambda e: (e.kind, e.name.casefold(), _SOURCE_RANK[e.source], str(e.path)))
        self._entries = found
        return list(found)

    def _walk(self, folder: Path, kind: str, source: str, depth: int) -> list[ModelEntry]:
        try:
            items = sorted(os.scandir(folder), key=lambda d: d.name)
        except FileNotFoundError:
            return []
        except OSError as e:
            self.problems.append(f"{folder}: skipped: cannot be read ({e.strerror})")
            return []
        found = []
        for item in items:
            if item.name.startswith("."):
                continue
            path = Path(item.path)
            if item.is_dir():
                if _is_model_folder(path):
                    entry = self._folder_entry(path, path.name, kind, source)
                    found += [entry] if entry else []
                elif depth > 0:
                    found += self._walk(path, kind, source, depth - 1)
            elif item.name.lower().endswith(SINGLE_FILE_SUFFIXES):
                entry = self._file_entry(path, kind, source)
                found += [entry] if entry else []
        return found

    def _file_entry(self, path: Path, kind: str, source: str) -> ModelEntry | None:
        try:
            family, licence, variant = self._file_family(path, kind)
            size = path.stat().st_size
        except JobError as e:
            self.problems.append(f"{path}: skipped: {e.message}")
            return None
        except OSError as e:
            self.problems.append(f"{path}: skipped: cannot be read ({e.strerror or e})")
            return None
        if family == "unknown" and kind in SD_KINDS:
            self.problems.append(
                f"{path}: skipped: not a model Atelier knows (unknown family; "
                "supported: SD 1.x, SD 2.x, SDXL checkpoints, LoRAs, VAEs, ControlNets)"
            )
            return None
        kind = FAMILY_KIND.get(family, kind) if kind in SD_KINDS else kind
        return ModelEntry(
            path.stem, kind, family, "single_file", path, size, source, licence, variant
        )

    def _file_family(self, path: Path, kind: str) -> tuple[str, str | None, str]:
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns)
        if key in _family_cache:
            return _family_cache[key]
        if path.suffix.lower() == ".safetensors":
            header = read_safetensors_header(path)
            meta = safetensors_metadata(header)
            shapes = {k: v.get("shape", ()) for k, v in header.items() if isinstance(v, dict)}
            result = (
                detect_family(tensor_names(header)),
                meta.get("modelspec.license") or meta.get("license"),
                detect_variant(shapes),
            )
        elif kind in SD_KINDS:
            state = load_ckpt_state_dict(path, mmap=True)
            shapes = {k: tuple(getattr(v, "shape", ())) for k, v in state.items()}
            result = (detect_family(state), None, detect_variant(shapes))
        else:  # not opened: pickles elsewhere are the plugin's business
            result = ("unknown", None, "")
        _family_cache[key] = result
        return result

    def _folder_entry(self, path: Path, name: str, kind: str, source: str) -> ModelEntry | None:
        family = _folder_family(path)
        if family == "unknown":
            if kind in SD_KINDS:
                if source != "hf_cache":
                    self.problems.append(f"{path}: skipped: not a model Atelier knows")
                return None
            family = _config_class(path) or "unknown"
        kind = FAMILY_KIND.get(family, kind) if kind in SD_KINDS else kind
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        licence = _readme_licence(path)
        variant = _folder_variant(path)
        settings = read_model_settings(path)
        return ModelEntry(
            name, kind, family, "diffusers", path, size, source, licence, variant, settings
        )

    def _scan_hf_cache(self) -> list[ModelEntry]:
        found = []
        for repo in sorted(self.hf_cache.glob("models--*")) if self.hf_cache.is_dir() else []:
            snapshot = _hf_snapshot(repo)
            if snapshot is not None and _is_model_folder(snapshot):
                name = repo.name.removeprefix("models--").replace("--", "/")
                entry = self._folder_entry(snapshot, name, "checkpoints", "hf_cache")
                found += [entry] if entry else []
        return found

    # ---- lookups

    @property
    def entries(self) -> list[ModelEntry]:
        """The entries of the last scan (scanning once if needed)."""
        return list(self._entries) if self._entries is not None else self.scan()

    def checkpoints(self) -> list[ModelEntry]:
        return [e for e in self.entries if e.kind == "checkpoints"]

    def default_checkpoint(self) -> ModelEntry | None:
        """A built-in checkpoint first (the demo model), else the first one found; ordinary
        checkpoints before inpainting ones (those cannot make an image from a prompt alone)."""
        checkpoints = sorted(self.checkpoints(), key=lambda e: e.variant != "")
        builtin = [e for e in checkpoints if e.source == "builtin"]
        return (builtin or checkpoints or [None])[0]

    def pick_checkpoint(self, name: str = "") -> ModelEntry:
        """The checkpoint called `name`, or the default one when `name` is ""; JobError
        ("missing_model") with what to do when there is none."""
        if name:
            return self.find(name)
        entry = self.default_checkpoint()
        if entry is None:
            raise JobError(
                "missing_model",
                "No model is installed. Put a checkpoint (.safetensors) or a diffusers folder "
                f"into {models_dir('checkpoints', self.home)} and try again.",
            )
        return entry

    def find(self, name: str, kind: str = "checkpoints") -> ModelEntry:
        """The model called `name` (or at path `name`); JobError("missing_model") if none."""
        entries = self.entries
        for same in (lambda e: e.name == name, lambda e: e.name.casefold() == name.casefold()):
            hits = [e for e in entries if e.kind == kind and same(e)]
            if hits:
                return hits[0]
        path = Path(name).expanduser()
        if path.exists() and (path.is_file() or _is_model_folder(path)):
            problems = len(self.problems)
            entry = (
                self._file_entry(path, kind, "extra")
                if path.is_file()
                else self._folder_entry(path, path.name, kind, "extra")
            )
            if entry is None:
                raise JobError("invalid_input", self.problems[problems:][0])
            if entry.kind == kind:
                return entry
            raise JobError(
                "invalid_input", f"{path} is a {kind_label(entry.kind)}, not a {kind_label(kind)}"
            )
        raise JobError("missing_model", self._missing_message(name, kind, entries))

    def _missing_message(self, name: str, kind: str, entries: list[ModelEntry]) -> str:
        label = kind_label(kind)
        names = sorted({e.name for e in entries if e.kind == kind})
        msg = f"No {label} named '{name}'."
        close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
        close += [n for n in names if name.casefold() in n.casefold() and n not in close][:3]
        if close:
            msg += f" Did you mean: {', '.join(close)}?"
        elif names:
            msg += f" Installed: {', '.join(names[:8])}{' ...' if len(names) > 8 else ''}."
        other = [e for e in entries if e.name.casefold() == name.casefold()]
        if other:
            msg += f" '{other[0].name}' is a {kind_label(other[0].kind)}, not a {label}."
        skipped = [(Path(p.split(": skipped:")[0]).name.casefold(), p) for p in self.problems]
        notes = [p for file, p in skipped if name.casefold() in file]
        if notes:
            msg += f" Note: {notes[0]}"
        return (
            f"{msg} Put .safetensors files or diffusers folders in "
            f"{models_dir(kind, self.home)}, or add your A1111, ComfyUI or InvokeAI model "
            "folder in Settings."
        )

    def config_dir(self, entry: ModelEntry) -> Path:
        """The shipped diffusers config folder for loading `entry` as a single file offline."""
        folder = self.config_root / entry.family
        if not (folder / "model_index.json").is_file():
            shipped = sorted(p.parent.name for p in self.config_root.glob("*/model_index.json"))
            raise JobError(
                "invalid_input",
                f"'{entry.name}' is a {entry.family} model; Atelier has no offline configs to load "
                f"{entry.family} single-file checkpoints (it has: {', '.join(shipped) or 'none'}). "
                "Use the diffusers-folder version of this model instead.",
            )
        return folder


def kind_label(kind: str) -> str:
    """A model kind as a designer would say it: "checkpoints" -> "checkpoint"."""
    return _KIND_LABELS.get(kind, kind)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _is_model_folder(path: Path) -> bool:
    return (path / "model_index.json").is_file() or (path / "config.json").is_file()


def _config_class(path: Path) -> str | None:
    config = _read_json(path / "config.json")
    value = config.get("_class_name") or config.get("model_type")
    return str(value) if value else None


def _folder_family(path: Path) -> str:
    """The family of a diffusers pipeline folder or a diffusers component folder."""
    index = _read_json(path / "model_index.json")
    cls = str(index.get("_class_name") or _read_json(path / "config.json").get("_class_name") or "")
    if cls in _CLASS_FAMILY:
        return _CLASS_FAMILY[cls]
    if not cls.startswith("StableDiffusion") or "3" in cls or "Upscale" in cls or not index:
        return "unknown"
    unet = _read_json(path / "unet" / "config.json")
    if "XL" in cls or unet.get("addition_embed_type") == "text_time":
        return "sdxl_refiner" if (index.get("text_encoder") or [None])[0] is None else "sdxl"
    return "sd2" if unet.get("cross_attention_dim") == 1024 else "sd15"


def _folder_variant(path: Path) -> str:
    """A diffusers folder's variant: "inpaint" when its UNet takes 9 input channels, else ""."""
    unet = _read_json(path / "unet" / "config.json")
    return "inpaint" if unet.get("in_channels") == INPAINT_CHANNELS else ""


def _readme_licence(path: Path) -> str | None:
    try:
        text = (path / "README.md").read_text(encoding="utf-8", errors="replace")[:4000]
    except OSError:
        return None
    front = re.match(r"---\s*\n(.*?)\n---", text, re.DOTALL)
    found = re.search(r"^license:\s*(\S.*)$", front[1], re.MULTILINE) if front else None
    return found[1].strip().strip("\"'") if found else None


def _hf_snapshot(repo: Path) -> Path | None:
    """The snapshot refs/main points to, else the newest one."""
    ref = repo / "refs" / "main"
    if ref.is_file():
        snap = repo / "snapshots" / ref.read_text(encoding="utf-8").strip()
        if snap.is_dir():
            return snap
    snaps = [p for p in (repo / "snapshots").glob("*") if p.is_dir()]
    return max(snaps, key=lambda p: p.stat().st_mtime) if snaps else None


def _extra_roots(folder: Path) -> list[tuple[Path, str]]:
    """The model subfolders of an A1111/ComfyUI/InvokeAI root, else the folder itself."""
    for base in (folder / "models", folder):
        roots, seen = [], set()
        for sub, kind in _TOOL_SUBDIRS.items():
            path = base / sub
            if path.is_dir() and path.resolve() not in seen:
                seen.add(path.resolve())
                roots.append((path, kind))
        if roots and (base != folder or folder.name.lower() == "models"):
            return roots
    return [(folder, "checkpoints")]
