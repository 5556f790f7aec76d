"""Write a video output (engine.protocol.VideoData) as MP4, WebM, GIF or a PNG sequence.

The suffix picks the format (see `encoding`). The video's recipe (meta["recipe"]) goes
in as Atelier's JSON, the same as a PNG's `atelier` chunk: in the container's
`description` tag, or in each PNG frame beside A1111's `parameters`. Its provenance
record (meta["provenance"], written by the safety step) gives the AI-generated claim
and the XMP packet.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.model.generation_info import format_atelier, info_from_recipe
from app.model.image_files import generation_text_chunks
from engine.protocol import VideoData
from plugins.video_export.encoding import video_kind, write_video


def write(path: str | os.PathLike[str], video: VideoData) -> Path:
    """The exporters' `write`: the video, its settings and its provenance, in the format
    the suffix names; the path written (a folder for a PNG sequence)."""
    path = Path(path)
    return write_video(
        path,
        video.frames,
        fps=video.fps,
        metadata=recipe_metadata(_meta(video, "recipe"), video_kind(path)),
        provenance=_meta(video, "provenance"),
        total_frames=len(video.frames),
    )


def recipe_metadata(recipe: Mapping[str, Any] | None, kind: str) -> dict[str, str]:
    """The tags (PNG: text chunks) that carry a recipe in a file of `kind`."""
    if not recipe:
        return {}
    info = info_from_recipe(recipe)
    if kind == "png":
        return generation_text_chunks(info, recipe)
    return {"description": format_atelier(info, recipe)}


def _meta(video: VideoData, key: str) -> Mapping[str, Any] | None:
    value = video.meta.get(key)
    return value if isinstance(value, Mapping) and value else None
