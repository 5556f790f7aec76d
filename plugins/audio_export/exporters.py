"""Write a sound (engine.protocol.AudioData) as WAV, FLAC, MP3 or AAC in M4A.

The suffix picks the format (see `encoding`). The tags: the prompt as the title, the
model's licence (meta["licence"], which the music task writes from the model card) and
name as the copyright, and the recipe as Atelier's JSON in the `description` tag, as a
video's; the provenance record (meta["provenance"], written by the safety step) gives the
AI-generated claim and, with the recipe, the XMP packet that `atelier verify` reads.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.protocol import AudioData
from plugins.audio_export.encoding import audio_kind, write_audio
from plugins.video_export.exporters import recipe_metadata


def write(path: str | os.PathLike[str], audio: AudioData) -> Path:
    """The exporters' `write`: the sound, its tags and its provenance, in the format the
    suffix names; the path written."""
    path = Path(path)
    return write_audio(
        path,
        audio.samples,
        audio.rate,
        metadata=audio_tags(audio.meta, audio_kind(path)),
        provenance=_mapping(audio.meta, "provenance"),
        recipe=_mapping(audio.meta, "recipe"),
    )


def audio_tags(meta: Mapping[str, Any], kind: str) -> dict[str, str]:
    """The tags of a sound's file: title (the prompt), copyright (the model's licence)
    and the recipe."""
    recipe = _mapping(meta, "recipe") or {}
    tags = recipe_metadata(recipe, kind)
    prompt = (_mapping(recipe, "params") or {}).get("prompt")
    if isinstance(prompt, str) and prompt.strip():
        tags["title"] = " ".join(prompt.split())
    licence = meta.get("licence")
    if isinstance(licence, str) and licence.strip():
        model = (_mapping(recipe, "model") or {}).get("name") or meta.get("model")
        tags["copyright"] = f"Model licence: {licence}" + (f" ({model})" if model else "")
    return tags


def _mapping(meta: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = meta.get(key)
    return value if isinstance(value, Mapping) and value else None
