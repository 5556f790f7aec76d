"""Exporters are plugins: the file's suffix chooses among the registered exporters of an
output's kind, and File > Export offers every registered exporter of images, a third-party
plugin's included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.model.document import Document
from app.model.image_files import read_generation_info
from app.model.layers import RasterLayer
from app.ui import document_files
from app.ui.document_files import export_filters
from engine.protocol import ImageData
from plugins.api import Exporter, Plugin
from plugins.exporters import export, exporter_for
from plugins.image_export import JPEG, PNG, WEBP
from plugins.image_export import plugin as image_export
from plugins.registry import Registry, discover
from tests.test_gui_main_window import make_store, make_window, qt_loop  # noqa: F401 (a fixture)

SAMPLE = Path(__file__).parent / "plugin_sample"
MP4 = Exporter("fake.mp4", "MP4 video", "video", (".mp4",), "fake.video:write")
RECIPE = {"task": "diffusion.txt2img", "version": 1, "params": {"prompt": "a kite", "seed": 5}}


@pytest.fixture
def sample_registry(monkeypatch) -> Registry:
    """The installed plugins and the sample plugin (as if pip-installed)."""
    monkeypatch.syspath_prepend(str(SAMPLE))
    return discover()


def test_the_suffix_chooses_the_exporter_of_the_kind():
    exporters = (MP4, *image_export.exporters)
    assert exporter_for(Path("a.PNG"), exporters, "images") is PNG
    assert exporter_for(Path("a.jpeg"), exporters, "images") is JPEG
    assert exporter_for(Path("a.mp4"), exporters, "video") is MP4
    with pytest.raises(ValueError, match=r"cannot write a.mp4: use .png, .jpg or .webp"):
        exporter_for(Path("a.mp4"), exporters, "images")
    with pytest.raises(ValueError, match="cannot write a.png: use .mp4$"):
        exporter_for(Path("a.png"), exporters, "video")
    with pytest.raises(ValueError, match="no plugin exports audio"):
        exporter_for(Path("a.wav"), exporters, "audio")


@pytest.mark.parametrize("exporter", [PNG, JPEG, WEBP])
def test_each_image_exporter_keeps_the_settings_of_the_recipe(tmp_path, exporter):
    pixels = np.full((16, 16, 4), 200, np.uint8)
    path = tmp_path / f"out{exporter.suffixes[0]}"
    assert export(exporter, path, ImageData(pixels, {"recipe": RECIPE})) == path
    with Image.open(path) as written:
        assert written.format == exporter.id.split(".")[1].upper() and written.size == (16, 16)
    info = read_generation_info(path)
    assert (info.prompt, info.seed) == ("a kite", 5)


def test_the_export_dialog_offers_every_registered_exporter_of_images(sample_registry):
    assert "sample" in [plugin.id for plugin in sample_registry.plugins]
    registry = Registry(
        plugins=[*sample_registry.plugins, Plugin("fake", "1", "Fake", exporters=(MP4,))]
    )
    assert export_filters(registry.exporters) == {
        "PNG image (*.png)": ".png",
        "JPEG image (*.jpg *.jpeg)": ".jpg",
        "WebP image (*.webp)": ".webp",
        "PPM image (*.ppm)": ".ppm",
    }


@pytest.mark.usefixtures("qt_loop")
def test_file_export_writes_with_the_sample_plugins_exporter(
    qtbot, home, tmp_path, sample_registry, monkeypatch
):
    window = make_window(qtbot, sample_registry, make_store(home, tmp_path))
    try:
        half = np.zeros((8, 12, 4), np.uint8)
        half[..., 0], half[:, :6, 3] = 255, 255  # red, its right half transparent
        window.files.replace(Document((12, 8), [RasterLayer.from_array(half, name="red")]))
        offered = []

        def choose_ppm(parent, title, name, filters):
            offered.append((name, filters))
            return str(tmp_path / "picture"), "PPM image (*.ppm)"  # typed without a suffix

        monkeypatch.setattr(document_files.QFileDialog, "getSaveFileName", choose_ppm)
        written = window.files.export()
    finally:
        window.shutdown_engine()
    [(name, filters)] = offered
    assert Path(name).name == "Untitled.png"
    assert filters == ";;".join(export_filters(sample_registry.exporters))
    assert written == tmp_path / "picture.ppm"
    with Image.open(written) as ppm:
        pixels = np.asarray(ppm)
    assert ppm.format == "PPM" and pixels.shape == (8, 12, 3)
    assert (pixels[:, :6] == (255, 0, 0)).all() and (pixels[:, 6:] == 255).all()  # over white
