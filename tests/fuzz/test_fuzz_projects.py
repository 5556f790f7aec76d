"""Hostile and damaged `.atelier` projects and recovery files: each gives one clear
ProjectFileError naming the file (or is set aside and reported), never a traceback, a hang,
a huge allocation or a window that cannot start."""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.model.autosave import find_recovery_files, recovery_dir, set_aside_damaged, write_recovery
from app.model.document import Document
from app.model.layers import GroupLayer, MaskLayer, RasterLayer
from app.model.project_file import ProjectFileError, load_project, project_bytes
from app.model.selection import Selection
from app.model.tiles import Rect
from tests.fuzz.harness import assert_clean_error, run_limited
from tests.test_gui_main_window import (  # noqa: F401 (qt_loop is a fixture)
    close_window,
    diffusion_registry,
    make_store,
    make_window,
    qt_loop,
)

NAME = "x.atelier"


def good_doc() -> Document:
    rgba = np.random.default_rng(1).integers(0, 256, (8, 12, 4), dtype=np.uint8)
    mask = MaskLayer.blank((32, 32), fill=255, id="mask")
    mask.pixels.write(2, 2, np.full((4, 4, 1), 9, np.uint8))
    inner = RasterLayer.from_array(rgba, (32, 32), 3, 4, name="inner", mask=mask, id="inner")
    layers = [
        RasterLayer.from_array(rgba, (32, 32), 10, 10, id="bottom"),
        GroupLayer(children=[inner], id="group"),
    ]
    doc = Document((32, 32), layers, id="doc")  # fixed ids: the same bytes every run
    doc.selection = Selection.ellipse((32, 32), Rect(1, 1, 20, 20))
    return doc


GOOD = project_bytes(good_doc())


