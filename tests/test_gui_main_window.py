"""The main window, driven like a designer would: real buttons, the real engine thread.

The asyncio loop is qasync's, on the pytest-qt QApplication: `qt_loop` makes it the running
loop of the test, and qtbot.waitUntil / waitSignal spin Qt, which runs the loop's callbacks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import qasync
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices

from app.model.document import Document
from app.model.image_files import read_text_chunks
from app.ui.empty_state import EXAMPLE_PROMPT
from app.ui.images import rgba_from_qimage
from app.ui.main_window import MainWindow
from app.ui.prompt_panel import seeds_text
from app.ui.size_dialogs import new_document
from engine.model_store import ModelStore
from engine.protocol import ImageData
from engine.worker import Engine
from plugins.diffusion import TXT2IMG
from plugins.diffusion import plugin as diffusion_plugin
from plugins.image_export import plugin as image_export_plugin
from plugins.registry import Registry
from tests.fixtures.tiny_models import copy_with_settings
from tests.image_checks import psnr

WAIT_MS = 90_000  # generous: CPU runners are slow and shared; waits end as soon as they can


@pytest.fixture
def qt_loop(qapp):
    """A qasync loop on the test QApplication, running for the test's duration."""
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    asyncio.events._set_running_loop(loop)  # what loop.run_forever() does around app.exec()
    yield loop
    for task in asyncio.all_tasks(loop):
        task.cancel()
    for _ in range(5):  # let cancelled tasks run their finally blocks
        qapp.processEvents()
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)
    loop.close()


def make_store(home: Path, tmp_path: Path, config_root: Path | None = None) -> ModelStore:
    return ModelStore(
        home=home,
        extra_folders=[],
        hf_cache=tmp_path / "no-hf-cache",
        builtin_dir=tmp_path / "no-builtin",
        config_root=config_root,
    )


def make_window(qtbot, registry: Registry, store: ModelStore, close: bool = True) -> MainWindow:
    """A shown window whose model picker is filled (the first model scan is in); pytest-qt
    closes it after the test unless `close` is False (then the caller closes it: a window
    with unsaved changes asks first, which would wait forever)."""
    window = MainWindow(registry, store, Engine.from_registry(registry, store=store))
    if close:
        qtbot.addWidget(window)
    window.show()
    wait_for_models(window, qtbot)
    return window


def wait_for_models(window: MainWindow, qtbot) -> None:
    """Wait until the picker shows the last model scan's result."""
    qtbot.waitUntil(lambda: not window.scanning_models, timeout=WAIT_MS)


def rescan(window: MainWindow, qtbot) -> None:
    """Rescan the model folders, as the menu does, and wait for the picker to fill."""
    window.refresh_models()
    wait_for_models(window, qtbot)


def close_window(window: MainWindow) -> None:
    """Close without the "save changes?" question, and stop the engine."""
    window.session.history.mark_clean()
    window.session.set_document(window.session.doc)  # also forgets recovered-work state
    window.close()
    window.shutdown_engine()


def diffusion_registry() -> Registry:
    """The diffusion tasks, and the image exporters File > Export offers."""
    registry = Registry()
    registry.add(diffusion_plugin)
    registry.add(image_export_plugin)
    return registry


@pytest.fixture
def window(qtbot, qt_loop, atelier_home, tiny_config_root, tmp_path):
    store = make_store(atelier_home, tmp_path, tiny_config_root)
    win = make_window(qtbot, diffusion_registry(), store, close=False)
    yield win
    close_window(win)


def fill(window: MainWindow, qtbot, prompt: str = "a red circle", **values) -> None:
    """Type the prompt and set small, fast settings through the panel's widgets."""
    panel = window.prompt_panel
    panel.model_picker.setCurrentIndex(panel.model_picker.findData("tiny-sd15"))
    prompt_edit = panel.form.widgets["prompt"]
    prompt_edit.clear()
    qtbot.keyClicks(prompt_edit, prompt)
    panel.form.set_values({"steps": 2, "width": 64, "height": 64, "seed": 7, **values})


def click_generate(window: MainWindow, qtbot) -> None:
    qtbot.mouseClick(window.prompt_panel.generate_button, Qt.MouseButton.LeftButton)


def wait_idle(window: MainWindow, qtbot) -> None:
    qtbot.waitUntil(lambda: not window.generation.running, timeout=WAIT_MS)


def generate(window: MainWindow, qtbot, **values) -> ImageData:
    """Generate with the panel; returns the candidate floating over the canvas."""
    fill(window, qtbot, **values)
    with qtbot.waitSignal(window.generation.finished, timeout=WAIT_MS):
        click_generate(window, qtbot)
    wait_idle(window, qtbot)
    return window.canvas.candidate


