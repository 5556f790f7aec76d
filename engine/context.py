"""What a running task sees: progress reporting, cancellation, models, device, logger."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.protocol import Event, ImageData, JobCancelledError, JobProgress

if TYPE_CHECKING:
    from engine.devices import DevicePolicy
    from engine.model_cache import ModelCache
    from engine.model_store import ModelStore


@dataclass
class JobContext:
    """Handed to `task.run(params, ctx)`; one per job."""

    job_id: int
    emit: Callable[[Event], None]
    store: ModelStore
    models: ModelCache
    device_policy: Callable[[], DevicePolicy]
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("atelier.job"))
    _cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def device(self) -> DevicePolicy:
        return self.device_policy()

    def progress(self, fraction: float, stage: str, preview: ImageData | None = None) -> None:
        self.emit(JobProgress(self.job_id, min(max(fraction, 0.0), 1.0), stage, preview))

    def request_cancel(self) -> None:
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        """Raise JobCancelledError if cancel was requested; call between units of work."""
        if self._cancel.is_set():
            raise JobCancelledError()
