"""A form built from a params dataclass's Param metadata; reads back a params instance.

Multiline text -> QPlainTextEdit, choices -> QComboBox, int/float -> spin boxes with the
declared range, step and unit (shown after the number: "8 px"; a float from 0 to 1 gets a
slider too), bool -> QCheckBox, `seed`
-> a number with a "Random" toggle, a tuple of LoraSpec (motion LoRAs) -> one line of
"NAME:WEIGHT, ...", a field whose spec names `models` -> a picker of those models with their
licences (app.ui.model_field; `set_model_listing` fills it after each scan). Fields without
a Param (like `model`) are not shown; pass them to `params(**extra)`. `fields` picks (and
orders) a subset of the Param fields.

A number field says its range in its tooltip and takes a number typed beyond it (rather than
cutting it to fit, which hides the mistake): the field turns red and a line under the form
says what to use, as soon as it is typed; `problems()` lists them for Generate to refuse.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSlider,
    QSpinBox,
    QWidget,
)

from app.ui.model_field import ModelField
from app.ui.seed_field import SeedField
from engine.model_store import ModelListing
from plugins.api import Param, param_specs, resolve
from plugins.diffusion.params import LoraSpec
from plugins.diffusion.steering_cli import loras_from_text, loras_text

INT_LIMIT = 2**31 - 1  # QSpinBox holds a C int
INVALID_STYLE = "color: #ff6b6b;"  # a number out of range, until it is fixed
LORA_LIST = tuple[LoraSpec, ...]  # a field of LoRAs: one line of NAME:WEIGHT, ...


class ParamForm(QWidget):
    """Editable values for every Param field of `params_type`, in declaration order."""

    changed = Signal()

    def __init__(
        self,
        params_type: type,
        parent: QWidget | None = None,
        fields: Iterable[str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.params_type = params_type
        specs = {f.name: (f, spec) for f, spec in param_specs(params_type)}
        names = list(specs) if fields is None else [n for n in fields if n in specs]
        self.specs = {name: specs[name] for name in names}
        self.types = typing.get_type_hints(params_type)
        self.widgets: dict[str, QWidget] = {}
        self.ranges: dict[str, ValidRange] = {}
        self.hidden: set[str] = set()
        self.unused: set[str] = set()  # greyed out: the values their defaults
        self.problem_label = QLabel()
        self.problem_label.setObjectName("problem")
        self.problem_label.setStyleSheet(INVALID_STYLE)
        self.problem_label.setWordWrap(True)
        self.layout_ = QFormLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for name, (fld, spec) in self.specs.items():
            widget = self._make_widget(name, self.types.get(name, type(fld.default)), spec)
            widget.setObjectName(f"param_{name}")
            self.widgets[name] = widget
            self.layout_.addRow(spec.label, widget)
            self._set(name, fld.default)
            if isinstance(widget, CheckedSpin | CheckedDoubleSpin | UnitSlider):
                self.ranges[name] = ValidRange.of(spec)
            self.set_help(name, spec.help)
        self.layout_.addRow(self.problem_label)
        self.changed.connect(self._show_problems)
        self._show_problems()

    def _make_widget(self, name: str, kind: type, spec: Param) -> QWidget:
        if spec.models:
            widget = ModelField(spec.zero_label)
            widget.changed.connect(self.changed)
        elif spec.choices:
            widget = QComboBox()
            widget.addItems(list(spec.choices))
            widget.currentIndexChanged.connect(self.changed)
        elif kind is bool:
            widget = QCheckBox()
            widget.toggled.connect(self.changed)
        elif kind is int and name == "seed":
            widget = SeedField(maximum=int(spec.maximum or 2**32 - 1))
            widget.changed.connect(self.changed)
        elif kind is int:
            widget = _int_spin(spec)
            widget.valueChanged.connect(self.changed)
        elif kind is float and spec.minimum == 0 and spec.maximum == 1:
            widget = UnitSlider(_float_spin(spec))
            widget.valueChanged.connect(self.changed)
        elif kind is float:
            widget = _float_spin(spec)
            widget.valueChanged.connect(self.changed)
        elif spec.multiline:
            widget = QPlainTextEdit()
            widget.setTabChangesFocus(True)
            widget.setFixedHeight(72)
            widget.textChanged.connect(self.changed)
        else:
            widget = QLineEdit()
            widget.textChanged.connect(self.changed)
        return widget

    def set_help(self, name: str, help_text: str) -> None:
        """Show `help_text` as field `name`'s tooltip (with its range) and, in a text field,
        as the hint it shows while empty."""
        widget = self.widgets[name]
        if name in self.ranges:
            widget.setToolTip(f"{help_text} Takes {self.ranges[name].text()}.".strip())
        else:
            widget.setToolTip(help_text)
        if isinstance(widget, QPlainTextEdit | QLineEdit):
            widget.setPlaceholderText(help_text)

    # -- values ----------------------------------------------------------------------------

    def value(self, name: str) -> Any:
        widget = self.widgets[name]
        match widget:
            case QComboBox():
                return widget.currentText()
            case QCheckBox():
                return widget.isChecked()
            case ModelField():
                return widget.value()
            case SeedField() | QSpinBox() | QDoubleSpinBox() | UnitSlider():
                return widget.value()
            case QPlainTextEdit():
                return widget.toPlainText()
            case QLineEdit() if self.types.get(name) == LORA_LIST:
                return loras_from_text(widget.text())
            case QLineEdit():
                return widget.text()
        raise TypeError(f"no reader for {type(widget).__name__}")

    def values(self) -> dict[str, Any]:
        """Each field's value; an unused field's (set_row_used) is its default."""
        values = {name: self.value(name) for name in self.widgets}
        return values | {name: self.specs[name][0].default for name in self.unused}

    def params(self, **extra: Any) -> Any:
        """A params instance from the form, plus fields the form does not show."""
        return self.params_type(**self.values(), **extra)

    def set_model_listing(self, listing: ModelListing) -> None:
        """Fill the model-picking fields with the models their plugins offer from `listing`."""
        for name, (_field, spec) in self.specs.items():
            if spec.models:
                self.widgets[name].set_choices(resolve(spec.models)(listing))

    def set_row_visible(self, name: str, visible: bool) -> None:
        self.layout_.setRowVisible(self.widgets[name], visible)
        if visible:
            self.hidden.discard(name)
        else:
            self.hidden.add(name)
        self._show_problems()

    def set_row_used(self, name: str, used: bool, why: str = "") -> None:
        """Grey out field `name` (`used` False), saying `why` in its tooltip: it keeps what
        was typed, but the params take its default until it is used again."""
        widget = self.widgets[name]
        label = self.layout_.labelForField(widget)
        for part in (widget, label):
            if part is not None:
                part.setEnabled(used)
        self.set_help(name, self.specs[name][1].help)
        if used:
            self.unused.discard(name)
        else:
            self.unused.add(name)
            widget.setToolTip(f"{why} {widget.toolTip()}".strip())
        self._show_problems()

    # -- checks ----------------------------------------------------------------------------

    def problem(self, name: str) -> str | None:
        """What is wrong with the number in field `name` (None when it is usable)."""
        valid = self.ranges.get(name)
        value = self.value(name)
        if valid is None or valid.contains(value):
            return None
        label = self.specs[name][1].label
        return f"{label} takes {valid.text()}, not {value:g}{valid.after_number()}."

    def problems(self, names: Iterable[str] | None = None) -> list[str]:
        """What to fix before Generate, for the shown fields (or those of `names`)."""
        shown = set(self.widgets).difference(self.hidden, self.unused)
        wanted = shown if names is None else set(names)
        return [p for p in (self.problem(n) for n in self.widgets if n in wanted) if p]

    def _show_problems(self) -> None:
        for name in self.ranges:
            self.widgets[name].setStyleSheet(INVALID_STYLE if self.problem(name) else "")
        problems = self.problems()
        self.problem_label.setText("\n".join(problems))
        self.layout_.setRowVisible(self.problem_label, bool(problems))

    def set_label_width(self, width: int) -> None:
        """Line up with other forms: every label at least `width` pixels wide."""
        for widget in self.widgets.values():
            label = self.layout_.labelForField(widget)
            if label is not None:
                label.setMinimumWidth(width)

    def set_values(self, values: Mapping[str, Any]) -> list[str]:
        """Load the known fields of `values` (e.g. a saved recipe); returns the names set."""
        applied = []
        for name, raw in values.items():
            if name in self.widgets and raw is not None:
                try:
                    self._set(name, raw)
                except (TypeError, ValueError, OverflowError):
                    continue  # a foreign value that does not fit; keep the current one
                applied.append(name)
        if applied:
            self.changed.emit()
        return applied

    def set_value(self, name: str, raw: Any) -> None:
        self.set_values({name: raw})

    def reset(self) -> None:
        """Back to the dataclass defaults."""
        self.set_values({f.name: f.default for f, _ in self.specs.values()})

    def _set(self, name: str, raw: Any) -> None:
        widget = self.widgets[name]
        kind = self.types.get(name, str)
        with QSignalBlocker(widget):
            match widget:
                case QComboBox():
                    index = widget.findText(str(raw))
                    if index < 0:
                        raise ValueError(f"{raw!r} is not a choice of {name}")
                    widget.setCurrentIndex(index)
                case QCheckBox():
                    widget.setChecked(_to_bool(raw))
                case ModelField():
                    widget.setValue(str(raw))
                case SeedField():
                    widget.setValue(self._number(name, int(raw)))
                case QSpinBox() | QDoubleSpinBox() | UnitSlider():
                    widget.setValue(self._number(name, kind(raw)))
                case QPlainTextEdit():
                    widget.setPlainText(str(raw))
                case QLineEdit() if kind == LORA_LIST:
                    widget.setText(loras_text(raw))
                case QLineEdit():
                    widget.setText(str(raw))

    def _number(self, name: str, value: float) -> float:
        """`value` when it lies in the field's range; ValueError for anything else (NaN,
        infinities, numbers from another tool's file that no widget can hold)."""
        spec = self.specs[name][1]
        low = spec.minimum if spec.minimum is not None else -INT_LIMIT
        high = spec.maximum if spec.maximum is not None else INT_LIMIT
        if not low <= value <= high:  # False for NaN too
            raise ValueError(f"{value!r} is outside the range of {name}")
        return value


