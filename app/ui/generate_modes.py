"""The generate modes of the prompt panel (text to image, image to image, inpaint, outpaint)
and the form of each mode's own settings (strength, grow/feather, how far to extend).

The shared settings (prompt, steps, seed, ...) stay in the panel's main form; a mode's form
shows the fields its task adds, with the advanced ones behind "More settings". A mode whose
task is not installed is shown disabled.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QStackedWidget, QToolButton, QVBoxLayout, QWidget

from app.ui.param_form import ParamForm
from plugins.api import Task, param_specs
from plugins.diffusion.params import Txt2ImgParams


@dataclass(frozen=True)
class Mode:
    id: str
    title: str
    task_id: str
    tip: str


MODES = (
    Mode("txt2img", "Text to image", "diffusion.txt2img", "Make new pictures from the prompt."),
    Mode(
        "img2img",
        "Image to image",
        "diffusion.img2img",
        "Repaint the canvas (or the selection) at the chosen strength.",
    ),
    Mode(
        "inpaint",
        "Inpaint",
        "diffusion.inpaint",
        "Repaint the selection, or what you painted on a mask layer.",
    ),
    Mode(
        "outpaint",
        "Outpaint",
        "diffusion.outpaint",
        "Extend the canvas on the chosen sides and fill the new area.",
    ),
)
MODES_BY_ID = {mode.id: mode for mode in MODES}
SHARED = {f.name for f in dataclasses.fields(Txt2ImgParams)}


def mode_of_task(task_id: str) -> Mode | None:
    return next((m for m in MODES if m.task_id == task_id), None)


class ModeForm(QWidget):
    """The fields a task adds to the shared ones: basic first, advanced behind a toggle."""

    changed = Signal()

    def __init__(self, task: Task | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.task = task
        own = [] if task is None else _own_fields(task.params_type)
        basic = [name for name, spec in own if not spec.advanced]
        advanced = [name for name, spec in own if spec.advanced]
        params_type = task.params_type if task else Txt2ImgParams
        self.basic = ParamForm(params_type, fields=basic)
        self.advanced = ParamForm(params_type, fields=advanced)
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
        for form in (self.basic, self.advanced):
            form.changed.connect(self.changed)

    def set_label_width(self, width: int) -> None:
        self.basic.set_label_width(width)
        self.advanced.set_label_width(width)

    def _toggle_more(self, shown: bool) -> None:
        self.more.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self.advanced.setVisible(shown)

    @property
    def widgets(self) -> dict[str, QWidget]:
        return {**self.basic.widgets, **self.advanced.widgets}

    def values(self) -> dict[str, Any]:
        return {**self.basic.values(), **self.advanced.values()}

    def set_values(self, values: Mapping[str, Any]) -> list[str]:
        return self.basic.set_values(values) + self.advanced.set_values(values)


def _own_fields(params_type: type) -> list[tuple[str, Any]]:
    return [(f.name, spec) for f, spec in param_specs(params_type) if f.name not in SHARED]


class ModeForms(QStackedWidget):
    """One ModeForm per mode; shows the current mode's."""

    changed = Signal()

    def __init__(self, tasks: Mapping[str, Task], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.forms: dict[str, ModeForm] = {}
        for mode in MODES:
            form = ModeForm(tasks.get(mode.task_id) if mode.id != "txt2img" else None)
            form.changed.connect(self.changed)
            self.forms[mode.id] = form
            self.addWidget(form)

    def show_mode(self, mode_id: str) -> None:
        self.setCurrentWidget(self.forms[mode_id])
        self.setVisible(bool(self.forms[mode_id].widgets))

    def sizeHint(self):  # noqa: N802 (Qt naming): as tall as the shown form only
        return self.currentWidget().sizeHint()

    def minimumSizeHint(self):  # noqa: N802
        return self.currentWidget().minimumSizeHint()
