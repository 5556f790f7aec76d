"""Project files, crash recovery, image import/export: exact round trips, clear errors,
no lost data."""

from __future__ import annotations

import errno
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.model.autosave import (
    Autosaver,
    discard_recovery,
    find_recovery_files,
    recovery_path,
    write_recovery,
)
from app.model.commands import SetLayerProps
from app.model.document import Document
from app.model.history import History
from app.model.image_files import ImageReadError, ImageWriteError, read_generation_info
from app.model.image_import import export_document, open_image, read_image
from app.model.layers import GroupLayer, Layer, MaskLayer, RasterLayer
from app.model.project_file import (
    ProjectFileError,
    load_project,
    project_bytes,
    read_manifest,
    save_project,
)
from app.model.selection import Selection
from app.model.tiles import Rect
from engine.protocol import ImageData
from plugins.image_export import plugin as image_export
from plugins.image_export.writers import write_jpeg
from tests.image_checks import psnr

EXPORTERS = image_export.exporters
SIZE = (530, 400)
RECIPE = {
    "task": "inpaint",
    "version": 2,
    "params": {"prompt": "a café at dusk, 夕暮れ", "steps": 20, "cfg_scale": 6.5, "seed": 42},
    "model": {"name": "tiny-sd15", "hash": "abc123"},
    "seed": 42,
}


def noise(h: int, w: int, seed: int, channels: int = 4) -> np.ndarray:
    shape = (h, w, channels) if channels > 1 else (h, w)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def make_doc() -> Document:
    layer_mask = MaskLayer.blank(SIZE, fill=255, name="layer mask")
    layer_mask.pixels.write(10, 10, noise(50, 70, 5, channels=1))
    faint = noise(SIZE[1], SIZE[0], 1)
    faint[..., 3] = np.where(faint[..., 3] < 40, 0, faint[..., 3])  # colour under alpha 0
    group_mask = MaskLayer.from_array(noise(SIZE[1], SIZE[0], 6, channels=1), visible=False)
    inpaint = MaskLayer.blank(SIZE, name="inpaint")
    inpaint.pixels.write(300, 200, np.full((40, 40), 255, np.uint8))
    opaque = noise(100, 120, 3)
    opaque[..., 3] = 255  # saved as an RGB PNG
    layers: list[Layer] = [
        RasterLayer.from_array(faint, name="background"),
        RasterLayer.from_array(
            noise(90, 300, 2),
            SIZE,
            200,
            290,
            name="generated",
            recipe=RECIPE,
            opacity=1 / 3,
            blend="multiply",
            mask=layer_mask,
        ),
        GroupLayer(
            name="group ✨",
            opacity=0.75,
            blend="overlay",
            visible=False,
            mask=group_mask,
            children=[
                RasterLayer.from_array(opaque, SIZE, 260, 0, name="opaque", blend="screen"),
                RasterLayer.blank(SIZE, name="empty"),
            ],
        ),
        inpaint,
    ]
    doc = Document(SIZE, layers)
    doc.selection = Selection.ellipse(SIZE, Rect(20, 30, 100, 80))
    return doc


def describe(layer: Layer) -> tuple:
    kind = type(layer).__name__
    props = (kind, layer.id, layer.name, layer.visible, layer.opacity, layer.blend)
    pixels = getattr(layer, "pixels", None)
    mask = getattr(layer, "mask", None)
    return (
        *props,
        getattr(layer, "recipe", None),
        (pixels.to_array().tobytes(), pixels.fill) if pixels else None,
        describe(mask) if mask else None,
        tuple(describe(c) for c in getattr(layer, "children", [])),
    )


def assert_same(a: Document, b: Document) -> None:
    assert (a.id, a.size) == (b.id, b.size)
    assert [describe(x) for x in a.layers] == [describe(x) for x in b.layers]
    assert (a.selection is None) == (b.selection is None)
    if a.selection is not None:
        assert np.array_equal(a.selection.mask, b.selection.mask)


# ---- project files ---------------------------------------------------------------------------


def test_save_and_load_is_bit_exact(tmp_path):
    doc = make_doc()
    path = save_project(doc, tmp_path / "scene.atelier")
    loaded = load_project(path)
    assert_same(doc, loaded)
    assert np.array_equal(loaded.composite(), doc.composite())
    assert loaded.layers[1].recipe == RECIPE
    manifest = read_manifest(path)
    assert manifest["format"] == "atelier-project" and manifest["version"] == 1
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    assert f"layers/{doc.layers[1].id}.png" in names
    assert f"masks/{doc.layers[1].mask.id}.png" in names
    assert f"layers/{doc.layers[2].children[1].id}.png" not in names  # empty: no asset
    # saving the loaded document again gives the same file
    assert project_bytes(loaded) == project_bytes(doc)


