"""Reference layers (Qt-free): a pixel layer used as a reference picture leaves the composite,
goes with every job as a ReferenceSpec with its weight, is undoable and saved."""

from __future__ import annotations

import numpy as np
import pytest

from app.model.commands import SetLayerProps
from app.model.control_layers import add_control_layer
from app.model.document import Document
from app.model.history import History
from app.model.layers import RasterLayer, ReferenceLayer
from app.model.project_file import load_project, save_project
from app.model.reference_layers import (
    SetReferenceWeight,
    use_as_picture,
    use_as_reference,
)
from app.model.requests import build_request, describe_region
from app.model.selection import Selection
from plugins.diffusion import INPAINT, TXT2IMG

SIZE = (128, 96)


def doc_with_photo() -> tuple[Document, RasterLayer]:
    """A white background and a "Photo" layer: a red 40x30 patch at (20, 10), half of it
    half transparent."""
    white = np.full((SIZE[1], SIZE[0], 4), 255, np.uint8)
    photo = RasterLayer.blank(SIZE, name="Photo")
    patch = np.zeros((30, 40, 4), np.uint8)
    patch[...] = (255, 0, 0, 255)
    patch[:, 20:, 3] = 128
    photo.pixels.write(20, 10, patch)
    doc = Document(SIZE, [RasterLayer.from_array(white, name="Background"), photo])
    return doc, photo


def test_use_as_reference_leaves_the_composite_and_undo_brings_it_back():
    doc, photo = doc_with_photo()
    history = History(doc)
    with_photo = doc.composite()
    history.push(use_as_reference(doc, photo.id))
    reference = doc.find(photo.id)
    assert isinstance(reference, ReferenceLayer) and reference.weight == 0.6
    assert reference.name == "Photo" and reference.pixels is photo.pixels
    assert history.undo_label == "Convert layer to reference"
    assert (doc.composite() == 255).all()
    history.undo()
    assert doc.find(photo.id) is photo and np.array_equal(doc.composite(), with_photo)
    history.redo()
    history.push(use_as_picture(doc, photo.id))
    assert type(doc.find(photo.id)) is RasterLayer
    assert history.undo_label == "Convert reference to layer"
    assert np.array_equal(doc.composite(), with_photo)
    with pytest.raises(ValueError, match="not a reference"):
        use_as_picture(doc, photo.id)


def test_the_weight_changes_as_one_step_per_drag_and_stays_in_range():
    doc, photo = doc_with_photo()
    history = History(doc)
    history.push(use_as_reference(doc, photo.id))
    for weight in (0.7, 0.9, 1.2):
        history.push(SetReferenceWeight(photo.id, weight, merge_key="drag"))
    assert doc.find(photo.id).weight == 1.2
    assert history.undo_label == "Change reference weight"
    history.undo()
    assert doc.find(photo.id).weight == 0.6
    with pytest.raises(ValueError, match="weight must be within"):
        SetReferenceWeight(photo.id, 3.0)
    with pytest.raises(ValueError, match="is not a reference"):
        history.push(SetReferenceWeight(doc.layers[0].id, 0.5))


def test_jobs_take_the_shown_references_picture_and_weight():
    doc, photo = doc_with_photo()
    history = History(doc)
    history.push(use_as_reference(doc, photo.id))
    history.push(SetReferenceWeight(photo.id, 0.8))
    request = build_request(TXT2IMG, {"prompt": "x"}, doc, SIZE)
    (spec,) = request.params.references
    assert spec.weight == 0.8 and spec.image.shape == (30, 40, 3)  # the content's bounds
    assert spec.image[5, 5].tolist() == [255, 0, 0]
    assert spec.image[5, 30].tolist() == [255, 127, 127]  # half transparent, over white
    mask = np.zeros((SIZE[1], SIZE[0]), np.uint8)
    mask[40:60, 40:60] = 255
    doc.insert(ReferenceLayer.blank(SIZE, name="empty"))  # nothing to send
    doc.selection = Selection(mask)
    assert len(build_request(INPAINT, {"prompt": "x"}, doc, SIZE).params.references) == 1
    command = add_control_layer(doc, "scribble")
    history.push(command)
    command.layer.pixels.write(0, 0, np.full((4, 4, 4), 255, np.uint8))
    line = describe_region(INPAINT, {}, doc)
    assert line == "Repaints the selection (20 x 20), steered by 1 control and 1 reference"
    history.push(SetLayerProps(photo.id, visible=False))
    assert build_request(TXT2IMG, {"prompt": "x"}, doc, SIZE).params.references == ()


def test_a_project_keeps_reference_layers(tmp_path):
    doc, photo = doc_with_photo()
    history = History(doc)
    history.push(use_as_reference(doc, photo.id))
    history.push(SetReferenceWeight(photo.id, 1.5))
    opened = load_project(save_project(doc, tmp_path / "ref.atelier"))
    reference = opened.find(photo.id)
    assert isinstance(reference, ReferenceLayer) and reference.weight == 1.5
    assert np.array_equal(reference.pixels.to_array(), photo.pixels.to_array())
    assert np.array_equal(opened.composite(), doc.composite())
