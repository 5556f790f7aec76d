"""A reference layer's IP-Adapter picker in the window: it offers the installed IP-Adapters
that fit the Generate panel's checkpoint ("Automatic (first that fits)" first), the choice
is an undoable step that reaches the job's ReferenceSpec.model, a choice that stops fitting
shows as not available, and it survives saving and reopening the project (one saved before
the picker existed opens as Automatic)."""

from __future__ import annotations

import json
import shutil
import zipfile

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.model import history_names
from app.model.document import Document
from app.model.layers import RasterLayer, ReferenceLayer
from app.model.project_file import load_project, save_project
from app.model.reference_layers import use_as_reference
from app.ui.reference_properties import AUTOMATIC
from plugins.diffusion import TXT2IMG
from tests.canvas_helpers import (  # noqa: F401 (fixtures)
    close_window,
    diffusion_registry,
    make_store,
    make_window,
    qt_loop,
)
from tests.fixtures import tiny_ip_adapters
from tests.test_gui_canvas_generate import choose_mode
from tests.test_gui_main_window import fill


@pytest.fixture(scope="module")
def adapter_files(tmp_path_factory):
    """IP-Adapters for the tiny SD 1.x UNet, the tiny SDXL UNet, and a real SD 1.x one
    (768-wide cross-attention, which the tiny SD 1.x model is not)."""
    root = tmp_path_factory.mktemp("ipadapters")
    tiny_ip_adapters.save_tiny_ip_adapter("sd15", root / "sd15", name="ip-adapter-tiny")
    tiny_ip_adapters.save_tiny_ip_adapter("sdxl", root / "sdxl", name="ip-adapter-tiny-xl")
    tiny_ip_adapters.save_tiny_ip_adapter("sd15", root / "wide", name="ip-adapter-sd15", width=768)
    return root


@pytest.fixture
def window(qtbot, qt_loop, atelier_home, tiny_config_root, tmp_path, adapter_files):  # noqa: F811
    """The window on a 64x64 document whose "Look" layer is a reference picture."""
    shutil.copytree(adapter_files, atelier_home / "models" / "ipadapter" / "adapters")
    store = make_store(atelier_home, tmp_path, tiny_config_root)
    win = make_window(qtbot, diffusion_registry(), store, close=False)
    look = np.zeros((64, 64, 4), np.uint8)
    look[:, :32], look[:, 32:] = (250, 30, 20, 255), (20, 40, 240, 255)
    white = RasterLayer.from_array(np.full((64, 64, 4), 255, np.uint8), name="Background")
    win.files.new(Document((64, 64), [white, RasterLayer.from_array(look, name="Look")]))
    layer = next(lay for lay in win.session.doc.walk() if lay.name == "Look")
    win.session.push(use_as_reference(win.session.doc, layer.id))
    win.session.set_active(layer.id)
    yield win
    close_window(win)


def offered(win) -> list[str]:
    box = win.reference_properties.model
    return [box.itemText(i) for i in range(box.count())]


def choose_checkpoint(win, name: str) -> None:
    picker = win.prompt_panel.model_picker
    picker.setCurrentIndex(picker.findData(name))


def choose_adapter(win, text: str) -> None:
    box = win.reference_properties.model
    box.setCurrentIndex(box.findText(text))
    box.activated.emit(box.currentIndex())


def test_the_picker_offers_only_the_adapters_that_fit_the_checkpoint(window):
    win = window
    props = win.reference_properties
    assert props.isVisibleTo(win.layers_panel)
    choose_checkpoint(win, "tiny-sd15")
    assert offered(win) == [AUTOMATIC, "ip-adapter-tiny"]  # not the 768-wide one
    assert props.model.currentData() == ""
    choose_checkpoint(win, "tiny-sdxl")
    assert offered(win) == [AUTOMATIC, "ip-adapter-tiny-xl"]


def test_the_choice_is_undoable_and_reaches_the_job(window, qtbot, monkeypatch):
    win = window
    layer = win.session.active
    assert isinstance(layer, ReferenceLayer)
    choose_mode(win, TXT2IMG.id)
    fill(win, qtbot, "a circle")  # chooses tiny-sd15
    choose_adapter(win, "ip-adapter-tiny")
    assert layer.model == "ip-adapter-tiny"
    assert win.session.history.undo_label == history_names.CHANGE_REFERENCE_MODEL

    sent = []
    monkeypatch.setattr(win.gen, "run", sent.append)
    QTest.mouseClick(win.prompt_panel.generate_button, Qt.MouseButton.LeftButton)
    (reference,) = sent[0].params.references
    assert reference.model == "ip-adapter-tiny" and reference.weight == layer.weight

    win.undo_action.trigger()
    assert layer.model == "" and win.reference_properties.model.currentText() == AUTOMATIC
    QTest.mouseClick(win.prompt_panel.generate_button, Qt.MouseButton.LeftButton)
    assert sent[1].params.references[0].model == ""
    win.redo_action.trigger()
    assert win.reference_properties.model.currentText() == "ip-adapter-tiny"

    choose_checkpoint(win, "tiny-sdxl")  # the choice no longer fits: named, not dropped
    assert win.reference_properties.model.currentText() == "ip-adapter-tiny (not available)"
    assert layer.model == "ip-adapter-tiny"


def test_the_choice_survives_saving_and_reopening(window, tmp_path):
    win = window
    choose_checkpoint(win, "tiny-sd15")
    choose_adapter(win, "ip-adapter-tiny")
    path = tmp_path / "look.atelier"
    save_project(win.session.doc, path)
    reopened = next(lay for lay in load_project(path).walk() if lay.name == "Look")
    assert isinstance(reopened, ReferenceLayer) and reopened.model == "ip-adapter-tiny"

    older = tmp_path / "older.atelier"  # saved before references had an IP-Adapter
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(older, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "manifest.json":
                manifest = json.loads(data)
                for entry in manifest["layers"]:
                    entry.pop("model", None)
                data = json.dumps(manifest).encode()
            target.writestr(item, data)
    reopened = next(lay for lay in load_project(older).walk() if lay.name == "Look")
    assert isinstance(reopened, ReferenceLayer) and reopened.model == ""
    assert reopened.weight == 0.6