def shown_pixels(window: MainWindow) -> np.ndarray:
    """The image floating over the canvas (a preview or a candidate)."""
    return rgba_from_qimage(window.canvas.shown_pixmap().toImage())


def test_generate_shows_the_image_progress_and_a_preview(window, qtbot):
    panel, progress, previews = window.prompt_panel, [], []
    window.generation.progress.connect(lambda fraction, stage: progress.append(fraction))
    window.generation.preview.connect(previews.append)
    fill(window, qtbot)
    with qtbot.waitSignal(window.generation.finished, timeout=WAIT_MS):
        click_generate(window, qtbot)
        assert not panel.generate_button.isEnabled() and panel.cancel_button.isEnabled()
    wait_idle(window, qtbot)
    image = window.canvas.candidate
    assert image.size == (64, 64)
    assert np.array_equal(shown_pixels(window), image.pixels)
    assert progress[-1] == 1.0 and any(0 < f < 1 for f in progress)
    assert previews and isinstance(previews[0], ImageData)
    assert panel.generate_button.isEnabled() and not panel.cancel_button.isEnabled()
    assert panel.progress.value() == panel.progress.maximum()
    assert "Seed used: 7" in panel.seed_label.text()
    panel.form.set_value("seed", -1)
    panel.seed_label.linkActivated.emit("reuse")
    assert panel.form.value("seed") == 7
    assert window.results.count() == 1 and window.results.images[0] is image


def test_a_batch_names_its_seeds_in_a_short_line():
    assert seeds_text([7]) == "Seed used: 7"
    assert seeds_text([1612887061, 1612887062, 1612887063, 1612887064]) == (
        "Seeds used: 1612887061 to 1612887064"
    )
    assert seeds_text([5, 9, 2, 8]) == "Seeds used: 5, 9, 2, \N{HORIZONTAL ELLIPSIS}"


def test_cancel_keeps_the_previous_image_and_the_app_usable(window, qtbot):
    first = generate(window, qtbot)
    fill(window, qtbot, steps=60, seed=8)
    with qtbot.waitSignal(window.generation.preview, timeout=WAIT_MS):
        click_generate(window, qtbot)
    assert window.canvas.previewing
    with qtbot.waitSignal(window.generation.cancelled, timeout=WAIT_MS):
        qtbot.mouseClick(window.prompt_panel.cancel_button, Qt.MouseButton.LeftButton)
    wait_idle(window, qtbot)
    assert window.canvas.candidate is first and not window.canvas.previewing
    assert np.array_equal(shown_pixels(window), first.pixels)
    assert window.results.count() == 1
    assert window.prompt_panel.stage.text() == "Cancelled"
    second = generate(window, qtbot, seed=9)
    assert second is not first and second.size == (64, 64)
    assert window.results.count() == 2


def test_a_failed_job_shows_its_message_and_loses_nothing(window, qtbot):
    made = generate(window, qtbot)
    fill(window, qtbot, prompt="")
    with qtbot.waitSignal(window.generation.failed, timeout=WAIT_MS) as failed:
        click_generate(window, qtbot)
    wait_idle(window, qtbot)
    assert failed.args == ["invalid_input", "Type a prompt first."]
    assert window.messages.isVisible() and window.messages.kind == "error"
    assert "Type a prompt first." in window.messages.text
    assert window.canvas.candidate is made and window.results.count() == 1
    assert window.prompt_panel.generate_button.isEnabled()

    missing = dataclasses.replace(window.prompt_panel.params(), prompt="x", model="no-such-model")
    with qtbot.waitSignal(window.generation.failed, timeout=WAIT_MS) as failed:
        window.generation.start(missing, TXT2IMG.id)
    wait_idle(window, qtbot)
    assert failed.args[0] == "missing_model"
    assert "no-such-model" in window.messages.text
    assert window.canvas.candidate is made and window.isVisible()


