"""The Generate panel's "Run on": the local engine (the default, always first), each server
configured in Settings > Servers, and all of them together when there are two or more.

Shown only while a server is configured. The choice sets where the window's EngineRouter
sends the jobs of the tasks the backend runs, and is remembered in settings.json. While a
server is chosen the checkpoint picker lists that server's checkpoints, the LoRA picker
and `<lora:` completion its LoRAs and the control layers' model picker its ControlNets (all of
the chosen servers' shared ones), fetched together off the GUI thread, so a job's models are
the server's file names and a LoRA tag names the server's file by its stem; when they cannot
be listed the note says why and the installed ones stay. A job a server refuses, saying it
could run locally, is offered a run on the local engine.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.model.requests import Request
from app.ui.background_call import BackgroundCall
from engine.home import load_settings, remember_setting
from engine.model_entry import file_stem
from plugins.api import Backend, resolve

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow

SETTING = "run_on"  # settings.json: {"backend": id, "targets": [...]}; absent: the local engine
LOCAL = "Local engine"
# the words a server engine's refusal ends with when the job could run here instead
LOCAL_HINT = "Run it on the local engine"
LOCAL_KINDS = ("missing_model", "invalid_input")


@dataclass(frozen=True)
class Place:
    """Somewhere jobs can run: the local engine (no backend) or a backend's targets."""

    label: str
    backend: Backend | None = None
    targets: tuple[str, ...] = ()

    @property
    def key(self) -> dict[str, Any] | None:
        """How the choice is remembered (None: the local engine)."""
        if self.backend is None:
            return None
        return {"backend": self.backend.id, "targets": list(self.targets)}


def places(backends: Sequence[Backend]) -> list[Place]:
    """What Run on offers: the local engine, then each backend's targets one by one, and
    all of them ("All servers") when it has two or more."""
    found = [Place(LOCAL)]
    for backend in backends:
        targets = resolve(backend.targets)()
        found += [Place(label, backend, (target,)) for target, label in targets]
        if len(targets) >= 2:
            every = tuple(target for target, _label in targets)
            found.append(Place(f"All {backend.title.lower()}", backend, every))
    return found


def lora_names(files: Sequence[str]) -> list[str]:
    """The names a `<lora:...>` tag takes for a server's LoRA files: each file's stem
    ("ink-style" for "styles/ink-style.safetensors"; the server's graphs match a tag to a file
    by it), one per name without case, in the server's order."""
    found: dict[str, str] = {}
    for name in files:
        stem = file_stem(name)
        found.setdefault(stem.casefold(), stem)
    return list(found.values())


def shared_models(
    models: Callable[[str], Mapping[str, Sequence[str]]], targets: Sequence[str]
) -> dict[str, list[str]]:
    """What every target offers, in the first one's order, asked once of each (OSError when
    one does not answer): "checkpoints" and "controlnets" by file name (a job's models are
    the server's file names) and "loras" by the names tags take, compared without case.
    Blocks: run it off the GUI thread."""
    listed = [models(target) for target in targets]
    checkpoints = [list(each.get("checkpoints", ())) for each in listed]
    controlnets = [list(each.get("controlnet", ())) for each in listed]
    loras = [lora_names(each.get("loras", ())) for each in listed]
    return {
        "checkpoints": _in_all(checkpoints, str),
        "controlnets": _in_all(controlnets, str),
        "loras": _in_all(loras, str.casefold),
    }


def _in_all(lists: Sequence[list[str]], key: Callable[[str], str]) -> list[str]:
    """The names of the first list every other list holds too, compared by `key`."""
    others = [{key(name) for name in each} for each in lists[1:]]
    return [name for name in lists[0] if all(key(name) in other for other in others)]


