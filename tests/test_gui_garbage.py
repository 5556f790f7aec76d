"""Cyclic garbage is collected on the GUI thread while a window is open (app/ui/gui_garbage)."""

from __future__ import annotations

import gc
import threading

from PySide6.QtWidgets import QWidget

from app.ui.gui_garbage import GuiThreadGarbageCollector


class Cycle:
    def __init__(self) -> None:
        self.me = self
        self.thread = None

    def __del__(self) -> None:
        Cycle.freed_on.append(threading.current_thread())


Cycle.freed_on = []


def test_cycles_are_freed_on_the_gui_thread_and_automatic_collection_returns(qtbot):
    window = QWidget()
    collector = GuiThreadGarbageCollector(window)
    assert not gc.isenabled()
    made = threading.Thread(target=lambda: [Cycle() for _ in range(3 * gc.get_threshold()[0])])
    made.start()
    made.join()
    assert Cycle.freed_on == []  # the other thread allocated past the threshold: no collection
    qtbot.waitUntil(lambda: len(Cycle.freed_on) > 0, timeout=5000)
    collector.collect_due()
    gc.collect()
    assert set(Cycle.freed_on) == {threading.main_thread()}
    window.deleteLater()
    qtbot.waitUntil(gc.isenabled, timeout=5000)
