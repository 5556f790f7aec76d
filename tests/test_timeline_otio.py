"""OpenTimelineIO interchange, without Qt: export writes the cut and its media files
other editors open; import gives back the same tracks, gaps, clips and settings."""

from __future__ import annotations

import json
import wave
from fractions import Fraction as F

import numpy as np
import opentimelineio as otio
import pytest

from app.model.document import Document
from app.model.history import History
from app.model.image_import import read_image
from app.model.timeline_edits import AddClip, AddTrack, SetFades, SetGain, SetOpacity
from app.model.timeline_media import add_output, add_picture
from app.model.timeline_otio import OtioError, export_otio, import_otio
from app.model.timeline_render import frame_at
from engine.protocol import AudioData, VideoData


@pytest.fixture
def cut():
    """Video, image and audio tracks with gaps, trims, opacity, fades and gain."""
    doc = Document((8, 8))
    history = History(doc)
    grey = (np.arange(6, dtype=np.uint8) * 40)[:, None, None, None]
    movie = add_output(
        doc.media, VideoData(np.broadcast_to(grey, (6, 16, 32, 3)).copy(), 12), "walk"
    )  # noqa: E501
    pixels = np.random.default_rng(1).integers(0, 256, (10, 12, 4), dtype=np.uint8)
    still = add_picture(doc.media, pixels, "layer")
    sound = add_output(doc.media, AudioData(np.full((1, 4000), 0.25, np.float32), 8000), "hum")
    history.push(AddTrack("video", track_id="v1"))
    history.push(AddTrack("image", track_id="i1"))
    history.push(AddTrack("audio", track_id="a1"))
    history.push(AddClip(movie, "v1", F(1, 2), in_point=F(1, 12), out_point=F(5, 12), clip_id="m"))  # noqa: E501
    history.push(AddClip(movie, "v1", F(2), clip_id="m2"))
    history.push(AddClip(still, "i1", F(1, 4), clip_id="s"))
    history.push(AddClip(sound, "a1", F(1), clip_id="a"))
    history.push(SetOpacity("s", 0.5))
    history.push(SetFades("m2", F(1, 6), F(1, 4)))
    history.push(SetGain("a", -6.0))
    return doc


def test_export_then_import_gives_back_the_cut(cut, tmp_path):
    path = export_otio(cut.timeline, cut.media, tmp_path / "cut.otio")
    folder = tmp_path / "cut_media"
    assert sorted(p.suffix for p in folder.iterdir()) == [".mp4", ".png", ".wav"]
    opened = Document((8, 8))
    timeline, warnings = import_otio(path, opened.media)
    assert warnings == []
    assert timeline.fps == cut.timeline.fps and timeline.size == cut.timeline.size
    assert [(t.id, t.kind, t.name) for t in timeline.tracks] == [
        (t.id, t.kind, t.name) for t in cut.timeline.tracks
    ]
    for (_, before), (_, after) in zip(cut.timeline.clips(), timeline.clips(), strict=True):
        assert (after.id, after.start, after.in_point, after.out_point) == (
            before.id, before.start, before.in_point, before.out_point,
        )  # fmt: skip
        assert (after.opacity, after.fade_in, after.fade_out, after.gain_db) == (
            before.opacity, before.fade_in, before.fade_out, before.gain_db,
        )  # fmt: skip
    # the media came back from the files: lossless picture and sound, high-quality video
    kinds = {item.kind: item for item in timeline.media}
    original = {item.kind: item for item in cut.timeline.media}
    assert np.array_equal(opened.media.data(kinds["image"]), cut.media.data(original["image"]))
    assert np.allclose(opened.media.data(kinds["audio"]), 0.25, atol=1e-6)
    assert kinds["video"].length == 6 and kinds["video"].fps == 12
    for t in (F(1, 2), F(2), F(2) + F(5, 12)):
        shown = frame_at(timeline, opened.media, t).astype(int)
        expected = frame_at(cut.timeline, cut.media, t).astype(int)
        assert np.abs(shown - expected).max() <= 3


def test_the_otio_file_is_what_other_editors_read(cut, tmp_path):
    path = export_otio(cut.timeline, cut.media, tmp_path / "cut.otio")
    source = otio.adapters.read_from_file(str(path))
    video = source.tracks[0]
    assert video.kind == otio.schema.TrackKind.Video
    assert [type(child).__name__ for child in video] == ["Gap", "Clip", "Gap", "Clip"]
    first = video[1]
    assert first.source_range.start_time.to_frames() == 2  # 1/12 s at 24 fps
    assert first.source_range.duration.to_frames() == 8
    assert video.range_of_child_at_index(1).start_time.to_frames() == 12
    assert source.tracks[2].kind == otio.schema.TrackKind.Audio
    url = first.media_reference.target_url
    assert url.startswith("file://") and url.endswith(".mp4")
    png = next((tmp_path / "cut_media").glob("*.png"))
    assert read_image(png).shape == (10, 12, 4)
    with wave.open(str(next((tmp_path / "cut_media").glob("*.wav")))) as sound:
        assert (sound.getframerate(), sound.getsampwidth(), sound.getnframes()) == (8000, 3, 4000)


def test_an_edited_otio_with_missing_media_leaves_those_clips_out(cut, tmp_path):
    path = export_otio(cut.timeline, cut.media, tmp_path / "cut.otio")
    next((tmp_path / "cut_media").glob("*.png")).unlink()
    timeline, warnings = import_otio(path, Document((8, 8)).media)
    assert len(warnings) == 1 and "layer: left out" in warnings[0]
    assert [len(t.clips) for t in timeline.tracks] == [2, 0, 1]


def test_files_that_are_no_timeline_give_a_clear_error(tmp_path):
    media = Document((8, 8)).media
    (tmp_path / "notes.otio").write_text("not json")
    with pytest.raises(OtioError, match="notes.otio"):
        import_otio(tmp_path / "notes.otio", media)
    deep = tmp_path / "deep.otio"
    deep.write_text("[" * 5000 + "]" * 5000)
    with pytest.raises(OtioError, match="deep.otio"):
        import_otio(deep, media)
    other = tmp_path / "clip.otio"
    other.write_text(json.dumps({"OTIO_SCHEMA": "Gap.1", "name": "x"}))
    with pytest.raises(OtioError, match="holds no timeline"):
        import_otio(other, media)