class UnitSlider(QWidget):
    """A 0..1 value as a slider with its spin box beside it (e.g. img2img strength)."""

    valueChanged = Signal(float)  # noqa: N815 (the Qt spelling, like the spin boxes)

    def __init__(self, spin: QDoubleSpinBox, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spin = spin
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.slider, 1)
        row.addWidget(self.spin)
        self.slider.valueChanged.connect(lambda v: self.spin.setValue(v / 100))
        self.spin.valueChanged.connect(self._on_spin)

    def _on_spin(self, value: float) -> None:
        with QSignalBlocker(self.slider):
            self.slider.setValue(round(value * 100))
        self.valueChanged.emit(value)

    def value(self) -> float:
        return self.spin.value()

    def setValue(self, value: float) -> None:  # noqa: N802 (the Qt spelling)
        self.spin.setValue(value)
        with QSignalBlocker(self.slider):
            self.slider.setValue(round(value * 100))


@dataclass(frozen=True)
class ValidRange:
    """The numbers a field takes: low to high, and 0 too where `nonzero_low` is set (then
    the other numbers start there, e.g. a width of 0 for native, else 64 to 4096)."""

    low: float
    high: float
    nonzero_low: float | None = None
    zero_name: str = ""  # what 0 is shown as, e.g. "Native"
    unit: str = ""  # e.g. "px"

    @classmethod
    def of(cls, spec: Param) -> ValidRange:
        return cls(
            spec.minimum if spec.minimum is not None else -INT_LIMIT,
            spec.maximum if spec.maximum is not None else INT_LIMIT,
            spec.nonzero_minimum,
            _zero_label(spec),
            spec.unit,
        )

    def contains(self, value: float) -> bool:
        if self.nonzero_low is not None and value == 0:
            return True
        return max(self.low, self.nonzero_low or self.low) <= value <= self.high

    def stepped(self, value: float, delta: float) -> float:
        """`value` moved by `delta` (an arrow key or button), kept within the range."""
        moved = value + delta
        if self.nonzero_low is not None and 0 < moved < self.nonzero_low:
            moved = self.nonzero_low if delta > 0 else 0
        return min(max(moved, self.low), self.high)

    def text(self) -> str:
        """E.g. '1 to 150', '0 to 256 px', or '0 (Native) or 64 to 4096 px'."""
        if self.nonzero_low is None:
            return f"{self.low:g} to {self.high:g}{self.after_number()}"
        zero = f"0 ({self.zero_name})" if self.zero_name else "0"
        return f"{zero} or {self.nonzero_low:g} to {self.high:g}{self.after_number()}"

    def after_number(self) -> str:
        """The unit as written after a number: ' px', or nothing."""
        return f" {self.unit}" if self.unit else ""


