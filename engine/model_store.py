"""The model store: finds the models on this computer and says what each one is.

Scans Atelier's own `<home>/models/<kind>/` folders, the built-in demo model, model
folders of other tools the user added (A1111, ComfyUI, InvokeAI; read in place) and the
Hugging Face cache (the walk itself is engine/model_scan.py). Torch-free at import.

Thread-safe: the window scans on a thread of its own while the engine thread looks models
up. A scan builds a new listing (entries and problems together) and swaps it in whole
under a lock, so a reader sees the last listing or the new one, never half of one.
"""

from __future__ import annotations

import difflib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from engine.control_models import control_fits
from engine.diffusers_folders import is_model_folder
from engine.home import RESOURCES, atelier_home, extra_model_folders, models_dir
from engine.ip_adapters import ip_adapter_fits
from engine.model_entry import (
    ModelEntry,  # importers take it and kind_label from here too
    kind_label,
    same_name,
)
from engine.model_scan import FolderScan
from engine.protocol import JobError

BUILTIN_MODELS = RESOURCES / "models"  # the models shipped with Atelier (the demo model)
INPAINT_SUFFIXES = ("inpainting", "inpaint")  # "sd-v1-5" and "sd-v1-5-inpainting"


def _bare_name(name: str) -> str:
    """A model name without case and separators, for matching names across conventions."""
    return "".join(c for c in name.casefold() if c.isalnum())


def default_hf_cache() -> Path:
    """HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    return Path.home() / ".cache" / "huggingface" / "hub"


@dataclass(frozen=True)
class ModelListing:
    """What one scan found and what it skipped: one value, so the two always agree."""

    entries: tuple[ModelEntry, ...]
    problems: tuple[str, ...]

    def checkpoints(self) -> list[ModelEntry]:
        return [e for e in self.entries if e.kind == "checkpoints"]

    def default_checkpoint(self) -> ModelEntry | None:
        """A built-in checkpoint first (the demo model), else the first one found; ordinary
        checkpoints before inpainting ones (those cannot make an image from a prompt alone)."""
        checkpoints = sorted(self.checkpoints(), key=lambda e: e.variant != "")
        builtin = [e for e in checkpoints if e.source == "builtin"]
        return (builtin or checkpoints or [None])[0]

    def picker_checkpoints(self) -> list[ModelEntry]:
        """The checkpoints a designer picks from: all but the inpainting partners of others
        (Inpaint and Outpaint use those by themselves when their ordinary model is chosen)."""
        checkpoints = self.checkpoints()
        partners = {id(self.inpainting_partner(e)) for e in checkpoints}
        return [e for e in checkpoints if id(e) not in partners]

    def inpainting_partner(self, entry: ModelEntry) -> ModelEntry | None:
        """The dedicated inpainting checkpoint made from `entry`: same family, named as it
        is plus "inpainting" or "inpaint" (any case or separator); None when there is none
        or `entry` is an inpainting checkpoint itself."""
        if entry.variant:
            return None
        wanted = {_bare_name(entry.name) + suffix for suffix in INPAINT_SUFFIXES}
        for other in self.checkpoints():
            same_family = other.variant == "inpaint" and other.family == entry.family
            if same_family and _bare_name(other.name) in wanted:
                return other
        return None

    def controls_for(self, checkpoint: ModelEntry, kind: str = "") -> list[ModelEntry]:
        """The control models that can steer `checkpoint` (engine.control_models
        `control_fits`), those taking maps of `kind` when given, in the listing's order."""
        return [
            e
            for e in self.entries
            if e.kind == "controlnet"
            and e.control is not None
            and (not kind or e.control.takes(kind))
            and control_fits(e, checkpoint)
        ]

    def ip_adapters_for(self, checkpoint: ModelEntry) -> list[ModelEntry]:
        """The IP-Adapters that can steer `checkpoint` (engine.ip_adapters
        `ip_adapter_fits`), in the listing's order."""
        return [e for e in self.entries if e.kind == "ipadapter" and ip_adapter_fits(e, checkpoint)]


