"""Atelier's scheduler names mapped to diffusers schedulers, built from the model's config."""

from __future__ import annotations

from typing import Any

# name -> (diffusers class, extra config)
_SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "Euler": ("EulerDiscreteScheduler", {}),
    "Euler a": ("EulerAncestralDiscreteScheduler", {}),
    "DPM++ 2M": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++"}),
    "DPM++ 2M Karras": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "use_karras_sigmas": True},
    ),
    "DDIM": ("DDIMScheduler", {}),
    "UniPC": ("UniPCMultistepScheduler", {}),
    "LCM": ("LCMScheduler", {}),
}


def make_scheduler(name: str, base_config: Any) -> Any:
    """A new scheduler of the named kind, keeping the model's own schedule settings.

    Building from the model's config keeps its prediction type, beta schedule and timestep
    spacing (a v-prediction or zero-terminal-SNR model breaks under foreign defaults).
    """
    import diffusers

    cls_name, extra = _SCHEDULERS[name]
    return getattr(diffusers, cls_name).from_config(base_config, **extra)


SCHEDULER_NAMES = tuple(_SCHEDULERS)
