"""Cyclic garbage is collected on the GUI thread only, while a window is open.

Python's collector runs on whichever thread happens to allocate when a threshold is
crossed: the model scan's thread, the engine's. Collected there, a cycle holding a Qt
wrapper deletes a GUI object from the wrong thread, and the process crashed (a
segmentation fault inside "Garbage-collecting" on the scan thread, while the window
waited for the scan). So automatic collection is off while the window lives and a timer
on the GUI thread collects each generation when its threshold is crossed, as Python
would; closing the window turns automatic collection back on.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 500


class GuiThreadGarbageCollector(QObject):
    """Owned by the window: collect on the GUI thread, never on another."""

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.collect_due)
        self.timer.start(INTERVAL_MS)
        self.destroyed.connect(gc.enable)

    def collect_due(self) -> int:
        """Collect the oldest generation whose count passed its threshold; what it freed."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        for generation in (2, 1, 0):
            if counts[generation] > thresholds[generation]:
                return gc.collect(generation)
        return 0
