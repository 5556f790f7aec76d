"""Edit > Preferences (issue 15): the dialog shows what settings.json holds, writes what is
changed (other settings kept), reports a damaged or unwritable settings file instead of
overwriting it silently, and the window applies the theme, autosave interval and model
folders at once."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QLabel

from app.ui.preference_values import Preferences, read_preferences
from app.ui.preferences_dialog import PreferencesDialog
from app.ui.recovery import autosave_minutes
from app.ui.theme import THEMES, apply_dark_theme
from engine.devices import DevicePolicy, choose_device_policy
from engine.home import load_settings, settings_path
from plugins.provenance.settings import SafetySettings, safety_settings
from tests.test_gui_main_window import (  # noqa: F401 (qt_loop is a fixture)
    close_window,
    diffusion_registry,
    make_store,
    make_window,
    qt_loop,
)

HAND_WRITTEN = {
    "theme": "darker",
    "autosave_minutes": 5,
    "safety": {"prompt": "warn", "output": "block", "nudity_threshold": 0.7, "video_frames": 4},
    "device": {"device": "cpu", "cpu_threads": 3, "vae_tiling": True, "future_knob": 1},
    "recent_files": ["/pictures/poster.atelier"],
    "brush_colors": {"foreground": [0, 0, 0, 255]},
    "something_newer": {"kept": True},
}


def write_settings(values: dict) -> None:
    settings_path().parent.mkdir(parents=True, exist_ok=True)
    settings_path().write_text(json.dumps(values))


def dialog_for(qtbot, home: Path, in_use: DevicePolicy | None = None) -> PreferencesDialog:
    dialog = PreferencesDialog(home, in_use)
    qtbot.addWidget(dialog)
    return dialog


def press(dialog: PreferencesDialog, which: QDialogButtonBox.StandardButton, qtbot) -> None:
    button = dialog.findChild(QDialogButtonBox).button(which)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


SAVE = QDialogButtonBox.StandardButton.Save
CANCEL = QDialogButtonBox.StandardButton.Cancel


def test_the_dialog_shows_the_settings_as_they_are(home, tmp_path, qtbot):
    comfy = tmp_path / "ComfyUI"
    comfy.mkdir()
    write_settings({**HAND_WRITTEN, "extra_model_folders": [str(comfy), "/nowhere/models"]})
    dialog = dialog_for(qtbot, home, DevicePolicy("cpu", "float32", cpu_threads=3))
    assert dialog.general.theme.currentText() == THEMES["darker"].title
    assert dialog.general.autosave.value() == 5
    assert dialog.folders.listed() == [str(comfy), "/nowhere/models"]
    assert "not found" in dialog.folders.folders.item(1).text()
    assert dialog.device.device.currentData() == "cpu"
    assert dialog.device.dtype.currentText() == "Automatic"
    assert dialog.device.savers["vae_tiling"].currentText() == "On"
    assert dialog.device.savers["cpu_offload"].currentText() == "Automatic"
    assert dialog.device.threads.value() == 3
    assert dialog.safety.prompt.currentData() == "warn"
    assert dialog.safety.output.currentData() == "block"
    assert dialog.safety.threshold.value() == 0.7
    assert dialog.safety.frames.value() == 4
    lines = [label.text() for label in dialog.device.findChildren(QLabel)]
    assert any(line.startswith("In use now: Processor (CPU), Full (float32)") for line in lines)
    assert dialog.preferences() == read_preferences(home)  # nothing changed, nothing lost


def test_save_writes_every_field_and_keeps_the_other_settings(home, tmp_path, qtbot):
    write_settings(HAND_WRITTEN)
    before = settings_path().read_text()
    dialog = dialog_for(qtbot, home)
    press(dialog, CANCEL, qtbot)
    assert settings_path().read_text() == before  # Cancel writes nothing

    dialog = dialog_for(qtbot, home)
    models = tmp_path / "InvokeAI"
    models.mkdir()
    dialog.general.theme.setCurrentIndex(dialog.general.theme.findData("grey"))
    dialog.general.autosave.setValue(12)
    assert dialog.folders.add(models)
    dialog.device.device.setCurrentIndex(dialog.device.device.findData(None))  # Automatic
    dialog.device.dtype.setCurrentIndex(dialog.device.dtype.findData("float32"))
    dialog.device.savers["attention_slicing"].setCurrentIndex(2)  # Off
    dialog.device.threads.setValue(0)  # Automatic
    dialog.safety.output.setCurrentIndex(dialog.safety.output.findData("warn"))
    dialog.safety.threshold.setValue(0.35)
    press(dialog, SAVE, qtbot)

    assert dialog.result() == PreferencesDialog.DialogCode.Accepted
    saved = load_settings(home)
    assert saved["theme"] == "grey" and autosave_minutes(saved) == 12
    assert saved["extra_model_folders"] == [str(models.resolve())]
    assert saved["device"] == {
        "dtype": "float32",
        "attention_slicing": False,
        "vae_tiling": True,
        "future_knob": 1,  # a key Preferences does not show is kept
    }
    assert safety_settings(home) == SafetySettings("warn", "warn", 0.35, 4)
    for key in ("recent_files", "brush_colors", "something_newer"):
        assert saved[key] == HAND_WRITTEN[key]
    # the engine reads the device settings as the dialog meant them
    policy = choose_device_policy(saved["device"])
    assert (policy.dtype, policy.attention_slicing, policy.vae_tiling) == ("float32", False, True)
    # and the dialog opened again shows what was saved
    assert dialog_for(qtbot, home).preferences() == dialog.saved


def test_folders_that_cannot_be_added_are_explained(home, tmp_path, qtbot):
    dialog = dialog_for(qtbot, home)
    a_file = tmp_path / "model.safetensors"
    a_file.write_bytes(b"x")
    assert not dialog.folders.add(a_file)
    assert "is not a folder" in dialog.folders.problem.text()
    assert dialog.folders.add(tmp_path)
    assert not dialog.folders.add(tmp_path)
    assert "in the list already" in dialog.folders.problem.text()
    dialog.folders.remove_selected()
    assert dialog.folders.listed() == []


def test_a_damaged_settings_file_is_reported_and_kept(home, qtbot):
    write_settings({})
    settings_path().write_text('{"theme": "grey", oops')
    damaged = settings_path().read_text()
    dialog = dialog_for(qtbot, home)
    notes = [label.text() for label in dialog.findChildren(QLabel) if label.objectName() == "error"]
    assert any(
        "could not read its settings file" in n and "settings.damaged.json" in n for n in notes
    )
    press(dialog, CANCEL, qtbot)
    assert settings_path().read_text() == damaged  # not overwritten by opening it

    dialog = dialog_for(qtbot, home)
    press(dialog, SAVE, qtbot)
    assert (home / "settings.damaged.json").read_text() == damaged
    assert read_preferences(home) == Preferences()  # the new file holds the defaults


def test_a_settings_file_that_cannot_be_written_keeps_the_dialog_open(home, qtbot):
    settings_path().mkdir()  # a folder where settings.json should be
    dialog = dialog_for(qtbot, home)
    dialog.show()
    dialog.general.autosave.setValue(3)
    press(dialog, SAVE, qtbot)
    assert dialog.isVisible() and dialog.saved is None
    assert "The preferences were not saved" in dialog.error.text()
    assert "it is a folder" in dialog.error.text()


def answer_preferences(change) -> None:
    """Change the next Preferences dialog with `change(dialog)`, then press Save."""

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, PreferencesDialog):
            QTimer.singleShot(20, answer)
            return
        change(dialog)
        dialog.findChild(QDialogButtonBox).button(SAVE).click()

    QTimer.singleShot(0, answer)


def test_ctrl_comma_opens_it_and_the_window_applies_it_at_once(
    qtbot,
    qt_loop,  # noqa: F811
    home,
    tmp_path,
    monkeypatch,
):
    win = make_window(qtbot, diffusion_registry(), make_store(home, tmp_path), close=False)
    in_use = DevicePolicy("cpu", "float32", cpu_threads=2)  # as if a job had chosen it
    monkeypatch.setattr(type(win.engine), "known_device_policy", property(lambda _: in_use))
    models = tmp_path / "A1111"
    models.mkdir()
    shown: list[str] = []

    def change(dialog: PreferencesDialog) -> None:
        shown.extend(label.text() for label in dialog.device.findChildren(QLabel))
        dialog.general.theme.setCurrentIndex(dialog.general.theme.findData("grey"))
        dialog.general.autosave.setValue(7)
        dialog.folders.add(models)
        dialog.device.device.setCurrentIndex(dialog.device.device.findData("cpu"))

    try:
        (preferences,) = [
            a
            for a in win.findChildren(type(win.save_action))
            if a.shortcut().toString() == "Ctrl+,"
        ]
        answer_preferences(change)
        preferences.trigger()
        palette = QApplication.instance().palette()
        assert palette.color(QPalette.ColorRole.Window).name() == THEMES["grey"].window
        assert win.autosave.timer.interval() == 7 * 60_000
        assert win.store.extra_folders == [models.resolve()]
        assert "take effect when Atelier restarts" in win.statusBar().currentMessage()
        assert "In use now: Processor (CPU), Full (float32), 2 CPU thread(s)." in shown
    finally:
        apply_dark_theme(QApplication.instance())
        close_window(win)
