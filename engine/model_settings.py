"""A model folder's own settings: the optional `atelier.json` beside its `model_index.json`.

```
{"native_size": 128,
 "defaults": {"steps": 20, "cfg_scale": 4.0, "scheduler": "DDIM"},
 "example_prompt": "a red circle on a blue background"}
```

Every key is optional and unknown keys are ignored. A missing, unreadable or malformed
file, or a value of the wrong type, counts as "no setting": a model's settings never stop
it from loading. The "defaults" are raw values keyed by params field name; the tasks
decide which of them apply (plugins.diffusion.params.model_defaults). Qt- and torch-free.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SETTINGS_FILE = "atelier.json"
MIN_NATIVE, MAX_NATIVE = 64, 4096


@dataclass(frozen=True)
class ModelSettings:
    """What a model folder says about itself; empty when it says nothing."""

    native_size: int | None = None  # the side its images are made at; None: the family's
    defaults: dict[str, Any] = field(default_factory=dict, hash=False)
    example_prompt: str = ""


def read_model_settings(folder: Path) -> ModelSettings:
    """The settings in `folder / atelier.json`; ModelSettings() when there are none."""
    try:
        data = json.loads((Path(folder) / SETTINGS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ModelSettings()
    if not isinstance(data, dict):
        return ModelSettings()
    native = data.get("native_size")
    sized = isinstance(native, int) and not isinstance(native, bool)
    if not (sized and MIN_NATIVE <= native <= MAX_NATIVE):
        native = None
    defaults = data.get("defaults")
    example = data.get("example_prompt")
    return ModelSettings(
        native_size=native,
        defaults=dict(defaults) if isinstance(defaults, dict) else {},
        example_prompt=example.strip() if isinstance(example, str) else "",
    )
