"""Model families as the engine sees them: the ones registered plugins load, and their names.

The engine knows no family by name. Each plugin declares the families it loads
(plugins.api.ModelFamily: the store kind, a label, a loader); the store also recognises
some it cannot load by themselves (a LoRA, a VAE, a ControlNet or a motion module is
added to a model, not generated with), and those keep their labels here.
Importable without torch or Qt.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from engine.model_entry import ModelEntry, kind_label
from engine.protocol import JobError
from plugins.api import ModelFamily

NO_FAMILIES: Mapping[str, ModelFamily] = MappingProxyType({})
ADD_ON_LABELS = {  # families the store recognises that are added to a model
    "lora": "LoRA",
    "embedding": "embedding",
    "vae": "VAE",
    "controlnet": "ControlNet",
    "motion": "motion module",
    "motion_lora": "motion LoRA",
    "ip_adapter": "IP-Adapter",
}


def family_label(family: str, families: Mapping[str, ModelFamily] = NO_FAMILIES) -> str:
    """A family as a designer would say it ("sd15" -> "Stable Diffusion 1.x" when a plugin
    registers it); the family id itself when nothing names it."""
    if family in families:
        return families[family].label
    return ADD_ON_LABELS.get(family, family)


def loading_family(entry: ModelEntry, families: Mapping[str, ModelFamily]) -> ModelFamily:
    """The registered family that loads `entry` (its family, of its store kind); a JobError
    naming the entry's family and the families installed when there is none."""
    family = families.get(entry.family)
    if family is not None and family.kind == entry.kind:
        return family
    installed = ", ".join(sorted({f.label for f in families.values()})) or "none"
    kinds = sorted({f.kind for f in families.values()})
    message = (
        f"'{entry.name}' is a {family_label(entry.family, families)} model (family "
        f"'{entry.family}', a {kind_label(entry.kind)}), and no installed plugin loads it. "
        f"Installed model families: {installed}."
    )
    if kinds and entry.kind not in kinds:
        wanted = " or ".join(kind_label(kind) for kind in kinds)
        message += f" A model of this kind is not loaded by itself: choose a {wanted}."
    raise JobError("invalid_input", message)