class _RangeStepping:
    """For a spin box whose Qt range is wider than its valid one (so a number typed beyond
    the valid range stays to be seen): the arrows step within the valid range only."""

    valid: ValidRange

    def stepBy(self, steps: int) -> None:  # noqa: N802 (the Qt spelling)
        self.setValue(self.valid.stepped(self.value(), steps * self.singleStep()))
        self.selectAll()

    def stepEnabled(self):  # noqa: N802 (the Qt spelling)
        flags = QAbstractSpinBox.StepEnabledFlag.StepNone
        if self.value() < self.valid.high:
            flags |= QAbstractSpinBox.StepEnabledFlag.StepUpEnabled
        if self.value() > self.valid.low:
            flags |= QAbstractSpinBox.StepEnabledFlag.StepDownEnabled
        return flags


class CheckedSpin(_RangeStepping, QSpinBox):
    """An integer field that takes a number typed beyond its valid range (see ValidRange)."""


class CheckedDoubleSpin(_RangeStepping, QDoubleSpinBox):
    """A float field that takes a number typed beyond its valid range (see ValidRange)."""


def _typing_limit(high: float, cap: float) -> float:
    """How large a number a field takes as typed: two digits more than its maximum, so a
    slip of the keyboard shows as out of range instead of being cut to fit."""
    return min(cap, 10 ** (len(str(int(abs(high)))) + 2) - 1)


