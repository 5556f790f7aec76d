"""A film cut on the timeline says which of its clips were generated: the marks their
frames keep, the tasks, and whether it is all generated or a composite; projects keep each
generated clip's record."""

from __future__ import annotations

import json
from fractions import Fraction as F

import numpy as np

from app.model.document import Document
from app.model.history import History
from app.model.project_file import load_project, save_project
from app.model.timeline_edits import AddClip, AddTrack
from app.model.timeline_media import add_output, add_picture
from plugins.provenance.verify import verify_file
from plugins.provenance.xmp import COMPOSITE, TRAINED
from plugins.timeline.export import ExportSettings, export_provenance, export_timeline
from tests.test_video_export import clip, marked_video


def film(generated_only: bool) -> Document:
    doc = Document((256, 256))
    doc.history = History(doc)
    doc.history.push(AddTrack("video", track_id="v1"))
    made = add_output(doc.media, marked_video(clip(24)), "text to video")
    doc.history.push(AddClip(made, "v1", F(0), clip_id="made"))
    if not generated_only:
        grey = np.full((256, 256, 4), 128, np.uint8)
        doc.history.push(AddClip(add_picture(doc.media, grey, "grey"), "v1", F(1)))
    return doc


def test_an_exported_film_names_the_mark_its_generated_clip_carries(tmp_path):
    doc = film(generated_only=False)
    made = doc.timeline.item(doc.timeline.find("made")[1].media_id)
    payload = json.loads(made.provenance)["watermark"]["payload"]
    path = export_timeline(doc.timeline, doc.media, ExportSettings(tmp_path / "film.mp4"))
    report = verify_file(path)
    assert report.marked and report.watermark.payload == payload
    assert report.provenance["digital_source_type"] == COMPOSITE
    assert [mark["payload"] for mark in report.provenance["marks"]] == [payload]
    assert report.agrees is True


def test_a_film_of_generated_clips_only_is_trained_media_and_a_plain_one_has_no_claim():
    doc = film(generated_only=True)
    record = export_provenance(doc.timeline, F(0), doc.timeline.duration)
    assert record["digital_source_type"] == TRAINED and record["task"] == "video.test"
    plain = Document((64, 64))
    plain.history = History(plain)
    plain.history.push(AddTrack("video", track_id="v1"))
    still = add_picture(plain.media, np.zeros((64, 64, 4), np.uint8), "black")
    plain.history.push(AddClip(still, "v1", F(0)))
    assert export_provenance(plain.timeline, F(0), plain.timeline.duration) is None
    assert export_provenance(film(False).timeline, F(2), F(3)) is None  # the still alone


def test_a_project_keeps_each_generated_clips_record(tmp_path):
    doc = film(generated_only=False)
    save_project(doc, tmp_path / "cut.atelier")
    reopened = load_project(tmp_path / "cut.atelier")
    records = {item.name: item.provenance for item in reopened.timeline.media}
    assert records == {item.name: item.provenance for item in doc.timeline.media}
    assert records["grey"] == "" and json.loads(records["text to video"])["task"] == "video.test"
