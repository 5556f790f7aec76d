"""Generate refuses a number out of its field's range and says what to fix (issue 15,
defect 11), for the shared settings and for a mode's own."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from plugins.diffusion import IMG2IMG
from tests.canvas_helpers import canvas_window_fixture, qt_loop  # noqa: F401 (fixtures)
from tests.test_gui_canvas_generate import choose_mode
from tests.test_gui_main_window import fill


def type_into(qtbot, spin, text: str) -> None:
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin, text)


def click_generate(win) -> None:
    QTest.mouseClick(win.prompt_panel.generate_button, Qt.MouseButton.LeftButton)


def test_generate_says_which_size_to_fix_instead_of_starting(canvas_window, qtbot):
    win = canvas_window
    fill(win, qtbot)
    type_into(qtbot, win.prompt_panel.form.widgets["width"], "99999")
    type_into(qtbot, win.prompt_panel.form.widgets["height"], "1")
    click_generate(win)
    assert not win.generation.running
    assert win.messages.kind == "error"
    assert win.messages.text == (
        "Fix the settings first: Width takes 0 (Native) or 64 to 4096 px, not 99999 px. "
        "Height takes 0 (Native) or 64 to 4096 px, not 1 px."
    )


def test_generate_checks_the_modes_own_settings_too(canvas_window, qtbot):
    win = canvas_window
    choose_mode(win, IMG2IMG.id)
    fill(win, qtbot)
    strength = win.prompt_panel.mode_forms.forms[IMG2IMG.id].widgets["strength"].spin
    type_into(qtbot, strength, "5")
    click_generate(win)
    assert not win.generation.running
    assert win.messages.text == "Fix the settings first: Strength takes 0 to 1, not 5."
