"""A form built from a params dataclass's Param metadata; reads back a params instance.

Multiline text -> QPlainTextEdit, choices -> QComboBox, int/float -> spin boxes with the
declared range and step (a float from 0 to 1 gets a slider too), bool -> QCheckBox, `seed`
-> a number with a "Random" toggle. Fields without a Param (like `model`) are not shown;
pass them to `params(**extra)`. `fields` picks (and orders) a subset of the Param fields.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable, Mapping
from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QSlider,
    QSpinBox,
    QWidget,
)

from app.ui.seed_field import SeedField
from plugins.api import Param, param_specs

INT_LIMIT = 2**31 - 1  # QSpinBox holds a C int


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
        self.layout_ = QFormLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for name, (fld, spec) in self.specs.items():
            widget = self._make_widget(name, self.types.get(name, type(fld.default)), spec)
            widget.setToolTip(spec.help)
            widget.setObjectName(f"param_{name}")
            self.widgets[name] = widget
            self.layout_.addRow(spec.label, widget)
            self._set(name, fld.default)

    def _make_widget(self, name: str, kind: type, spec: Param) -> QWidget:
        if spec.choices:
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
            widget.setPlaceholderText(spec.help)
            widget.textChanged.connect(self.changed)
        else:
            widget = QLineEdit()
            widget.setPlaceholderText(spec.help)
            widget.textChanged.connect(self.changed)
        return widget

    # -- values ----------------------------------------------------------------------------

    def value(self, name: str) -> Any:
        widget = self.widgets[name]
        match widget:
            case QComboBox():
                return widget.currentText()
            case QCheckBox():
                return widget.isChecked()
            case SeedField() | QSpinBox() | QDoubleSpinBox() | UnitSlider():
                return widget.value()
            case QPlainTextEdit():
                return widget.toPlainText()
            case QLineEdit():
                return widget.text()
        raise TypeError(f"no reader for {type(widget).__name__}")

    def values(self) -> dict[str, Any]:
        return {name: self.value(name) for name in self.widgets}

    def params(self, **extra: Any) -> Any:
        """A params instance from the form, plus fields the form does not show."""
        return self.params_type(**self.values(), **extra)

    def set_row_visible(self, name: str, visible: bool) -> None:
        self.layout_.setRowVisible(self.widgets[name], visible)

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
                case SeedField():
                    widget.setValue(self._number(name, int(raw)))
                case QSpinBox() | QDoubleSpinBox() | UnitSlider():
                    widget.setValue(self._number(name, kind(raw)))
                case QPlainTextEdit():
                    widget.setPlainText(str(raw))
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


def _int_spin(spec: Param) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(
        int(spec.minimum if spec.minimum is not None else -INT_LIMIT),
        int(min(spec.maximum if spec.maximum is not None else INT_LIMIT, INT_LIMIT)),
    )
    spin.setSingleStep(int(spec.step or 1))
    if spec.minimum == 0 and "0 =" in spec.help:
        spin.setSpecialValueText("Native")  # e.g. width/height: 0 = the model's native size
    return spin


def _float_spin(spec: Param) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(
        spec.minimum if spec.minimum is not None else -1e9,
        spec.maximum if spec.maximum is not None else 1e9,
    )
    step = spec.step or 0.1
    spin.setSingleStep(step)
    spin.setDecimals(max(1, len(f"{step:g}".partition(".")[2])))
    return spin


def _to_bool(raw: Any) -> bool:
    if isinstance(raw, str):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    return bool(raw)
