"""What a plugin declares: tasks with typed parameters, GUI panels, job hooks, and how to
find them.

Importable without torch or Qt: a task names its run function as "module:function" and the
engine imports it on its own thread; a panel names its widget factory the same way, and so
does a job hook its functions.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from engine.model_entry import ModelEntry


@dataclass(frozen=True)
class Param:
    """How one params field is shown: label, help, range, unit, choices, CLI flag."""

    label: str
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    nonzero_minimum: float | None = None  # where 0 means something of its own (e.g. the
    # model's native size): the least other value, so the field takes 0 or this to maximum
    step: float | None = None
    zero_label: str = ""  # what the form shows for 0 where 0 means something of its own
    # ("Automatic"); default: "Native" where the help says "0 = ...", else the number. In a
    # model picker (`models`): the label of the empty name, offered first
    unit: str = ""  # what a number counts, shown after it in the form: "px", "%", "s"
    choices: tuple[str, ...] = ()
    multiline: bool = False
    cli: str = ""  # the CLI flag, e.g. "--cfg"; default: --field-name
    advanced: bool = False
    # "module:function": function(listing) -> [ModelChoice], the default first; the form
    # shows the field as a picker of those models (the CLI still takes a name)
    models: str = ""
    # the model families (of the form's model picker) that use this field; () = all. The
    # form greys it out for a model of another family, and the job gets its default
    families: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelChoice:
    """A model that a picker field offers (see `Param.models`): the store's entry and a
    line to know before choosing it (its licence), shown by its name and under the picker."""

    entry: ModelEntry
    note: str = ""


def param(default: Any, label: str, **spec: Any) -> Any:
    """A dataclass field carrying a Param spec in its metadata."""
    return field(default=default, metadata={"param": Param(label=label, **spec)})


def param_specs(params_type: type) -> list[tuple[dataclasses.Field, Param]]:
    """The fields of a params dataclass that carry a Param spec, in declaration order."""
    return [
        (f, f.metadata["param"]) for f in dataclasses.fields(params_type) if "param" in f.metadata
    ]


NOT_MODEL_SET = ("prompt", "seed")  # the designer's own, whichever model runs


def fitting_defaults(params_type: type, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a model's atelier.json "defaults" that a task of `params_type` takes:
    its text and number fields (not the prompt, the seed or a model picker) given a value
    of the field's type within its range or choices; anything else is dropped, never an
    error."""
    usable = {}
    for f, spec in param_specs(params_type):
        value = defaults.get(f.name)
        if f.name in NOT_MODEL_SET or spec.models or not _fits(value, str(f.type), spec):
            continue
        usable[f.name] = float(value) if f.type == "float" else value
    return usable


def _fits(value: Any, kind: str, spec: Param) -> bool:
    if kind == "str":
        return isinstance(value, str) and (not spec.choices or value in spec.choices)
    numbers = {"int": (int,), "float": (int, float)}.get(kind)
    if numbers is None or isinstance(value, bool) or not isinstance(value, numbers):
        return False
    low = spec.minimum if spec.minimum is not None else value
    high = spec.maximum if spec.maximum is not None else value
    return low <= value <= high


def resolve(reference: str) -> Callable[..., Any]:
    """Import "package.module:attribute" and return the attribute."""
    module_name, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


INPUT_KINDS = ("image", "mask", "clip", "folder")  # what a task may take besides its params
OUTPUT_KINDS = ("images", "video", "audio", "model")  # what a task makes