def test_export_png_and_reuse_its_settings(window, qtbot, tmp_path):
    settings = {"negative_prompt": "blurry", "cfg_scale": 5.5, "scheduler": "DDIM", "seed": 1234}
    window.files.new(new_document((64, 64), "Transparent"))  # the picture fills it at 1:1
    image = generate(window, qtbot, prompt="a lighthouse at dusk", **settings)
    window.apply_candidate()
    saved = window.files.export(tmp_path / "lighthouse.png")
    assert saved == tmp_path / "lighthouse.png"
    chunks = read_text_chunks(saved)
    assert chunks["parameters"].startswith("a lighthouse at dusk\nNegative prompt: blurry")
    exported = np.asarray(Image.open(saved).convert("RGBA"))
    assert psnr(exported, image.pixels) > 38  # the export adds the watermark (no engine hooks here)

    # the A1111 `parameters` chunk alone (as other tools read it) round-trips too
    a1111 = tmp_path / "a1111.png"
    info = PngInfo()
    info.add_text("parameters", chunks["parameters"])
    Image.open(saved).save(a1111, pnginfo=info)
    expected = {
        "prompt": "a lighthouse at dusk",
        "negative_prompt": "blurry",
        "steps": 2,
        "cfg_scale": 5.5,
        "width": 64,
        "height": 64,
        "seed": 1234,
        "scheduler": "DDIM",
    }
    for path in (saved, a1111):
        window.prompt_panel.form.reset()
        window.session.history.mark_clean()
        assert window.open_file(path)
        assert window.session.doc.size == (64, 64) and window.session.title == path.name
        assert np.array_equal(window.session.doc.composite(), exported)
        assert window.messages.action_button.isVisible()
        qtbot.mouseClick(window.messages.action_button, Qt.MouseButton.LeftButton)
        values = window.prompt_panel.form.values()
        assert {k: values[k] for k in expected} == expected
        assert window.prompt_panel.model_name() == "tiny-sd15"


COMFY_PROMPT = {
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "tiny-sd15.safetensors"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 96, "height": 72, "batch_size": 1}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a paper boat", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "text, logo", "clip": ["4", 1]}},
    "3": {
        "class_type": "KSampler",
        "inputs": {
            "seed": 99,
            "steps": 12,
            "cfg": 6.5,
            "sampler_name": "euler_ancestral",
            "scheduler": "normal",
            "denoise": 1.0,
            "model": ["4", 0],
            "positive": ["6", 0],
            "negative": ["7", 0],
            "latent_image": ["5", 0],
        },
    },
}


def test_reuse_settings_of_a_comfyui_png(window, qtbot, tmp_path):
    path = tmp_path / "comfy.png"
    info = PngInfo()
    info.add_text("prompt", json.dumps(COMFY_PROMPT))
    Image.new("RGB", (96, 72), "teal").save(path, pnginfo=info)
    assert window.open_file(path)
    assert "ComfyUI" in window.messages.text
    qtbot.mouseClick(window.messages.action_button, Qt.MouseButton.LeftButton)
    values = window.prompt_panel.form.values()
    assert values["prompt"] == "a paper boat" and values["negative_prompt"] == "text, logo"
    assert (values["steps"], values["cfg_scale"], values["seed"]) == (12, 6.5, 99)
    assert (values["width"], values["height"], values["scheduler"]) == (96, 72, "Euler a")
    assert window.prompt_panel.model_name() == "tiny-sd15"


def test_export_errors_are_shown(window, qtbot, tmp_path):
    target = tmp_path / "no-such-folder" / "x.png"
    assert window.files.export(target) is None
    assert window.messages.kind == "error" and "does not exist" in window.messages.text
    assert not target.exists()
    assert window.files.export(tmp_path / "x.gif") is None
    assert ".png, .jpg or .webp" in window.messages.text