def entries(data: bytes = GOOD) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def zip_of(files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, blob in files.items():
            archive.writestr(name, blob)
    return buffer.getvalue()


def manifest() -> dict:
    return json.loads(entries()["manifest.json"])


def with_manifest(data: object) -> bytes:
    files = entries()
    files["manifest.json"] = json.dumps(data).encode() if not isinstance(data, bytes) else data
    return zip_of(files)


def patch_headers(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    """Set a field at `offset` of every local and central header (PK\\3\\4, PK\\1\\2)."""
    out = bytearray(data)
    for signature, base in ((b"PK\x03\x04", 0), (b"PK\x01\x02", 2)):
        start = 0
        while (start := out.find(signature, start)) != -1:
            struct.pack_into(fmt, out, start + offset + base, value)
            start += 4
    return bytes(out)


def corrupt_stream(compression: int) -> bytes:
    """A manifest compressed with `compression` whose compressed bytes are garbled."""
    text = json.dumps(manifest()).encode() * 3
    data = bytearray(zip_of({"manifest.json": text}, compression))
    middle = 30 + len("manifest.json") + 40
    data[middle : middle + 40] = os.urandom(40)
    return bytes(data)


def bomb(size: int, declared: int | None = None) -> bytes:
    """A small zip whose manifest inflates to `size` bytes (declaring `declared`)."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = b" " * (1 << 20)
    body = b"".join(squeeze.compress(block) for _ in range(size >> 20)) + squeeze.flush()
    info = zipfile.ZipInfo("manifest.json")
    info.compress_type = zipfile.ZIP_DEFLATED
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(info, b"{}")  # replaced below: headers with the real sizes
    raw = buffer.getvalue()
    head = 30 + len("manifest.json")
    small = zlib.compressobj(9, zlib.DEFLATED, -15)
    old_len = len(small.compress(b"{}") + small.flush())
    crc = zlib.crc32(b"") if declared is not None else 0
    data = raw[:head] + body + raw[head + old_len :]
    central = data.find(b"PK\x01\x02")
    data = data[:central] + data[central:]
    data = patch_headers(data, 14, "<I", crc)
    data = patch_headers(data, 18, "<I", len(body))
    data = patch_headers(data, 22, "<I", declared if declared is not None else size)
    # the central directory moved by the body's length: fix the end record's offset
    end = data.rfind(b"PK\x05\x06")
    return data[: end + 16] + struct.pack("<I", central) + data[end + 20 :]


def png_header(width: int, height: int) -> bytes:
    """A PNG signature and IHDR claiming a huge size, then an empty IDAT and IEND."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")


def replace_layer_png(blob: bytes) -> bytes:
    return zip_of({k: (blob if k.startswith("layers/") else v) for k, v in entries().items()})


def nested_groups(depth: int) -> dict:
    data = manifest()
    entry: dict = {"id": "leaf", "name": "g", "visible": True, "opacity": 1.0}
    entry |= {"blend": "normal", "type": "group", "children": []}
    for level in range(depth):
        entry = {**entry, "id": f"g{level}", "children": [entry]}
    data["layers"] = [entry]
    return data


def edited(path: list, value: object) -> dict:
    """The good manifest with the value at `path` (keys and list indexes) replaced."""
    data = manifest()
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


HOSTILE = {
    "encrypted entry": lambda: patch_headers(GOOD, 6, "<H", 0x1),
    "unknown compression": lambda: patch_headers(GOOD, 8, "<H", 99),
    "zip version from the future": lambda: patch_headers(GOOD, 4, "<H", 64),
    "corrupt deflate": lambda: corrupt_stream(zipfile.ZIP_DEFLATED),
    "corrupt lzma": lambda: corrupt_stream(zipfile.ZIP_LZMA),
    "corrupt bzip2": lambda: corrupt_stream(zipfile.ZIP_BZIP2),
    "manifest bomb": lambda: bomb(256 << 20),
    "manifest bomb lying about its size": lambda: bomb(64 << 20, declared=1000),
    "too many entries": lambda: zip_of(
        {"manifest.json": json.dumps(manifest()).encode()}
        | {f"junk/{i}": b"" for i in range(10_050)},
        zipfile.ZIP_STORED,
    ),
    "huge png layer": lambda: replace_layer_png(png_header(100_000, 100_000)),
    "png of another size": lambda: replace_layer_png(png_header(13, 8)),
    "a jpeg as a layer": lambda: replace_layer_png(
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
    ),
    "billion pixel canvas": lambda: with_manifest(edited(["document", "width"], 1_000_000_000)),
    "canvas over the limit": lambda: with_manifest(edited(["document", "height"], 16385)),
    "zero canvas": lambda: with_manifest(edited(["document", "width"], 0)),
    "deep groups": lambda: with_manifest(nested_groups(40)),
    "very deep groups": lambda: with_manifest(
        json.dumps(edited(["layers"], "HERE"))
        .replace('"HERE"', '[{"type": "group", "children": ' * 5000 + "[]" + "}]" * 5000)
        .encode()
    ),
    "NaN opacity": lambda: with_manifest(
        json.dumps(manifest()).replace('"opacity": 1.0', '"opacity": NaN', 1).encode()
    ),
    "infinite opacity": lambda: with_manifest(
        json.dumps(manifest()).replace('"opacity": 1.0', '"opacity": 1e999', 1).encode()
    ),
    "huge opacity": lambda: with_manifest(edited(["layers", 0, "opacity"], 1e300)),
    "string opacity": lambda: with_manifest(edited(["layers", 0, "opacity"], "0.5")),
    "layers a number": lambda: with_manifest(edited(["layers"], 5)),
    "null in layers": lambda: with_manifest(edited(["layers"], [None])),
    "document a string": lambda: with_manifest(edited(["document"], "big")),
    "pixels a list": lambda: with_manifest(edited(["layers", 0, "pixels"], [1, 2])),
    "pixels off the canvas": lambda: with_manifest(edited(["layers", 0, "pixels", "x"], 30)),
    "negative offset": lambda: with_manifest(edited(["layers", 0, "pixels", "y"], -4)),
    "children null": lambda: with_manifest(edited(["layers", 1, "children"], None)),
    "mask a raster": lambda: with_manifest(
        edited(["layers", 1, "children", 0, "mask"], manifest()["layers"][0])
    ),
    "selection a number": lambda: with_manifest(edited(["selection"], 7)),
    "selection missing": lambda: with_manifest(edited(["selection"], "nope.png")),
    "extra a list": lambda: with_manifest(edited(["extra"], [1])),
    "recovery_of a number": lambda: with_manifest(edited(["extra"], {"recovery_of": 5})),
    "id with a slash": lambda: with_manifest(edited(["document", "id"], "../../escape")),
    "duplicate ids": lambda: with_manifest(
        edited(["layers", 1, "id"], manifest()["layers"][0]["id"])
    ),
    "unknown blend": lambda: with_manifest(edited(["layers", 0, "blend"], "sparkle")),
    "manifest not utf-8": lambda: with_manifest(b"\xff\xfe{"),
    "manifest an array": lambda: with_manifest(b"[]"),
    "version a string": lambda: with_manifest(edited(["version"], "1")),
}


def load_summary(path: str) -> tuple[int, int, int]:
    doc = load_project(path)
    return (*doc.size, len(list(doc.walk())))


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_project_gives_one_clear_error(tmp_path, unchanged, name):
    path = tmp_path / "in" / NAME
    path.parent.mkdir()
    path.write_bytes(HOSTILE[name]())
    unchanged(path.parent)
    outcome = run_limited(load_summary, str(path), seconds=20, memory_mb=600)
    assert_clean_error(outcome, "ProjectFileError", mentions=NAME)
    assert "\n" not in outcome.message


def test_the_good_project_still_opens(tmp_path):
    path = tmp_path / NAME
    path.write_bytes(GOOD)
    assert run_limited(load_summary, str(path), seconds=20).value == (32, 32, 4)


def test_a_fifo_or_a_folder_named_like_a_project_does_not_hang(tmp_path):
    fifo = tmp_path / NAME
    os.mkfifo(fifo)
    folder = tmp_path / "folder.atelier"
    folder.mkdir()
    for path in (fifo, folder):
        outcome = run_limited(load_summary, str(path), seconds=10, memory_mb=300)
        assert_clean_error(outcome, "ProjectFileError", mentions=path.name)


# ---- any manifest, any bytes -------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


def _paths(data: object, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _paths(value, (*prefix, index))
    return found


def _replaced(data: object, path: tuple, value: object) -> object:
    if not path:
        return value
    copy = json.loads(json.dumps(data))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


def in_child(examples: int) -> settings:
    """Hypothesis settings for a run inside run_limited: repeatable, no example database
    (nothing written outside the test's folder), no deadline (the child has a time limit)."""
    return settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )


def fuzz_manifests(folder: str, examples: int) -> int:
    """In the child: any JSON put anywhere in the good manifest, or as the whole manifest,
    gives a Document or a ProjectFileError. Returns the number of examples run."""
    good = manifest()
    paths = _paths(good)
    count = 0

    @in_child(examples)
    @given(st.sampled_from(paths), JSON)
    def check(where: tuple, value: object) -> None:
        nonlocal count
        count += 1
        path = Path(folder) / NAME
        try:
            text = json.dumps(_replaced(good, where, value), allow_nan=True).encode()
        except ValueError:
            return
        path.write_bytes(with_manifest(text))
        try:
            load_project(path)
        except ProjectFileError as exc:
            assert NAME in str(exc) and "\n" not in str(exc)

    check()
    return count


def fuzz_bytes(folder: str, examples: int) -> int:
    """In the child: the good project with bytes garbled gives a Document or a
    ProjectFileError."""

    @in_child(examples)
    @given(st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 255)), max_size=6))
    def check(changes: list[tuple[int, int]]) -> None:
        data = bytearray(GOOD)
        for offset, value in changes:
            data[offset] = value
        path = Path(folder) / NAME
        path.write_bytes(bytes(data))
        try:
            load_project(path)
        except ProjectFileError as exc:
            assert NAME in str(exc)

    check()
    return examples


