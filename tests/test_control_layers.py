"""Control layers in the document (Qt-free): their map, that no composite shows them, their
commands and undo, the brush on them, and that projects keep them."""

from __future__ import annotations

import dataclasses
import json
import zipfile

import numpy as np
import pytest

from app.model.brush import Brush, paint_stroke
from app.model.commands import Flatten, MergeDown, OffsetLayer, SetLayerProps
from app.model.control_layers import (
    SetControl,
    active_controls,
    add_control_layer,
    control_map_of,
    convert_to_control,
    map_crop,
)
from app.model.document import Document
from app.model.history import History
from app.model.layers import (
    CONTROL_LABELS,
    ControlLayer,
    ControlSettings,
    GroupLayer,
    RasterLayer,
)
from app.model.project_file import ProjectFileError, load_project, save_project
from app.model.tiles import Rect
from plugins.diffusion.control_maps import PREPROCESSORS, control_map
from plugins.diffusion.params import CONTROL_KINDS

SIZE = (320, 240)
BLACK = (0, 0, 0, 255)


def picture_doc() -> Document:
    """A grey picture with a dark square, as the one pixel layer."""
    pixels = np.full((SIZE[1], SIZE[0], 4), 200, np.uint8)
    pixels[60:140, 100:200, :3] = 30
    pixels[..., 3] = 255
    return Document(SIZE, [RasterLayer.from_array(pixels, name="Photo")])


def scribbled(doc: Document, kind: str = "scribble") -> ControlLayer:
    """Add a control layer of `kind` with a black box drawn on it (20..60 x 30..50)."""
    history = History(doc)
    command = add_control_layer(doc, kind)
    history.push(command)
    layer = command.layer
    layer.pixels.write(20, 30, np.full((20, 40, 4), BLACK, np.uint8))
    return layer


def test_control_kinds_agree_with_the_steering_contract():
    assert tuple(CONTROL_LABELS) == CONTROL_KINDS == tuple(PREPROCESSORS)
    with pytest.raises(ValueError, match="unknown control kind"):
        ControlSettings("edges")
    with pytest.raises(ValueError, match="start to end"):
        ControlSettings(start=0.8, end=0.2)
    with pytest.raises(ValueError, match="strength"):
        ControlSettings(strength=-1)


def test_the_map_is_the_kinds_preprocessor_and_follows_the_pixels():
    doc = picture_doc()
    layer = scribbled(doc)
    drawn = control_map_of(layer)
    assert drawn.shape == (SIZE[1], SIZE[0], 3)
    assert drawn[40, 40].tolist() == [255, 255, 255]  # dark strokes become white lines
    assert drawn[200, 300].tolist() == [0, 0, 0]
    assert control_map_of(layer) is drawn  # cached while nothing changed
    layer.pixels.write(200, 150, np.full((30, 30, 4), BLACK, np.uint8))
    again = control_map_of(layer)
    assert again is not drawn and again[165, 215].tolist() == [255, 255, 255]
    expected = control_map("scribble", layer.pixels.to_array())
    assert np.array_equal(again, expected)


def test_composites_never_show_a_control_layer():
    doc = picture_doc()
    before = doc.composite()
    scribbled(doc)
    assert np.array_equal(doc.composite(), before)
    assert Flatten().do(doc) is not None
    assert [type(lay) for lay in doc.layers] == [RasterLayer, ControlLayer]
    assert np.array_equal(doc.layers[0].pixels.to_array(), before)


def test_control_layers_cannot_be_merged():
    doc = picture_doc()
    layer = scribbled(doc)
    with pytest.raises(ValueError, match="control and reference layers cannot be merged"):
        History(doc).push(MergeDown(layer.id))


def test_only_shown_control_layers_with_pixels_steer():
    doc = picture_doc()
    history = History(doc)
    drawn = scribbled(doc)
    empty = add_control_layer(doc, "canny")
    history.push(empty)
    assert active_controls(doc) == [drawn]
    history.push(SetLayerProps(drawn.id, visible=False))
    assert active_controls(doc) == []
    history.undo()
    group = GroupLayer(name="Hidden group", visible=False, children=[doc.detach(drawn.id)[0]])
    doc.insert(group)
    assert active_controls(doc) == []


def test_new_and_convert_are_undoable_and_convert_copies_the_pixels():
    doc = picture_doc()
    history = History(doc)
    photo = doc.layers[0]
    command = convert_to_control(doc, photo.id, "canny")
    history.push(command)
    control = command.layer
    assert history.undo_label == "Convert layer to control layer"
    assert control.name == "Canny of Photo" and doc.layers == [photo, control]
    assert np.array_equal(control.pixels.to_array(), photo.pixels.to_array())
    edges = control_map_of(control)
    assert edges[60, 150].any() and not edges[100, 150].any()  # the square's edge, not inside
    history.undo()
    assert doc.layers == [photo]
    history.push(add_control_layer(doc, "depth"))
    assert history.undo_label == "Add control layer"
    assert doc.layers[-1].name == "Depth control"
    history.push(add_control_layer(doc, "depth"))
    assert doc.layers[-1].name == "Depth control 2"
    with pytest.raises(ValueError, match="not a pixel layer"):
        convert_to_control(doc, doc.layers[-1].id, "canny")


