"""The generate modes of the prompt panel, one per registered task with a request builder
(app.model.requests.generate_tasks), and the form of each mode's own settings.

The panel's main form holds the settings the diffusion tasks share (prompt, steps, seed, ...);
a task shows those of them it declares the same way, with its own help (`shared_fields`,
`shared_help`: the music prompt asks for music, not a picture). Its mode form shows the
rest of its fields (`own_fields`), the advanced ones behind "More settings"; a field that
picks a model (`Param.models`, e.g. the music model) is a picker of the installed ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QStackedWidget, QToolButton, QVBoxLayout, QWidget

from app.ui.model_field import ModelField
from app.ui.param_form import ParamForm
from engine.model_entry import ModelEntry
from engine.model_store import ModelListing
from plugins.api import Param, Task, fitting_defaults, param_specs
from plugins.diffusion.params import Txt2ImgParams

SHARED_PARAMS = Txt2ImgParams  # the main form's fields
SHARED_SPECS = {f.name: spec for f, spec in param_specs(SHARED_PARAMS)}


def shared_fields(task: Task) -> set[str]:
    """The main form's fields that `task` declares with the same spec, its help aside (a
    mode may say in its own words what its prompt is for: `shared_help`)."""
    return {
        f.name
        for f, spec in param_specs(task.params_type)
        if f.name in SHARED_SPECS and replace(SHARED_SPECS[f.name], help=spec.help) == spec
    }


def shared_help(task: Task) -> dict[str, str]:
    """The help of each main-form field `task` declares, in the task's words."""
    shared = shared_fields(task)
    return {f.name: spec.help for f, spec in param_specs(task.params_type) if f.name in shared}


def own_fields(task: Task) -> list[tuple[str, Param]]:
    """The task's fields that its mode form shows, in declaration order."""
    shared = shared_fields(task)
    return [(f.name, spec) for f, spec in param_specs(task.params_type) if f.name not in shared]


class ModeForm(QWidget):
    """The fields a task adds to the shared ones: basic first, advanced behind a toggle."""

    changed = Signal()

    def __init__(self, task: Task, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.task = task
        own = own_fields(task)
        basic = [name for name, spec in own if not spec.advanced]
        advanced = [name for name, spec in own if spec.advanced]
        self.basic = ParamForm(task.params_type, fields=basic)
        self.advanced = ParamForm(task.params_type, fields=advanced)
        self.more = QToolButton()
        self.more.setText("More settings")
        self.more.setCheckable(True)
        self.more.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.more.setArrowType(Qt.ArrowType.RightArrow)
        self.more.toggled.connect(self._toggle_more)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.basic)
        column.addWidget(self.more)
        column.addWidget(self.advanced)
        self.more.setVisible(bool(advanced))
        self.advanced.hide()
        self._settings_of = ""  # the model whose defaults (or a recipe's values) they took
        self._loading = False  # while set_values runs
        self._greyed_for: str | None = None  # the model the greyed-out fields were set for
        for form in (self.basic, self.advanced):
            form.changed.connect(self._take_model_settings)
            form.changed.connect(self._grey_out_unused)
            form.changed.connect(self.changed)

    def set_label_width(self, width: int) -> None:
        self.basic.set_label_width(width)
        self.advanced.set_label_width(width)

    def set_model_listing(self, listing: ModelListing) -> None:
        self.basic.set_model_listing(listing)
        self.advanced.set_model_listing(listing)
        self._take_model_settings()
        self._grey_out_unused()

    def _take_model_settings(self) -> None:
        """A newly chosen model's atelier.json defaults go into the fields they fit (the
        music model's guidance, temperature, top-k), as the main form takes a checkpoint's;
        a rescan that keeps the same model changes nothing, and neither does a model named
        with values of its own (`set_values`)."""
        entry = self.chosen_model()
        if self._loading or entry is None or entry.name == self._settings_of:
            return
        self._settings_of = entry.name
        self.set_values(fitting_defaults(self.task.params_type, entry.settings.defaults))

    def _grey_out_unused(self) -> None:
        """Grey out the fields the chosen model does not use (Param.families): a Stable
        Audio model's temperature, a melody for a model that cannot follow one. Only when
        the chosen model changes, not at every keystroke."""
        entry = self.chosen_model()
        chosen = entry.name if entry else None
        if chosen == self._greyed_for:
            return
        self._greyed_for = chosen
        for form in (self.basic, self.advanced):
            for name, (_field, spec) in form.specs.items():
                if spec.families:
                    used = entry is None or entry.family in spec.families
                    why = "" if used or entry is None else f"Not used by {entry.name}."
                    form.set_row_used(name, used, why)

    def chosen_model(self) -> ModelEntry | None:
        """The model this mode's model-picking field has chosen; None without one."""
        pickers = [w for w in self.widgets.values() if isinstance(w, ModelField)]
        chosen = pickers[0].chosen() if pickers else None
        return chosen.entry if chosen else None

    def _toggle_more(self, shown: bool) -> None:
        self.more.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self.advanced.setVisible(shown)

    @property
    def widgets(self) -> dict[str, QWidget]:
        return {**self.basic.widgets, **self.advanced.widgets}

    def values(self) -> dict[str, Any]:
        return {**self.basic.values(), **self.advanced.values()}

    def set_values(self, values: Mapping[str, Any]) -> list[str]:
        """Load the known fields of `values`; a model named there (a recipe's, chosen now or
        once it is listed) keeps the values that came with it instead of its defaults."""
        self._loading = True
        try:
            applied = self.basic.set_values(values) + self.advanced.set_values(values)
        finally:
            self._loading = False
        named = [name for name in applied if isinstance(self.widgets[name], ModelField)]
        if named:
            self._settings_of = values[named[0]]
        return applied


class ModeForms(QStackedWidget):
    """One ModeForm per mode, by task id; shows the current mode's."""

    changed = Signal()

    def __init__(self, modes: Sequence[Task], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.forms: dict[str, ModeForm] = {}
        for task in modes:
            form = ModeForm(task)
            form.changed.connect(self.changed)
            self.forms[task.id] = form
            self.addWidget(form)
        self.setVisible(False)

    def set_model_listing(self, listing: ModelListing) -> None:
        """Fill every mode's model-picking fields from a scan's `listing`."""
        for form in self.forms.values():
            form.set_model_listing(listing)

    def show_mode(self, mode_id: str) -> None:
        self.setCurrentWidget(self.forms[mode_id])
        self.setVisible(bool(self.forms[mode_id].widgets))

    def sizeHint(self):  # noqa: N802 (Qt naming): as tall as the shown form only
        shown = self.currentWidget()
        return shown.sizeHint() if shown else super().sizeHint()

    def minimumSizeHint(self):  # noqa: N802
        shown = self.currentWidget()
        return shown.minimumSizeHint() if shown else super().minimumSizeHint()
