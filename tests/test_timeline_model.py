"""The timeline's values and edits, without Qt: every edit undoes and redoes exactly, and
trims, splits, ripple deletes and snapping land on exact fractions of a second."""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np
import pytest

from app.model import history_names as names
from app.model.document import Document
from app.model.history import History
from app.model.timeline import Clip, Timeline, TimelineError, Track, as_time, quantize
from app.model.timeline_edits import (
    AddClip,
    AddMedia,
    AddTrack,
    DeleteClip,
    DeleteTrack,
    MoveClip,
    OpenTimeline,
    RippleDelete,
    SetFades,
    SetGain,
    SetOpacity,
    SetStillDuration,
    SetVideoFormat,
    SplitClip,
    TrimEnd,
    TrimStart,
    snap,
    snap_clip_start,
    snap_points,
)
from app.model.timeline_media import audio_item, frame_rate, image_item, video_item


def video(frames: int = 48, fps: F = F(24), size=(32, 16)):
    return video_item(np.zeros((frames, size[1], size[0], 3), np.uint8), fps, "clip.mp4")


def picture(size=(20, 10)):
    return image_item(np.zeros((size[1], size[0], 4), np.uint8), "still.png")


def sound(seconds: int = 4, rate: int = 8000):
    return audio_item(np.zeros((2, seconds * rate), np.float32), rate, "tone.wav")


@pytest.fixture
def edited():
    """A document with a video and an audio track, a 2 s video clip at 1 s, a picture
    clip at 4 s and a 4 s sound at 0, pushed on a history."""
    doc = Document((64, 64))
    history = History(doc)
    movie, still, tone = video(), picture(), sound()
    history.push(AddTrack("video", track_id="v1"))
    history.push(AddTrack("audio", track_id="a1"))
    history.push(AddClip(movie, "v1", F(1), clip_id="movie"))
    history.push(AddClip(still, "v1", F(4), clip_id="still"))
    history.push(AddClip(tone, "a1", F(0), clip_id="tone"))
    return doc, history


def clip(doc: Document, clip_id: str) -> Clip:
    return doc.timeline.find(clip_id)[1]


def test_adding_builds_tracks_clips_media_and_the_size(edited):
    doc, history = edited
    timeline = doc.timeline
    assert [t.name for t in timeline.tracks] == ["Video 1", "Audio 1"]
    assert clip(doc, "movie") == Clip("movie", clip(doc, "movie").media_id, F(1), F(0), F(2))
    assert clip(doc, "still").duration == F(3)  # a picture stays 3 s by default
    assert timeline.size == (32, 16)  # set by the first visual clip
    assert timeline.duration == F(7)
    assert len(timeline.media) == 3
    assert history.undo_label == names.ADD_CLIP


EDITS = [
    lambda: MoveClip("movie", F(1, 3)),
    lambda: MoveClip("still", F(10), track_id="v2"),
    lambda: TrimStart("movie", F(3, 2)),
    lambda: TrimEnd("movie", F(5, 2)),
    lambda: SplitClip("movie", F(7, 4), new_clip_id="half"),
    lambda: DeleteClip("movie"),
    lambda: RippleDelete("movie"),
    lambda: SetStillDuration("still", F(1, 2)),
    lambda: SetOpacity("movie", 0.25),
    lambda: SetFades("movie", F(1, 2), F(1, 4)),
    lambda: SetGain("tone", -6.0),
    lambda: AddTrack("image", index=0),
    lambda: DeleteTrack("a1"),
    lambda: AddMedia(picture()),
    lambda: SetVideoFormat(F(30000, 1001), (640, 360)),
    lambda: OpenTimeline(Timeline(fps=F(25))),
]


@pytest.mark.parametrize("make", EDITS)
def test_every_edit_undoes_and_redoes_exactly(edited, make):
    doc, history = edited
    history.push(AddTrack("video", track_id="v2"))
    before = doc.timeline
    revision = doc.revision
    history.push(make())
    after = doc.timeline
    assert after != before
    history.undo()
    assert doc.timeline == before
    history.redo()
    assert doc.timeline == after
    assert doc.revision == revision + 3  # each step tells the listeners
    assert history.undo_label in vars(names).values()


def test_trim_moves_the_source_in_point_with_the_edge(edited):
    doc, history = edited
    history.push(TrimStart("movie", F(4, 3)))
    trimmed = clip(doc, "movie")
    assert (trimmed.start, trimmed.in_point, trimmed.out_point) == (F(4, 3), F(1, 3), F(2))
    assert trimmed.end == F(3)  # the end stayed
    history.push(TrimStart("movie", F(1)))  # back out to the media's first frame
    assert clip(doc, "movie").in_point == 0
    with pytest.raises(TimelineError, match="does not begin that early"):
        history.push(TrimStart("movie", F(1, 2)))
    history.push(TrimEnd("movie", F(5, 2)))
    assert clip(doc, "movie").out_point == F(3, 2)
    with pytest.raises(TimelineError, match="past the end"):
        history.push(TrimEnd("movie", F(7, 2)))  # the video is 2 s long
    with pytest.raises(TimelineError, match="overlap"):
        history.push(TrimEnd("movie", F(9, 2)))


