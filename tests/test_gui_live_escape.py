"""Esc and Live painting: Esc cancels the running Generate first, and with nothing else to
cancel turns Live off, its waiting job dropped."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.canvas_helpers import WAIT_MS, canvas_window_fixture, key, qt_loop  # noqa: F401
from tests.test_gui_main_window import fill


def test_esc_cancels_a_running_generate_first_then_turns_live_off(canvas_window, qtbot):
    win, live = canvas_window, canvas_window.live
    live.set_on(True)
    fill(win, qtbot, "a blue door", steps=40)
    QTest.mouseClick(win.prompt_panel.generate_button, Qt.MouseButton.LeftButton)
    assert win.generation.running
    key(win, "Esc")
    assert not win.generation.running and live.on  # the Generate was what Esc cancelled
    key(win, "Esc")
    assert not live.on
    assert live.scheduler.running is None and not live.timer.isActive()
    qtbot.waitUntil(lambda: not win.engine.busy, timeout=WAIT_MS)


def test_esc_with_live_on_and_nothing_running_turns_live_off(canvas_window):
    win, live = canvas_window, canvas_window.live
    key(win, "Ctrl+Shift+L")
    assert live.on and live.timer.isActive()  # its first job waits for the quiet time
    key(win, "Esc")
    assert not live.on and not live.timer.isActive()
    key(win, "Esc")  # Live stays off
    assert not live.on
