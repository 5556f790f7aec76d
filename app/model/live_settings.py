"""What a live painting job runs (Qt-free): which mode, and with which settings.

The mode is the Generate panel's, except that a mode that takes no picture (text to image),
on a painted canvas and with no control steering it, gives way to the first mode that
repaints a whole picture (image to image): live painting follows the pen. The settings are
the mode's with the seed fixed and one image, and:
- a few-step model that says so in its atelier.json (defaults of at most FAST_MAX_STEPS
  steps) runs its own steps, CFG and scheduler;
- an LCM, Turbo, Lightning or Hyper model or LoRA (by its name, or a `<lora:name:weight>` tag
  in the prompt) runs that kind's few steps and low guidance (FAST_PRESETS);
- any other model runs the mode's settings with at most LIVE_MAX_STEPS steps, so a picture
  follows a stroke in about half the time of a Generate with the usual 20-25.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.model.candidates import is_blank
from app.model.document import Document
from app.model.requests import Request, build_request, generate_tasks
from plugins.api import Task
from plugins.diffusion.lora_tags import find_tags_lenient

LIVE_MAX_STEPS = 12
FAST_MAX_STEPS = 8
_FAST_NAME = re.compile(r"(?<![a-z])(lcm|turbo|lightning|hyper)(?![a-z])", re.IGNORECASE)


@dataclass(frozen=True)
class FastPreset:
    """The steps, guidance and scheduler a kind of few-step model is made for."""

    label: str
    steps: int
    cfg_scale: float
    scheduler: str


FAST_PRESETS = {
    "lcm": FastPreset("LCM", 6, 1.5, "LCM"),
    "turbo": FastPreset("Turbo", 4, 1.0, "Euler a"),
    "lightning": FastPreset("Lightning", 6, 1.5, "Euler"),
    "hyper": FastPreset("Hyper", 8, 1.5, "Euler"),
}


def lora_names(values: Mapping[str, Any]) -> list[str]:
    """The LoRAs a job's values name: its `loras` specs and the prompt's `<lora:...>` tags."""
    named = [str(getattr(spec, "name", "")) for spec in values.get("loras") or ()]
    return named + [tag.name for tag in find_tags_lenient(str(values.get("prompt", "")))]


def fast_preset(names: Iterable[str]) -> FastPreset | None:
    """The preset of the first few-step kind (LCM, Turbo, Lightning, Hyper) that one of
    `names` (a model's, LoRAs') is, by a word of its name; None when none is."""
    for name in names:
        if match := _FAST_NAME.search(name):
            return FAST_PRESETS[match.group(1).lower()]
    return None


def live_values(
    values: Mapping[str, Any], seed: int, model_defaults: Mapping[str, Any]
) -> tuple[dict[str, Any], str]:
    """The values a live job runs with (see the module's docstring), and a line saying
    which settings those are. `model_defaults`: the usable defaults of the model's
    atelier.json (plugins.diffusion.params.model_defaults)."""
    fixed = {**values, "seed": seed, "batch_count": 1}
    own_steps = model_defaults.get("steps")
    if isinstance(own_steps, int) and own_steps <= FAST_MAX_STEPS:
        keys = ("steps", "cfg_scale", "scheduler")
        fixed.update({k: model_defaults[k] for k in keys if k in model_defaults})
        return fixed, _settings_line(fixed, "the model's own")
    preset = fast_preset([str(values.get("model", "")), *lora_names(values)])
    if preset is not None:
        fixed.update(steps=preset.steps, cfg_scale=preset.cfg_scale, scheduler=preset.scheduler)
        return fixed, _settings_line(fixed, preset.label)
    if "steps" in fixed:
        fixed["steps"] = min(int(fixed["steps"]), LIVE_MAX_STEPS)
    return fixed, _settings_line(fixed, "")


def _settings_line(values: Mapping[str, Any], kind: str) -> str:
    if "steps" not in values:
        return f"seed {values['seed']}"
    line = f"{values['steps']} steps, CFG {values.get('cfg_scale', 0):g}, seed {values['seed']}"
    return f"{line} ({kind})" if kind else line


def live_request(
    tasks: Mapping[str, Task],
    mode: Task,
    values: Mapping[str, Any],
    doc: Document,
    size: tuple[int, int],
) -> Request:
    """The request live painting runs for the panel's `mode` and (live) `values` on `doc`:
    the mode's own, or image to image where the mode takes no picture, the canvas is
    painted and no control steers it. Raises RequestError when the canvas is not ready."""
    request = build_request(mode, values, doc, size)
    if "image" in mode.inputs or is_blank(doc) or getattr(request.params, "controls", ()):
        return request
    repaint = _whole_picture_mode(generate_tasks(tasks))
    return build_request(repaint, values, doc, size) if repaint else request


def _whole_picture_mode(modes: Sequence[Task]) -> Task | None:
    """The first mode that takes just a picture and makes images (image to image)."""
    return next((t for t in modes if t.inputs == ("image",) and t.output == "images"), None)
