"""Where the Open, Save and Export dialogs start (issue 15, defect 4): the document's folder,
else the last folder used for that action (remembered across restarts), else Pictures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QWidget

from app.model.document import Document
from app.model.layers import RasterLayer
from app.model.project_file import save_project
from app.ui import document_files
from app.ui.doc_session import DocumentSession
from app.ui.document_files import DocumentFiles
from app.ui.message_bar import MessageBar
from plugins.image_export import plugin as image_export


@pytest.fixture
def user(tmp_path, monkeypatch) -> Path:
    """A user's home with a Pictures folder, and an Atelier home of its own."""
    home = tmp_path / "user"
    (home / "Pictures").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("ATELIER_HOME", str(tmp_path / "atelier"))
    monkeypatch.chdir(tmp_path)  # where Atelier was launched from: never offered
    return home


class Dialogs:
    """Stands in for QFileDialog: records the folder each dialog started in and answers
    with the next path given."""

    def __init__(self, monkeypatch) -> None:
        self.started: list[Path] = []
        self.answers: list[Path] = []
        dialog = document_files.QFileDialog
        monkeypatch.setattr(dialog, "getOpenFileName", self._answer)
        monkeypatch.setattr(dialog, "getSaveFileName", self._answer)

    def _answer(self, parent, title, start, filters):
        start = Path(start)
        self.started.append(start if start.suffix == "" else start.parent)
        answer = self.answers.pop(0)
        return str(answer), ""


def files_of(qtbot) -> DocumentFiles:
    window = QWidget()
    qtbot.addWidget(window)
    doc = Document((16, 16), [RasterLayer.from_array(np.full((16, 16, 4), 200, np.uint8))])
    session, messages = DocumentSession(doc), MessageBar()
    qtbot.addWidget(messages)
    files = DocumentFiles(window, session, messages, lambda text: None, image_export.exporters)
    return files


def test_dialogs_start_in_pictures_then_where_each_action_was_last_used(user, qtbot, monkeypatch):
    dialogs = Dialogs(monkeypatch)
    exports, opens = user / "exports", user / "shots"
    exports.mkdir(), opens.mkdir()
    files = files_of(qtbot)

    dialogs.answers = [exports / "a.png", exports / "b.png"]
    files.export()
    files.export()
    assert dialogs.started == [user / "Pictures", exports]

    picture = opens / "holiday.png"
    files.export(picture)  # given a path: no dialog, nothing remembered
    dialogs.answers = [picture]
    files.open()
    assert dialogs.started[-1] == user / "Pictures"  # open has its own memory

    restarted = files_of(qtbot)  # a new window, after a restart
    dialogs.answers = [exports / "c.png"]
    restarted.export()
    assert dialogs.started[-1] == exports


def test_a_document_with_a_folder_starts_every_dialog_there(user, qtbot, monkeypatch):
    dialogs = Dialogs(monkeypatch)
    project_folder, other = user / "work", user / "elsewhere"
    project_folder.mkdir(), other.mkdir()
    files = files_of(qtbot)
    dialogs.answers = [other / "x.png"]
    files.export()

    save_project(files.session.doc, project_folder / "poster.atelier")
    files.open(project_folder / "poster.atelier")
    dialogs.answers = [project_folder / "poster.png", project_folder / "copy.atelier"]
    files.export()
    files.save_as()
    assert dialogs.started[-2:] == [project_folder, project_folder]

    picture = other / "snap.png"
    files.export(picture)
    files.open(picture)  # a picture opened as a document: its folder is the document's
    dialogs.answers = [other / "snap-edit.png"]
    files.export()
    assert dialogs.started[-1] == other


def test_the_verify_panels_file_dialog_starts_where_the_users_files_are(user, qtbot, monkeypatch):
    from app.ui.app_context import WindowContext
    from plugins.provenance import ui_verify

    started: list[str] = []
    shots = user / "shots"
    shots.mkdir()
    answers = [[str(shots / "a.png")], []]

    def answer(parent, title, start, filters):
        started.append(start)
        return answers.pop(0), ""

    monkeypatch.setattr(ui_verify.QFileDialog, "getOpenFileNames", answer)
    session, messages = DocumentSession(Document((8, 8), [])), MessageBar()
    qtbot.addWidget(messages)
    context = WindowContext(session, None, None, None, messages)
    panel = ui_verify.make_panel(context)
    qtbot.addWidget(panel)
    monkeypatch.setattr(panel, "verify", lambda paths: None)
    panel.choose_files()
    panel.choose_files()
    assert [Path(s) for s in started] == [user / "Pictures", shots]
