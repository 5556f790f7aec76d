"""Scans the model store on a thread of its own, so the window never waits for a scan.

A scan may read thousands of folder entries and open .ckpt files with torch; on the GUI
thread that would freeze the window (at start, before it even appears). The scan thread is
not the engine's: a scan must not queue behind a generation, nor a generation behind it.
"""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Signal

from engine.model_store import ModelStore

log = logging.getLogger(__name__)


class BackgroundScan(QObject):
    """Runs `store.scan()` on a daemon thread; `finished` arrives on the GUI thread with ""
    or what went wrong. A request while a scan runs asks for one more scan after it (so a
    folder added meanwhile is seen) and one `finished` for both. The thread is a daemon: a
    scan still running at quit (a slow network folder) does not keep the app alive."""

    finished = Signal(str)

    def __init__(self, store: ModelStore, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self._lock = threading.Lock()
        self._running = False
        self._again = False

    @property
    def running(self) -> bool:
        with self._lock:
            return self._running

    def start(self) -> None:
        """Scan now, or once more after the scan that is running."""
        with self._lock:
            if self._running:
                self._again = True
                return
            self._running = True
        threading.Thread(target=self._scan, name="atelier-model-scan", daemon=True).start()

    def _scan(self) -> None:
        error = ""
        while True:
            try:
                self.store.scan()
                error = ""
            except Exception as exc:  # a bug in the scan must not leave the picker waiting
                log.exception("the model scan failed")
                error = str(exc) or type(exc).__name__
            with self._lock:
                if not self._again:
                    self._running = False
                    break
                self._again = False
        try:
            self.finished.emit(error)  # queued to the GUI thread
        except RuntimeError:  # the window is gone: nobody is waiting
            log.debug("model scan finished after its window closed")
