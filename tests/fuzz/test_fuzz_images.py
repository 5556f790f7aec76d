"""Hostile and damaged image files: every reader gives one clean sentence naming the file,
never a traceback, a hang, a huge allocation or a run of Ghostscript (issue 13)."""

from __future__ import annotations

import logging
import os
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import app.cli
from app.model.generation_info import parse_parameters
from app.model.image_files import (
    ImageReadError,
    read_generation_info,
    read_text_chunks,
    save_png,
)
from app.model.image_import import open_image, read_image
from plugins.provenance import content_credentials, xmp
from plugins.provenance.verify import verify_file
from tests.fuzz.harness import assert_clean_error, assert_handled, run_limited
from tests.fuzz.hostile import chunk, huge_png

RECORD = {
    "software": "Atelier 0.1.0",
    "digital_source_type": xmp.TRAINED,
    "watermark": {"payload": 0xA7112345, "id": "12345", "app": "atelier", "method": "atelier"},
}
POSTSCRIPT = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nnewpath 0 0 moveto showpage\n"


def small_png(text: dict[str, str] | None = None) -> bytes:
    from app.model.image_files import encode_png

    return encode_png(np.full((16, 16, 4), 200, np.uint8), text)


# ---- foreign code ----------------------------------------------------------------------------


def test_postscript_named_png_never_runs_ghostscript(foreign_code_marker, home, tmp_path):
    path, picture = tmp_path / "x.png", tmp_path / "picture.png"
    path.write_bytes(POSTSCRIPT)
    picture.write_bytes(small_png())
    for reader in (read_image, read_text_chunks, read_generation_info):
        assert_clean_error(run_limited(reader, path), "ImageReadError", mentions="x.png")
    assert "x.png" in run_limited(lambda: verify_file(path).error).value
    for command in (
        ["img2img", str(path), "x"],
        ["inpaint", str(picture), "x", "--mask", str(path)],
    ):
        code = run_limited(app.cli.main, [*command, "-o", str(tmp_path / "out.png")])
        assert code.kind == "ok" and code.value == 2, code


def test_xmp_with_entities_is_refused_before_parsing():
    laughs = (
        '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]><x:xmpmeta xmlns:x="adobe:ns:meta/">&a;</x:xmpmeta>'
    )
    with pytest.raises(ValueError, match="DOCTYPE"):
        xmp.parse_xmp(laughs)


def test_compressed_xmp_bomb_is_bounded():
    bomb = zlib.compress(b" " * (xmp.MAX_XMP_BYTES + 10))
    body = xmp.PNG_XMP_KEY + b"\0\x01\0\0\0" + bomb
    data = small_png()[:-12] + chunk(b"iTXt", body) + chunk(b"IEND", b"")
    outcome = run_limited(xmp.read_xmp, data, memory_mb=300)
    assert_clean_error(outcome, "ValueError")


# ---- size: bombs, huge pictures, long text ---------------------------------------------------


def test_info_reads_text_after_a_huge_idat_without_decoding_pixels(tmp_path):
    path = tmp_path / "bomb.png"
    after = chunk(b"tEXt", b"parameters\0a cat\nSteps: 7, Seed: 3")
    path.write_bytes(huge_png(40000, 40000, after=after))
    outcome = run_limited(read_generation_info, path, seconds=20, memory_mb=300)
    assert outcome.kind == "ok" and outcome.value.steps == 7


def test_oversized_ztxt_is_skipped(tmp_path, caplog):
    path = tmp_path / "z.png"
    bomb = zlib.compress(b"a" * (17 * 1024 * 1024))
    path.write_bytes(huge_png(8, 8, before=chunk(b"zTXt", b"parameters\0\0" + bomb)))
    with caplog.at_level(logging.WARNING):
        assert read_text_chunks(path) == {}
    assert "zTXt" in caplog.text


def test_huge_picture_is_refused_from_its_header(tmp_path):
    path = tmp_path / "wide.png"
    path.write_bytes(huge_png(13000, 13000))
    outcome = run_limited(read_image, path, memory_mb=300)
    assert_clean_error(outcome, "ImageReadError", mentions="13000 x 13000")
    assert "wide.png" in outcome.message


def open_size(path: Path) -> tuple[int, int]:
    return open_image(path).size


def test_a_picture_that_fits_a_canvas_opens_as_a_document_and_one_that_does_not_is_refused(
    tmp_path,
):
    """What Atelier exports it opens again: a 9000 x 8000 picture (72 MP, over the repaint
    commands' 64 MP) opens in the window; one wider than any canvas is refused unread."""
    fits, wider = tmp_path / "fits.png", tmp_path / "wider.png"
    fits.write_bytes(huge_png(9000, 8000))
    wider.write_bytes(huge_png(16385, 64))
    assert run_limited(open_size, fits, memory_mb=2000).value == (9000, 8000)
    outcome = run_limited(open_size, wider, memory_mb=300)
    assert_clean_error(outcome, "ImageReadError", mentions="16385 x 64")
    assert_clean_error(run_limited(read_image, fits), "ImageReadError", mentions="9000 x 8000")


