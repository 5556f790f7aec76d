"""Help > About Atelier and Help > Keyboard shortcuts (issue 15): the version from the
package, Atelier's licence and each built-in model's as its model card states it, where the
files are (with buttons that open them), and the shortcuts read from the window's actions."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QDesktopServices, QKeySequence
from PySide6.QtWidgets import QLabel

from app.ui.about_dialog import AboutDialog, BundledModel, bundled_models
from app.ui.shortcuts_dialog import ShortcutsDialog, shortcut_rows
from engine.model_store import BUILTIN_MODELS
from tests.test_gui_main_window import (  # noqa: F401 (qt_loop is a fixture)
    UrlRecorder,
    close_window,
    diffusion_registry,
    make_store,
    make_window,
    qt_loop,
)


def model_folder(root: Path, name: str, card: str | None) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "model_index.json").write_text("{}")
    if card is not None:
        (folder / "README.md").write_text(card)
    return folder


def test_the_shipped_model_cards_name_their_licences():
    models = bundled_models(BUILTIN_MODELS)
    assert BundledModel("atelier-demo", "apache-2.0") in models
    assert all("not stated" not in m.licence for m in models)


def test_each_builtin_model_is_listed_with_its_cards_licence(tmp_path):
    builtin = tmp_path / "models"
    model_folder(builtin, "sketcher", "---\nlicense: mit\nlibrary_name: diffusers\n---\n# x")
    model_folder(builtin, "plain", None)
    model_folder(builtin, "odd", None)
    (builtin / "odd" / "README.md").mkdir()  # a folder where the card should be
    (builtin / "notes").mkdir()  # not a model
    assert bundled_models(builtin) == [
        BundledModel("odd", "unknown: its model card cannot be read (it is a folder, not a file)"),
        BundledModel("plain", "not stated in its model card"),
        BundledModel("sketcher", "mit"),
    ]


def test_about_shows_version_licences_and_opens_the_folders(qtbot, tmp_path):
    builtin = tmp_path / "models"
    model_folder(builtin, "sketcher", "---\nlicense: openrail\n---\n")
    added = tmp_path / "ComfyUI"
    added.mkdir()
    home = tmp_path / "home"  # not made yet: Open makes it
    dialog = AboutDialog(home, builtin, [added, tmp_path / "unplugged"])
    qtbot.addWidget(dialog)
    texts = " | ".join(label.text() for label in dialog.findChildren(QLabel))
    assert f"Atelier {metadata.version('atelier')}" in texts
    assert "Apache-2.0 licence" in texts
    assert "sketcher" in texts and "Licence: openrail" in texts
    assert "unplugged (not found)" in texts
    assert not dialog.open_buttons["Added model folder 2"].isEnabled()
    recorder = UrlRecorder()
    QDesktopServices.setUrlHandler("file", recorder, "open")
    try:
        for label in ("Data folder (settings, recovery)", "Models folder", "Added model folder 1"):
            qtbot.mouseClick(dialog.open_buttons[label], Qt.MouseButton.LeftButton)
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert [Path(u.toLocalFile()) for u in recorder.urls] == [home, home / "models", added]
    assert (home / "models" / "checkpoints").is_dir()


def test_shortcuts_are_read_from_the_actions(qtbot, qt_loop, home, tmp_path):  # noqa: F811
    win = make_window(qtbot, diffusion_registry(), make_store(home, tmp_path), close=False)
    try:
        rows = shortcut_rows(win)
        assert ("File", "Save", "Ctrl+S") in rows
        assert ("Edit", "Redo", "Ctrl+Shift+Z, Ctrl+Y") in [
            (g, t.split(" ")[0], k) for g, t, k in rows
        ]
        assert ("Edit", "Preferences", "Ctrl+,") in rows
        assert ("Help", "Keyboard shortcuts", "F1") in rows
        assert any(keys == "B" for _, _, keys in rows)  # a tool's key, from the toolbox
        listed = [text for _, text, _ in rows]
        assert len(listed) == len(set(listed))  # each action once
        win.save_action.setShortcut(QKeySequence("Ctrl+Alt+S"))
        assert ("File", "Save", "Ctrl+Alt+S") in shortcut_rows(win)
        dialog = ShortcutsDialog(win)
        qtbot.addWidget(dialog)
        assert dialog.tree.topLevelItemCount() == len({group for group, _, _ in rows})
    finally:
        close_window(win)
