"""The Train LoRA panel in the window: the folder check and what it allows, validation shown
inline, the advanced drawer, a real training run on the tiny model that ends with the LoRA
in the loras folder and in the prompt, and Stop with its resume note."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QFileDialog

from app.ui.main_window import MainWindow
from plugins.diffusion import plugin as diffusion_plugin
from plugins.lora_training import plugin as lora_plugin
from plugins.lora_training.panel import TrainPanel
from plugins.lora_training.panel_chart import smoothed
from plugins.lora_training.panel_run import metrics_text
from plugins.registry import Registry
from tests.test_gui_main_window import (  # noqa: F401 (qt_loop is a fixture)
    WAIT_MS,
    close_window,
    make_store,
    make_window,
    qt_loop,
)
from tests.test_lora_training import write_photos

ADVANCED = [
    "rank",
    "learning_rate",
    "batch_size",
    "resolution",
    "gradient_checkpointing",
    "precision",
    "optimizer",
    "layers",
    "crop",
    "prior_method",
    "prior_images",
    "prior_weight",
    "kept_prompts",
    "sample_every",
    "seed",
]


@pytest.fixture
def window(qtbot, qt_loop, atelier_home, tiny_config_root, tmp_path):  # noqa: F811
    registry = Registry()
    registry.add(diffusion_plugin)
    registry.add(lora_plugin)
    win = make_window(qtbot, registry, make_store(atelier_home, tmp_path, tiny_config_root))
    yield win
    close_window(win)


@pytest.fixture
def panel(window: MainWindow, qtbot) -> TrainPanel:
    dock = window.plugin_docks["lora_training.train"]
    assert dock.windowTitle() == "Train LoRA"
    dock.show()
    widget = dock.widget()
    qtbot.waitUntil(lambda: widget.model_picker.count() > 0, timeout=WAIT_MS)
    widget.model_picker.setCurrentIndex(widget.model_picker.findData("tiny-sd15"))
    return widget


def pick(panel: TrainPanel, qtbot, folder: Path) -> None:
    task = panel.folder.set_folder(folder)
    qtbot.waitUntil(task.done, timeout=WAIT_MS)
    task.result()


def set_fields(panel: TrainPanel, **values) -> None:
    assert panel.form.set_values(values) == list(values)


def files(panel: TrainPanel) -> list[str]:
    return [panel.folder.files.item(i).text() for i in range(panel.folder.files.count())]


def test_the_folder_check_reports_each_file_and_decides_whether_train_is_possible(
    panel, qtbot, tmp_path
):
    assert not panel.train_button.isEnabled()
    assert "Choose the folder" in panel.why_not.text()

    empty = tmp_path / "empty"
    empty.mkdir()
    pick(panel, qtbot, empty)
    assert not panel.train_button.isEnabled()
    assert "No photo" in panel.why_not.text() and panel.why_not.isVisible()

    bad = tmp_path / "bad"
    bad.mkdir()
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(bad / "tiny.png")
    (bad / "broken.jpg").write_bytes(b"not a picture")
    pick(panel, qtbot, bad)
    assert "0 photos usable; 2 skipped" in panel.folder.summary.text()
    assert len(files(panel)) == 2 and all(
        line.startswith("\N{MULTIPLICATION SIGN}") for line in files(panel)
    )
    assert any("too small" in line and "tiny.png" in line for line in files(panel))
    assert not panel.train_button.isEnabled() and "No photo" in panel.why_not.text()

    good = write_photos(tmp_path / "good", 3)
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(good / "zz-small.png")
    pick(panel, qtbot, good)
    assert panel.folder.summary.text().startswith("3 photos usable; 1 skipped (1 too small)")
    assert sum(line.startswith("\N{CHECK MARK}") for line in files(panel)) == 3
    assert panel.train_button.isEnabled() and not panel.why_not.isVisible()
    assert "Automatic settings for 3 photos" in panel.automatic.text()
    assert "chosen for your device when training starts" in panel.automatic.text()


def test_a_folder_is_chosen_in_a_dialog_or_dropped_on_the_panel(
    panel, window, qtbot, tmp_path, monkeypatch
):
    chosen = write_photos(tmp_path / "chosen", 2)
    asked = []

    def choose(parent, title, start):
        asked.append(start)
        return str(chosen)

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", choose)
    panel.folder.choose_button.click()
    qtbot.waitUntil(lambda: panel.folder.task.done(), timeout=WAIT_MS)
    assert panel.folder.folder() == chosen and panel.folder.photo_count == 2
    assert asked and window.context.dialog_folder("lora_training") == chosen.parent

    dropped = write_photos(tmp_path / "dropped", 4)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(dropped))])
    drop = QDropEvent(
        QPointF(5, 5),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    panel.dropEvent(drop)
    qtbot.waitUntil(lambda: panel.folder.task.done(), timeout=WAIT_MS)
    assert panel.folder.folder() == dropped and panel.folder.photo_count == 4


def test_settings_that_no_run_can_use_are_refused_inline(panel, window, qtbot, tmp_path):
    pick(panel, qtbot, write_photos(tmp_path / "photos", 2))
    cases = {
        "": "Type a trigger word",
        "two words": "must be one word",
    }
    for trigger, message in cases.items():
        set_fields(panel, trigger=trigger)
        assert panel.train() is None
        assert message in panel.problem.text() and panel.problem.isVisible()
    set_fields(panel, trigger="zqx")
    panel.class_picker.setCurrentText("")
    assert panel.train() is None and "The class must be" in panel.problem.text()
    panel.class_picker.setCurrentText("emblem")
    set_fields(panel, resolution=100)
    assert panel.train() is None and "multiple of 64" in panel.problem.text()
    set_fields(panel, resolution=0)
    panel.form.widgets["rank"].setValue(999)  # as typed: beyond the range, shown in red
    assert panel.train() is None and "Rank takes 0 to 256" in panel.problem.text()
    assert panel.job is None and not window.context._jobs  # nothing was submitted

    # Ctrl+Enter in the panel trains (here: refuses), and does not Generate
    panel.form.widgets["rank"].setValue(0)
    set_fields(panel, trigger="")
    panel.problem.setText("")
    trigger = panel.form.widgets["trigger"]
    trigger.setFocus()
    QTest.keyClick(trigger, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert "Type a trigger word" in panel.problem.text()
    assert not window.generation.running


def test_the_fields_with_the_advanced_ones_in_a_collapsed_drawer(panel):
    form = panel.form
    assert list(form.advanced.widgets) == ADVANCED
    assert form.more.text() == "Advanced" and not form.advanced.isVisible()
    form.more.click()
    assert form.advanced.isVisible()
    for name in ("trigger", "name", "train_steps", "prior_preservation"):
        assert form.basic.widgets[name].isVisible()
    assert form.widgets["train_steps"].text() == "Automatic"  # 0: the preset's, not "Native"
    assert form.widgets["resolution"].text() == "Native"
    assert form.widgets["sample_every"].text() == "Automatic"
    assert form.widgets["prior_images"].text() == "As many as the photos"
    assert form.widgets["prior_weight"].text() == "Automatic"
    form.set_values({"prior_preservation": True, "kept_prompts": "3", "prior_weight": 4.5})
    assert "and 3 more prompts a photo" in panel.automatic.text()
    assert not form.basic.widgets["class_word"].isVisible()  # the editable list instead
    assert panel.class_picker.isEditable()
    assert panel.class_picker.itemText(0) == "person" and panel.class_picker.count() > 10
    names = [panel.model_picker.itemText(i) for i in range(panel.model_picker.count())]
    assert {"tiny-sd15", "tiny-sdxl"} <= set(names)
    form.widgets["trigger"].setText("zqx")
    assert form.widgets["name"].placeholderText() == "zqx"
    panel.model_picker.setCurrentIndex(panel.model_picker.findData("tiny-sdxl"))
    assert panel.folder._min_side == 512  # half SDXL's 1024


def test_a_tiny_run_shows_its_progress_and_puts_the_lora_into_the_prompt(
    panel, window, qtbot, tmp_path, atelier_home
):
    pick(panel, qtbot, write_photos(tmp_path / "photos", 4))
    panel.class_picker.setCurrentText("emblem")
    set_fields(
        panel,
        trigger="zqx",
        train_steps=4,
        rank=4,
        learning_rate=1e-3,
        batch_size=2,
        resolution=64,
        sample_every=2,
    )
    loras = atelier_home / "models" / "loras"
    (loras / "zqx.safetensors").write_bytes(b"someone else's file")
    task = panel.train()
    assert task is not None and panel.stop_button.isVisible()
    assert not panel.train_button.isEnabled()
    qtbot.waitUntil(task.done, timeout=WAIT_MS * 3)
    task.result()

    assert panel.view.step == 4 and panel.view.bar.value() == panel.view.bar.maximum()
    assert panel.view.numbers.text().startswith("step 4 / 4 \N{MIDDLE DOT} loss ")
    assert panel.view.chart.steps == [1, 2, 3, 4]
    assert panel.view.sample.pixmap() is not None and not panel.view.sample.pixmap().isNull()
    assert panel.view.sample_caption.text().startswith("Sample at step")
    saved = loras / "zqx-2.safetensors"  # the name was taken
    assert saved.stat().st_size > 1000
    assert (loras / "zqx.safetensors").read_bytes() == b"someone else's file"
    assert f"LoRA 'zqx-2' saved to {saved}" in panel.result.text()
    assert panel.train_button.isEnabled() and not panel.stop_button.isVisible()

    picker = window.prompt_panel.lora_picker
    qtbot.waitUntil(lambda: "zqx-2" in picker.names(), timeout=WAIT_MS)
    prompt = picker.prompt()
    assert "<lora:zqx-2:1>" in prompt and prompt.split("<lora:")[0].strip().endswith("zqx")


def test_stop_mid_run_says_how_to_resume(panel, qtbot, tmp_path):
    pick(panel, qtbot, write_photos(tmp_path / "photos", 3))
    set_fields(panel, trigger="zqx", train_steps=500, rank=4, resolution=64, batch_size=1)
    task = panel.train()
    qtbot.waitUntil(lambda: panel.view.step >= 2, timeout=WAIT_MS * 2)
    panel.stop_button.click()
    qtbot.waitUntil(task.done, timeout=WAIT_MS)
    step = panel.view.step
    assert panel.result.text() == (
        f"Stopped at step {step}. Train again with the same photos and settings to resume."
    )
    assert panel.job is None and panel.train_button.isEnabled()


def test_the_loss_line_and_the_metrics_text():
    assert smoothed([1.0, 1.0, 1.0]) == pytest.approx([1.0, 1.0, 1.0])
    line = smoothed([1.0, 0.0, 0.0, 0.0])
    assert line[0] == 1.0 and line == sorted(line, reverse=True) and line[-1] > 0.0
    text = metrics_text({"step": 120, "steps": 800, "loss": 0.0523, "eta_s": 190})
    assert text == "step 120 / 800 \N{MIDDLE DOT} loss 0.0523 \N{MIDDLE DOT} about 3 minutes left"
    assert metrics_text({"step": 3, "steps": 4, "sample_step": 3}) == "step 3 / 4"