class ModelStore:
    """Scans the model folders; finds models by name. Safe to use from any thread."""

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
        self._listing: ModelListing | None = None
        self._lock = threading.Lock()  # guards _listing and extra_folders
        self._scanning = threading.Lock()  # one scan at a time

    # ---- scanning

    def scan(self) -> list[ModelEntry]:
        """Rescan every folder; skipped files are explained in `problems`. Scans run one at
        a time; readers keep the previous listing until this one is complete."""
        with self._scanning:
            return list(self._rescan().entries)

    def _rescan(self) -> ModelListing:
        """Scan and swap the listing in (the caller holds `_scanning`)."""
        with self._lock:
            extra = list(self.extra_folders)
        scan = FolderScan()
        entries = scan.models(self.home, self.builtin_dir, extra, self.hf_cache)
        listing = ModelListing(tuple(entries), tuple(scan.problems))
        with self._lock:
            self._listing = listing
        return listing

    def listing(self) -> ModelListing:
        """The last scan's entries and problems as one value (scanning once if there has
        been none): read it once where both are needed, and they agree."""
        with self._lock:
            listing = self._listing
        if listing is None:
            with self._scanning:
                listing = self._listing or self._rescan()  # another thread may have scanned
        return listing

    def add_folder(self, folder: Path) -> bool:
        """Scan `folder` too from the next scan on; False if it is scanned already."""
        with self._lock:
            if folder in self.extra_folders:
                return False
            self.extra_folders.append(folder)
            return True

    def set_extra_folders(self, folders: list[Path]) -> None:
        """Scan exactly `folders` (besides Atelier's own) from the next scan on."""
        with self._lock:
            self.extra_folders = [Path(f) for f in folders]

    @property
    def scanned(self) -> bool:
        """Whether a scan has finished (the lookups below would otherwise scan first)."""
        with self._lock:
            return self._listing is not None

    @property
    def problems(self) -> list[str]:
        """The files the last scan skipped, with why, one sentence each."""
        with self._lock:
            listing = self._listing
        return list(listing.problems) if listing else []

    # ---- lookups

    @property
    def entries(self) -> list[ModelEntry]:
        """The entries of the last scan (scanning once if needed)."""
        return list(self.listing().entries)

    def checkpoints(self) -> list[ModelEntry]:
        return self.listing().checkpoints()

    def default_checkpoint(self) -> ModelEntry | None:
        return self.listing().default_checkpoint()

    def inpainting_partner(self, entry: ModelEntry) -> ModelEntry | None:
        return self.listing().inpainting_partner(entry)

    def controls_for(self, checkpoint: ModelEntry, kind: str = "") -> list[ModelEntry]:
        return self.listing().controls_for(checkpoint, kind)

    def ip_adapters_for(self, checkpoint: ModelEntry) -> list[ModelEntry]:
        return self.listing().ip_adapters_for(checkpoint)

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
        """The model called `name` (or at path `name`, or whose name is the file name
        `name` without folders and extension: a server's name for it, as a layer keeps a
        model chosen while jobs ran on a server); JobError("missing_model") if none."""
        listing = self.listing()
        for same in (lambda e: e.name == name, lambda e: e.name.casefold() == name.casefold()):
            hits = [e for e in listing.entries if e.kind == kind and same(e)]
            if hits:
                return hits[0]
        path = Path(name).expanduser()
        if path.exists() and (path.is_file() or is_model_folder(path)):
            scan = FolderScan()
            entry = scan.model_at(path, kind)
            if entry is None:
                raise JobError("invalid_input", scan.problems[0])
            if entry.kind == kind:
                return entry
            raise JobError(
                "invalid_input", f"{path} is a {kind_label(entry.kind)}, not a {kind_label(kind)}"
            )
        hits = [e for e in listing.entries if e.kind == kind and same_name(e.name, name)]
        if hits:
            return hits[0]
        raise JobError("missing_model", self._missing_message(name, kind, listing))

    def _missing_message(self, name: str, kind: str, listing: ModelListing) -> str:
        label = kind_label(kind)
        names = sorted({e.name for e in listing.entries if e.kind == kind})
        msg = f"No {label} named '{name}'."
        close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
        close += [n for n in names if name.casefold() in n.casefold() and n not in close][:3]
        if close:
            msg += f" Did you mean: {', '.join(close)}?"
        elif names:
            msg += f" Installed: {', '.join(names[:8])}{' ...' if len(names) > 8 else ''}."
        other = [e for e in listing.entries if e.name.casefold() == name.casefold()]
        if other:
            msg += f" '{other[0].name}' is a {kind_label(other[0].kind)}, not a {label}."
        skipped = [(Path(p.split(": skipped:")[0]).name.casefold(), p) for p in listing.problems]
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
