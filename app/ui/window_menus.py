"""The main window's menu bar: File, Edit, Image, Layer, View, Generate, Help.

Shortcuts: Ctrl+N new, Ctrl+O open, Ctrl+S save, Ctrl+Shift+S save as, Ctrl+Shift+E export;
Ctrl+Z undo, Ctrl+Shift+Z / Ctrl+Y redo; Ctrl+X cut, Ctrl+C copy, Ctrl+Shift+C copy merged,
Ctrl+V paste (as a new layer), Ctrl+Shift+V paste as a new image; Ctrl+A select all,
Ctrl+D / Ctrl+Shift+A deselect, Ctrl+Shift+I invert; X swaps the foreground and background
colours; Ctrl+T free transform;
Ctrl+Shift+N new layer, Ctrl+J duplicate, Ctrl+E merge down, Ctrl+G group, Ctrl+Shift+G ungroup;
Ctrl+Enter generate, Esc cancel, Ctrl+Shift+L live painting; zoom keys in View (see
app.ui.canvas_view); Ctrl+, preferences; F1 lists every shortcut (Help > Keyboard
shortcuts, read from the actions).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from app.model.image_geometry import Turn
from app.ui.about_dialog import AboutDialog
from app.ui.preferences_dialog import open_preferences
from app.ui.recent_files import RecentMenu
from app.ui.shortcuts_dialog import ShortcutsDialog

if TYPE_CHECKING:
    from app.ui.layer_actions import LayerActions
    from app.ui.main_window import MainWindow

ELLIPSIS = "\N{HORIZONTAL ELLIPSIS}"


def add_action(menu: QMenu, text: str, slot: Callable[[], Any], *keys: str) -> QAction:
    action = menu.addAction(text)
    action.setShortcuts([QKeySequence(k) for k in keys])
    action.triggered.connect(lambda *_: slot())
    return action


def build_menus(w: MainWindow) -> None:
    _file_menu(w)
    _edit_menu(w)
    _image_menu(w)
    layer_menu = w.menuBar().addMenu("&Layer")
    for action in w.layer_actions.all:
        layer_menu.addAction(action)
    layer_menu.addSeparator()
    layer_menu.addAction(w.layer_actions.group)
    layer_menu.addAction(w.layer_actions.ungroup)
    layer_menu.addSeparator()
    _control_menus(layer_menu, w.layer_actions)
    layer_menu.addAction(w.layer_actions.reference)
    layer_menu.addSeparator()
    w.transform_action = add_action(
        layer_menu, f"Free &transform{ELLIPSIS}", w.free_transform.ask, "Ctrl+T"
    )
    _view_menu(w)
    gen = w.menuBar().addMenu("&Generate")
    w.generate_action = add_action(gen, "&Generate", w.generate, "Ctrl+Return", "Ctrl+Enter")
    w.cancel_action = add_action(gen, "&Cancel", w.cancel, "Esc")
    gen.addSeparator()
    w.apply_action = add_action(gen, "&Apply the result as a layer", w.apply_candidate)
    gen.addSeparator()
    gen.addAction(w.live.action)
    _help_menu(w)


def _control_menus(menu: QMenu, actions: LayerActions) -> None:
    """Layer > New control layer and Layer > Convert to control layer, a kind each."""
    for title, by_kind in (
        ("New &control layer", actions.new_control),
        ("Con&vert to control layer", actions.convert_control),
    ):
        submenu = menu.addMenu(title)
        submenu.addActions(list(by_kind.values()))


def _file_menu(w: MainWindow) -> None:
    menu = w.menuBar().addMenu("&File")
    add_action(menu, f"&New{ELLIPSIS}", w.files.new, "Ctrl+N")
    add_action(menu, f"&Open{ELLIPSIS}", w.open_file, "Ctrl+O")
    w.recent = RecentMenu(menu.addMenu("Open &recent"), w.open_file, w.store.home)
    w.files.opened.connect(w.recent.add)
    w.files.saved.connect(w.recent.add)
    menu.addSeparator()
    w.save_action = add_action(menu, "&Save", w.files.save, "Ctrl+S")
    add_action(menu, f"Save &as{ELLIPSIS}", w.files.save_as, "Ctrl+Shift+S")
    add_action(menu, f"&Export image{ELLIPSIS}", w.files.export, "Ctrl+Shift+E")
    add_action(menu, f"Export &layer{ELLIPSIS}", w.export_layer)
    menu.addSeparator()
    add_action(menu, f"Add model folder{ELLIPSIS}", w.add_model_folder)
    add_action(menu, "Rescan model folders", w.refresh_models)
    add_action(menu, "Open models folder", w.open_models_folder)
    menu.addSeparator()
    add_action(menu, "&Quit", w.close, "Ctrl+Q")


def _edit_menu(w: MainWindow) -> None:
    menu = w.menuBar().addMenu("&Edit")
    w.undo_action = add_action(menu, "&Undo", w.session.undo, "Ctrl+Z")
    w.redo_action = add_action(menu, "&Redo", w.session.redo, "Ctrl+Shift+Z", "Ctrl+Y")
    menu.addSeparator()
    clip = w.clipboard_edits
    add_action(menu, "Cu&t", clip.cut, "Ctrl+X")
    add_action(menu, "&Copy", clip.copy, "Ctrl+C")
    add_action(menu, "Copy &merged", clip.copy_merged, "Ctrl+Shift+C")
    add_action(menu, "&Paste", clip.paste, "Ctrl+V")
    add_action(menu, "Paste as &new image", clip.paste_as_new_image, "Ctrl+Shift+V")
    menu.addSeparator()
    sel = w.selection_edits
    add_action(menu, "Select &all", sel.select_all, "Ctrl+A")
    add_action(menu, "&Deselect", sel.deselect, "Ctrl+D", "Ctrl+Shift+A")
    add_action(menu, "&Invert selection", sel.invert, "Ctrl+Shift+I")
    add_action(menu, f"&Grow selection{ELLIPSIS}", lambda: sel.ask("grow"))
    add_action(menu, f"&Shrink selection{ELLIPSIS}", lambda: sel.ask("shrink"))
    add_action(menu, f"&Feather selection{ELLIPSIS}", lambda: sel.ask("feather"))
    menu.addSeparator()
    menu.addAction(w.tool_options.swap_action)
    menu.addSeparator()
    preferences = add_action(menu, f"Pre&ferences{ELLIPSIS}", lambda: open_preferences(w), "Ctrl+,")
    preferences.setMenuRole(QAction.MenuRole.PreferencesRole)


def _image_menu(w: MainWindow) -> None:
    menu = w.menuBar().addMenu("&Image")
    add_action(menu, f"Re&size image{ELLIPSIS}", w.image_edits.ask_size)
    add_action(menu, f"&Canvas size{ELLIPSIS}", w.selection_edits.canvas_size)
    add_action(menu, "C&rop to selection", w.selection_edits.crop_to_selection)
    menu.addSeparator()
    image = w.image_edits
    for turn in (Turn.CLOCKWISE, Turn.COUNTER_CLOCKWISE, Turn.HALF):
        text = turn.label.replace("Rotate image", "Rotate")
        add_action(menu, text, lambda turn=turn: image.rotate(turn))
    add_action(menu, "Flip &horizontally", lambda: image.flip(horizontal=True))
    add_action(menu, "Flip &vertically", lambda: image.flip(horizontal=False))


def _help_menu(w: MainWindow) -> None:
    menu = w.menuBar().addMenu("&Help")
    add_action(menu, "&Keyboard shortcuts", lambda: ShortcutsDialog(w).exec(), "F1")
    about = add_action(menu, "&About Atelier", lambda: _about(w).exec())
    about.setMenuRole(QAction.MenuRole.AboutRole)


def _about(w: MainWindow) -> AboutDialog:
    store = w.store
    return AboutDialog(store.home, store.builtin_dir, list(store.extra_folders), w)


def _view_menu(w: MainWindow) -> None:
    menu = w.menuBar().addMenu("&View")
    for action in w.canvas.actions_by_name.values():
        menu.addAction(action)
    menu.addSeparator()
    for dock in (w.prompt_dock, w.layers_dock, w.history_dock, w.live_dock):
        menu.addAction(dock.toggleViewAction())
    w.view_menu = menu
