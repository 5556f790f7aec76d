"""Which music model a job uses, how long a window it makes in one pass, and each model's
licence as a picker shows it. Torch- and Qt-free.

The default is a built-in music model (resources/models/atelier-demo-music) when there is
one, else the first installed MusicGen, else any music model. A licence comes from the
model card's front matter (the store reads it), else from the known licences of the
public checkpoints by their Hugging Face repo id; MusicGen's weights are CC-BY-NC-4.0,
so a picker and every file made with them say "non-commercial".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from engine.home import models_dir
from engine.model_entry import ModelEntry
from engine.model_store import ModelListing, ModelStore
from engine.protocol import JobError
from plugins.api import ModelChoice

DEFAULT_WINDOW_S = 30.0  # MusicGen's training clips: 30 s a pass
DEFAULT_CONTEXT_S = 10.0  # of the last window heard by the next (audiocraft keeps 12 of 30)
KNOWN_LICENCES = (  # repo ids (HF cache names, or folders named after them) -> licence
    (r"(^|/)musicgen-", "cc-by-nc-4.0"),
    (r"(^|/)stable-audio-open", "Stability AI Community License"),
    (r"(^|/)audioldm2", "cc-by-nc-sa-4.0"),
)
ORDER = ("musicgen", "musicgen_melody", "stable_audio", "audioldm2")


@dataclass(frozen=True)
class Window:
    """Seconds a model makes in one pass, and seconds of the last pass the next one hears."""

    seconds: float
    context: float


def music_models(listing: ModelListing) -> list[ModelEntry]:
    """The music models a picker offers, the default first (see `default_music_model`)."""
    entries = [e for e in listing.entries if e.kind == "music" and e.family in ORDER]
    return sorted(entries, key=lambda e: (e.source != "builtin", ORDER.index(e.family)))


def music_model_choices(listing: ModelListing) -> list[ModelChoice]:
    """The music models as the Generate panel's picker offers them: the default first, each
    with its licence ("Licence: cc-by-nc-4.0 (non-commercial use only)")."""
    return [ModelChoice(e, f"Licence: {licence_label(e)}") for e in music_models(listing)]


def default_music_model(listing: ModelListing) -> ModelEntry | None:
    models = music_models(listing)
    return models[0] if models else None


def pick_music_model(store: ModelStore, name: str = "") -> ModelEntry:
    """The music model called `name`, else the default one; JobError ("missing_model")
    saying where to put one when there is none."""
    if name:
        return store.find(name, "music")
    entry = default_music_model(store.listing())
    if entry is None:
        raise JobError(
            "missing_model",
            "No music model is installed. Put a MusicGen folder (such as facebook/"
            f"musicgen-small) into {models_dir('music', store.home)}, or into the Hugging "
            "Face cache, and try again.",
        )
    return entry


def model_window(entry: ModelEntry) -> Window:
    """The window of `entry`'s atelier.json `music` settings, else MusicGen's: 30 s a pass
    hearing the last 10 s. A context of at least the window is cut to half of it."""
    music = entry.settings.music
    seconds, context = music.get("window_s"), music.get("context_s")
    seconds = _positive(seconds) or DEFAULT_WINDOW_S
    context = _positive(context)
    context = DEFAULT_CONTEXT_S if context is None else context
    if context >= seconds:
        context = seconds / 2
    return Window(seconds, context)


def _positive(value: object) -> float | None:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return float(value) if number and math.isfinite(value) and value > 0 else None


def model_licence(entry: ModelEntry) -> str:
    """`entry`'s licence: its model card's, else the known one of its repo id; "" when
    neither says."""
    if entry.licence:
        return entry.licence
    for pattern, licence in KNOWN_LICENCES:
        if re.search(pattern, entry.name.casefold()):
            return licence
    return ""


def licence_label(entry: ModelEntry) -> str:
    """The licence as a picker shows it: "cc-by-nc-4.0 (non-commercial use only)",
    "licence not stated" when unknown."""
    licence = model_licence(entry)
    if not licence:
        return "licence not stated"
    if re.search(r"(^|[-_ ])nc([-_ ]|$)|non-?commercial", licence.casefold()):
        return f"{licence} (non-commercial use only)"
    return licence
