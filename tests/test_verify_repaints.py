"""A repaint keeps the input's mark outside the area it generated: its record lists every
mark with where it lies, and `atelier verify` (and the Verify panel) read each area and
agree with the record (issue 15, defect 5)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from app.cli import main
from engine.protocol import ImageData
from plugins.image_export.writers import write_png
from plugins.provenance import mark_areas, marking, watermark
from plugins.provenance.payload import make_payload
from plugins.provenance.report_text import format_report
from plugins.provenance.verify import verify_file
from tests.test_verify import photo, verify

FLAGS = ["--model", "tiny-sd15", "--steps", "2", "--work-size", "64", "--seed", "1"]
INPUT_MARK = make_payload(0x5EED5)


@pytest.fixture
def marked_input(atelier_home, tmp_path) -> str:
    """A 256 x 256 picture carrying Atelier's mark (as one Atelier made would)."""
    path = tmp_path / "input.png"
    Image.fromarray(watermark.embed_image(photo(256, seed=2), INPUT_MARK)).save(path)
    return str(path)


def square_mask(path, x: int, y: int, side: int) -> str:
    mask = np.zeros((256, 256), np.uint8)
    mask[y : y + side, x : x + side] = 255
    Image.fromarray(mask).save(path)
    return str(path)


def record(path) -> dict:
    return verify_file(path).provenance


def test_cli_inpaint_then_verify_agrees_and_names_the_new_area(marked_input, tmp_path, capsys):
    mask = square_mask(tmp_path / "mask.png", 64, 80, 96)
    out = tmp_path / "inpainted.png"
    args = ["inpaint", marked_input, "--mask", mask, "a star", *FLAGS]
    assert main([*args, "-o", str(out)]) == 0
    capsys.readouterr()

    new, kept = record(out)["marks"]
    assert new["new"] and new["source"] == "this job"
    assert new["payload"] == record(out)["watermark"]["payload"]
    [(x, y, w, h)] = new["boxes"]
    assert x <= 64 and y <= 80 and x + w >= 160 and y + h >= 176  # the mask, grown
    assert w * h <= 128 * 128  # not the whole picture
    assert not kept["new"] and kept["source"] == "kept from the input"
    assert kept["payload"] == INPUT_MARK and kept["boxes"] is None  # the rest

    assert verify(out) == 0
    report = capsys.readouterr().out
    assert "the metadata names" not in report and "does NOT match" not in report
    assert "matches the metadata: every mark found is one it records" in report
    assert f"id {new['id']} (new, this job), in {w} x {h} at {x},{y}: found" in report
    assert "id 5eed5 (kept from the input), the rest of the picture: found" in report


def test_cli_outpaint_on_two_sides_names_both_new_strips(marked_input, tmp_path, capsys):
    out = tmp_path / "outpainted.png"
    args = ["outpaint", marked_input, "sky", "--left", "64", "--top", "64", *FLAGS]
    assert main([*args, "-o", str(out)]) == 0
    new, kept = record(out)["marks"]
    assert new["new"] and len(new["boxes"]) == 2  # the top strip and the left one
    assert kept["payload"] == INPUT_MARK
    capsys.readouterr()
    assert verify(out) == 0
    report = capsys.readouterr().out
    assert f"id {new['id']} (new, this job), in 2 boxes within 320 x 320 at 0,0: found" in report
    assert "id 5eed5 (kept from the input), the rest of the picture: found" in report
    assert "matches the metadata" in report and "the metadata names" not in report


def test_the_verify_panel_gets_the_same_areas(marked_input, tmp_path, qtbot):
    from plugins.provenance.ui_verify import make_panel

    mask = square_mask(tmp_path / "mask.png", 32, 32, 96)
    out = tmp_path / "inpainted.png"
    assert main(["inpaint", marked_input, "--mask", mask, "moon", *FLAGS, "-o", str(out)]) == 0
    panel = make_panel(SimpleNamespace())
    qtbot.addWidget(panel)
    panel.verify([out])
    qtbot.waitUntil(lambda: panel.pending == 0, timeout=60_000)
    assert "id 5eed5 (kept from the input), the rest of the picture: found" in panel.text()
    assert "matches the metadata: every mark found is one it records" in panel.text()
    assert "carries Atelier's watermark" in panel.status.text()


def test_a_mark_the_record_does_not_list_is_reported(tmp_path):
    """A record that leaves out a mark the pixels carry does not match them."""
    listed, hidden = make_payload(0x12345), make_payload(0x54321)
    pixels = watermark.embed_image(photo(256), hidden)
    box = (0, 0, 96, 96)
    pixels[:96, :96] = watermark.embed_image(np.ascontiguousarray(pixels[:96, :96]), listed)
    marks = [mark_areas.Mark(listed, (box,), True, "this job")]
    provenance = marking.provenance_record(listed, "image", {}, None, marks=marks)
    rgba = np.dstack([pixels, np.full((256, 256), 255, np.uint8)])
    path = write_png(tmp_path / "partly.png", ImageData(rgba, {"provenance": provenance}))
    report = verify_file(path)
    assert report.agrees is False and report.unrecorded == [hidden]
    text = format_report(report)
    assert "does NOT match the metadata: it does not record id 54321" in text
    assert "id 12345 (new, this job), in 96 x 96 at 0,0: found" in text


# ---- areas -------------------------------------------------------------------------------


def test_mask_boxes_cover_the_mask_on_a_grid():
    square = np.zeros((100, 120), bool)
    square[21:50, 33:70] = True
    assert mark_areas.mask_boxes(square) == ((32, 16, 40, 40),)
    border = np.zeros((96, 96), bool)
    border[:20], border[:, :12] = True, True  # an outpaint's top and left strips
    assert mark_areas.mask_boxes(border) == ((0, 0, 96, 24), (0, 24, 16, 72))
    ring = np.hypot(*np.mgrid[-60:60, -60:60]) < 50
    boxes = mark_areas.mask_boxes(ring)
    covered = np.zeros_like(ring)
    for x, y, w, h in boxes:
        covered[y : y + h, x : x + w] = True
    assert covered[ring].all() and covered.sum() < ring.size * 0.9
    assert len(boxes) <= mark_areas.MAX_BOXES


def test_marks_in_finds_a_mark_left_in_part_of_the_kept_area():
    """An inpaint of an inpaint: the first repaint's mark, partly covered, is still found."""
    first, second = make_payload(0xAAAAA), make_payload(0xBBBBB)
    pixels = watermark.embed_image(photo(512, seed=3), first)
    pixels[:256, :256] = watermark.embed_image(np.ascontiguousarray(pixels[:256, :256]), second)
    found = mark_areas.marks_in(pixels, skip=[(192, 192, 256, 256)], source="kept")
    assert [mark.payload for mark in found] == [second, first]
    assert found[-1].boxes is None and found[0].boxes  # the whole area's last, then blocks
    assert mark_areas.read_area(pixels, [(0, 0, 16, 16)]) is None  # too small to read


def test_recorded_marks_leave_out_what_atelier_does_not_write():
    good = {"payload": make_payload(1), "boxes": [[0, 0, 8, 8]], "new": True, "source": "x"}
    odd = [{"payload": "1"}, {"payload": 2**40}, {"payload": 3, "boxes": [[0, 0, -1, 2]]}, 7]
    marks = mark_areas.recorded_marks({"marks": [good, *odd]})
    assert marks == [mark_areas.Mark(good["payload"], ((0, 0, 8, 8),), True, "x")]
    old = mark_areas.recorded_marks({"watermark": {"payload": 5}})  # before `marks`
    assert old == [mark_areas.Mark(5, None, True)]
