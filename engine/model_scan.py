"""One scan of the model folders: walks them and says what each model found is.

Model folders are outside input: a scan never follows a link into a folder it has already
entered (links to a parent folder, link loops), opens only regular files (never a pipe or
a device), reads JSON with size and depth limits, looks at a bounded number of folder
entries, and explains every entry it skips in `problems`, one sentence each.

A `FolderScan` is used once and then dropped: everything it finds lives in the scan
object, so the model store can run a scan on another thread and swap the result in.
Torch-free at import; scanning reads safetensors headers and JSON configs only (a .ckpt
is opened with the safe weights-only loader, once per file version).
"""

from __future__ import annotations

import itertools
import os
import re
import stat
from pathlib import Path

from engine.checkpoint_files import (
    detect_family,
    detect_variant,
    load_ckpt_state_dict,
    read_safetensors_header,
    safetensors_metadata,
    tensor_names,
)
from engine.control_models import ControlInfo, file_control, folder_control
from engine.diffusers_folders import (
    config_class,
    custom_code_message,
    folder_family,
    folder_variant,
    foreign_code,
    is_model_folder,
    plain_name,
)
from engine.home import MODEL_KINDS, models_dir
from engine.ip_adapters import IMAGE_ENCODER, file_ip_adapter
from engine.model_entry import ModelEntry
from engine.model_settings import ModelSettings, read_model_settings
from engine.protocol import JobError
from engine.untrusted import (
    UntrustedInputError,
    clean_text,
    display_path,
    regular_file_size,
)

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
    "t2i_adapter": "controlnet",
    "motion": "motion",
    "motion_lora": "motion",  # AnimateDiff's add-ons are motion models, whichever folder
    "sparsectrl": "motion",
    "svd": "video",
    "wan": "video",
    "cogvideox": "video",
    "audioldm2": "music",
    "musicldm": "music",
    "stable_audio": "music",
    "musicgen": "music",
    "musicgen_melody": "music",
}
_TOOL_SUBDIRS = {  # A1111, ComfyUI and InvokeAI model folders (kind of what they usually hold)
    "Stable-diffusion": "checkpoints",
    "Lora": "loras",
    "LyCORIS": "loras",
    "embeddings": "embeddings",
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
_SOURCE_RANK = {"atelier": 0, "builtin": 1, "extra": 2, "hf_cache": 3}
_MAX_DEPTH = 4
MAX_SCAN_ENTRIES = 50_000  # folder entries one scan looks at, all folders together
MAX_FOLDER_ENTRIES = 20_000  # entries read from any one folder
MODEL_CARD = "README.md"
_README_PREFIX = 4000  # the model card's front matter (its licence) is at the top
DEPTH_FOLDER = (  # what a depth model must be (weights as safetensors only: never unpickled)
    "a depth model is a transformers folder: config.json, model.safetensors and "
    "preprocessor_config.json"
)
_FileFamily = tuple[str, str | None, str, ControlInfo | None]  # family, licence, variant, control
_family_cache: dict[tuple[str, int, int], _FileFamily] = {}


class FolderScan:
    """One scan: what it found is returned, what it skipped is in `problems`. It looks at
    no more than MAX_SCAN_ENTRIES folder entries and enters each folder once ((st_dev,
    st_ino) of each, so a link to a parent folder or a loop is entered once)."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self._entries_left = MAX_SCAN_ENTRIES  # read when made: tests lower it
        self._visited: set[tuple[int, int]] = set()
        self._stopped = False  # whether the problem line for running out is written

    def models(
        self, home: Path, builtin_dir: Path, extra_folders: list[Path], hf_cache: Path
    ) -> list[ModelEntry]:
        """Every model in Atelier's home, the built-in ones, the added folders and the Hugging
        Face cache, sorted by kind, name and source."""
        found: list[ModelEntry] = []
        for kind in MODEL_KINDS:
            found += self._walk(models_dir(kind, home), kind, "atelier", _MAX_DEPTH)
        found += self._walk(builtin_dir, "checkpoints", "builtin", 1)
        for folder in extra_folders:
            if not folder.is_dir():
                self._skip(folder, "the added model folder does not exist")
                continue
            for root, kind in _extra_roots(folder):
                found += self._walk(root, kind, "extra", _MAX_DEPTH)
        found += self._scan_hf_cache(hf_cache)
        found.sort(key=lambda e: (e.kind, e.name.casefold(), _SOURCE_RANK[e.source], str(e.path)))
        return found

    def model_at(self, path: Path, kind: str) -> ModelEntry | None:
        """The model at `path` (a file or a model folder) read as `kind` from an outside
        folder; None with the reason in `problems` when it is not usable."""
        if path.is_file():
            return self._file_entry(path, kind, "extra")
        return self._folder_entry(path, path.name, kind, "extra")

    def _skip(self, path: Path, why: str) -> None:
        """Note in self.problems that `path` was skipped, and why."""
        self.problems.append(f"{display_path(path)}: skipped: {why}")

    def _list(self, folder: Path) -> list[os.DirEntry[str]]:
        """The entries of `folder` by name: at most MAX_FOLDER_ENTRIES of them, and no more
        than the scan has left; a problem line says where a bound stopped the listing."""
        limit = min(MAX_FOLDER_ENTRIES, self._entries_left)
        if limit == 0:
            if not self._stopped:  # the budget ran out exactly at the last folder
                self._stopped = True
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
            self._stopped |= scan_bound
            self.problems.append(_stopped(folder, limit, scan_bound))
        self._entries_left -= len(items)
        return sorted(items, key=lambda d: d.name)

    def _enter(self, folder: Path) -> bool:
        """Whether `folder` is a folder not entered yet in this scan (noting it as entered)."""
        try:
            st = os.stat(folder)
        except OSError:
            return False
        key = (st.st_dev, st.st_ino)
        if key in self._visited:
            self._skip(folder, "it leads to a folder already listed (a link loop, or a link)")
            return False
        self._visited.add(key)
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
        if is_folder and kind == "ipadapter" and path.name == IMAGE_ENCODER:
            return []  # an IP-Adapter's image encoder, found by its adapter
        if is_folder and is_model_folder(path) and kind != "ipadapter":
            if self._enter(path):
                entry = self._folder_entry(path, clean_text(path.name), kind, source)
        elif is_folder:
            return self._walk(path, kind, source, depth - 1) if depth > 0 else []
        elif kind == "depth" and path.name.lower().endswith(SINGLE_FILE_SUFFIXES):
            self._skip(path, f"{DEPTH_FOLDER}; a single file is not one")
        elif path.name.lower().endswith(SINGLE_FILE_SUFFIXES) or (
            kind == "ipadapter" and path.suffix.lower() == ".bin"  # h94's pickles: said why not
        ):
            entry = self._file_entry(path, kind, source)
        return [entry] if entry else []

    def _file_entry(self, path: Path, kind: str, source: str) -> ModelEntry | None:
        try:
            size = regular_file_size(path)  # never a pipe, a device or a folder
            family, licence, variant, control = self._file_family(path, kind)
            ip_adapter = file_ip_adapter(path) if kind == "ipadapter" else None
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
        if ip_adapter:
            family = "ip_adapter"
        return ModelEntry(
            name,
            kind,
            family,
            "single_file",
            path,
            size,
            source,
            licence,
            variant,
            control=control,
            ip_adapter=ip_adapter,
        )

    def _file_family(self, path: Path, kind: str) -> _FileFamily:
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns)
        if key in _family_cache:
            return _family_cache[key]
        if path.suffix.lower() == ".safetensors":
            header = read_safetensors_header(path)
            meta = safetensors_metadata(header)
            shapes = {k: v.get("shape", ()) for k, v in header.items() if isinstance(v, dict)}
            family = detect_family(tensor_names(header))
            licence = meta.get("modelspec.license") or meta.get("license") or None
        elif kind in SD_KINDS:
            state = load_ckpt_state_dict(path, mmap=True)
            shapes = {k: tuple(getattr(v, "shape", ())) for k, v in state.items()}
            family, licence = detect_family(state), None
        else:  # not opened: pickles elsewhere are the plugin's business
            shapes, family, licence = {}, "unknown", None
        if kind == "embeddings":  # textual inversions, known by their folder
            family = "embedding"
        control = file_control(clean_text(path.stem), shapes) if family == "controlnet" else None
        result = (family, licence, detect_variant(shapes), control)
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
        if kind == "depth" and not any(path.glob("*.safetensors")):
            self._skip(path, f"{DEPTH_FOLDER}; this one has no .safetensors weights")
            return None
        if family == "unknown" and kind in SD_KINDS:
            if source != "hf_cache":
                self._skip(path, "not a model Atelier knows")
            return None
        kind = FAMILY_KIND.get(family, kind) if kind in SD_KINDS else kind
        size = self._folder_size(path)
        licence = self._readme_licence(path)
        settings = read_model_settings(path, self.problems)
        control = self._folder_control(path, name, kind, settings)
        return ModelEntry(
            name, kind, family, "diffusers", path, size, source, licence, variant, settings, control
        )

    def _folder_control(
        self, path: Path, name: str, kind: str, settings: ModelSettings
    ) -> ControlInfo | None:
        """A control model folder's ControlInfo (engine.control_models); None for others."""
        if kind != "controlnet":
            return None
        try:
            return folder_control(path, name, settings)
        except (OSError, UntrustedInputError) as e:
            self.problems.append(f"{display_path(path)}: not classified: {_reason(e, path)}")
            return None

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
        """The model card's licence (see model_card_licence); a card that cannot be read
        is noted in `problems`."""
        try:
            return model_card_licence(folder)
        except (OSError, UntrustedInputError) as e:
            path = folder / MODEL_CARD
            self.problems.append(f"{display_path(path)}: licence not read: {_reason(e, path)}")
            return None

    def _scan_hf_cache(self, hf_cache: Path) -> list[ModelEntry]:
        found = []
        repos = [Path(i.path) for i in self._list(hf_cache) if i.name.startswith("models--")]
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


def model_card_licence(folder: Path) -> str | None:
    """The `license:` of the front matter of the model card (`folder`/README.md); None when
    there is no card or it names none. Raises UntrustedInputError for a card that is not a
    regular file, OSError for one that cannot be read."""
    text = _read_prefix(folder / MODEL_CARD, _README_PREFIX)
    front = re.match(r"---\s*\n(.*?)\n---", text or "", re.DOTALL)
    found = re.search(r"^license:\s*(\S.*)$", front[1], re.MULTILINE) if front else None
    return found[1].strip().strip("\"'") if found else None


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