def test_an_empty_document_round_trips(tmp_path):
    doc = Document((64, 32))
    loaded = load_project(save_project(doc, tmp_path / "empty.atelier"))
    assert_same(doc, loaded)


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("truncated", lambda good: good[: len(good) // 2]),
        ("random bytes", lambda good: bytes(range(256)) * 40),
        ("empty file", lambda good: b""),
        ("foreign zip", lambda good: zip_of({"readme.txt": b"hello"})),
        ("other format", lambda good: zip_of({"manifest.json": b'{"format": "krita"}'})),
        ("bad json", lambda good: zip_of({"manifest.json": b"{not json"})),
        ("newer version", lambda good: edit_manifest(good, version=99)),
        ("missing asset", lambda good: drop_assets(good)),
        ("broken png", lambda good: replace_assets(good, b"\x89PNG\r\n\x1a\n garbage")),
        ("bad layer", lambda good: edit_manifest(good, layers=[{"type": "sparkle"}])),
    ],
)
def test_a_damaged_project_gives_a_clear_error_and_stays_untouched(tmp_path, name, make):
    path = tmp_path / "broken.atelier"
    path.write_bytes(make(project_bytes(make_doc())))
    data = path.read_bytes()
    with pytest.raises(ProjectFileError, match="broken.atelier"):
        load_project(path)
    assert path.read_bytes() == data


def test_missing_file_and_folder_errors(tmp_path):
    with pytest.raises(ProjectFileError, match="no such file"):
        load_project(tmp_path / "nothing.atelier")
    with pytest.raises(ProjectFileError, match="folder"):
        load_project(tmp_path)


def test_disk_full_during_save_keeps_the_previous_file(tmp_path, monkeypatch):
    path = save_project(make_doc(), tmp_path / "scene.atelier")
    previous = path.read_bytes()

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("engine.file_writing.os.fsync", disk_full)
    changed = make_doc()
    with pytest.raises(ProjectFileError, match="No space left on device"):
        save_project(changed, path)
    assert path.read_bytes() == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.atelier"]  # no temp files


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, blob in files.items():
            archive.writestr(name, blob)
    return buffer.getvalue()


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def edit_manifest(data: bytes, **changes) -> bytes:
    files = unzip(data)
    files["manifest.json"] = json.dumps({**json.loads(files["manifest.json"]), **changes}).encode()
    return zip_of(files)


def drop_assets(data: bytes) -> bytes:
    return zip_of({k: v for k, v in unzip(data).items() if not k.startswith("layers/")})


def replace_assets(data: bytes, blob: bytes) -> bytes:
    return zip_of({k: (blob if k.startswith("layers/") else v) for k, v in unzip(data).items()})


# ---- crash recovery --------------------------------------------------------------------------


def test_autosave_writes_only_changes_and_recovers_after_a_crash(tmp_path):
    home = tmp_path / "home"
    doc = make_doc()
    history = History(doc)
    saver = Autosaver(doc, home, source=tmp_path / "scene.atelier")
    assert saver.tick() is None  # nothing changed yet
    history.push(SetLayerProps(doc.layers[0].id, name="edited"))
    path = saver.tick()
    assert path == recovery_path(doc.id, home) and path.exists()
    stamp = path.stat().st_mtime_ns
    assert saver.tick() is None and path.stat().st_mtime_ns == stamp
    # the app crashes here; on the next start:
    found = find_recovery_files(home)
    assert [f.document_id for f in found] == [doc.id]
    assert found[0].source == str(tmp_path / "scene.atelier")
    recovered = found[0].load()
    assert_same(doc, recovered)
    assert recovered.layers[0].name == "edited"


def test_clean_close_and_save_discard_the_recovery_file(tmp_path):
    home = tmp_path / "home"
    doc = make_doc()
    saver = Autosaver(doc, home)
    doc.revision += 1
    saver.tick()
    saver.saved(tmp_path / "scene.atelier")
    assert find_recovery_files(home) == [] and not saver.pending
    doc.revision += 1
    saver.tick()
    saver.close()
    assert find_recovery_files(home) == []


