"""Generation on the canvas with the tiny model: select, inpaint, apply, undo; outpaint grows
the canvas; image to image of a selection; text to image fills the canvas or the selection;
bad input; reuse and regenerate a layer."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QRectF, Qt
from PySide6.QtTest import QTest

from app.model.commands import AddLayer
from app.model.layers import RasterLayer
from app.model.tiles import Rect
from app.ui.size_dialogs import new_document
from plugins.diffusion import IMG2IMG, INPAINT, OUTPAINT, TXT2IMG
from plugins.diffusion.mask_geometry import resize
from tests.canvas_helpers import (  # noqa: F401 (fixtures)
    WAIT_MS,
    canvas_window_fixture,
    drag,
    key,
    layer_named,
    qt_loop,
)
from tests.fixtures.tiny_models import copy_with_settings
from tests.test_gui_main_window import fill, pick, rescan

FAST = {"work_size": 64, "context": 8}


def choose_mode(win, task_id: str, **values) -> None:
    panel = win.prompt_panel
    QTest.mouseClick(panel.mode_buttons.button(_index(panel, task_id)), Qt.MouseButton.LeftButton)
    assert panel.mode == task_id
    panel.mode_forms.forms[task_id].set_values({**FAST, **values})


def _index(panel, task_id: str) -> int:
    return next(
        i for i, b in enumerate(panel.mode_buttons.buttons()) if b.objectName() == f"mode_{task_id}"
    )


def run_generate(win, qtbot, prompt: str = "a blue door", **values) -> None:
    fill(win, qtbot, prompt=prompt, **values)
    click_and_wait(win, qtbot)


def click_and_wait(win, qtbot) -> None:
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
    choose_mode(win, INPAINT.id, grow=0, feather=0)
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
    choose_mode(win, INPAINT.id, grow=0, feather=0)
    run_generate(win, qtbot)
    layer = win.apply_candidate()
    assert layer is not None and layer.recipe["task"] == "diffusion.inpaint"
    painted = layer.pixels.to_array()[..., 3] > 0
    assert painted[10, 20] and not painted[50, 50]


def test_inpaint_without_a_selection_says_what_to_do(canvas_window, qtbot):
    win = canvas_window
    choose_mode(win, INPAINT.id)
    fill(win, qtbot)
    QTest.mouseClick(win.prompt_panel.generate_button, Qt.MouseButton.LeftButton)
    assert not win.generation.running
    assert win.messages.kind == "error"
    assert win.messages.text == "Select or paint the area to repaint first."


def test_outpaint_grows_the_canvas_and_undo_shrinks_it(canvas_window, qtbot):
    win = canvas_window
    before = win.session.doc.composite()
    choose_mode(win, OUTPAINT.id, right=32, top=16, overlap=8)
    run_generate(win, qtbot, "more sky")
    assert win.session.doc.size == (64, 64)  # nothing changes before Apply
    layer = win.apply_candidate()
    assert win.session.doc.size == (96, 80)
    assert layer.recipe["task"] == "diffusion.outpaint"
    grown = win.session.doc.composite()
    assert grown[:16, :, 3].all() and grown[:, 64:, 3].all()  # the new area is filled
    assert np.array_equal(grown[16 + 8 :, :56], before[8:, :56])  # the old, beyond the overlap
    assert win.history_panel.labels()[-1] == "Generate: outpaint"
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
    choose_mode(win, IMG2IMG.id, strength=0.8)
    run_generate(win, qtbot, "a stone wall")
    layer = win.apply_candidate()
    assert layer.recipe["task"] == "diffusion.img2img"
    alpha = layer.pixels.to_array()[..., 3]
    assert alpha[32, 32] == 255 and alpha[2, 2] == 0 and alpha[9, 9] == 0


@pytest.mark.parametrize("background", ["Transparent", "White"])
def test_text_to_image_fills_the_canvas_and_undo_removes_it(canvas_window, qtbot, background):
    win = canvas_window
    win.files.new(new_document((512, 512), background))  # "Transparent": the start document
    before = win.session.doc.composite()
    run_generate(win, qtbot, width=128, height=128)  # the built-in demo model's size
    candidate = win.results.current
    assert candidate.image.size == (128, 128)
    assert win.canvas.candidate_rect == QRectF(0, 0, 512, 512)  # it floats over all of it

    layer = win.apply_candidate()
    assert layer.recipe["task"] == "diffusion.txt2img"
    assert win.session.doc.size == (512, 512)
    pixels = layer.pixels.to_array()
    assert layer.pixels.bbox() == Rect(0, 0, 512, 512) and (pixels[..., 3] == 255).all()
    assert np.array_equal(pixels, resize(candidate.image.pixels, (512, 512)))  # bicubic
    assert win.results.current.image.size == (128, 128)  # the strip keeps the original
    assert win.history_panel.labels()[-1] == "Generate: text to image"  # one undo step
    assert np.array_equal(win.canvas.rendered_pixels(), win.session.doc.composite())

    key(win, "Ctrl+Z")
    assert made_layers(win) == [] and win.session.doc.size == (512, 512)
    assert np.array_equal(win.session.doc.composite(), before)
    assert np.array_equal(win.canvas.rendered_pixels(), before)


def test_a_blank_canvas_takes_a_larger_picture_and_its_shape(canvas_window, qtbot):
    win = canvas_window
    win.files.new(new_document((64, 64), "Transparent"))
    run_generate(win, qtbot, width=128, height=96)  # never made smaller on a blank canvas
    layer = win.apply_candidate()
    assert win.session.doc.size == (128, 96)
    assert layer.pixels.bbox() == Rect(0, 0, 128, 96)
    assert win.history_panel.labels()[-1] == "Generate: text to image"
    key(win, "Ctrl+Z")
    assert win.session.doc.size == (64, 64) and made_layers(win) == []


def test_native_size_takes_the_selection_shape_and_fills_it(
    canvas_window, qtbot, atelier_home, tiny_models
):
    win = canvas_window
    small = atelier_home / "models/checkpoints/small"
    copy_with_settings(tiny_models / "tiny-sd15", small, {"native_size": 128})
    rescan(win, qtbot)
    key(win, "M")
    drag(win, [(8, 8), (56, 40)])
    box = win.session.doc.selection.bbox()
    assert (box.w, box.h) == (48, 32)
    fill(win, qtbot, width=0, height=0)  # "Native"
    pick(win.prompt_panel, "small")
    assert win.prompt_panel.target_size() == (128, 128)  # no shape given: square
    click_and_wait(win, qtbot)
    params = win.generation.params
    assert (params.width, params.height) == (160, 104)  # 128 x 128 pixels in the shape 3:2

    layer = win.apply_candidate()
    assert layer.pixels.bbox() == box
    assert layer.recipe["params"]["width"] == 160  # regenerating makes the same size
    with qtbot.waitSignal(win.generation.finished, timeout=WAIT_MS):
        assert win.gen.regenerate_layer(layer.id)
    qtbot.waitUntil(lambda: not win.generation.running, timeout=WAIT_MS)
    assert win.apply_candidate().pixels.bbox() == box


def test_a_picture_of_another_shape_keeps_its_aspect_in_the_selection(canvas_window, qtbot):
    win = canvas_window
    key(win, "M")
    drag(win, [(8, 8), (56, 40)])
    run_generate(win, qtbot)  # 64 x 64 into a 48 x 32 selection
    layer = win.apply_candidate()
    assert layer.pixels.bbox() == Rect(16, 8, 32, 32)  # as large as fits, centred


def test_reuse_settings_and_regenerate_after_save_and_reopen(canvas_window, qtbot, tmp_path):
    win = canvas_window
    key(win, "M")
    drag(win, [(20, 20), (44, 44)])
    choose_mode(win, INPAINT.id, grow=0, feather=0, context=16)
    run_generate(win, qtbot, "a red apple")
    first = win.apply_candidate()
    seed = first.recipe["params"]["seed"]
    path = tmp_path / "apple.atelier"
    assert win.files.save_as(path)
    win.files.new(new_document((64, 64)))
    choose_mode(win, TXT2IMG.id)
    win.prompt_panel.form.set_value("prompt", "something else")
    assert win.open_file(path)

    reopened = next(lay for lay in made_layers(win) if lay.id == first.id)
    assert reopened.recipe == first.recipe
    menu = win.layers_panel.context_menu(reopened)
    actions = {a.text(): a for a in menu.actions()}
    actions["Reuse settings"].trigger()
    assert win.prompt_panel.mode == INPAINT.id
    assert win.prompt_panel.form.value("prompt") == "a red apple"
    assert win.prompt_panel.form.value("seed") == seed
    assert win.prompt_panel.mode_forms.forms[INPAINT.id].values()["context"] == 16

    with qtbot.waitSignal(win.generation.finished, timeout=WAIT_MS):
        actions["Regenerate"].trigger()
    qtbot.waitUntil(lambda: not win.generation.running, timeout=WAIT_MS)
    again = win.apply_candidate()
    assert again.recipe["task"] == "diffusion.inpaint" and again.id != first.id
    assert again.recipe["params"]["seed"] != seed
    assert again.recipe["params"]["prompt"] == "a red apple"
    assert len(made_layers(win)) == 2


def add_made_layer(win, recipe: dict) -> RasterLayer:
    """A 16x16 white layer at (8, 8) that says `recipe` made it."""
    pixels = np.full((16, 16, 4), 255, np.uint8)
    size = win.session.doc.size
    layer = RasterLayer.from_array(pixels, size, 8, 8, name="Made", recipe=recipe)
    win.session.push(AddLayer(layer))
    return layer


def test_a_recipe_of_a_newer_task_version_says_so_and_is_reused_and_regenerated(
    canvas_window, qtbot
):
    win = canvas_window
    fill(win, qtbot)  # the tiny model, small sizes
    choose_mode(win, INPAINT.id)
    params = {"prompt": "a pear", "steps": 2, "seed": 3, "model": "tiny-sd15", "knob": 1}
    newer = {"task": TXT2IMG.id, "version": TXT2IMG.version + 1, "params": params}
    layer = add_made_layer(win, newer)

    assert win.gen.reuse_layer(layer.id)
    assert win.prompt_panel.mode == TXT2IMG.id
    assert win.prompt_panel.form.value("prompt") == "a pear"
    assert win.messages.kind == "warning"
    assert "newer version of Text to image" in win.messages.text

    win.messages.dismiss()
    with qtbot.waitSignal(win.generation.finished, timeout=WAIT_MS):
        assert win.gen.regenerate_layer(layer.id)
        assert "newer version of Text to image" in win.messages.text
    qtbot.waitUntil(lambda: not win.generation.running, timeout=WAIT_MS)
    assert win.results.current.title == "Text to image"
    assert win.results.current.rect_now() == Rect(8, 8, 16, 16)  # into the layer's bounds


def test_a_recipe_of_a_missing_task_loads_its_settings_but_cannot_regenerate(canvas_window):
    win = canvas_window
    recipe = {"task": "gone.upscale", "version": 1, "params": {"prompt": "a plum"}}
    layer = add_made_layer(win, recipe)
    assert not win.gen.regenerate_layer(layer.id)
    assert not win.generation.running and win.messages.kind == "error"
    assert "'gone.upscale', which is not installed. It cannot be regenerated." in win.messages.text

    assert win.gen.reuse_layer(layer.id)
    assert win.prompt_panel.form.value("prompt") == "a plum"
    assert win.messages.kind == "warning" and "not installed" in win.messages.text
