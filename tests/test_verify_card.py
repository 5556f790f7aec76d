"""The Verify panel's card: built from a report's fields, a verdict with its tone, label /
value rows, and one row per mark the record lists; the panel shows one card per file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFormLayout, QLabel, QToolButton, QWidget

from engine.protocol import ImageData
from plugins.image_export.writers import write_png
from plugins.provenance import mark_areas, marking, watermark
from plugins.provenance.payload import make_payload
from plugins.provenance.report_card import BAD, GOOD, WARN, report_card
from plugins.provenance.ui_report_card import ReportCard
from plugins.provenance.ui_verify import VerifyPanel
from plugins.provenance.verify import verify_file
from tests.test_verify import photo

NEW, KEPT = make_payload(0x12345), make_payload(0x5EED5)
BOX = (0, 0, 96, 96)


def rgba(rgb: np.ndarray) -> np.ndarray:
    return np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])


@pytest.fixture
def repainted(tmp_path) -> Path:
    """A picture like an inpaint's: its own mark in a box, the input's kept in the rest, and
    a record that lists both."""
    pixels = watermark.embed_image(photo(256), KEPT)
    pixels[:96, :96] = watermark.embed_image(np.ascontiguousarray(pixels[:96, :96]), NEW)
    marks = [
        mark_areas.Mark(NEW, (BOX,), True, "this job"),
        mark_areas.Mark(KEPT, None, False, "kept from the input"),
    ]
    record = marking.provenance_record(NEW, "image", {}, None, marks=marks)
    return write_png(tmp_path / "repainted.png", ImageData(rgba(pixels), {"provenance": record}))


@pytest.fixture
def plain(tmp_path) -> Path:
    path = tmp_path / "photo.png"
    Image.fromarray(photo(256, seed=5)).save(path)
    return path


def rows(card) -> dict[str, tuple[str, str]]:
    return {row.label: (row.value, row.tone) for row in card.rows}


def test_a_repainted_picture_gets_a_good_card_with_a_row_per_mark(repainted):
    card = report_card(verify_file(repainted))
    assert (card.verdict, card.tone) == ("Carries Atelier's watermark", GOOD)
    assert card.title == "repainted.png"
    found = rows(card)
    assert found["Watermark"][1] == GOOD and found["Watermark"][0].startswith("Found")
    assert found["Metadata"] == ("Matches the watermark: records 2 marks", GOOD)
    assert found["AI-generated tag"] == ("AI-generated (in the XMP)", GOOD)
    assert found["Recipe"] == ("None", "")
    assert "Safety" in found and "Content Credentials" in found
    assert [(m.label, m.tone) for m in card.marks] == [("id 12345", GOOD), ("id 5eed5", GOOD)]
    assert card.marks[0].value == "new, this job; in 96 x 96 at 0,0: found"
    assert card.marks[1].value == "kept, kept from the input; the rest of the picture: found"


def test_a_plain_photo_and_an_unreadable_file_say_so(plain, tmp_path):
    card = report_card(verify_file(plain))
    assert (card.verdict, card.tone) == ("Does not carry Atelier's watermark", WARN)
    found = rows(card)
    assert found["Watermark"][0].startswith("Not found") and found["Watermark"][1] == WARN
    assert found["Metadata"][0] == "Records no watermark" and "Watermark id" not in found
    assert found["AI-generated tag"] == ("None", WARN) and not card.marks

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    card = report_card(verify_file(broken))
    assert (card.verdict, card.tone) == ("Could not be checked", BAD)
    assert [row.label for row in card.rows] == ["Problem"]


def test_a_mark_the_record_does_not_list_turns_the_card_amber(tmp_path):
    pixels = watermark.embed_image(photo(256, seed=6), KEPT)  # the record names NEW only
    record = marking.provenance_record(NEW, "image", {}, None)
    path = write_png(tmp_path / "odd.png", ImageData(rgba(pixels), {"provenance": record}))
    card = report_card(verify_file(path))
    assert card.tone == WARN and "not as its metadata says" in card.verdict
    assert rows(card)["Metadata"] == ("Does not record id 5eed5, found in the picture", BAD)


def test_the_card_widget_lays_out_the_rows_and_the_marks(qtbot, repainted):
    report = verify_file(repainted)
    widget = ReportCard(report_card(report), "the text")
    qtbot.addWidget(widget)
    widget.show()
    assert widget.verdict.text() == "Carries Atelier's watermark"
    assert widget.value_of("Metadata") == "Matches the watermark: records 2 marks"
    assert widget.value_of("AI-generated tag") == "AI-generated (in the XMP)"
    marks = widget.findChild(QWidget, "marks")
    lines = [lab.accessibleName() for lab in marks.findChildren(QLabel) if lab.text()]
    assert lines == [
        "id 12345 new, this job; in 96 x 96 at 0,0: found",
        "id 5eed5 kept, kept from the input; the rest of the picture: found",
    ]
    widget.findChild(QToolButton).click()
    assert QGuiApplication.clipboard().text() == "the text"


def test_in_a_narrow_dock_labels_go_above_their_values(qtbot, repainted):
    widget = ReportCard(report_card(verify_file(repainted)), "")
    qtbot.addWidget(widget)
    widget.resize(600, 500)
    widget.show()
    qtbot.waitUntil(lambda: widget.form.rowWrapPolicy() == QFormLayout.RowWrapPolicy.DontWrapRows)
    widget.resize(280, 900)
    qtbot.waitUntil(lambda: widget.form.rowWrapPolicy() == QFormLayout.RowWrapPolicy.WrapAllRows)


def test_the_panel_shows_a_card_per_file_and_clears_them(qtbot, repainted, plain):
    panel = VerifyPanel()
    qtbot.addWidget(panel)
    panel.verify([repainted, plain])
    qtbot.waitUntil(lambda: panel.pending == 0, timeout=60_000)
    assert [c.verdict.text() for c in panel.cards] == [
        "Carries Atelier's watermark",
        "Does not carry Atelier's watermark",
    ]
    assert f"== {repainted}" in panel.text() and f"== {plain}" in panel.text()
    assert panel.placeholder.isHidden()
    panel.clear()
    assert panel.cards == [] and panel.text() == "" and not panel.placeholder.isHidden()