def test_any_json_anywhere_in_the_manifest_gives_a_document_or_a_clean_error(tmp_path):
    outcome = run_limited(fuzz_manifests, str(tmp_path), 300, seconds=50, memory_mb=800)
    assert outcome.kind == "ok", str(outcome)


def test_garbled_bytes_give_a_document_or_a_clean_error(tmp_path):
    outcome = run_limited(fuzz_bytes, str(tmp_path), 1000, seconds=50, memory_mb=800)
    assert outcome.kind == "ok", str(outcome)


# ---- recovery files ----------------------------------------------------------------------------

DAMAGED_RECOVERY = {
    "recovery_of-5.atelier": edited(["extra"], {"recovery_of": 5}),
    "extra-list.atelier": edited(["extra"], [1]),
    "document-list.atelier": edited(["document"], [1]),
}


def plant_damaged_recovery_files(home: Path) -> dict[str, bytes]:
    """Damaged recovery files (and a folder with a project's name) in <home>/recovery."""
    folder = recovery_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    planted = {}
    for name, data in DAMAGED_RECOVERY.items():
        planted[name] = with_manifest(data)
        (folder / name).write_bytes(planted[name])
    planted["garbage.atelier"] = b"PK\x03\x04 garbage"
    (folder / "garbage.atelier").write_bytes(planted["garbage.atelier"])
    return planted


def test_damaged_recovery_files_are_moved_aside_not_lost(tmp_path):
    home = tmp_path / "home"
    planted = plant_damaged_recovery_files(home)
    good = write_recovery(good_doc(), home)
    (recovery_dir(home) / "damaged").mkdir()
    (recovery_dir(home) / "damaged" / "garbage.atelier").write_bytes(b"an older one")

    assert [f.path for f in find_recovery_files(home)] == [good]
    moved = set_aside_damaged(home)
    assert sorted(m.path.name for m in moved) == sorted(planted)
    for item in moved:
        assert item.moved_to is not None and item.moved_to.read_bytes() == planted[item.path.name]
        assert item.moved_to.parent == recovery_dir(home) / "damaged"
        assert item.path.name in item.sentence() and str(item.moved_to) in item.sentence()
    assert (recovery_dir(home) / "damaged" / "garbage.atelier").read_bytes() == b"an older one"
    assert sorted(p.name for p in recovery_dir(home).glob("*.atelier")) == [good.name]
    assert set_aside_damaged(home) == []  # reported once


def test_the_window_starts_with_damaged_recovery_files_and_says_where_they_went(
    qtbot,
    qt_loop,  # noqa: F811 (the fixture)
    atelier_home,
    tiny_config_root,
    tmp_path,
):
    planted = plant_damaged_recovery_files(atelier_home)
    store = make_store(atelier_home, tmp_path, tiny_config_root)
    win = make_window(qtbot, diffusion_registry(), store, close=False)
    try:
        text = win.messages.text
        assert win.messages.kind == "error"
        damaged = recovery_dir(atelier_home) / "damaged"
        for name, data in planted.items():
            assert name in text and (damaged / name).read_bytes() == data
        assert str(damaged) in text
        assert not list(recovery_dir(atelier_home).glob("*.atelier"))
    finally:
        close_window(win)
    second = make_window(qtbot, diffusion_registry(), store, close=False)
    try:
        assert second.messages.text == ""  # said once
    finally:
        close_window(second)
