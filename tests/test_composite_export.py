"""An exported picture of several layers says so: `atelier info` reports its true size and each
generated layer's place and recipe, Reuse settings offers the layers (the largest first,
not silently the last), and verify finds each layer's mark where it lies (issue 15,
defect 6)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMenu

from app.cli import main
from app.model.document import Document
from app.model.image_files import read_generation_info
from app.model.image_import import export_document, open_image
from app.model.layers import RasterLayer
from app.ui.composite_settings import MENU_NAME
from plugins.image_export import plugin as image_export_plugin
from plugins.provenance import watermark
from tests.canvas_helpers import canvas_window_fixture, qt_loop  # noqa: F401 (fixtures)
from tests.test_verify import photo, verify

SIZE = (640, 512)
EXPORTERS = image_export_plugin.exporters


def recipe(prompt: str, seed: int, side: int) -> dict:
    params = {"prompt": prompt, "seed": seed, "steps": 4, "cfg_scale": 3.0,
              "scheduler": "DDIM", "width": side, "height": side, "model": "tiny-sd15"}  # fmt: skip
    model = {"name": "tiny-sd15", "family": "sd15", "hash": "c5989831b9"}
    return {"task": "diffusion.txt2img", "version": 1, "params": params, "model": model}


def generated(
    name: str, prompt: str, seed: int, side: int, x: int = 0, y: int = 0, canvas=SIZE
) -> RasterLayer:
    """A layer as generation leaves it: its pixels carry its recipe's mark."""
    made = recipe(prompt, seed, side)
    rgb = watermark.embed_image(photo(side, seed), watermark.recipe_payload(made))
    rgba = np.dstack([rgb, np.full((side, side), 255, np.uint8)])
    return RasterLayer.from_array(rgba, canvas, x, y, name=name, recipe=made)


@pytest.fixture
def composite(tmp_path):
    """A 640 x 512 picture: a white background, a large generated "sky" and, on top, a
    small generated "kite"; exported as PNG and JPEG (ask for a home folder first)."""
    white = np.full((SIZE[1], SIZE[0], 4), 255, np.uint8)
    doc = Document(SIZE, [RasterLayer.from_array(white, name="Background")])
    doc.insert(generated("sky", "a stormy sky", 1, 256, 32, 48))
    doc.insert(generated("kite", "a green kite", 2, 128, 400, 300))
    png = export_document(doc, tmp_path / "poster.png", EXPORTERS)
    jpeg = export_document(doc, tmp_path / "poster.jpg", EXPORTERS)
    return png, jpeg


def test_info_reports_the_composite_and_each_generated_layer(home, composite, capsys):
    png, _ = composite
    assert main(["info", str(png)]) == 0
    out = capsys.readouterr().out
    assert "Picture:    640 x 512, 3 layers, 2 of them generated" in out
    kite, sky = out.split("Layer 1:")[1].split("Layer 2:")
    assert kite.startswith('    "kite" at 400, 300, 128 x 128\n')
    assert "Prompt:     a green kite" in kite and "Size:       128 x 128" in kite
    assert sky.startswith('    "sky" at 32, 48, 256 x 256 (Reuse settings loads this one)\n')
    assert "Prompt:     a stormy sky" in sky and "Seed:       1" in sky
    assert not any(line.startswith(("Size:", "Prompt:")) for line in out.splitlines())


def test_the_settings_of_a_composite_are_its_largest_layer_not_its_last(home, composite):
    png, jpeg = composite
    info = read_generation_info(png)
    assert info.recipe == recipe("a stormy sky", 1, 256) and info.prompt == "a stormy sky"
    assert [layer.name for layer in info.composite.layers] == ["kite", "sky"]
    assert info.composite.chosen_layer.name == "sky"
    assert info.composite.layers[0].info.recipe == recipe("a green kite", 2, 128)
    assert (info.composite.width, info.composite.height) == SIZE

    other = read_generation_info(jpeg)  # A1111's parameters only: the chosen layer's
    assert other.prompt == "a stormy sky" and other.seed == 1
    assert other.extras["Composite"] == (
        '640x512, 3 layers (2 generated); these settings: layer "sky"'
    )


def test_a_picture_that_is_one_generated_layer_is_no_composite(home, tmp_path):
    made = generated("only", "a red fox", 3, 128, canvas=(128, 128))
    doc = Document((128, 128), [made])
    path = export_document(doc, tmp_path / "fox.png", EXPORTERS)
    info = read_generation_info(path)
    assert info.composite is None and info.recipe == made.recipe
    assert open_image(path).layers[0].recipe == made.recipe


def test_an_opened_composite_is_not_one_recipe(home, composite):
    png, _ = composite
    assert open_image(png).layers[0].recipe is None  # it cannot regenerate as one layer


def test_verify_finds_each_layer_mark_where_the_layer_lies(home, composite, capsys):
    png, _ = composite
    assert verify(png) == 0
    out = capsys.readouterr().out
    kite = watermark.describe_payload(watermark.recipe_payload(recipe("a green kite", 2, 128)))
    sky = watermark.describe_payload(watermark.recipe_payload(recipe("a stormy sky", 1, 256)))
    assert f'id {kite["id"]} (layer "kite"), in 128 x 128 at 400,300: found' in out
    assert f'id {sky["id"]} (layer "sky"), in 256 x 256 at 32,48: found' in out
    assert "matches the metadata: every mark found is one it records" in out


def test_reuse_settings_of_an_opened_composite_offers_each_layer(canvas_window, composite):
    png, _ = composite
    win = canvas_window
    panel = win.prompt_panel
    assert win.open_file(png)
    bar = win.messages
    assert "poster.png is a picture of 3 layers, 2 of them generated" in bar.text
    assert 'Reuse settings loads the largest, "sky"' in bar.text
    QTest.mouseClick(bar.action_button, Qt.MouseButton.LeftButton)
    assert panel.mode_values()["prompt"] == "a stormy sky" and panel.form.value("seed") == 1

    win.session.history.mark_clean()
    assert win.open_file(png)
    assert bar.second_button.isVisible() and bar.second_button.text().startswith("Other layers")
    QTest.mouseClick(bar.second_button, Qt.MouseButton.LeftButton)
    menu = win.findChild(QMenu, MENU_NAME)
    kite, sky = menu.actions()
    assert kite.text().startswith("kite: \N{LEFT DOUBLE QUOTATION MARK}a green kite")
    kite.trigger()
    menu.close()
    assert panel.mode_values()["prompt"] == "a green kite" and panel.form.value("seed") == 2
