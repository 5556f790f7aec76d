"""Generation on the canvas with the tiny model: select, inpaint, apply, undo; outpaint grows
the canvas; image to image of a selection; bad input; reuse and regenerate a layer."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.model.layers import RasterLayer
from app.ui.size_dialogs import new_document
from tests.canvas_helpers import (  # noqa: F401 (fixtures)
    WAIT_MS,
    canvas_window_fixture,
    drag,
    key,
    layer_named,
    qt_loop,
)
from tests.test_gui_main_window import fill

FAST = {"work_size": 64, "context": 8}


def choose_mode(win, mode: str, **values) -> None:
    panel = win.prompt_panel
    QTest.mouseClick(panel.mode_buttons.button(_index(panel, mode)), Qt.MouseButton.LeftButton)
    assert panel.mode == mode
    panel.mode_forms.forms[mode].set_values({**FAST, **values})


def _index(panel, mode: str) -> int:
    return next(
        i for i, b in enumerate(panel.mode_buttons.buttons()) if b.objectName() == f"mode_{mode}"
    )


def run_generate(win, qtbot, prompt: str = "a blue door") -> None:
    fill(win, qtbot, prompt=prompt)
    with qtbot.waitSignal(win.generation.finished, timeout=WAIT_MS):
        QTest.mouseClick(win.prompt_panel.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not win.generation.running, timeout=WAIT_MS)


def made_layers(win) -> list[RasterLayer]:
    return [lay for lay in win.session.doc.raster_layers() if lay.recipe]


def test_select_inpaint_apply_and_undo(canvas_window, qtbot):
    win = canvas_window
    key(win, "M")
    drag(win, [(16, 16), (48, 40)])
    mask = win.session.doc.selection.mask.copy()
    before = win.session.doc.composite()
    choose_mode(win, "inpaint", grow=0, feather=0)
    run_generate(win, qtbot)
    assert win.canvas.candidate is not None and win.canvas.preview.isVisible()
    assert win.results.count() == 1

    QTest.mouseClick(win.apply_button, Qt.MouseButton.LeftButton)
    (layer,) = made_layers(win)
    assert layer.recipe["task"] == "diffusion.inpaint"
    assert layer.recipe["params"]["prompt"] == "a blue door"
    assert win.session.active is layer and not win.canvas.preview.isVisible()
    after = win.session.doc.composite()
    outside = mask == 0
    assert np.array_equal(after[outside], before[outside])
    assert not np.array_equal(after[mask == 255], before[mask == 255])
    assert layer.pixels.bbox() is not None and not layer.pixels.to_array()[outside].any()

    key(win, "Ctrl+Z")
    assert made_layers(win) == []
    assert np.array_equal(win.session.doc.composite(), before)
    assert np.array_equal(win.canvas.rendered_pixels(), before)


def test_inpaint_a_painted_mask_layer(canvas_window, qtbot):
    win = canvas_window
    win.layer_actions.new_mask.trigger()
    assert win.session.active.name == "Inpaint mask"
    key(win, "B")
    win.canvas.settings.size = 10
    drag(win, [(10, 10), (30, 10)])
    choose_mode(win, "inpaint", grow=0, feather=0)
    run_generate(win, qtbot)
    layer = win.apply_candidate()
    assert layer is not None and layer.recipe["task"] == "diffusion.inpaint"
    painted = layer.pixels.to_array()[..., 3] > 0
    assert painted[10, 20] and not painted[50, 50]


def test_inpaint_without_a_selection_says_what_to_do(canvas_window, qtbot):
    win = canvas_window
    choose_mode(win, "inpaint")
    fill(win, qtbot)
    QTest.mouseClick(win.prompt_panel.generate_button, Qt.MouseButton.LeftButton)
    assert not win.generation.running
    assert win.messages.kind == "error"
    assert win.messages.text == "Select or paint the area to repaint first."


def test_outpaint_grows_the_canvas_and_undo_shrinks_it(canvas_window, qtbot):
    win = canvas_window
    before = win.session.doc.composite()
    choose_mode(win, "outpaint", right=32, top=16, overlap=8)
    run_generate(win, qtbot, "more sky")
    assert win.session.doc.size == (64, 64)  # nothing changes before Apply
    layer = win.apply_candidate()
    assert win.session.doc.size == (96, 80)
    assert layer.recipe["task"] == "diffusion.outpaint"
    grown = win.session.doc.composite()
    assert grown[:16, :, 3].all() and grown[:, 64:, 3].all()  # the new area is filled
    assert np.array_equal(grown[16 + 8 :, :56], before[8:, :56])  # the old, beyond the overlap
    assert win.history_panel.labels()[-1] == "Outpaint: new layer"
    assert np.array_equal(win.canvas.rendered_pixels(), grown)
    key(win, "Ctrl+Z")
    assert win.session.doc.size == (64, 64) and made_layers(win) == []
    assert np.array_equal(win.canvas.rendered_pixels(), before)
    key(win, "Ctrl+Y")
    assert win.session.doc.size == (96, 80)


def test_image_to_image_of_a_selection_stays_inside_it(canvas_window, qtbot):
    win = canvas_window
    key(win, "O")
    drag(win, [(8, 8), (56, 56)])
    choose_mode(win, "img2img", strength=0.8)
    run_generate(win, qtbot, "a stone wall")
    layer = win.apply_candidate()
    assert layer.recipe["task"] == "diffusion.img2img"
    alpha = layer.pixels.to_array()[..., 3]
    assert alpha[32, 32] == 255 and alpha[2, 2] == 0 and alpha[9, 9] == 0


def test_text_to_image_on_a_blank_canvas_takes_its_size(canvas_window, qtbot):
    win = canvas_window
    win.files.new(new_document((512, 512), "Transparent"))
    run_generate(win, qtbot)
    layer = win.apply_candidate()
    assert win.session.doc.size == (64, 64)
    assert layer.recipe["task"] == "diffusion.txt2img"
    key(win, "Ctrl+Z")
    assert win.session.doc.size == (512, 512)


def test_reuse_settings_and_regenerate_after_save_and_reopen(canvas_window, qtbot, tmp_path):
    win = canvas_window
    key(win, "M")
    drag(win, [(20, 20), (44, 44)])
    choose_mode(win, "inpaint", grow=0, feather=0, context=16)
    run_generate(win, qtbot, "a red apple")
    first = win.apply_candidate()
    seed = first.recipe["params"]["seed"]
    path = tmp_path / "apple.atelier"
    assert win.files.save_as(path)
    win.files.new(new_document((64, 64)))
    choose_mode(win, "txt2img")
    win.prompt_panel.form.set_value("prompt", "something else")
    assert win.open_file(path)

    reopened = next(lay for lay in made_layers(win) if lay.id == first.id)
    assert reopened.recipe == first.recipe
    menu = win.layers_panel.context_menu(reopened)
    actions = {a.text(): a for a in menu.actions()}
    actions["Reuse settings"].trigger()
    assert win.prompt_panel.mode == "inpaint"
    assert win.prompt_panel.form.value("prompt") == "a red apple"
    assert win.prompt_panel.form.value("seed") == seed
    assert win.prompt_panel.mode_forms.forms["inpaint"].values()["context"] == 16

    with qtbot.waitSignal(win.generation.finished, timeout=WAIT_MS):
        actions["Regenerate"].trigger()
    qtbot.waitUntil(lambda: not win.generation.running, timeout=WAIT_MS)
    again = win.apply_candidate()
    assert again.recipe["task"] == "diffusion.inpaint" and again.id != first.id
    assert again.recipe["params"]["seed"] != seed
    assert again.recipe["params"]["prompt"] == "a red apple"
    assert len(made_layers(win)) == 2
