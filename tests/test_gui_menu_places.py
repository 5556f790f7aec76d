"""Each command has one place in the menu bar: Free transform and Flatten image under Layer,
as in Krita, with their shortcuts."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from tests.canvas_helpers import canvas_window_fixture, qt_loop  # noqa: F401 (fixtures)

ELLIPSIS = "\N{HORIZONTAL ELLIPSIS}"


def places(menu: QMenu, path: str, found: dict[QAction, list[str]]) -> None:
    """Every menu path each action appears in."""
    for action in menu.actions():
        if action.menu() is not None:
            places(action.menu(), f"{path} > {plain(action)}", found)
        elif not action.isSeparator():
            found.setdefault(action, []).append(path)


def plain(action: QAction) -> str:
    return action.text().replace("&", "")


def test_every_command_has_one_place_in_the_menus(canvas_window):
    win = canvas_window
    found: dict[QAction, list[str]] = {}
    for top in win.menuBar().actions():
        places(top.menu(), plain(top), found)
    repeated = {plain(action): where for action, where in found.items() if len(where) > 1}
    assert not repeated
    by_text = {plain(action): where for action, where in found.items()}
    assert by_text[f"Free transform{ELLIPSIS}"] == ["Layer"]
    assert by_text["Flatten image"] == ["Layer"]
    assert win.transform_action.shortcut() == QKeySequence("Ctrl+T")