def test_open_a_file_that_is_not_an_image(window, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    assert not window.open_file(bad)
    assert window.messages.kind == "error" and "notes.png" in window.messages.text


def test_closing_while_generating_cancels_and_stops_the_engine(window, qtbot):
    fill(window, qtbot, steps=60)
    with qtbot.waitSignal(window.generation.progress, timeout=WAIT_MS):
        click_generate(window, qtbot)
    with qtbot.waitSignal(window.generation.cancelled, timeout=WAIT_MS):
        window.close()
    assert not window.isVisible() and not window.generation.running
    with pytest.raises(RuntimeError, match="shut down"):
        window.engine.submit("diffusion.txt2img", window.prompt_panel.params())


def test_ctrl_enter_generates_and_esc_cancels(window, qtbot):
    fill(window, qtbot, steps=60)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    prompt = window.prompt_panel.form.widgets["prompt"]
    prompt.setFocus()
    with qtbot.waitSignal(window.generation.progress, timeout=WAIT_MS):
        qtbot.keyClick(prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    with qtbot.waitSignal(window.generation.cancelled, timeout=WAIT_MS):
        qtbot.keyClick(prompt, Qt.Key.Key_Escape)
    wait_idle(window, qtbot)
    assert prompt.toPlainText() == "a red circle"  # the keys were shortcuts, not typing


def test_canvas_zoom_and_pan(window, qtbot):
    canvas = window.canvas
    window.files.new(Document((2000, 1500)))
    canvas.actions_by_name["actual"].trigger()
    assert canvas.zoom == pytest.approx(1.0)
    canvas.actions_by_name["zoom_in"].trigger()
    assert canvas.zoom == pytest.approx(1.25) and window.zoom_label.text() == "125%"
    canvas.actions_by_name["zoom_out"].trigger()
    assert canvas.zoom == pytest.approx(1.0)
    before = canvas.horizontalScrollBar().value()
    canvas.pan_by(-40, 0)
    assert canvas.horizontalScrollBar().value() == before + 40
    canvas.actions_by_name["fit"].trigger()
    view = canvas.viewport().rect()
    assert 2000 * canvas.zoom <= view.width() and 1500 * canvas.zoom <= view.height()


def test_results_strip_click_shows_that_image(window, qtbot):
    red, blue = (np.zeros((16, 16, 4), np.uint8) for _ in range(2))
    red[..., 0] = blue[..., 2] = 255
    red[..., 3] = blue[..., 3] = 255
    window.results.add_images([ImageData(red), ImageData(blue)])
    item = window.results.item(1)
    rect = window.results.visualItemRect(item)
    qtbot.mouseClick(window.results.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert np.array_equal(window.canvas.candidate.pixels, blue)
    assert np.array_equal(shown_pixels(window), blue)


class UrlRecorder(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


def test_empty_state_then_add_a_model_folder(qtbot, qt_loop, tmp_path, tiny_models):
    home = tmp_path / "empty-home"
    win = make_window(qtbot, diffusion_registry(), make_store(home, tmp_path))
    try:
        assert win.stack.currentWidget() is win.empty_state
        assert str(home / "models" / "checkpoints") in win.empty_state.body.text()
        assert not win.prompt_panel.generate_button.isEnabled()
        recorder = UrlRecorder()
        QDesktopServices.setUrlHandler("file", recorder, "open")
        try:
            qtbot.mouseClick(win.empty_state.open_button, Qt.MouseButton.LeftButton)
        finally:
            QDesktopServices.unsetUrlHandler("file")
        assert [Path(u.toLocalFile()) for u in recorder.urls] == [home / "models" / "checkpoints"]

        comfy = tmp_path / "ComfyUI" / "models" / "checkpoints"
        shutil.copytree(tiny_models / "tiny-sd15", comfy / "tiny-sd15")
        assert win.add_model_folder(tmp_path / "ComfyUI")
        wait_for_models(win, qtbot)
        assert win.stack.currentWidget() is win.prompt_scroll
        assert win.prompt_panel.model_name() == "tiny-sd15"
        assert win.prompt_panel.form.value("prompt") == EXAMPLE_PROMPT
        assert win.prompt_panel.generate_button.isEnabled()
        assert not win.add_model_folder(tmp_path / "missing")
        assert win.messages.kind == "error"
    finally:
        win.shutdown_engine()


def test_the_model_picker_names_each_family_as_its_plugin_does(window):
    picker = window.prompt_panel.model_picker
    texts = {picker.itemData(i): picker.itemText(i) for i in range(picker.count())}
    assert texts["tiny-sd15"].endswith("Stable Diffusion 1.x")
    assert texts["tiny-sdxl"].endswith("SDXL")


def test_aspect_presets_follow_the_model_family(window, qtbot):
    panel = window.prompt_panel
    panel.model_picker.setCurrentIndex(panel.model_picker.findData("tiny-sd15"))
    qtbot.mouseClick(panel.aspect_buttons.button(3), Qt.MouseButton.LeftButton)  # 16:9
    assert (panel.form.value("width"), panel.form.value("height")) == (680, 384)
    panel.model_picker.setCurrentIndex(panel.model_picker.findData("tiny-sdxl"))
    assert (panel.form.value("width"), panel.form.value("height")) == (1368, 768)
    assert panel.target_size() == (1368, 768)
    panel.form.widgets["width"].setValue(1000)
    assert panel.aspect_buttons.checkedId() == -1


def test_no_aspect_is_lit_while_native_sizes_follow_the_canvas(window, qtbot):
    panel = window.prompt_panel
    assert panel.aspect_buttons.checkedId() == -1
    assert panel.target_size((3, 2)) != panel.target_size((1, 1))  # the canvas's shape
    qtbot.mouseClick(panel.aspect_buttons.button(0), Qt.MouseButton.LeftButton)  # 1:1
    assert panel.aspect_buttons.checkedId() == 0
    assert panel.target_size((3, 2)) == panel.target_size((1, 1))
    panel.form.set_values({"width": 0, "height": 0})
    assert panel.aspect_buttons.checkedId() == -1


TUNED = {  # a model's atelier.json
    "native_size": 64,
    "defaults": {"steps": 3, "cfg_scale": 4.5, "scheduler": "DDIM", "negative_prompt": "blurry"},
    "example_prompt": "a kite over a hill",
}


def sampling(panel) -> tuple:
    return tuple(
        panel.form.value(n) for n in ("steps", "cfg_scale", "scheduler", "negative_prompt")
    )


def pick(panel, name: str) -> None:
    panel.model_picker.setCurrentIndex(panel.model_picker.findData(name))


def test_first_start_selects_the_builtin_model_its_prompt_and_defaults(
    qtbot, qt_loop, atelier_home, tiny_models, tmp_path
):
    builtin = tmp_path / "builtin"
    copy_with_settings(tiny_models / "tiny-sd15", builtin / "demo", TUNED)
    store = ModelStore(
        home=atelier_home, extra_folders=[], hf_cache=tmp_path / "no-hf", builtin_dir=builtin
    )
    win = make_window(qtbot, diffusion_registry(), store)
    try:
        panel = win.prompt_panel
        assert panel.model_name() == "demo" and len(panel.models) > 1
        assert panel.form.value("prompt") == "a kite over a hill"
        assert sampling(panel) == (3, 4.5, "DDIM", "blurry")
        assert (panel.form.value("width"), panel.form.value("height")) == (0, 0)
        assert panel.target_size() == (64, 64)  # its own native size
    finally:
        win.shutdown_engine()


def test_the_model_picker_says_what_the_chosen_model_can_make(
    window, qtbot, tiny_models, atelier_home
):
    about = {**TUNED, "about": "Draws kites over hills."}
    copy_with_settings(tiny_models / "tiny-sd15", atelier_home / "models/checkpoints/tuned", about)
    rescan(window, qtbot)
    panel = window.prompt_panel
    assert panel.model_about.isHidden()  # tiny-sd15 says nothing about itself
    pick(panel, "tuned")
    assert panel.model_about.text() == "Draws kites over hills."
    assert not panel.model_about.isHidden()
    pick(panel, "tiny-sd15")
    assert panel.model_about.isHidden()


def test_picking_a_model_applies_its_defaults_but_keeps_typed_text(
    window, qtbot, tiny_models, atelier_home
):
    copy_with_settings(tiny_models / "tiny-sd15", atelier_home / "models/checkpoints/tuned", TUNED)
    rescan(window, qtbot)
    panel = window.prompt_panel
    assert panel.model_name() == "tiny-sd15" and panel.form.value("prompt") == EXAMPLE_PROMPT
    assert sampling(panel) == (25, 7.0, "Euler a", "")

    pick(panel, "tuned")
    assert sampling(panel) == (3, 4.5, "DDIM", "blurry")
    assert (panel.form.value("width"), panel.form.value("height")) == (0, 0)
    assert panel.target_size() == (64, 64)
    assert panel.form.value("prompt") == "a kite over a hill"  # the untouched example follows

    panel.form.set_value("steps", 9)
    rescan(window, qtbot)  # a rescan keeps the model, so the user's change stays
    assert panel.form.value("steps") == 9
    pick(panel, "tiny-sd15")  # no settings of its own: the form stays as it is
    assert sampling(panel) == (9, 4.5, "DDIM", "blurry")
    assert panel.form.value("prompt") == EXAMPLE_PROMPT

    prompt_edit = panel.form.widgets["prompt"]
    prompt_edit.clear()
    qtbot.keyClicks(prompt_edit, "a lighthouse")
    panel.form.set_value("negative_prompt", "dark")
    pick(panel, "tuned")
    assert panel.form.value("prompt") == "a lighthouse"
    assert sampling(panel) == (3, 4.5, "DDIM", "dark")


def test_reuse_settings_reports_what_does_not_fit(window):
    window.reuse_settings({"prompt": "a kite", "model": "not-here", "scheduler": "DPM++ SDE"})
    assert window.prompt_panel.form.value("prompt") == "a kite"
    assert "not-here (not installed)" in window.messages.text
    assert "scheduler ('DPM++ SDE')" in window.messages.text


def test_skipped_model_files_are_reported(qtbot, qt_loop, atelier_home, tmp_path):
    (atelier_home / "models" / "checkpoints" / "notes.safetensors").write_text("not a model")
    win = make_window(qtbot, diffusion_registry(), make_store(atelier_home, tmp_path))
    try:
        assert "notes.safetensors" in win.messages.text
        assert "skipped" in win.messages.text
        assert win.prompt_panel.generate_button.isEnabled()  # the good models still work
    finally:
        win.close()
