"""The Generate panel says what the current mode will work on, kept true as the selection,
the mode and its settings change; image to image repaints the whole canvas when nothing
is selected."""

from __future__ import annotations

import numpy as np

from app.model.tiles import Rect
from plugins.diffusion import IMG2IMG, INPAINT, OUTPAINT, TXT2IMG
from tests.canvas_helpers import canvas_window_fixture, drag, key, qt_loop  # noqa: F401
from tests.test_gui_canvas_generate import choose_mode, run_generate


def region(win) -> str:
    label = win.prompt_panel.region_label
    return label.text() if label.isVisible() else ""


def test_the_region_line_follows_the_mode_and_the_selection(canvas_window):
    win = canvas_window
    choose_mode(win, IMG2IMG.id)
    assert region(win) == "Repaints the whole canvas (64 x 64)"
    key(win, "M")
    drag(win, [(16, 16), (48, 40)])
    assert region(win).startswith("Repaints the selection (32 x 24)")
    choose_mode(win, INPAINT.id)
    assert region(win) == "Repaints the selection (32 x 24)"
    choose_mode(win, TXT2IMG.id)
    assert region(win) == "Fills the selection's bounds (32 x 24)"
    key(win, "Ctrl+D")
    assert region(win) == "Fills the whole canvas (64 x 64)"
    choose_mode(win, INPAINT.id)
    assert region(win).startswith("Select or paint the area")
    choose_mode(win, OUTPAINT.id, left=16)
    assert region(win) == "Fills a new border (16 px left); the canvas becomes 80 x 64"
    win.prompt_panel.mode_forms.forms[OUTPAINT.id].set_values({"bottom": 8})
    assert region(win).endswith("the canvas becomes 80 x 72")


def test_image_to_image_without_a_selection_repaints_the_whole_canvas(canvas_window, qtbot):
    win = canvas_window
    choose_mode(win, IMG2IMG.id, strength=0.8)
    assert region(win).startswith("Repaints the whole canvas")
    run_generate(win, qtbot, "a stone wall")
    layer = win.apply_candidate()
    assert layer.recipe["task"] == IMG2IMG.id
    assert layer.pixels.bbox() == Rect(0, 0, 64, 64)
    assert (layer.pixels.to_array()[..., 3] == 255).all()
    assert not np.array_equal(layer.pixels.to_array()[..., :3], np.full((64, 64, 3), 255))
