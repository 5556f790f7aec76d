"""The model store: finds the models on this computer and says what each one is.

Scans Atelier's own `<home>/models/<kind>/` folders, the built-in demo model, model
folders of other tools the user added (A1111, ComfyUI, InvokeAI; read in place) and the
Hugging Face cache. Torch-free at import; scanning reads safetensors headers and JSON
configs only (a .ckpt is opened with the safe weights-only loader, once per file version).

Model folders are outside input: a scan never follows a link into a folder it has already
entered (links to a parent folder, link loops), opens only regular files (never a pipe or
a device), reads JSON with size and depth limits, looks at a bounded number of folder
entries, and explains every entry it skips in `problems`, one sentence each.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from engine.checkpoint_files import (
    detect_family,
    detect_variant,
    load_ckpt_state_dict,
    read_safetensors_header,
    safetensors_metadata,
    tensor_names,
)
from engine.diffusers_folders import (
    config_class,
    custom_code_message,
    folder_family,
    folder_variant,
    foreign_code,
    is_model_folder,
    plain_name,
)
from engine.home import MODEL_KINDS, RESOURCES, atelier_home, extra_model_folders, models_dir
from engine.model_settings import ModelSettings, read_model_settings
from engine.protocol import JobError
from engine.untrusted import (
    UntrustedInputError,
    clean_text,
    display_path,
    regular_file_size,
)

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
MAX_SCAN_ENTRIES = 50_000  # folder entries one scan looks at, all folders together
MAX_FOLDER_ENTRIES = 20_000  # entries read from any one folder
_README_PREFIX = 4000  # the model card's front matter (its licence) is at the top
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
        self._budget = _ScanBudget()

    # ---- scanning

    def scan(self) -> list[ModelEntry]:
        """Rescan every folder; skipped files are explained in self.problems."""
        self.problems = []
        self._budget = _ScanBudget()
        found: list[ModelEntry] = []
        for kind in MODEL_KINDS:
            found += self._walk(models_dir(kind, self.home), kind, "atelier", _MAX_DEPTH)
        found += self._walk(self.builtin_dir, "checkpoints", "builtin", 1)
        for folder in self.extra_folders:
            if not folder.is_dir():
                self._skip(folder, "the added model folder does not exist")
                continue
            for root, kind in _extra_roots(folder):
                found += self._walk(root, kind, "extra", _MAX_DEPTH)
        found += self._scan_hf_cache()
        found.sort(key=lambda e: (e.kind, e.name.casefold(), _SOURCE_RANK[e.source], str(e.path)))
        self._entries = found
        return list(found)

    def _skip(self, path: Path, why: str) -> None:
        """Note in self.problems that `path` was skipped, and why."""
        self.problems.append(f"{display_path(path)}: skipped: {why}")

    def _list(self, folder: Path) -> list[os.DirEntry[str]]:
        """The entries of `folder` by name: at most MAX_FOLDER_ENTRIES of them, and no more
        than the scan has left; a problem line says where a bound stopped the listing."""
        limit = min(MAX_FOLDER_ENTRIES, self._budget.entries_left)
        if limit == 0:
            if not self._budget.stopped:  # the budget ran out exactly at the last folder
                self._budget.stopped = True
                self.problems.append(_stopped(folder, 0, scan_bound=True))
            return []
        try:
            with os.scandir(folder) as listing:
                items = list(itertools.islice(listing, limit + 1))
        except FileNotFoundError:
            return []
        except OSError as e:
            self._skip(folder, f"it cannot be read ({e.strerror or e})")
            return []
        if len(items) > limit:
            items = items[:limit]
            scan_bound = limit < MAX_FOLDER_ENTRIES
            self._budget.stopped |= scan_bound
            self.problems.append(_stopped(folder, limit, scan_bound))
        self._budget.entries_left -= len(items)
        return sorted(items, key=lambda d: d.name)

    def _enter(self, folder: Path) -> bool:
        """Whether `folder` is a folder not entered yet in this scan (noting it as entered)."""
        try:
            st = os.stat(folder)
        except OSError:
            return False
        key = (st.st_dev, st.st_ino)
        if key in self._budget.visited:
            self._skip(folder, "it leads to a folder already listed (a link loop, or a link)")
            return False
        self._budget.visited.add(key)
        return True

    def _walk(self, folder: Path, kind: str, source: str, depth: int) -> list[ModelEntry]:
        if not self._enter(folder):
            return []
        found = []
        for item in sorted(self._list(folder), key=_is_link):  # real folders before links
            if not item.name.startswith("."):
                found += self._visit(Path(item.path), kind, source, depth)
        return found

    def _visit(self, path: Path, kind: str, source: str, depth: int) -> list[ModelEntry]:
        """The models at one folder entry: a model folder, a folder of them, or a file."""
        try:
            is_folder = stat.S_ISDIR(os.stat(path).st_mode)
        except OSError as e:  # a dangling link, a link loop, no permission
            self._skip(path, f"it cannot be read ({e.strerror or e})")
            return []
        entry = None
        if is_folder and is_model_folder(path):
            if self._enter(path):
                entry = self._folder_entry(path, clean_text(path.name), kind, source)
        elif is_folder:
            return self._walk(path, kind, source, depth - 1) if depth > 0 else []
        elif path.name.lower().endswith(SINGLE_FILE_SUFFIXES):
            entry = self._file_entry(path, kind, source)
        return [entry] if entry else []

    def _file_entry(self, path: Path, kind: str, source: str) -> ModelEntry | None:
        try:
            size = regular_file_size(path)  # never a pipe, a device or a folder
            family, licence, variant = self._file_family(path, kind)
        except JobError as e:
            self._skip(path, e.message)
            return None
        except (OSError, UntrustedInputError) as e:
            self._skip(path, _reason(e, path))
            return None
        if family == "unknown" and kind in SD_KINDS:
            self._skip(
                path,
                "not a model Atelier knows (unknown family; "
                "supported: SD 1.x, SD 2.x, SDXL checkpoints, LoRAs, VAEs, ControlNets)",
            )
            return None
        kind = FAMILY_KIND.get(family, kind) if kind in SD_KINDS else kind
        name = clean_text(path.stem)
        return ModelEntry(name, kind, family, "single_file", path, size, source, licence, variant)

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
                meta.get("modelspec.license") or meta.get("license") or None,
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
        try:
            family = folder_family(path)
            custom = foreign_code(path)
            if family == "unknown" and kind not in SD_KINDS:
                family = config_class(path) or "unknown"
            variant = folder_variant(path)
        except (OSError, UntrustedInputError) as e:
            self._skip(path, _reason(e, path))
            return None
        if custom and (family != "unknown" or source != "hf_cache"):
            self._skip(path, custom_code_message(custom))
            return None
        if family == "unknown" and kind in SD_KINDS:
            if source != "hf_cache":
                self._skip(path, "not a model Atelier knows")
            return None
        kind = FAMILY_KIND.get(family, kind) if kind in SD_KINDS else kind
        size = self._folder_size(path)
        licence = self._readme_licence(path)
        settings = read_model_settings(path, self.problems)
        return ModelEntry(
            name, kind, family, "diffusers", path, size, source, licence, variant, settings
        )

    def _folder_size(self, folder: Path) -> int:
        """The bytes of the files under `folder`: links to files are followed (the HF
        cache's snapshots link to blobs), links to folders are not; bounded like the scan."""
        total, folders = 0, [folder]
        while folders:
            for item in self._list(folders.pop()):
                try:
                    if item.is_dir(follow_symlinks=False):
                        folders.append(Path(item.path))
                    elif stat.S_ISREG((st := item.stat()).st_mode):
                        total += st.st_size
                except OSError:  # a dangling link or a link loop weighs nothing
                    continue
        return total

    def _readme_licence(self, folder: Path) -> str | None:
        """The `license:` of the model card's front matter (README.md), if it has one."""
        path = folder / "README.md"
        try:
            text = _read_prefix(path, _README_PREFIX)
        except (OSError, UntrustedInputError) as e:
            self.problems.append(f"{display_path(path)}: licence not read: {_reason(e, path)}")
            return None
        front = re.match(r"---\s*\n(.*?)\n---", text or "", re.DOTALL)
        found = re.search(r"^license:\s*(\S.*)$", front[1], re.MULTILINE) if front else None
        return found[1].strip().strip("\"'") if found else None

    def _scan_hf_cache(self) -> list[ModelEntry]:
        found = []
        repos = [Path(i.path) for i in self._list(self.hf_cache) if i.name.startswith("models--")]
        for repo in repos:
            snapshot = self._hf_snapshot(repo)
            if snapshot is not None and is_model_folder(snapshot) and self._enter(snapshot):
                name = clean_text(repo.name.removeprefix("models--").replace("--", "/"))
                entry = self._folder_entry(snapshot, name, "checkpoints", "hf_cache")
                found += [entry] if entry else []
        return found

    def _hf_snapshot(self, repo: Path) -> Path | None:
        """The snapshot refs/main points to, else the newest one."""
        try:
            commit = (_read_prefix(repo / "refs" / "main", 256) or "").strip()
        except (OSError, UntrustedInputError):
            commit = ""
        if commit and plain_name(commit) and (repo / "snapshots" / commit).is_dir():
            return repo / "snapshots" / commit
        snapshots = []
        for item in self._list(repo / "snapshots"):
            try:
                if item.is_dir():
                    snapshots.append((item.stat().st_mtime, Path(item.path)))
            except OSError:
                continue
        return max(snapshots)[1] if snapshots else None

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
        if path.exists() and (path.is_file() or is_model_folder(path)):
            problems = len(self.problems)
            self._budget = _ScanBudget()
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


@dataclass
class _ScanBudget:
    """What one scan may still look at: the folder entries left, and the folders entered
    ((st_dev, st_ino) of each, so that a link to a parent folder or a loop is entered once)."""

    entries_left: int = field(default_factory=lambda: MAX_SCAN_ENTRIES)  # read when made
    visited: set[tuple[int, int]] = field(default_factory=set)
    stopped: bool = False  # whether the problem line for running out is written


def _stopped(folder: Path, count: int, scan_bound: bool) -> str:
    """The problem line for a listing cut short by a bound."""
    if scan_bound:
        return (
            f"{display_path(folder)}: stopped: the scan has looked at {MAX_SCAN_ENTRIES} "
            "files and folders, so models from here on are not listed; keep models in "
            "folders that hold only models"
        )
    return (
        f"{display_path(folder)}: stopped after {count} entries; models past them are not "
        "listed: move them into a smaller folder"
    )


def _is_link(item: os.DirEntry[str]) -> bool:
    try:
        return item.is_symlink()
    except OSError:
        return False


def _reason(error: OSError | UntrustedInputError, path: Path) -> str:
    """An error about `path` or a file in it as the reason part of a problem line about
    `path`: "it is a pipe (FIFO), not a file", "unet/config.json is not valid JSON (...)",
    "it cannot be read (Permission denied)"."""
    if isinstance(error, OSError):
        return f"it cannot be read ({error.strerror or error})"
    shown = display_path(path)
    if error.subject == shown:
        return error.reason
    return str(error).removeprefix(shown + os.sep)


def _read_prefix(path: Path, size: int) -> str | None:
    """The first `size` bytes of a regular file as text; None when there is no such file.
    Raises UntrustedInputError for a folder, a pipe or a device, OSError when unreadable."""
    if not os.path.lexists(path):
        return None
    regular_file_size(path)
    with open(path, "rb") as f:
        return f.read(size).decode("utf-8", errors="replace")


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