def test_damaged_recovery_files_are_skipped_and_kept(tmp_path):
    home = tmp_path / "home"
    good = write_recovery(make_doc(), home)
    bad = good.parent / "broken.atelier"
    bad.write_bytes(b"not a zip")
    assert [f.path for f in find_recovery_files(home)] == [good]
    assert bad.exists()
    discard_recovery(make_doc().id, home)  # unknown id: nothing to do
    with pytest.raises(ValueError):
        recovery_path("../escape", home)


# ---- image import and export -----------------------------------------------------------------


def test_open_image_applies_exif_orientation(tmp_path):
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :10] = (255, 0, 0)  # red on the left
    image = Image.fromarray(pixels)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display turned 90 degrees clockwise
    path = tmp_path / "photo.jpg"
    image.save(path, quality=95, exif=exif.tobytes())
    doc = open_image(path)
    assert doc.size == (20, 40)
    top = doc.composite(Rect(0, 0, 20, 5))
    assert top[..., 0].mean() > 200 and top[..., 3].min() == 255  # red is now on top
    assert doc.layers[0].name == "photo"


def test_unreadable_images_raise_a_clear_error(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not an image")
    with pytest.raises(ImageReadError, match="notes.png"):
        open_image(path)
    with pytest.raises(ImageReadError, match="missing.png"):
        read_image(tmp_path / "missing.png")


def test_export_keeps_pixels_and_generation_settings(tmp_path):
    from plugins.provenance.watermark import detect_image
    from plugins.provenance.xmp import read_xmp

    doc = make_doc()
    png = export_document(doc, tmp_path / "out.png", EXPORTERS)
    exported = read_image(png)
    assert np.array_equal(exported[..., 3], doc.composite()[..., 3])
    assert psnr(exported[..., :3], doc.composite()[..., :3]) > 38  # only the watermark
    assert detect_image(np.ascontiguousarray(exported[..., :3])).present
    assert "compositeWithTrainedAlgorithmicMedia" in read_xmp(png.read_bytes())
    info = read_generation_info(png)
    assert info.prompt == RECIPE["params"]["prompt"] and info.seed == 42
    layer = doc.layers[1]
    one = export_document(doc, tmp_path / "layer.png", EXPORTERS, layer.id)
    assert psnr(read_image(one)[..., :3], layer.pixels.to_array()[..., :3]) > 38
    reopened = open_image(one)
    assert reopened.layers[0].recipe == RECIPE
    for suffix in (".jpg", ".webp"):
        out = export_document(doc, tmp_path / f"out{suffix}", EXPORTERS, layer.id)
        assert read_image(out).shape == (SIZE[1], SIZE[0], 4)
        assert read_generation_info(out).seed == 42


def test_export_without_generated_layers_is_untouched(tmp_path):
    doc = Document(SIZE, [RasterLayer.from_array(noise(SIZE[1], SIZE[0], 3), name="photo")])
    png = export_document(doc, tmp_path / "photo.png", EXPORTERS)
    assert np.array_equal(read_image(png), doc.composite())
    assert b"DigitalSourceType" not in png.read_bytes()


def test_export_errors_name_the_file(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    with pytest.raises(ValueError, match=r"out.gif: use .png, .jpg or .webp"):
        export_document(Document((4, 4)), tmp_path / "out.gif", EXPORTERS)
    with pytest.raises(ImageWriteError, match="does not exist"):
        write_jpeg(tmp_path / "no" / "out.jpg", ImageData(rgba))


def test_project_paths_accept_strings(tmp_path):
    path = save_project(make_doc(), str(tmp_path / "s.atelier"))
    assert isinstance(path, Path) and load_project(str(path)).size == SIZE


def test_a_saved_canvas_over_pillows_bomb_limit_opens_again(tmp_path):
    """A 9500 x 9500 layer (90 megapixels, a canvas File > New allows) was saved but could
    not be opened again: Pillow's decompression-bomb warning was taken as an error."""
    side = 9500
    layer = RasterLayer.blank((side, side), name="Wide")
    dot = np.full((1, 1, 4), 255, np.uint8)
    layer.pixels.write(0, 0, dot)
    layer.pixels.write(side - 1, side - 1, dot)  # the stored PNG is the whole canvas
    path = save_project(Document((side, side), [layer]), tmp_path / "wide.atelier")
    (opened,) = load_project(path).layers
    assert opened.pixels.read(Rect(side - 1, side - 1, 1, 1))[0, 0, 3] == 255
