"""The foreground and background colours (issue 15, defect 10): black on white at first,
shown as two swatches, swapped with X, remembered across windows in settings.json; a
settings file that cannot be written costs the memory, never the painting."""

from __future__ import annotations

import json

import pytest
from PySide6.QtGui import QIcon

from engine.home import settings_path
from tests.canvas_helpers import (  # noqa: F401 (fixtures)
    canvas_window_fixture,
    close_window,
    diffusion_registry,
    drag,
    key,
    layer_named,
    make_store,
    make_window,
    qt_loop,
)

WHITE, BLACK = (255, 255, 255), (0, 0, 0)


def swatch_rgb(icon: QIcon) -> tuple[int, int, int]:
    image = icon.pixmap(32, 32).toImage()
    color = image.pixelColor(image.width() // 2, image.height() // 2)
    return color.red(), color.green(), color.blue()


def saved_colors(home) -> object:
    path = settings_path(home)
    return json.loads(path.read_text()).get("brush_colors") if path.is_file() else None


def paint_line(win, y: int) -> tuple[int, ...]:
    """Brush a line across the "Paint" layer at row `y`; the painted RGBA in its middle."""
    win.session.set_active(layer_named(win, "Paint").id)
    win.toolbox.choose("brush")
    drag(win, [(10, y), (30, y), (50, y)])
    return tuple(layer_named(win, "Paint").pixels.to_array()[y, 30])


def test_black_on_white_at_first_shown_as_two_swatches(canvas_window):
    win = canvas_window
    assert (win.canvas.settings.color, win.canvas.settings.background) == (BLACK, WHITE)
    options = win.tool_options
    assert swatch_rgb(options.color_button.icon()) == BLACK
    assert swatch_rgb(options.background_button.icon()) == WHITE
    assert paint_line(win, 20) == (*BLACK, 255)


def test_x_swaps_the_colours_the_brush_paints_and_the_edit_menu_lists_it(canvas_window):
    win = canvas_window
    key(win, "X")
    assert (win.canvas.settings.color, win.canvas.settings.background) == (WHITE, BLACK)
    assert swatch_rgb(win.tool_options.color_button.icon()) == WHITE
    assert paint_line(win, 20) == (*WHITE, 255)
    key(win, "X")
    assert paint_line(win, 40) == (*BLACK, 255)
    edit_menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&Edit")
    swap = win.tool_options.swap_action
    assert swap in edit_menu.actions() and swap.shortcut().toString() == "X"


def test_the_last_colours_are_remembered_in_a_new_window(
    canvas_window, qtbot, atelier_home, tmp_path, tiny_config_root
):
    win = canvas_window
    win.canvas.settings.color = (200, 30, 30)
    key(win, "X")  # foreground white, background (200, 30, 30)
    remembered = {"foreground": [255, 255, 255], "background": [200, 30, 30]}
    qtbot.waitUntil(lambda: saved_colors(atelier_home) == remembered, timeout=3000)

    store = make_store(atelier_home, tmp_path, tiny_config_root)
    second = make_window(qtbot, diffusion_registry(), store, close=False)
    try:
        assert second.canvas.settings.color == WHITE
        assert second.canvas.settings.background == (200, 30, 30)
        assert swatch_rgb(second.tool_options.background_button.icon()) == (200, 30, 30)
    finally:
        close_window(second)


@pytest.mark.usefixtures("qt_loop")
def test_unusable_remembered_colours_are_passed_over(
    qtbot, atelier_home, tmp_path, tiny_config_root
):
    colors = {"foreground": [1, 2], "background": [10, 20, 30]}
    settings_path(atelier_home).write_text(json.dumps({"brush_colors": colors}))
    store = make_store(atelier_home, tmp_path, tiny_config_root)
    win = make_window(qtbot, diffusion_registry(), store, close=False)
    try:
        assert (win.canvas.settings.color, win.canvas.settings.background) == (BLACK, (10, 20, 30))
    finally:
        close_window(win)


def test_a_settings_file_that_cannot_be_written_does_not_stop_painting(canvas_window, caplog):
    win = canvas_window
    settings_path().mkdir()  # a folder where settings.json should be: writing it fails
    key(win, "X")
    win.tool_options.remember_colors()
    assert "cannot save the settings" in caplog.text
    assert paint_line(win, 20) == (*WHITE, 255)
