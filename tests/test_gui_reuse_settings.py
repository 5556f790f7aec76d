"""Reuse settings round-trips every mode: a picture made in each generate mode, exported to a
PNG and opened again, puts that mode and its own settings back into the panel."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.model.image_files import read_generation_info
from plugins.diffusion import IMG2IMG, INPAINT, OUTPAINT, TXT2IMG
from tests.canvas_helpers import canvas_window_fixture, drag, key, qt_loop  # noqa: F401
from tests.test_gui_canvas_generate import choose_mode, run_generate

SHARED = {"steps": 4, "negative_prompt": "dull", "cfg_scale": 5.5, "scheduler": "DDIM", "seed": 43}
OWN = {
    TXT2IMG.id: {},
    IMG2IMG.id: {"strength": 0.35, "work_size": 64},
    INPAINT.id: {"strength": 0.85, "grow": 4, "feather": 12, "context": 16, "work_size": 64},
    OUTPAINT.id: {"left": 16, "top": 8, "right": 0, "bottom": 24, "overlap": 4, "strength": 0.9},
}


@pytest.mark.parametrize("task_id", list(OWN))
def test_reuse_settings_of_an_exported_png_selects_its_mode_and_settings(
    canvas_window, qtbot, tmp_path, task_id
):
    win = canvas_window
    panel = win.prompt_panel
    if task_id == INPAINT.id:
        key(win, "M")
        drag(win, [(16, 16), (48, 40)])
    choose_mode(win, task_id, **OWN[task_id])
    run_generate(win, qtbot, "a green kite", **SHARED)
    layer = win.apply_candidate()
    made = panel.mode_forms.forms[task_id].values()
    path = win.files.export(tmp_path / "made.png", layer_id=layer.id)
    assert read_generation_info(path).recipe["task"] == task_id

    other = IMG2IMG.id if task_id == TXT2IMG.id else TXT2IMG.id
    choose_mode(win, other)
    panel.form.reset()
    for form in panel.mode_forms.forms.values():
        form.basic.reset()
        form.advanced.reset()
    win.session.history.mark_clean()
    assert win.open_file(path)
    assert "Reuse settings" in win.messages.action_button.text()
    QTest.mouseClick(win.messages.action_button, Qt.MouseButton.LeftButton)

    assert panel.mode == task_id
    assert panel.mode_buttons.checkedButton().objectName() == f"mode_{task_id}"
    values = panel.mode_values()
    assert values["prompt"] == "a green kite"
    assert {k: values[k] for k in SHARED} == SHARED
    assert values["model"] == "tiny-sd15"
    assert panel.mode_forms.forms[task_id].values() == made
    assert {k: made[k] for k in OWN[task_id]} == OWN[task_id]
    assert win.messages.kind != "warning"


def test_reuse_of_an_image_to_image_recipe_keeps_the_text_to_image_size(canvas_window):
    """The work size an image to image recipe records is not a Width for text to image."""
    win = canvas_window
    panel = win.prompt_panel
    panel.form.set_values({"width": 0, "height": 0})
    params = {"prompt": "a fox", "strength": 0.4, "width": 512, "height": 512, "seed": 5}
    win.reuse_recipe({"task": IMG2IMG.id, "version": IMG2IMG.version, "params": params})
    assert panel.mode == IMG2IMG.id
    assert panel.mode_values()["strength"] == 0.4 and panel.form.value("seed") == 5
    assert (panel.form.value("width"), panel.form.value("height")) == (0, 0)
