"""The pace at which a job's live previews are shown, so that only those are made and checked.

Every preview that leaves the engine passes the output check (engine.safety_step), which
costs about as much as a denoising step on the CPU. So a preview is made, checked and sent
only when the last one shown is at least `interval_s` old (counted from when it was sent,
its check included), and not at all where nothing shows previews (the command line).
"""

from __future__ import annotations

import time

PREVIEW_INTERVAL_S = 0.25  # the window shows at most four previews a second; DESIGN.md §3


class PreviewPace:
    """One job's preview clock: `due()` says whether a preview made now would be shown,
    `shown()` restarts the clock. `interval_s=None`: nothing shows previews."""

    def __init__(self, interval_s: float | None = PREVIEW_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self._last_shown: float | None = None

    def due(self) -> bool:
        if self.interval_s is None:
            return False
        if self._last_shown is None:
            return True
        return time.monotonic() - self._last_shown >= self.interval_s

    def shown(self) -> None:
        """A preview was just sent: the next one is due `interval_s` from now."""
        self._last_shown = time.monotonic()
