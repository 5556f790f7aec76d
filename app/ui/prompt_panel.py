"""The generate panel: the mode (one per registered task with a request builder, e.g. text
to image, inpaint), model picker, the shared params form, the mode's own settings (a mode
with a model of its own, such as text to music, picks it there), aspect presets, Generate /
Cancel.

It only holds and shows state; the window builds the request from the canvas (see
app.model.requests), runs the job (app.ui.generation) and calls `set_running`,
`set_progress` and `show_seed` as events arrive.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.model.requests import RequestError, generate_tasks
from app.ui.empty_state import EXAMPLE_PROMPT
from app.ui.generate_modes import SHARED_PARAMS, ModeForms, shared_fields, shared_help
from app.ui.lora_completer import LoraCompleter
from app.ui.lora_picker import LoraPicker
from app.ui.param_form import ParamForm
from engine.model_families import family_label
from engine.model_store import ModelEntry, ModelListing
from plugins.api import ModelFamily, Task
from plugins.diffusion.mask_geometry import work_size
from plugins.diffusion.params import Txt2ImgParams, model_defaults, native_size, snap8

PROGRESS_STEPS = 1000
ASPECTS = ("1:1", "4:3", "3:4", "16:9", "9:16", "3:2", "2:3")


def aspect_size(aspect: str, native: int) -> tuple[int, int]:
    """(width, height) of an aspect at about the native pixel count, multiples of 8."""
    a, b = (int(x) for x in aspect.split(":"))
    return work_size((a, b), native)


def seeds_text(seeds: Sequence[int]) -> str:
    """'Seed used: 7', 'Seeds used: 7 to 10' for a batch's consecutive seeds, else the
    first few."""
    if len(seeds) == 1:
        return f"Seed used: {seeds[0]}"
    if list(seeds) == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"Seeds used: {seeds[0]} to {seeds[-1]}"
    more = ", \N{HORIZONTAL ELLIPSIS}" * (len(seeds) > 3)
    return "Seeds used: " + ", ".join(str(s) for s in seeds[:3]) + more


class PromptPanel(QWidget):
    """Everything a designer sets before pressing Generate."""

    generate_requested = Signal()
    cancel_requested = Signal()
    mode_changed = Signal(str)

    def __init__(
        self,
        tasks: Mapping[str, Task] | None = None,
        parent: QWidget | None = None,
        families: Mapping[str, ModelFamily] | None = None,
    ) -> None:
        super().__init__(parent)
        self.tasks = dict(tasks or {})
        self.families = dict(families or {})  # to name each model's family as designers do
        self.modes = generate_tasks(self.tasks)
        self.models: list[ModelEntry] = []
        self.server_models: list[str] | None = None  # see show_server_models
        self._settings_of = ""  # the model whose atelier.json the form last took
        self._example = ""  # the example prompt the form shows, until the user types one
        self.last_seeds: list[int] = []
        self.mode = self.modes[0].id if self.modes else ""  # the current mode's task id
        self.mode_buttons = QButtonGroup(self)
        self.model_picker = QComboBox()
        self.model_picker.setObjectName("model_picker")
        self.model_about = QLabel()  # what the chosen model can make (its atelier.json)
        self.model_about.setObjectName("muted")
        self.model_about.setWordWrap(True)
        self.model_about.hide()
        self.region_label = QLabel()  # what the mode will work on (see app.ui.mode_region)
        self.region_label.setObjectName("muted")
        self.region_label.setWordWrap(True)
        self.region_label.hide()
        self.form = ParamForm(SHARED_PARAMS)
        self.lora_picker = LoraPicker(self.form.widgets["prompt"])  # edits the prompt's tags
        self.lora_completer = LoraCompleter(self.form.widgets["prompt"])
        self.mode_forms = ModeForms(self.modes)
        self.aspect_buttons = QButtonGroup(self)
        self.generate_button = QPushButton("Generate")
        self.generate_button.setObjectName("primary")
        self.generate_button.setToolTip("Generate (Ctrl+Enter)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Cancel (Esc)")
        self.progress = QProgressBar()
        self.progress.setRange(0, PROGRESS_STEPS)
        self.progress.setTextVisible(False)
        self.stage = QLabel("Ready")
        self.stage.setObjectName("muted")
        self.seed_label = QLabel()
        self.seed_label.setObjectName("muted")
        self.seed_label.setWordWrap(True)  # a batch's seeds must not widen the panel
        self.seed_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.LinksAccessibleByMouse
        )
        self._build()
        self._connect()
        self._line_up_labels()
        if self.modes:
            self.set_mode(self.mode)
        self.set_running(False)

    # -- layout ----------------------------------------------------------------------------

    def _build(self) -> None:
        self.model_row = QWidget()  # the picker and the model's "about" line, shown together
        picker = QHBoxLayout()
        picker.addWidget(QLabel("Model"))
        picker.addWidget(self.model_picker, 1)
        model_column = QVBoxLayout(self.model_row)
        model_column.setContentsMargins(0, 0, 0, 0)
        model_column.addLayout(picker)
        model_column.addWidget(self.model_about)
        width_row = self._row_of("width")
        self.aspect_row = self._aspect_widget()
        self.form.layout_.insertRow(width_row, "Aspect", self.aspect_row)
        self.form.layout_.insertRow(self._row_of("prompt") + 1, "LoRAs", self.lora_picker)
        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_button, 2)
        buttons.addWidget(self.cancel_button, 1)
        column = QVBoxLayout(self)
        column.setContentsMargins(10, 10, 10, 10)
        column.addWidget(self._mode_widget())
        column.addWidget(self.region_label)
        column.addSpacing(4)
        column.addWidget(self.model_row)
        column.addSpacing(4)
        column.addWidget(self.form)
        column.addWidget(self.mode_forms)
        column.addSpacing(6)
        column.addLayout(buttons)
        column.addWidget(self.progress)
        column.addWidget(self.stage)
        column.addWidget(self.seed_label)
        column.addStretch(1)

    def _line_up_labels(self) -> None:
        """The shared form and the mode forms share one label column width."""
        labels = [self.form.layout_.labelForField(w) for w in self.form.widgets.values()]
        width = max((label.sizeHint().width() for label in labels if label), default=0)
        self.form.set_label_width(width)
        for form in self.mode_forms.forms.values():
            form.set_label_width(width)

    def _mode_widget(self) -> QWidget:
        box = QWidget()
        grid = QGridLayout(box)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(3)
        for index, task in enumerate(self.modes):
            button = QPushButton(task.title)
            button.setCheckable(True)
            button.setObjectName(f"mode_{task.id}")
            button.setToolTip(task.tip)
            self.mode_buttons.addButton(button, index)
            grid.addWidget(button, index // 2, index % 2)
        return box

    def _row_of(self, name: str) -> int:
        row, _role = self.form.layout_.getWidgetPosition(self.form.widgets[name])
        return row

    def _aspect_widget(self) -> QWidget:
        box = QWidget()
        grid = QGridLayout(box)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(3)
        for index, aspect in enumerate(ASPECTS):
            button = QPushButton(aspect)
            button.setCheckable(True)
            button.setObjectName(f"aspect_{aspect.replace(':', 'x')}")
            button.setStyleSheet("padding: 3px 4px;")
            self.aspect_buttons.addButton(button, index)
            grid.addWidget(button, index // 4, index % 4)
        return box  # none checked: "Native" sizes follow the canvas's (or selection's) shape

    def _connect(self) -> None:
        self.generate_button.clicked.connect(self.generate_requested)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.seed_label.linkActivated.connect(self.reuse_seed)
        self.aspect_buttons.idClicked.connect(self._apply_aspect)
        self.mode_buttons.idClicked.connect(lambda index: self.set_mode(self.modes[index].id))
        self.model_picker.currentIndexChanged.connect(self._on_model_changed)
        self.form.changed.connect(self._uncheck_stale_aspect)
        self.mode_forms.changed.connect(self._offer_example)

    # -- modes -----------------------------------------------------------------------------

    def set_mode(self, task_id: str) -> None:
        """Show the settings of the mode that runs `task_id`: the shared rows its task
        declares, with its help (the size rows and aspects only for a task sized by them),
        the LoRAs row when it takes LoRAs, the model picker when it takes a model, and its
        own form; the prompt, while it is an untouched example, becomes that of the mode's
        model."""
        self.mode = task_id
        index = next(i for i, task in enumerate(self.modes) if task.id == task_id)
        with QSignalBlocker(self.mode_buttons):
            self.mode_buttons.button(index).setChecked(True)
        task = self.modes[index]
        helps = shared_help(task)
        shared = set(helps)
        for name in self.form.widgets:
            self.form.set_row_visible(name, name in shared)
        for name, help_text in helps.items():
            self.form.set_help(name, help_text)
        self.form.layout_.setRowVisible(self.aspect_row, {"width", "height"} <= shared)
        fields = {f.name for f in dataclasses.fields(task.params_type)}
        self.form.layout_.setRowVisible(self.lora_picker, "loras" in fields)
        self.form.setVisible(bool(shared))
        self.model_row.setVisible("model" in fields)
        self.mode_forms.show_mode(task_id)
        self._offer_example()
        self.mode_changed.emit(task_id)

    def mode_values(self) -> dict[str, Any]:
        """The shared settings the current mode shows, its own ones, and the model; a
        RequestError saying what to fix where a number is out of its field's range."""
        task = self.tasks[self.mode]
        shared = shared_fields(task)
        own = self.mode_forms.forms[self.mode]
        problems = self.form.problems(shared) + own.basic.problems() + own.advanced.problems()
        if problems:
            raise RequestError("Fix the settings first: " + " ".join(problems))
        values = {k: v for k, v in self.form.values().items() if k in shared}
        return {**values, "model": self.model_name(), **self.mode_forms.forms[self.mode].values()}

    def region_values(self) -> dict[str, Any]:
        """The current mode's settings as they stand, unchecked: what its region line reads."""
        return {**self.form.values(), **self.mode_forms.forms[self.mode].values()}

    def show_region(self, text: str) -> None:
        """Say what the current mode will work on; hidden when its task does not say."""
        self.region_label.setText(text)
        self.region_label.setVisible(bool(text))

    # -- models ----------------------------------------------------------------------------

    def set_models(self, models: Sequence[ModelEntry], selected: str | None = None) -> None:
        """Fill the picker (with the server's checkpoints instead while jobs run on one);
        keep the current choice when it is still there."""
        keep = selected or self.model_name()
        self.models = list(models)
        self.model_picker.blockSignals(True)
        self.model_picker.clear()
        if self.server_models is not None:
            items = [(name, name) for name in self.server_models]
            none = "No checkpoints on the server"
        else:
            families = [family_label(entry.family, self.families) for entry in self.models]
            items = [
                (f"{entry.name}  \N{MIDDLE DOT}  {family}", entry.name)
                for entry, family in zip(self.models, families, strict=True)
            ]
            none = "No models installed"
        for text, name in items or [(none, "")]:
            self.model_picker.addItem(text, name)
        index = self.model_picker.findData(keep) if keep else -1
        self.model_picker.setCurrentIndex(max(index, 0))
        self.model_picker.blockSignals(False)
        self._on_model_changed()

    def show_server_models(self, names: Sequence[str] | None) -> None:
        """While jobs run on a server: its checkpoints' file names in the picker, so a job's
        model is the server's name for it; None: the installed models again."""
        self.server_models = None if names is None else list(names)
        self.set_models(self.models)

    def set_loras(self, entries: Sequence[ModelEntry]) -> None:
        """The installed LoRAs (the store's entries of kind "loras"), for the LoRA picker
        and the prompt's `<lora:` completion."""
        self.lora_picker.set_entries(entries)
        self.lora_completer.set_names(self.lora_picker.names())

    def show_server_loras(self, names: Sequence[str] | None, missing: str) -> None:
        """While jobs run on a server: its LoRAs (by the names a tag takes) in the LoRA
        picker and the `<lora:` completion, a tag of another marked `missing`; None: the
        installed ones again."""
        self.lora_picker.show_server_loras(names, missing)
        self.lora_completer.set_names(self.lora_picker.names())

    def set_model_listing(self, listing: ModelListing) -> None:
        """A scan's models, for the modes' own model pickers (the music model's)."""
        self.mode_forms.set_model_listing(listing)
        self._offer_example()

    def show_looking_for_models(self) -> None:
        """Until the first model scan is in: the picker says so, and Generate waits."""
        with QSignalBlocker(self.model_picker):
            self.model_picker.clear()
            self.model_picker.addItem("Looking for models\N{HORIZONTAL ELLIPSIS}", "")
        self.generate_button.setEnabled(False)
        self.generate_button.setToolTip("Looking for models\N{HORIZONTAL ELLIPSIS}")

    def model_name(self) -> str:
        return self.model_picker.currentData() or ""

    def selected_model(self) -> ModelEntry | None:
        return next((m for m in self.models if m.name == self.model_name()), None)

    def native_size(self) -> int:
        return native_size(self.selected_model())

    def _on_model_changed(self, *_: Any) -> None:
        checked = self.aspect_buttons.checkedId()
        sized = self.form.value("width") or self.form.value("height")
        if checked >= 0 and sized:  # first: any form change unchecks a preset of another size
            self._apply_aspect(checked)
        if self.model_name() != self._settings_of:  # not a rescan keeping the same model
            self._settings_of = self.model_name()
            self._take_model_settings(self.selected_model())
        self.lora_picker.set_checkpoint(self.selected_model())  # LoRAs that fit it
        self.lora_completer.set_names(self.lora_picker.names())
        self.generate_button.setToolTip(
            "Generate (Ctrl+Enter)" if self.models else "Install a model first"
        )

    def _take_model_settings(self, entry: ModelEntry | None) -> None:
        """A newly chosen model's own settings (its atelier.json): its defaults go into the
        form (steps, CFG, scheduler...; a negative prompt only into an empty box); its example
        prompt (else a general one) replaces an empty prompt or the previous example, never
        a prompt the user typed (see `_offer_example`); its "about" line shows under the
        model picker."""
        about = entry.settings.about if entry else ""
        self.model_about.setText(about)
        self.model_about.setVisible(bool(about))
        if entry is None:
            return
        defaults = model_defaults(entry.settings.defaults)
        if self.form.value("negative_prompt").strip():
            defaults.pop("negative_prompt", None)
        self.form.set_values(defaults)
        self._offer_example()

    def _offer_example(self) -> None:
        """The example prompt of the model the current mode runs (its own picker's, else the
        panel's) replaces an empty prompt or the previous example, never a prompt the user
        typed. Without one: the general example for the panel's models, an empty prompt
        (its hint shows) for a mode's own, such as a music model."""
        form = self.mode_forms.forms.get(self.mode)
        own = form.chosen_model() if form else None
        entry = own or self.selected_model()
        prompt = self.form.value("prompt")
        if entry is None or (prompt.strip() and prompt != self._example):
            return
        self._example = entry.settings.example_prompt or ("" if own else EXAMPLE_PROMPT)
        if prompt != self._example:
            self.form.set_value("prompt", self._example)

    # -- sizes -----------------------------------------------------------------------------

    def _apply_aspect(self, index: int) -> None:
        width, height = aspect_size(ASPECTS[index], self.native_size())
        self.form.set_values({"width": width, "height": height})
        self.aspect_buttons.button(index).setChecked(True)

    def _uncheck_stale_aspect(self, *_: Any) -> None:
        checked = self.aspect_buttons.checkedId()
        if checked < 0:
            return
        size = (self.form.value("width"), self.form.value("height"))
        if size != aspect_size(ASPECTS[checked], self.native_size()):
            self.aspect_buttons.setExclusive(False)
            self.aspect_buttons.checkedButton().setChecked(False)
            self.aspect_buttons.setExclusive(True)

    def target_size(self, shape: tuple[int, int] = (1, 1)) -> tuple[int, int]:
        """The (width, height) a Generate now would make for a target of `shape` (the canvas
        or the selection): the size set, a side left at 0 ("Native") the model's native
        size; both at 0, the native pixel count in the target's shape."""
        native = self.native_size()
        width, height = self.form.value("width"), self.form.value("height")
        if not width and not height:
            return work_size(shape, native)
        return snap8(width or native), snap8(height or native)

    # -- params ----------------------------------------------------------------------------

    def params(self) -> Txt2ImgParams:
        return self.form.params(model=self.model_name())

    def load_settings(self, settings: Mapping[str, Any]) -> list[str]:
        """Fill the form from saved settings; returns what could not be applied.

        The model is chosen first, so its aspect presets and defaults cannot change the
        loaded values.
        """
        skipped = []
        model = settings.get("model")
        if model:
            index = self.model_picker.findData(model)
            if index >= 0:
                self.model_picker.setCurrentIndex(index)
            else:
                skipped.append(f"model {model} (not installed)")
        applied = self.form.set_values(settings)
        mode_form = self.mode_forms.forms.get(self.mode)
        applied += mode_form.set_values(settings) if mode_form else []
        self._uncheck_stale_aspect()
        unknown = set(settings) - set(applied) - {"model"}
        shown = {**self.form.widgets, **(mode_form.widgets if mode_form else {})}
        skipped += sorted(f"{name} ({settings[name]!r})" for name in unknown if name in shown)
        return skipped

    def load_recipe(self, recipe: Mapping[str, Any]) -> list[str]:
        """Select the mode of the task that made `recipe` (when it is one here) and load
        the params that mode takes (a recipe's resolved work size is not a Width for text
        to image); returns what could not be applied."""
        params = recipe.get("params")
        params = params if isinstance(params, Mapping) else {}
        task = next((t for t in self.modes if t.id == recipe.get("task")), None)
        if task is None:
            return self.load_settings(params)
        self.set_mode(task.id)
        fields = {f.name for f in dataclasses.fields(task.params_type)}
        return self.load_settings({k: v for k, v in params.items() if k in fields})

    # -- job state -------------------------------------------------------------------------

    def set_running(self, running: bool) -> None:
        self.generate_button.setEnabled(not running and bool(self.models and self.modes))
        self.cancel_button.setEnabled(running)
        if running:
            self.progress.setValue(0)
            self.stage.setText("Starting\N{HORIZONTAL ELLIPSIS}")
        elif self.progress.maximum() == 0:  # stopped while busy (loading): empty, not busy
            self.progress.setRange(0, PROGRESS_STEPS)
            self.progress.setValue(0)

    def set_progress(self, fraction: float, stage: str) -> None:
        """Steps fill the bar; before the first step (loading a model) it shows "busy"."""
        self.progress.setRange(0, 0 if fraction <= 0 else PROGRESS_STEPS)
        self.progress.setValue(round(fraction * PROGRESS_STEPS))
        self.stage.setText(stage[:1].upper() + stage[1:])

    def show_done(self, text: str) -> None:
        self.stage.setText(text)

    def show_seed(self, seeds: Sequence[int]) -> None:
        """Show the seeds a job used, with a link that puts the first one into the form."""
        self.last_seeds = list(seeds)
        if not seeds:
            self.seed_label.clear()
            return
        self.seed_label.setText(f'{seeds_text(seeds)} \N{MIDDLE DOT} <a href="reuse">reuse</a>')

    def reuse_seed(self) -> None:
        if self.last_seeds:
            self.form.set_value("seed", self.last_seeds[0])
