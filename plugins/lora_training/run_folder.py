"""Where a training run keeps its cache and checkpoint: one folder per run, named by what
makes its results: the base model, the photos and their captions, the trigger and class,
and the settings that shape the adapter. Training again with the same ones resumes there;
steps, learning rate and batch may change between tries."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path

from engine.home import atelier_home

# the settings that shape the adapter and its data (the others may change on resume)
KEY_SETTINGS = (
    "rank",
    "alpha",
    "resolution",
    "prior_images",
    "prior_method",
    "prior_prompts",
    "layers",
)
CACHE_FILE, CHECKPOINT_FILE = "cache.safetensors", "checkpoint.safetensors"


def run_key(
    base_hash: str,
    photos: Sequence[tuple[str, int, int, str]],
    words: Sequence[str],
    settings: dict[str, object],
    seed: int,
) -> str:
    """A short hash of what a run's results depend on. `photos`: each photo's (name, width,
    height, caption); `words`: the trigger, class and crop mode, then the prompts prior
    preservation keeps; `settings`: the resolved settings (only KEY_SETTINGS count)."""
    shaping = {name: settings[name] for name in KEY_SETTINGS}
    text = json.dumps([base_hash, list(photos), list(words), shaping, seed], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_folder(name: str, key: str, home: Path | None = None) -> Path:
    """`<home>/training/<name>-<key>`, made if missing."""
    safe = re.sub(r"[^\w.-]+", "_", name)[:40] or "lora"
    folder = (home or atelier_home()) / "training" / f"{safe}-{key}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
