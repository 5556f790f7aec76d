"""The controls a recipe or A1111 text records, made again as empty control layers (Reuse
settings). Qt-free.

A file keeps each control's settings but not its map, so Reuse settings adds one empty
control layer per recorded control, with its kind, model, strength and step range, for the
designer to draw or fill; all in one undo step, leaving out those the document has already.
A1111's preprocessor names ("scribble_pidinet", "depth_leres++", "dw_openpose_full") give
the kind by a word of them, else the model's name does ("control_v11p_sd15_canny" for the
module "none"); a few have a closest kind, the others are skipped and named.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.model import history_names as names
from app.model.commands import AddLayer, Macro
from app.model.document import Document
from app.model.generation_info import controlnet_units
from app.model.layers import MAX_CONTROL_STRENGTH, ControlLayer, ControlSettings
from engine.control_models import CONTROL_KINDS, kind_from_name

LAYER_NAME = "{label} control (from settings)"
# A1111 preprocessors no word of which names a kind, and the kind closest to their maps.
CLOSEST_KINDS = {"mlsd": "lineart", "invert": "scribble", "pidinet": "softedge"}
_NO_MODEL = {"", "none"}


@dataclass(frozen=True)
class RecordedControl:
    """One control as a file records it: the settings to make it again with (None: no
    Atelier kind fits), the name it was recorded under (A1111's preprocessor, or the kind)
    and whether its kind is only the closest one."""

    settings: ControlSettings | None
    recorded: str
    closest: bool = False


@dataclass(frozen=True)
class ControlsPlan:
    """What Reuse settings does with recorded controls: the layers to add (`new`), how many
    the document has already, the models that are not installed, the controls made as the
    closest kind and the ones skipped (as recorded)."""

    new: tuple[ControlSettings, ...]
    present: int = 0
    missing: tuple[str, ...] = ()
    closest: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()

    @property
    def warns(self) -> bool:
        """Whether a control could not be made as recorded (its model or its kind)."""
        return bool(self.missing or self.skipped)


def recorded_controls(
    recipe: Mapping[str, Any] | None = None, extras: Mapping[str, str] | None = None
) -> list[RecordedControl]:
    """The controls of an Atelier recipe (its params' "controls"; else the "ControlNet N"
    fields of its extras) or of A1111 text's `extras`."""
    params = recipe.get("params") if recipe is not None else None
    params = params if isinstance(params, Mapping) else {}
    listed = params.get("controls")
    if isinstance(listed, list) and listed:
        return [_from_recipe(item) for item in listed if isinstance(item, Mapping)]
    fields = params.get("extras") if recipe is not None else extras
    if not isinstance(fields, Mapping):
        return []
    return [_from_unit(unit) for unit in controlnet_units(fields)]


def control_kind(module: str, model: str = "") -> tuple[str, bool] | None:
    """The kind for A1111's preprocessor `module` (an Atelier kind as it is), else the one
    `model`'s name says, else the closest; with whether it is only the closest. None when
    none fits."""
    module = module.strip().casefold()
    if module in CONTROL_KINDS:
        return module, False
    kind = kind_from_name(module) or kind_from_name(model)
    if kind:
        return kind, False
    words = re.split(r"[^a-z]+", module)
    closest = next((CLOSEST_KINDS[word] for word in words if word in CLOSEST_KINDS), None)
    return (closest, True) if closest else None


def _from_recipe(item: Mapping[str, Any]) -> RecordedControl:
    kind = str(item.get("kind", ""))
    return _recorded(kind, _text(item.get("model")), item.get("strength"),
                     item.get("start"), item.get("end"))  # fmt: skip


def _from_unit(unit: Mapping[str, str]) -> RecordedControl:
    module = unit.get("module") or unit.get("preprocessor") or ""
    start, end = unit.get("guidance start"), unit.get("guidance end")
    pair = unit.get("starting/ending", "").strip()  # "(0, 1)"
    if pair.startswith("(") and pair.endswith(")") and pair.count(",") == 1:
        start, end = pair[1:-1].split(",")
    model = unit.get("model", "")
    name, bracket, short_hash = model.rpartition(" [")  # "name [d14c016b]"
    if bracket and short_hash.endswith("]"):
        model = name
    return _recorded(module, model, unit.get("weight"), start, end)


def _recorded(module: str, model: str, strength: Any, start: Any, end: Any) -> RecordedControl:
    found = control_kind(module, model)
    if found is None:
        return RecordedControl(None, module.strip() or "a control of no kind")
    begin = _fraction(start, 0.0, 0.0, 1.0)
    settings = ControlSettings(
        kind=found[0],
        model="" if model.strip().casefold() in _NO_MODEL else model.strip(),
        strength=_fraction(strength, 1.0, 0.0, MAX_CONTROL_STRENGTH),
        start=begin,
        end=_fraction(end, 1.0, begin, 1.0),
    )
    return RecordedControl(settings, module.strip(), found[1])


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _fraction(value: Any, default: float, low: float, high: float) -> float:
    """`value` as a number within low..high (`default` when it is none)."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return default if math.isnan(number) else min(max(number, low), high)


def plan_controls(
    doc: Document, recorded: Sequence[RecordedControl], installed: Collection[str] | None
) -> ControlsPlan:
    """What to add for `recorded` to `doc`: each control the document has no control layer
    with the same settings of, its model named as installed (by name, any case) or kept
    as recorded and listed missing (`installed` None: not known yet, none listed)."""
    by_name = {name.casefold(): name for name in installed or ()}
    have = Counter(lay.control for lay in doc.walk() if isinstance(lay, ControlLayer))
    new, present, missing, closest = [], 0, [], []
    for control in recorded:
        settings = control.settings
        if settings is None:
            continue
        model = by_name.get(settings.model.casefold(), settings.model)
        settings = dataclasses.replace(settings, model=model)
        if have[settings]:
            have[settings] -= 1
            present += 1
            continue
        new.append(settings)
        if installed is not None and model and model.casefold() not in by_name:
            missing.append(model)
        if control.closest:
            closest.append(f"{control.recorded} (as {settings.label})")
    skipped = tuple(c.recorded for c in recorded if c.settings is None)
    return ControlsPlan(tuple(new), present, tuple(dict.fromkeys(missing)), tuple(closest), skipped)


def recreate_controls(doc: Document, plan: ControlsPlan) -> Macro | None:
    """The one undo step that adds the plan's new control layers on top, empty, each named
    "Scribble control (from settings)"; None when there are none."""
    if not plan.new:
        return None
    layers = [
        ControlLayer.blank(doc.size, name=LAYER_NAME.format(label=s.label), control=s)
        for s in plan.new
    ]
    added = [AddLayer(layer, label=names.ADD_CONTROL_LAYER) for layer in layers]
    return Macro(names.ADD_CONTROL_LAYERS_FROM_SETTINGS, added)


def plan_message(plan: ControlsPlan) -> str:
    """What Reuse settings says about the recorded controls ("" when there were none)."""
    notes = []
    if plan.new:
        count = len(plan.new)
        layers = "a control layer" if count == 1 else f"{count} control layers"
        kinds = ", ".join(s.label for s in plan.new)
        notes.append(
            f"Added {layers} ({kinds}), empty: the file keeps the controls' settings but not "
            "their maps, so draw or fill each one before generating."
        )
    if plan.present:
        which = "control is" if plan.present == 1 else "controls are"
        notes.append(f"{plan.present} recorded {which} in the document already.")
    if plan.missing:
        models, it = ("models", "them") if len(plan.missing) > 1 else ("model", "it")
        notes.append(
            f"Control {models} not installed: " + ", ".join(plan.missing)
            + f" (kept by name; install {it} or choose another in the layer's properties)."
        )  # fmt: skip
    if plan.closest:
        notes.append("Made as the closest kind: " + ", ".join(plan.closest) + ".")
    if plan.skipped:
        notes.append("Skipped (no control kind in Atelier fits): " + ", ".join(plan.skipped) + ".")
    return " ".join(notes)