@dataclass(frozen=True)
class Task:
    """A unit of engine work. `id` goes into every recipe, with `version`.

    Beyond running, a task declares what it takes (`inputs`, from INPUT_KINDS; none means
    it makes something from its params alone) and what it makes (`output`, from
    OUTPUT_KINDS). The window and the CLI are built from these declarations:
    - `request` ("module:function", Qt-free), called as request(task, values, doc, size)
      -> app.model.requests.Request, builds the job from the document for the Generate
      panel and says where its results go; a task without one has no mode there.
    - `regenerate`, called as regenerate(task, values, doc, layer) -> Request, runs the
      recipe of a layer the task made again on the canvas as it is now.
    - `region`, called as region(task, values, doc) -> str (Qt-free), says in one line what
      a Generate in its mode would work on now ("Repaints the selection (48 x 32)"); the
      panel shows it under the modes, kept up to date. Empty: no such line.
    - `cli` is its `atelier` subcommand (empty: none); each input becomes an argument and
      each params field a flag; the result is written by an exporter of `output`'s kind.
    - `prepare`, called as prepare(params, ctx) on the engine thread while the window warms
      the engine up, loads the models run(params, ctx) will use, so the first job finds
      them loaded (params lack the pixels a request adds: the image and mask are None).
    """

    id: str
    version: int
    title: str
    params_type: type
    runner: str  # "module:function", called as function(params, ctx) -> TaskResult
    validate: Callable[[Any], None] | None = None  # raises ValueError on bad params; no torch
    inputs: tuple[str, ...] = ()
    output: str = "images"
    tip: str = ""  # one line saying what it does, shown with its mode and in `atelier --help`
    request: str = ""
    regenerate: str = ""
    cli: str = ""
    order: int = 100  # where its mode goes in the Generate panel, low first
    region: str = ""  # "module:function": the line saying what its mode works on
    # "module:function", called as function(params, ctx) on the engine thread when it warms
    # up for a job of this task (Engine.warm_up): load the models run(params, ctx) will use
    prepare: str = ""

    def __post_init__(self) -> None:
        unknown = [kind for kind in self.inputs if kind not in INPUT_KINDS]
        if unknown or self.output not in OUTPUT_KINDS:
            raise ValueError(
                f"task {self.id}: inputs must be among {INPUT_KINDS} and output one of "
                f"{OUTPUT_KINDS}, not {self.inputs} -> {self.output!r}"
            )


class AppContext(Protocol):
    """What a panel's factory is given: the few things a panel may do in the window.

    - `run(task_id, params)`: submit a job; an async iterator of its events (progress
      with previews, then one of JobFinished, JobFailed, JobCancelled). Cancel with
      `cancel()` on the iterator, or let the window's Cancel do it.
    - `push(command)`: apply an undoable document command (app.model.commands) to the
      current document; it shows in Edit > Undo and the history panel.
    - `show_message(text, level)`: the window's message bar ("info", "warning", "error").
    - `document`: the current document (app.model.document.Document; read it, change it
      only through `push`). `store`: the model store. `tasks`: the registered tasks.
      `exporters`: the registered exporters (plugins/exporters.py chooses among them).
    - `active_layer`: the layer chosen in the Layers panel (None when there is none).
    - `on_document_changed(callback)`: call `callback()` on the GUI thread after every
      recorded change of the document (an edit, undo, redo) and when another document
      replaces it (new, open); returns a function that stops the calls.
    - `on_job_event(callback)`: call `callback(task, event)` on the GUI thread with each
      event of the jobs the window runs from its Generate panel (`task` the job's Task,
      None for one no plugin declares): a panel takes the outputs it shows (the Audio
      panel a finished job's sounds, a running one's `JobProgress.audio`); returns a
      function that stops the calls.
    - `dialog_folder(action)`: where the panel's file dialog for `action` (a name of the
      panel's own, e.g. "verify") opens: the document's folder, else the last folder used
      for it, else Pictures; `remember_dialog_folder(action, chosen)` after a choice.
    - `use_new_model(kind, name, words)`: a panel saved a model file into the model folders
      (kind as the store's, e.g. "loras"): rescan the store and make it ready to use (a LoRA
      goes into the prompt through the LoRA picker, with `words`, its trigger words).
    """

    @property
    def document(self) -> Any: ...

    @property
    def store(self) -> Any: ...

    @property
    def tasks(self) -> Mapping[str, Task]: ...

    @property
    def exporters(self) -> Sequence[Exporter]: ...

    @property
    def active_layer(self) -> Any: ...

    def run(self, task_id: str, params: Any) -> AsyncIterator[Any]: ...

    def push(self, command: Any) -> None: ...

    def show_message(self, text: str, level: str = "info") -> None: ...

    def on_document_changed(self, callback: Callable[[], None]) -> Callable[[], None]: ...

    def on_job_event(self, callback: Callable[[Any, Any], None]) -> Callable[[], None]: ...

    def dialog_folder(self, action: str) -> Path: ...

    def remember_dialog_folder(self, action: str, chosen: Path) -> None: ...

    def use_new_model(self, kind: str, name: str, words: Sequence[str] = ()) -> None: ...


PANEL_AREAS = ("right", "left", "bottom")


