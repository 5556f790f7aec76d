"""What a running task sees: progress reporting, cancellation, models, device, logger."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.preview_pace import PreviewPace
from engine.protocol import AudioData, Event, ImageData, JobCancelledError, JobProgress

if TYPE_CHECKING:
    from engine.devices import DevicePolicy
    from engine.model_cache import ModelCache
    from engine.model_entry import ModelEntry
    from engine.model_store import ModelStore
    from plugins.api import ModelFamily


@dataclass
class JobContext:
    """Handed to `task.run(params, ctx)`; one per job."""

    job_id: int
    emit: Callable[[Event], None]
    store: ModelStore
    models: ModelCache
    device_policy: Callable[[], DevicePolicy]
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("atelier.job"))
    models_used: list[ModelEntry] = field(default_factory=list)  # go into every recipe
    _cancel: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)  # see stop_requested
    preview_pace: PreviewPace = field(default_factory=PreviewPace)

    @property
    def device(self) -> DevicePolicy:
        return self.device_policy()

    @property
    def families(self) -> Mapping[str, ModelFamily]:
        """The model families the registered plugins load, by id."""
        return self.models.families

    def model(self, entry: ModelEntry) -> Any:
        """`entry` loaded by its family's loader and placed by the device policy (cached);
        it is named, with its hash, in the recipe of every output of this job."""
        self.uses(entry)
        return self.models.model(entry, self.device)

    def view(self, entry: ModelEntry, name: str, make: Callable[[Any], Any]) -> Any:
        """A model built by `make` from `entry`'s loaded model and kept with it (see
        ModelCache.view); `entry` goes into the recipes as with `model`."""
        self.uses(entry)
        return self.models.view(entry, self.device, name, make)

    def uses(self, entry: ModelEntry) -> None:
        """Record that this job used `entry` (model() and view() do it), for the recipes."""
        if entry not in self.models_used:
            self.models_used.append(entry)

    def preview_due(self) -> bool:
        """Whether a preview sent now would be shown (engine.preview_pace): make one only
        then, as `progress` drops any other unseen (and so unchecked)."""
        return self.preview_pace.due()

    def progress(
        self,
        fraction: float,
        stage: str,
        preview: ImageData | None = None,
        metrics: Mapping[str, float] | None = None,
        audio: AudioData | None = None,
    ) -> None:
        """Report progress; `preview` (and `audio`, the sound made so far) goes with it
        only when one is due (see preview_due); `metrics`: numbers for a panel to plot
        (JobProgress.metrics)."""
        if (preview is not None or audio is not None) and not self.preview_pace.due():
            preview = audio = None
        fraction = min(max(fraction, 0.0), 1.0)
        metrics = dict(metrics or {})
        self.emit(JobProgress(self.job_id, fraction, stage, preview, metrics, audio))
        if preview is not None or audio is not None:
            self.preview_pace.shown()  # after the engine checked and sent it

    def request_cancel(self) -> None:
        self._cancel.set()

    @property
    def stop_requested(self) -> bool:
        """Whether the job was asked to stop and keep what it has made (Engine.stop): a
        task that can finish early ends with that and a warning saying so; the others
        run to the end."""
        return self._stop.is_set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        """Raise JobCancelledError if cancel was requested; call between units of work."""
        if self._cancel.is_set():
            raise JobCancelledError()
