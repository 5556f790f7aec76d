"""Video and sound outputs as candidates for the timeline, without Qt: which outputs get
one, what the results strip shows of them, and applying one: its media in the document's
store and a clip of all of it at the end of the first track that takes it, a new track
when there is none, in one undo step."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from app.model.clip_candidates import ClipCandidate, append_clip, apply_clip_command, clip_placement
from app.model.document import Document
from app.model.history import History
from app.model.requests import Request
from app.model.tiles import Rect
from app.model.timeline_edits import AddTrack
from app.model.timeline_media import add_picture
from engine.protocol import AudioData, ImageData, ModelData, VideoData
from plugins.api import Task

RECIPE = {"task": "video.text_to_video", "params": {"prompt": "a paper boat on a long river"}}


def video(frames: int = 16, fps: float = 8.0) -> VideoData:
    pixels = np.stack([np.full((24, 32, 3), 10 * n, np.uint8) for n in range(frames)])
    return VideoData(pixels, fps, {"recipe": RECIPE})


def sound(seconds: float = 2.0, rate: int = 16000) -> AudioData:
    return AudioData(np.zeros((1, round(seconds * rate)), np.float32), rate)


def test_video_and_sound_get_a_candidate_and_nothing_else_does():
    assert isinstance(clip_placement(video()), ClipCandidate)
    assert isinstance(clip_placement(sound()), ClipCandidate)
    assert clip_placement(ImageData(np.zeros((8, 8, 4), np.uint8))) is None
    assert clip_placement(ModelData({})) is None
    assert clip_placement(VideoData(np.zeros((0, 8, 8, 3), np.uint8), 8.0)) is None


def test_what_the_strip_shows_of_a_clip():
    clip = ClipCandidate(video(16, 8.0), title="Text to video")
    assert (clip.kind, clip.caption, clip.duration) == ("video", "16 frames", 2)
    thumb = clip.thumbnail()
    assert thumb.shape == (24, 32, 4) and (thumb[..., 3] == 255).all() and thumb[0, 0, 0] == 0
    assert clip.clip_name() == "Text to video: a paper boat on a long river"
    assert clip.recipe == RECIPE
    tone = ClipCandidate(sound(2.5))
    assert (tone.kind, tone.caption, tone.thumbnail()) == ("audio", "2.5 s", None)
    assert ClipCandidate(video(1)).caption == "1 frame"


def test_a_request_titles_its_clips_after_the_task():
    task = Task("video.t2v", 1, "Text to video", object, "x:y", output="video")
    request = Request(task, None, Rect(0, 0, 8, 8), clip_placement)
    (clip,) = request.candidates([video(), ImageData(np.zeros((8, 8, 4), np.uint8))])
    assert isinstance(clip, ClipCandidate) and clip.title == "Text to video"


def test_applying_clips_appends_them_on_new_tracks_in_one_undo_step_each():
    doc = Document((64, 64))
    history = History(doc)
    first = ClipCandidate(video(16, 8.0), title="Text to video")
    command, first_id = apply_clip_command(doc, first)
    history.push(command)
    (track,) = doc.timeline.tracks
    (clip,) = track.clips
    assert (track.kind, track.name, clip.id) == ("video", "Video 1", first_id)
    assert (clip.start, clip.duration) == (0, 2)
    item = doc.timeline.item(clip.media_id)
    assert item.name == first.clip_name() and item.size == (32, 24)
    assert np.array_equal(doc.media.data(item), first.output.frames)
    assert doc.timeline.size == (32, 24)  # the first visual clip sets the film's size

    command, second_id = apply_clip_command(doc, ClipCandidate(video(4, 8.0)))
    history.push(command)
    assert [(c.id, c.start) for c in doc.timeline.tracks[0].clips] == [
        (first_id, 0),
        (second_id, 2),
    ]
    command, tone_id = apply_clip_command(doc, ClipCandidate(sound(1.0)))
    history.push(command)
    assert [t.kind for t in doc.timeline.tracks] == ["video", "audio"]
    assert doc.timeline.find(tone_id)[1].start == 0

    history.undo()  # the sound and its new track go together
    assert [t.kind for t in doc.timeline.tracks] == ["video"]
    history.undo()
    history.undo()
    assert doc.timeline.tracks == ()
    history.redo()
    assert doc.timeline.find(first_id)[1].duration == 2


@pytest.mark.parametrize(
    ("tracks", "expected"),
    [
        ((), "video"),  # a new video track (it takes pictures too)
        (("audio", "video"), "video"),  # the first that takes a picture
        (("video", "image"), "image"),  # a picture's own kind first
    ],
)
def test_a_picture_goes_on_the_first_track_of_its_kind_else_one_that_takes_it(tracks, expected):
    doc = Document((16, 16))
    history = History(doc)
    for kind in tracks:
        history.push(AddTrack(kind))
    item = add_picture(doc.media, np.full((16, 16, 4), 200, np.uint8), "layer")
    command, clip_id = append_clip(doc.timeline, item)
    history.push(command)
    track, clip = doc.timeline.find(clip_id)
    assert track.kind == expected and clip.duration == Fraction(3)
