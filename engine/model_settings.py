"""A model folder's own settings: the optional `atelier.json` beside its `model_index.json`.

```
{"native_size": 128,
 "defaults": {"steps": 20, "cfg_scale": 4.0, "scheduler": "DDIM"},
 "example_prompt": "a red circle on a blue background",
 "about": "Draws flat shapes on a plain background; other words mean nothing to it.",
 "latent_rgb": {"factors": [[0.35, 0.23, 0.32], [0.33, 0.5, 0.24],
                            [-0.28, 0.18, 0.27], [-0.21, -0.26, -0.72]],
                "bias": [0.0, 0.0, 0.0]}}
```

A control model's folder (a ControlNet, a T2I-Adapter) may say what it steers and what it
was made from: `{"control_kind": "scribble", "base": "atelier-demo"}` (engine.control_models).
A motion adapter's may name its checkpoint the same way, and the clip it was trained on:
`{"base": "atelier-demo", "frames": 16, "fps": 8}` (plugins.video). A music model's
says how long a window it makes in one pass and how much of the last window the next one
hears: `{"music": {"window_s": 10, "context_s": 4}}` (plugins.music).

Every key is optional and unknown keys are ignored. A missing, unreadable or malformed
file, or a value of the wrong type, counts as "no setting": a model's settings never stop
it from loading. The "defaults" are raw values keyed by params field name; the tasks
decide which of them apply (plugins.diffusion.params.model_defaults). "latent_rgb" is the
model's own linear map from latents (as the pipeline holds them while denoising, i.e.
scaled by the VAE's scaling factor) to RGB in [-1, 1]: one [r, g, b] row of "factors" per
latent channel, and an optional "bias" [r, g, b] (zeros when left out); the previews use it
(plugins.diffusion.latent_preview). "about" is one or two sentences on what the model can make,
shown under the model's name, so a designer knows what to ask it for. Qt- and torch-free.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.untrusted import UntrustedInputError, clean_text, display_path, read_json_file

SETTINGS_FILE = "atelier.json"
MAX_SETTINGS_BYTES = 1024 * 1024  # a real one is a few hundred bytes
MIN_NATIVE, MAX_NATIVE = 64, 4096
MAX_FRAMES, MAX_FPS = 1024, 240


@dataclass(frozen=True)
class LatentRgb:
    """A linear latent-to-RGB map: rgb = sum over channels c of latent[c] * factors[c] + bias,
    with rgb in [-1, 1]."""

    factors: tuple[tuple[float, float, float], ...]  # one row per latent channel
    bias: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class ModelSettings:
    """What a model folder says about itself; empty when it says nothing."""

    native_size: int | None = None  # the side its images are made at; None: the family's
    defaults: dict[str, Any] = field(default_factory=dict, hash=False)
    example_prompt: str = ""
    about: str = ""  # what the model can make, in a sentence or two
    latent_rgb: LatentRgb | None = None  # its own preview map; None: the family's
    control_kind: str = ""  # a control model: the kind of map it takes ("scribble", ...)
    base: str = ""  # a control or motion model: the checkpoint it was made from
    frames: int | None = None  # a motion model: the frames of the clips it was trained on
    fps: float | None = None  # a motion model: their frame rate
    # a checkpoint: LoRA training settings that replace the preset's, by name (a small
    # model such as the built-in one trains with other steps and rates than SD 1.5)
    lora_training: dict[str, Any] = field(default_factory=dict, hash=False)
    # a music model: its generation window, raw (plugins.music reads and checks it)
    music: dict[str, Any] = field(default_factory=dict, hash=False)


def _rgb(value: Any) -> tuple[float, float, float] | None:
    """An [r, g, b] list of finite numbers as a tuple of floats; None when it is not one."""
    if not isinstance(value, list) or len(value) != 3:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return None
    try:
        r, g, b = (float(v) for v in value)
    except OverflowError:  # an int too large for a float
        return None
    return (r, g, b) if all(math.isfinite(v) for v in (r, g, b)) else None


def _latent_rgb(value: Any) -> LatentRgb | None:
    if not isinstance(value, dict) or not isinstance(value.get("factors"), list):
        return None
    rows = [_rgb(row) for row in value["factors"]]
    if not rows or any(row is None for row in rows):
        return None
    bias = _rgb(value["bias"]) if "bias" in value else (0.0, 0.0, 0.0)
    if bias is None:
        return None
    return LatentRgb(factors=tuple(rows), bias=bias)  # type: ignore[arg-type]


def _note(problems: list[str] | None, path: Path, why: str) -> None:
    if problems is not None:
        problems.append(f"{display_path(path)}: ignored: {why}; the model loads without it")


def _text(value: Any) -> str:
    """A string setting, stripped; lone surrogates (JSON "\\ud800") made printable."""
    return clean_text(value).strip() if isinstance(value, str) else ""


def read_model_settings(folder: Path, problems: list[str] | None = None) -> ModelSettings:
    """The settings in `folder / atelier.json`; ModelSettings() when there are none. Never
    raises: a file that is there but unusable (not JSON, not an object, too large, nested
    too deeply, a folder or a pipe) counts as none, with a line added to `problems`."""
    path = Path(folder) / SETTINGS_FILE
    if not os.path.lexists(path):
        return ModelSettings()
    try:
        # NaN and Infinity pass: the key holding one is then ignored alone
        data = read_json_file(path, max_bytes=MAX_SETTINGS_BYTES, allow_nan=True)
    except UntrustedInputError as e:
        _note(problems, path, e.reason)
        return ModelSettings()
    except OSError as e:
        _note(problems, path, f"it cannot be read ({e.strerror or e})")
        return ModelSettings()
    if not isinstance(data, dict):
        _note(problems, path, "it is not a JSON object of settings")
        return ModelSettings()
    native = data.get("native_size")
    sized = isinstance(native, int) and not isinstance(native, bool)
    if not (sized and MIN_NATIVE <= native <= MAX_NATIVE):
        native = None
    return ModelSettings(
        native_size=native,
        defaults=_mapping(data.get("defaults")),
        example_prompt=_text(data.get("example_prompt")),
        about=_text(data.get("about")),
        latent_rgb=_latent_rgb(data.get("latent_rgb")),
        control_kind=_text(data.get("control_kind")),
        base=_text(data.get("base")),
        frames=_count(data.get("frames"), MAX_FRAMES),
        fps=_count(data.get("fps"), MAX_FPS),
        lora_training=_mapping(data.get("lora_training")),
        music=_mapping(data.get("music")),
    )


def _count(value: Any, most: int) -> Any:
    """A positive number up to `most` (an int stays an int); None for anything else."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return value if number and 0 < value <= most else None


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}