def test_split_gives_two_clips_that_meet_exactly(edited):
    doc, history = edited
    history.push(SetFades("movie", F(1, 4), F(1, 2)))
    history.push(SplitClip("movie", F(1) + F(1, 3), new_clip_id="rest"))
    first, second = clip(doc, "movie"), clip(doc, "rest")
    assert (first.start, first.in_point, first.out_point) == (F(1), F(0), F(1, 3))
    assert (second.start, second.in_point, second.out_point) == (F(4, 3), F(1, 3), F(2))
    assert first.end == second.start
    assert (first.fade_in, first.fade_out, second.fade_in, second.fade_out) == (
        F(1, 4), 0, 0, F(1, 2),
    )  # fmt: skip
    with pytest.raises(TimelineError, match="within it"):
        history.push(SplitClip("rest", F(3)))  # its end, not within it


def test_a_split_still_starts_each_part_at_the_pictures_start(edited):
    doc, history = edited
    history.push(SplitClip("still", F(5), new_clip_id="later"))
    assert (clip(doc, "later").start, clip(doc, "later").in_point) == (F(5), F(0))
    assert clip(doc, "later").duration == F(2) and clip(doc, "still").duration == F(1)


def test_ripple_delete_moves_the_later_clips_of_that_track_left(edited):
    doc, history = edited
    history.push(RippleDelete("movie"))
    assert clip(doc, "still").start == F(2)  # 4 s less the 2 s clip
    assert clip(doc, "tone").start == 0  # another track: unchanged
    history.undo()
    history.push(DeleteClip("movie"))
    assert clip(doc, "still").start == F(4)


def test_edits_that_cannot_be_made_change_nothing(edited):
    doc, history = edited
    before, position = doc.timeline, history.position
    refused = [
        MoveClip("movie", F(3)),  # onto the still
        MoveClip("movie", F(0), track_id="a1"),  # a video on an audio track
        MoveClip("nope", F(0)),
        SetGain("movie", 3.0),  # a video has no gain
        SetOpacity("tone", 0.5),
        SetStillDuration("movie", F(1)),
        SetFades("movie", F(3, 2), F(1)),  # longer than the clip together
        AddClip(sound(), "v1", F(20)),
    ]
    for edit in refused:
        with pytest.raises(TimelineError):
            history.push(edit)
    with pytest.raises(TimelineError):
        SetOpacity("movie", 1.5)
    with pytest.raises(TimelineError):
        SetGain("tone", 100.0)
    assert doc.timeline is before and history.position == position


def test_steps_of_one_drag_are_one_undo_step(edited):
    doc, history = edited
    before, position = doc.timeline, history.position
    for step in range(1, 6):
        history.push(MoveClip("tone", F(step, 10), merge_key="drag"))
    assert history.position == position + 1 and clip(doc, "tone").start == F(1, 2)
    history.undo()
    assert doc.timeline == before


def test_frames_snap_and_quantize_exactly(edited):
    doc, _ = edited
    assert quantize(F(1, 50), F(24)) == 0 and quantize(F(1, 30), F(24)) == F(1, 24)
    assert quantize(F(1, 2), F(30000, 1001)) == F(15015, 30000)
    points = snap_points(doc.timeline, playhead=F(5, 2), exclude=["tone"])
    assert points == [0, 1, F(5, 2), 3, 4, 7]
    assert snap(F(101, 100), points, F(1, 20)) == 1
    assert snap(F(3, 2), points, F(1, 20), F(24)) == F(3, 2)  # no point near: a frame
    assert snap(F(151, 100), points, F(1, 20), F(24)) == F(36, 24)
    # dragging the 4 s sound to start at 0.03 s: its start snaps to 0
    assert snap_clip_start(doc.timeline, "tone", F(3, 100), F(1, 10)) == 0
    # dragging the movie so that its end (start + 2 s) nears the still's start at 4 s
    assert snap_clip_start(doc.timeline, "movie", F(195, 100), F(1, 10)) == F(2)
    assert snap_clip_start(doc.timeline, "movie", F(151, 100), F(1, 100)) == F(36, 24)


def test_times_are_exact_fractions():
    assert as_time("1001/30000") == F(1001, 30000) and as_time(2) == F(2)
    with pytest.raises(TypeError, match="exact fractions"):
        as_time(0.1)
    assert frame_rate(29.97) == F(30000, 1001) and frame_rate(24.0) == 24
    assert frame_rate(12.5) == F(25, 2)


def test_a_timeline_value_refuses_overlaps_and_clips_without_media():
    item = picture()
    first, second = Clip("a", item.id, F(0), F(0), F(2)), Clip("b", item.id, F(1), F(0), F(2))
    with pytest.raises(TimelineError, match="overlap"):
        Track("t", "image", "Image 1", (first, second))
    with pytest.raises(TimelineError, match="has no media"):
        Timeline((Track("t", "image", "Image 1", (first,)),))
    assert Timeline((Track("t", "image", "Image 1", (first,)),), (item,)).duration == 2