@dataclass(frozen=True)
class Panel:
    """A GUI panel; `factory` ("module:function") builds a QWidget from an AppContext.
    `area` is where the window docks it first: "right", "left" or "bottom" (a wide panel
    such as a timeline)."""

    id: str
    title: str
    factory: str
    area: str = "right"

    def __post_init__(self) -> None:
        if self.area not in PANEL_AREAS:
            raise ValueError(f"panel {self.id}: area must be one of {PANEL_AREAS}")


@dataclass(frozen=True)
class JobHook:
    """Functions ("module:function", imported on the engine thread) run around every job.

    - `before(task_id, params)` runs before the task; raising `JobError` refuses the job
      (e.g. kind "blocked_by_safety" with a message naming the category).
    - `after(task_id, params, outputs, ctx) -> (outputs, warnings)` runs on the outputs
      of every finished job, before anyone sees them; it may replace, drop or mark them.
    - `preview(task_id, params, image) -> ImageData | None` runs on every progress
      preview; None drops the preview.
    Hooks run in registration order; an exception in any of them fails the job.
    """

    id: str
    before: str = ""
    after: str = ""
    preview: str = ""


@dataclass(frozen=True)
class Exporter:
    """Writes one output of a kind ("images", "video", "audio") to a file.

    `write` ("module:function") is called as write(path, output) -> Path and returns the
    path written; it raises OSError or ValueError with a message a designer can act on.
    The export dialog and the CLI offer every exporter of an output's kind, by suffix.
    """

    id: str
    title: str  # as the file dialog's filter shows it, e.g. "PNG image"
    output: str
    suffixes: tuple[str, ...]  # lower case, with the dot, the first is the default
    write: str


@dataclass(frozen=True)
class ModelFamily:
    """Models of one family that a plugin loads, e.g. SD 1.x checkpoints.

    `kind` is the model store's folder kind ("checkpoints", "loras", "motion", "music",
    ...); `loader` ("module:function", imported on the engine thread) is called as
    loader(entry, store, *, dtype, device, variant) -> the loaded model, left on the CPU:
    the engine's cache keeps it and the device policy places it (`device` says where it
    will go; `variant` is a folder's weights variant such as "fp16", or None). The engine
    has checked the files first (offline, no code, regular files, weights-only pickles).
    """

    id: str  # as the store reports it: "sd15", "sdxl", ...
    label: str  # as a designer says it: "Stable Diffusion 1.x"
    kind: str
    loader: str


@dataclass(frozen=True)
class Backend:
    """Somewhere else jobs can run, behind the same engine protocol: servers the designer
    configures (ComfyUI). The local engine stays the default and is always there.

    - `tasks`: the ids of the tasks it may run (whether a given server can is known only
      when it is asked: a job it cannot run fails before anything is sent, saying why).
    - `targets` ("module:function", Qt-free): targets() -> [(target, label)], the places
      configured now (e.g. each server's URL and its name); empty: none configured.
    - `engine` ("module:function", Qt-free): engine(registry, targets, preview_interval_s)
      -> an engine with the protocol of engine.worker.Engine (submit, cancel, stop,
      subscribe, warm_up, shutdown) running jobs on those targets; its outputs pass the
      same safety and provenance step as local ones.
    - `models` ("module:function", Qt-free): models(target) -> {kind: (name, ...)}, the
      model files the target offers by the store's kinds ("checkpoints", "loras",
      "controlnet"), for the model pickers while jobs run there; raises OSError when the
      target does not answer.
    - `settings_page` ("module:function", Qt): page() -> QWidget, shown in Edit >
      Preferences under `title`; it saves its own changes.
    - `cli_flag`: the flag (e.g. "--server", repeatable) by which the subcommands of
      `tasks` run there; `command` ("module:function"): add(subparsers) adds a
      subcommand of its own, named `command_name` (e.g. `atelier servers`), whose handler
      returns the exit code.
    """

    id: str
    title: str
    tasks: tuple[str, ...]
    targets: str
    engine: str
    models: str = ""
    settings_page: str = ""
    cli_flag: str = ""
    command: str = ""
    command_name: str = ""


@dataclass(frozen=True)
class Plugin:
    id: str
    version: str
    title: str
    tasks: Sequence[Task] = ()
    panels: Sequence[Panel] = ()
    hooks: Sequence[JobHook] = ()
    exporters: Sequence[Exporter] = ()
    families: Sequence[ModelFamily] = ()
    backends: Sequence[Backend] = ()