def test_img2img_on_a_huge_picture_stays_within_memory(tmp_path, home, capsys):
    path = tmp_path / "huge.png"
    path.write_bytes(huge_png(13000, 13000))
    out = tmp_path / "out.png"
    outcome = run_limited(app.cli.main, ["img2img", str(path), "x", "-o", str(out)], memory_mb=800)
    assert outcome.kind == "ok" and outcome.value == 2, outcome
    assert not out.exists()


def test_ten_mb_parameters_parse_in_linear_time():
    text = "a cat\nSteps: 20, " + "a b" * 3_500_000  # a 10 MB key with no colon
    outcome = run_limited(parse_parameters, text, seconds=10)
    assert outcome.kind == "ok" and outcome.value.steps == 20


# ---- damaged files ---------------------------------------------------------------------------


def _damaged(tmp_path: Path) -> dict[str, Path]:
    good = small_png({"parameters": "cat\nSteps: 3"})
    bad_crc = bytearray(good)
    at = good.index(b"tEXt") + 6
    bad_crc[at] ^= 0xFF
    jpeg = tmp_path / "exif.jpg"
    Image.new("RGB", (16, 16)).save(jpeg, exif=b"Exif\0\0MM\0*\0\0\0\x08\xff\xff" + b"\x01" * 40)
    files = {
        "empty.png": b"",
        "garbage.png": os.urandom(3000),
        "truncated.png": good[:30],
        "crc.png": bytes(bad_crc),
        "idat.png": good[: good.index(b"IDAT") + 4] + b"\0" * 40,
        "header.png": xmp.PNG_SIGNATURE + chunk(b"IHDR", b"\0" * 13) + chunk(b"IEND", b""),
    }
    paths = {"exif.jpg": jpeg}
    for name, data in files.items():
        paths[name] = tmp_path / name
        paths[name].write_bytes(data)
    (tmp_path / "folder.png").mkdir()
    paths["folder.png"] = tmp_path / "folder.png"
    return paths


def test_damaged_images_give_clean_errors(tmp_path):
    for name, path in _damaged(tmp_path).items():
        for reader in (read_image, read_text_chunks, read_generation_info):
            outcome = run_limited(reader, path, seconds=10, memory_mb=500)
            assert_handled(outcome, "ImageReadError")
            if outcome.kind == "error":
                assert name in outcome.message and "\n" not in outcome.message
        report = run_limited(verify_file, path, seconds=30)
        assert report.kind == "ok", report


def test_verify_refuses_devices_pipes_and_huge_sparse_files(tmp_path):
    (tmp_path / "zero.png").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "pipe.png")
    with open(tmp_path / "sparse.png", "wb") as f:
        f.truncate(50 * 1024**3)
    for name in ("zero.png", "pipe.png", "sparse.png"):
        outcome = run_limited(lambda name=name: verify_file(tmp_path / name).error, seconds=10)
        assert outcome.kind == "ok" and name in outcome.value, outcome
        assert_clean_error(run_limited(read_image, tmp_path / name), "ImageReadError")


# ---- Content Credentials ---------------------------------------------------------------------


def test_a_file_name_that_is_not_utf8_still_gets_content_credentials(home, tmp_path):
    path = Path(os.fsdecode(bytes(tmp_path) + b"/out\xff.png"))
    save_png(path, np.full((32, 32, 4), 90, np.uint8), {}, provenance=RECORD)
    manifest = content_credentials.read(path.read_bytes(), "image/png")
    assert manifest["present"] and manifest["state"] == "Trusted"


@pytest.mark.parametrize("damage", ["garbage", "non-ascii", "folder"])
def test_a_damaged_signing_key_saves_with_xmp_and_a_warning(home, tmp_path, damage, caplog):
    keys = content_credentials.ensure_keys()
    if damage == "folder":
        keys.key.unlink()
        keys.key.mkdir()
    else:
        keys.key.write_bytes(b"garbage" * 20 if damage == "garbage" else bytes(range(256)))
    with pytest.raises(content_credentials.ContentCredentialsError, match="signing key"):
        content_credentials.sign(small_png(), "image/png", RECORD)
    path = tmp_path / "out.png"
    with caplog.at_level(logging.WARNING):
        save_png(path, np.full((32, 32, 4), 90, np.uint8), {}, provenance=RECORD)
    assert "without Content Credentials" in caplog.text
    assert xmp.parse_xmp(xmp.read_xmp(path.read_bytes()))["provenance"] == RECORD
    assert not content_credentials.read(path.read_bytes(), "image/png")["present"]


def test_a_damaged_trust_root_still_reads(home):
    keys = content_credentials.ensure_keys()
    signed = content_credentials.sign(small_png(), "image/png", RECORD)
    keys.root.write_bytes(bytes(range(256)))
    assert content_credentials.read(signed, "image/png")["state"] == "Valid"


def test_read_errors_are_image_read_errors():
    assert issubclass(ImageReadError, OSError)
