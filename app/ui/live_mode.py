"""Live painting in the window: the Live toggle, its quiet-time timer and the live jobs.

While Live is on, every change the live picture depends on (a stroke ended, undo or redo, a
layer edit, a new or resized document, the Generate panel's settings) restarts a short quiet
time (app.model.live_jobs.LiveScheduler); then the panel's mode builds the request
(app.model.live_settings: the seed fixed, few steps) and it runs on the engine, beside any
Generate. The seed field's value is kept; at -1 one seed is drawn when Live turns on and
kept until it turns off. The newest job's step previews and result go to the Live view
(app.ui.live_preview), never to the results strip or History; its Apply adds the result as a
new layer in one undo step, as the strip's Apply does (CanvasGeneration.apply). Esc turns Live
off when the window runs no other job to cancel (MainWindow.cancel: those go first).
"""

from __future__ import annotations

import math
import random
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence

from app.model.candidates import Candidate
from app.model.canvas_areas import fill_target
from app.model.live_jobs import LiveJob, LiveScheduler
from app.model.live_settings import live_request, live_values
from app.model.requests import Request, RequestError
from app.ui.live_preview import OFF_TEXT, LivePreview
from engine.protocol import (
    Event,
    JobCancelled,
    JobFailed,
    JobFinished,
    JobProgress,
    JobQueued,
    JobStarted,
)
from plugins.diffusion.params import model_defaults

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow

SHORTCUT = "Ctrl+Shift+L"
SEEDS = 2**32


class LiveMode(QObject):
    """Turns Live on and off, schedules the live jobs and shows the newest one's events."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.w = window
        self.scheduler = LiveScheduler(window.engine)
        self.seed: int | None = None  # drawn when Live turns on with the seed field at -1
        self.candidate: Candidate | None = None  # the shown result, for Apply
        self.action = QAction("&Live painting", self)
        self.action.setCheckable(True)
        self.action.setShortcut(QKeySequence(SHORTCUT))
        self.action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.action.setToolTip(
            f"Live painting: the picture follows each stroke ({SHORTCUT}; Esc turns it off)"
        )
        self.action.toggled.connect(self._on_toggled)
        self.view = LivePreview(self.action)
        self.view.apply_requested.connect(self.apply)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self._run_due)
        self._settings = ""  # the line saying which settings the newest job runs with
        self._connect()

    def _connect(self) -> None:
        session, panel = self.w.session, self.w.prompt_panel
        for signal in (
            session.history_changed,  # strokes, undo, redo, layer edits
            session.document_replaced,
            panel.form.changed,
            panel.mode_forms.changed,
            panel.mode_changed,
            panel.model_picker.currentIndexChanged,
        ):
            signal.connect(self.changed)
        session.document_replaced.connect(self._forget_result)
        self.w.bridge.event_posted.connect(self._on_event)

    @property
    def on(self) -> bool:
        return self.action.isChecked()

    def set_on(self, on: bool) -> None:
        self.action.setChecked(on)

    def _on_toggled(self, on: bool) -> None:
        if on:
            self.seed = random.randrange(SEEDS)
            self.view.show_status("Live: the picture follows each stroke.", "")
            self.changed()
        else:
            self.timer.stop()
            self.scheduler.reset()  # the running job is cancelled; the shown picture stays
            self.view.show_status(OFF_TEXT)
            self.view.show_progress(0.0)

    # -- scheduling ------------------------------------------------------------------------

    def changed(self, *_: object) -> None:
        """Something the live picture depends on changed: its job comes after a quiet time."""
        if not self.on:
            return
        now = time.monotonic()
        self.scheduler.changed(now)
        self._arm(now)

    def _arm(self, now: float) -> None:
        wait = self.scheduler.wait_s(now)
        if wait is not None:
            self.timer.start(math.ceil(wait * 1000))

    def _run_due(self) -> None:
        now = time.monotonic()
        try:
            job = self.scheduler.run_due(now, self._build)
        except (RequestError, TypeError) as exc:
            self.view.show_status(str(exc))
            self.view.show_progress(0.0)
            return
        if job is not None:
            self.view.show_status("Painting\N{HORIZONTAL ELLIPSIS}", self._settings)
        self._arm(now)  # a timer that fired early waits the rest

    def _build(self) -> Request:
        panel, doc = self.w.prompt_panel, self.w.session.doc
        values = panel.mode_values()
        seed = values.get("seed", -1)
        entry = panel.selected_model()
        own = model_defaults(entry.settings.defaults) if entry else {}
        values, self._settings = live_values(values, seed if seed >= 0 else self.seed, own)
        size = panel.target_size(fill_target(doc).size)
        return live_request(panel.tasks, panel.tasks[panel.mode], values, doc, size)

    # -- events ----------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        job = self.scheduler.accept(event)
        if job is None:
            return
        match event:
            case JobQueued(position=position) if position > 0:
                self.view.show_status("Waiting for the job ahead\N{HORIZONTAL ELLIPSIS}")
            case JobStarted():
                self.view.show_progress(0.0)
                self.view.show_status("Painting\N{HORIZONTAL ELLIPSIS}")
            case JobProgress(fraction=fraction, preview=image):
                self.view.show_progress(fraction)
                if image is not None:
                    self.view.show_image(image)
            case JobFinished(outputs=outputs):
                self._show_result(job, outputs)
            case JobFailed(message=message):
                self.view.show_status(message)
            case JobCancelled():
                self.view.show_status("Cancelled; the next stroke paints again.")

    def _show_result(self, job: LiveJob, outputs: tuple) -> None:
        candidates = [c for c in job.request.candidates(outputs) if isinstance(c, Candidate)]
        self.candidate = candidates[0] if candidates else None  # pictures only: no clips
        if self.candidate is not None:
            self.view.show_image(self.candidate.image)
        self.view.show_progress(1.0)
        self.view.set_can_apply(self.candidate is not None)
        self.view.show_status("Up to date. Apply adds it as a layer.")

    def _forget_result(self) -> None:
        """A new or resized document: the shown picture no longer belongs to it."""
        self.candidate = None
        self.view.clear()

    # -- applying --------------------------------------------------------------------------

    def apply(self) -> None:
        """Add the shown live picture to the canvas as a new layer (one undo step)."""
        if self.candidate is not None:
            self.w.gen.apply(self.candidate)