def test_settings_changes_are_undoable_and_a_drag_is_one_step():
    doc = picture_doc()
    layer = scribbled(doc)
    history = History(doc)
    history.push(SetControl(layer.id, kind="lineart"))
    assert history.undo_label == "Change control kind" and layer.control.kind == "lineart"
    assert np.array_equal(control_map_of(layer), control_map("lineart", layer.pixels.to_array()))
    for value in (0.9, 0.7, 0.5):
        history.push(SetControl(layer.id, merge_key="drag", strength=value))
    assert history.undo_label == "Change control strength" and layer.control.strength == 0.5
    history.push(SetControl(layer.id, start=0.2, end=0.6))
    assert history.undo_label == "Change control step range"
    history.push(SetControl(layer.id, model="control_sd15_scribble"))
    assert history.undo_label == "Change control model"
    for _ in range(3):
        history.undo()
    assert layer.control == ControlSettings("lineart")
    history.undo()
    assert layer.control == ControlSettings("scribble")
    with pytest.raises(ValueError, match="start to end"):
        history.push(SetControl(layer.id, start=0.9, end=0.1))
    assert layer.control == ControlSettings("scribble")
    with pytest.raises(ValueError, match="is not a control layer"):
        history.push(SetControl(doc.layers[0].id, strength=0.5))


def test_the_brush_and_eraser_paint_a_scribble_and_undo_restores_it():
    doc = Document(SIZE)
    history = History(doc)
    command = add_control_layer(doc, "scribble")
    history.push(command)
    layer = command.layer
    line = [(40, 120, 1.0), (280, 120, 1.0)]
    stroke, _ = paint_stroke(layer, Brush(size=12, color=BLACK[:3]), line)
    history.push(stroke)
    lines = control_map_of(layer)
    assert lines[120, 160].tolist() == [255, 255, 255] and not lines[60, 160].any()
    erase, _ = paint_stroke(layer, Brush(size=40, eraser=True), [(160, 100, 1.0), (160, 140, 1.0)])
    history.push(erase)
    assert not control_map_of(layer)[120, 160].any()
    assert control_map_of(layer)[120, 60].all()
    history.undo()
    assert control_map_of(layer)[120, 160].all()
    history.push(OffsetLayer(layer.id, 0, 60))
    assert control_map_of(layer)[180, 160].all() and not control_map_of(layer)[120, 160].any()


def test_map_crop_is_black_off_the_canvas():
    doc = picture_doc()
    layer = scribbled(doc)
    crop = map_crop(layer, Rect(-10, 20, 60, 40))
    assert crop.shape == (40, 60, 3)
    assert not crop[:, :10].any()  # left of the canvas
    assert crop[20, 40].all()  # canvas (30, 40): on the box
    assert np.array_equal(crop[:, 10:], control_map_of(layer)[20:60, 0:50])


def test_a_project_keeps_control_layers_and_older_projects_still_open(tmp_path):
    doc = picture_doc()
    plain = save_project(doc, tmp_path / "plain.atelier")
    with zipfile.ZipFile(plain) as archive:
        assert json.loads(archive.read("manifest.json"))["version"] == 1
    layer = scribbled(doc, "softedge")
    settings = ControlSettings("softedge", "my_softedge", 0.75, 0.1, 0.8)
    History(doc).push(
        SetControl(layer.id, **{k: v for k, v in dataclasses.asdict(settings).items()})
    )
    layer.opacity = 0.5
    path = save_project(doc, tmp_path / "steered.atelier")
    opened = load_project(path)
    (control,) = [lay for lay in opened.walk() if isinstance(lay, ControlLayer)]
    assert control.control == settings and control.name == layer.name
    assert control.opacity == 0.5 and control.id == layer.id
    assert np.array_equal(control.pixels.to_array(), layer.pixels.to_array())
    assert np.array_equal(opened.composite(), doc.composite())
    assert load_project(plain).layers[0].name == "Photo"


def test_a_project_with_a_bad_control_kind_is_refused(tmp_path):
    doc = picture_doc()
    scribbled(doc)
    path = save_project(doc, tmp_path / "steered.atelier")
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(files["manifest.json"])
    manifest["layers"][1]["control"]["kind"] = "telepathy"
    files["manifest.json"] = json.dumps(manifest).encode()
    bad = tmp_path / "bad.atelier"
    with zipfile.ZipFile(bad, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    with pytest.raises(ProjectFileError, match="bad.atelier"):
        load_project(bad)
