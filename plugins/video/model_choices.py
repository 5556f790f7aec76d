"""The models the video fields' pickers offer (`Param.models`), read from the store's
listing: motion adapters, Stable Video Diffusion models, and Wan and CogVideoX pipelines.
Each field's empty name ("Automatic") comes first in the picker, so these list only the
installed models. Torch-free.
"""

from __future__ import annotations

from engine.model_entry import ModelEntry
from engine.model_store import ModelListing
from plugins.api import ModelChoice
from plugins.video.families import BY_ID, COGVIDEOX, MOTION, SVD, WAN


def _of(listing: ModelListing, *family_ids: str) -> list[ModelEntry]:
    return [e for e in listing.entries if e.family in family_ids]


def motion_choices(listing: ModelListing) -> list[ModelChoice]:
    """The AnimateDiff motion adapters, each with the checkpoint it was made for."""
    return [
        ModelChoice(e, f"made for {e.settings.base}" if e.settings.base else "")
        for e in _of(listing, MOTION.id)
    ]


def svd_choices(listing: ModelListing) -> list[ModelChoice]:
    """The Stable Video Diffusion models (image to video)."""
    return [ModelChoice(e) for e in _of(listing, SVD.id)]


def text_video_choices(listing: ModelListing) -> list[ModelChoice]:
    """The Wan and CogVideoX pipelines (text to video without AnimateDiff), by family."""
    return [ModelChoice(e, BY_ID[e.family].label) for e in _of(listing, WAN.id, COGVIDEOX.id)]