def _zero_label(spec: Param) -> str:
    """What the field shows for 0: the spec's label, else "Native" where the help says what
    0 means (e.g. "0 = the model's native size"), else nothing (0 is a number like others)."""
    if spec.minimum != 0:
        return ""
    return spec.zero_label or ("Native" if "0 =" in spec.help else "")


def _int_spin(spec: Param) -> CheckedSpin:
    spin = CheckedSpin()
    spin.valid = ValidRange.of(spec)
    spin.setRange(int(spin.valid.low), int(_typing_limit(spin.valid.high, INT_LIMIT)))
    spin.setSingleStep(int(spec.step or 1))
    spin.setSuffix(spin.valid.after_number())
    spin.setSpecialValueText(spin.valid.zero_name)
    return spin


def _float_spin(spec: Param) -> CheckedDoubleSpin:
    spin = CheckedDoubleSpin()
    spin.valid = ValidRange.of(spec)
    spin.setRange(spin.valid.low, _typing_limit(spin.valid.high, 1e9))
    step = spec.step or 0.1
    spin.setSingleStep(step)
    spin.setDecimals(max(1, len(f"{step:g}".partition(".")[2])))
    spin.setSuffix(spin.valid.after_number())
    if spec.zero_label:  # a float field shows 0 as a number unless its spec names it
        spin.setSpecialValueText(spin.valid.zero_name)
    return spin


def _to_bool(raw: Any) -> bool:
    if isinstance(raw, str):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    return bool(raw)