class RunOn(QWidget):
    """The "Run on" row above the Generate panel's model picker, and what it sets."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__()
        self.window = window
        self.panel = window.prompt_panel
        self.router = window.engine
        self.places: list[Place] = [Place(LOCAL)]
        self._listing = 0  # counts model listings; an answer to an older one is dropped
        self.calls = BackgroundCall(self)
        self.calls.answered.connect(self._listed)
        self.combo = QComboBox(objectName="run_on")
        self.combo.setToolTip("Where Generate runs its jobs (Edit > Preferences > Servers)")
        self.note = QLabel(objectName="muted", wordWrap=True)
        self.note.hide()
        self._listing_note = ""
        row = QHBoxLayout()
        row.addWidget(self._label_like_model("Run on"))
        row.addWidget(self.combo, 1)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(row)
        column.addWidget(self.note)
        layout = self.panel.layout()
        layout.insertWidget(layout.indexOf(self.panel.model_row), self)
        self.combo.currentIndexChanged.connect(self._chosen)
        self.panel.mode_changed.connect(self._show_note)
        self.refresh(remembered=load_settings(window.store.home).get(SETTING))

    def _label_like_model(self, text: str) -> QLabel:
        """A label as wide as the model picker's, so the two pickers line up."""
        label = QLabel(text)
        labels = [w for w in self.panel.model_row.findChildren(QLabel) if w.text() == "Model"]
        width = max(each.sizeHint().width() for each in [label, *labels])
        for each in [label, *labels]:
            each.setMinimumWidth(width)
        return label

    def refresh(self, remembered: Any = None) -> None:
        """List the places configured now (after Settings > Servers changed), keeping the
        choice (or choosing the `remembered` one) when it is still there; else the local
        engine. Hidden while no server is configured."""
        wanted = remembered if remembered is not None else self.place.key
        self.router.renew()  # a server's token or address may have changed
        self.places = places(self.window.registry.backends)
        with QSignalBlocker(self.combo):
            self.combo.clear()
            for place in self.places:
                self.combo.addItem(place.label)
            keys = [place.key for place in self.places]
            self.combo.setCurrentIndex(keys.index(wanted) if wanted in keys else 0)
        self.setVisible(len(self.places) > 1)
        self._chosen()

    @property
    def place(self) -> Place:
        """The chosen place."""
        index = self.combo.currentIndex()
        return self.places[index] if 0 <= index < len(self.places) else Place(LOCAL)

    def choose(self, label: str) -> None:
        """Choose the place shown as `label` (ValueError when none is)."""
        index = self.combo.findText(label)
        if index < 0:
            raise ValueError(f"{label!r} is not offered")
        self.combo.setCurrentIndex(index)

    def _chosen(self, *_: object) -> None:
        """Jobs go to the chosen place from now on; a server's models are listed again, also
        after a refresh that kept it (its token or name may have changed)."""
        place = self.place
        if place.backend is None and not self.router.remote:
            return  # still the local engine
        self.router.set_target(place.backend, place.targets)
        remember_setting(SETTING, place.key, self.window.store.home)
        self._listing += 1
        if place.backend is None or not place.backend.models:
            self._show_models(None)
            self._set_listing_note("")
            return
        self._set_listing_note(f"Listing the models of {place.label}\N{HORIZONTAL ELLIPSIS}")
        models = resolve(place.backend.models)
        self.calls.start(self._listing, shared_models, models, place.targets)

    def _listed(self, listing: int, names: dict[str, list[str]] | None, error: str) -> None:
        if listing != self._listing:  # another place was chosen meanwhile
            return
        label = self.place.label
        self._show_models(names)
        if names is None:
            self._set_listing_note(
                f"Could not list the models of {label}: {error}. The pickers show the "
                "installed ones."
            )
            return
        self._set_listing_note(
            f"The model picker shows the checkpoints of {label}, the LoRA picker its LoRAs, "
            "control layers its ControlNets."
        )

    def _show_models(self, names: Mapping[str, list[str]] | None) -> None:
        """The server's checkpoints, LoRAs and ControlNets in the pickers (the control
        layers' too); None: the installed ones."""
        several = len(self.place.targets) > 1
        self.panel.show_server_models(None if names is None else names["checkpoints"])
        self.window.control_properties.show_server_controls(
            None if names is None else names["controlnets"]
        )
        self.panel.show_server_loras(
            None if names is None else names["loras"],
            "not on every server" if several else "not on the server",
        )

    def _set_listing_note(self, text: str) -> None:
        self._listing_note = text
        self._show_note()

    def _show_note(self, *_: object) -> None:
        """The listing's news, and whether the current mode runs locally anyway."""
        lines = [self._listing_note] if self._listing_note else []
        task = self.panel.tasks.get(self.panel.mode)
        if self.router.remote and task is not None and not self.router.runs_remotely(task.id):
            lines.append(f"{task.title} runs on the local engine.")
        self.note.setText(" ".join(lines))
        self.note.setVisible(bool(lines))

    # -- a job a server cannot run ---------------------------------------------------------

    def offer_local_run(self, request: Request, kind: str, message: str) -> bool:
        """The job of `request` failed on a server with `message`: when the server says it
        could run locally, the message bar offers that (True); else nothing is shown."""
        hint = LOCAL_HINT.casefold() in message.casefold()
        if not self.router.remote or kind not in LOCAL_KINDS or not hint:
            return False
        self.window.messages.show_message(
            message, "error", "Run locally", lambda: self.run_locally(request)
        )
        return True

    def run_locally(self, request: Request) -> None:
        """Choose the local engine and run `request` there, with the same params, but for
        models only the server has (its checkpoint, its ControlNets): the installed
        defaults take their place, and the message bar says so."""
        self.combo.setCurrentIndex(0)
        installed = {entry.name.casefold() for entry in self.window.store.entries}
        request.params, missing = installed_models(request.params, installed)
        if missing:
            names = ", ".join(missing)
            self.window.messages.show_message(
                f"{names} {'is' if len(missing) == 1 else 'are'} not installed here: "
                "the installed defaults run instead.",
                "info",
            )
        self.window.gen.run(request)


def installed_models(params: Any, installed: set[str]) -> tuple[Any, list[str]]:
    """`params` with each model name that is not among `installed` (casefolded names)
    left empty, so the installed default is used: the checkpoint and the controls'
    models. Also the names left out."""
    if not dataclasses.is_dataclass(params):
        return params, []
    missing: list[str] = []

    def usable(name: str) -> str:
        if name and name.casefold() not in installed:
            missing.append(name)
            return ""
        return name

    changes: dict[str, Any] = {}
    if getattr(params, "model", ""):
        changes["model"] = usable(params.model)
    controls = getattr(params, "controls", ())
    if controls:
        changes["controls"] = tuple(dataclasses.replace(c, model=usable(c.model)) for c in controls)
    return (dataclasses.replace(params, **changes) if missing else params), missing
