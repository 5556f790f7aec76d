"""File > Open recent (issue 15): the last projects and pictures opened or saved, newest
first, once each, at most ten, kept across restarts in settings.json; files no longer there
are greyed out and say so; Clear recent empties the list."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtWidgets import QMenu

from app.ui.recent_files import MAX_RECENT, RecentMenu, recent_files, remember_recent
from engine.home import settings_path
from tests.test_gui_main_window import (  # noqa: F401 (qt_loop is a fixture)
    close_window,
    diffusion_registry,
    make_store,
    make_window,
    qt_loop,
)


def picture(path: Path, color=(200, 40, 40)) -> Path:
    Image.fromarray(np.full((8, 8, 3), color, np.uint8)).save(path)
    return path


def entries(menu: QMenu) -> list[tuple[str, bool]]:
    """(text, enabled) of each entry of the menu, separators left out."""
    return [(a.text(), a.isEnabled()) for a in menu.actions() if not a.isSeparator()]


def test_newest_first_once_each_at_most_ten(home, tmp_path):
    files = [tmp_path / f"picture-{n}.png" for n in range(MAX_RECENT + 2)]
    for path in files:
        remember_recent(path)
    assert recent_files() == files[::-1][:MAX_RECENT]  # the two oldest fell off
    remember_recent(files[5])
    assert recent_files()[0] == files[5]
    assert recent_files().count(files[5]) == 1
    assert len(recent_files()) == MAX_RECENT
    # kept in settings.json, so a new window (a restart) sees the same list
    saved = json.loads(settings_path().read_text())["recent_files"]
    assert [Path(p) for p in saved] == recent_files()


def test_a_relative_path_is_remembered_whole(home, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    remember_recent(Path("here.png"))
    remember_recent(tmp_path / "here.png")
    assert recent_files() == [tmp_path / "here.png"]


def test_a_list_of_the_wrong_shape_counts_as_empty(home):
    settings_path().write_text(json.dumps({"recent_files": "not a list", "theme": "dark"}))
    assert recent_files() == []
    settings_path().write_text(json.dumps({"recent_files": [3, "", "/x/a.png"]}))
    assert recent_files() == [Path("/x/a.png")]


def test_the_menu_greys_out_missing_files_and_clears(home, tmp_path, qtbot):
    there = picture(tmp_path / "there.png")
    remember_recent(tmp_path / "gone.atelier")
    remember_recent(there)
    opened: list[Path] = []
    menu = QMenu()
    qtbot.addWidget(menu)
    recent = RecentMenu(menu, opened.append)
    assert entries(menu) == [
        ("&1 there.png", True),
        ("&2 gone.atelier \N{EM DASH} not found", False),
        ("Clear recent", True),
    ]
    menu.actions()[0].trigger()
    assert opened == [there]
    recent.clear()
    assert entries(menu) == [("No recent files", False), ("Clear recent", False)]
    assert recent_files() == []


def test_same_names_in_two_folders_show_their_folder(home, tmp_path, qtbot):
    for folder in ("spring", "autumn"):
        (tmp_path / folder).mkdir()
        remember_recent(picture(tmp_path / folder / "cover.png"))
    menu = QMenu()
    qtbot.addWidget(menu)
    RecentMenu(menu, lambda path: None)
    assert [text for text, _ in entries(menu)][:2] == [
        "&1 cover.png (autumn)",
        "&2 cover.png (spring)",
    ]


def test_the_window_lists_what_was_opened_and_saved(qtbot, qt_loop, home, tmp_path):  # noqa: F811
    win = make_window(qtbot, diffusion_registry(), make_store(home, tmp_path), close=False)
    try:
        red = picture(tmp_path / "red.png")
        assert win.open_file(red)
        project = tmp_path / "poster.atelier"
        assert win.files.save_as(project)
        assert recent_files(home) == [project, red]
        win.recent.menu.aboutToShow.emit()  # as when File > Open recent opens
        texts = [text for text, _ in entries(win.recent.menu)]
        assert texts[:2] == ["&1 poster.atelier", "&2 red.png"]
        win.recent.menu.actions()[1].trigger()  # red.png, from the menu
        assert win.session.title == "red.png"
        assert recent_files(home) == [red, project]
    finally:
        close_window(win)
