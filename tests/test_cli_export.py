"""`atelier export PROJECT -o film.mp4`: a saved project's timeline as the video ffprobe
reads (size, frame rate, frames, sound), its options, and one clear line for an empty
timeline, a damaged project or a wrong option, with nothing written."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from app.cli import main
from app.model.document import Document
from app.model.history import History
from app.model.project_file import save_project
from app.model.timeline_edits import AddClip, AddTrack, SetGain
from app.model.timeline_media import add_output
from engine.protocol import AudioData, VideoData
from tests.test_video_export import needs_ffprobe, probe, tone


def saved_project(tmp_path, fps: Fraction = Fraction(24)):
    """A project whose timeline holds one second of video (12 frames at 12 fps, 64 x 48,
    from 0 s) and a second of sound from 0.5 s."""
    doc = Document((64, 48))
    history = History(doc)
    frames = np.stack([np.full((48, 64, 3), 20 * n, np.uint8) for n in range(12)])
    movie = add_output(doc.media, VideoData(frames, 12.0), "movie")
    sound = add_output(doc.media, AudioData(tone(1.0, 24000), 24000), "tone")
    history.push(AddTrack("video", track_id="v"))
    history.push(AddTrack("audio", track_id="a"))
    history.push(AddClip(movie, "v", Fraction(0)))
    history.push(AddClip(sound, "a", Fraction(1, 2), clip_id="s"))
    history.push(SetGain("s", -6.0))
    return save_project(doc, tmp_path / "cut.atelier")


@needs_ffprobe
def test_a_projects_timeline_becomes_an_mp4_ffprobe_reads(tmp_path, capsys):
    project = saved_project(tmp_path)
    out = tmp_path / "film.mp4"
    assert main(["export", str(project), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert f"wrote {out}" in captured.out
    assert "exporting frame 36/36" in captured.err  # 1.5 s at 24 fps
    info = probe(out)
    (video,) = [s for s in info["streams"] if s["codec_type"] == "video"]
    (audio,) = [s for s in info["streams"] if s["codec_type"] == "audio"]
    assert (video["codec_name"], video["pix_fmt"]) == ("h264", "yuv420p")
    assert (video["width"], video["height"]) == (64, 48)
    assert video["r_frame_rate"] == "24/1" and int(video["nb_read_frames"]) == 36
    assert audio["codec_name"] == "aac" and abs(float(audio["duration"]) - 1.5) < 0.05


@needs_ffprobe
def test_size_rate_and_span_options_are_followed(tmp_path, capsys):
    project = saved_project(tmp_path)
    out = tmp_path / "part.webm"
    args = ["export", str(project), "-o", str(out), "--fps", "10", "--width", "32"]
    args += ["--height", "24", "--start", "0.5", "--end", "1.5", "--quality", "high"]
    assert main(args) == 0, capsys.readouterr().err
    info = probe(out)
    (video,) = [s for s in info["streams"] if s["codec_type"] == "video"]
    assert (video["codec_name"], video["width"], video["height"]) == ("vp9", 32, 24)
    assert video["r_frame_rate"] == "10/1" and int(video["nb_read_frames"]) == 10
    assert [s["codec_name"] for s in info["streams"] if s["codec_type"] == "audio"] == ["opus"]


def test_a_png_sequence_is_a_folder_of_frames(tmp_path, capsys):
    project = saved_project(tmp_path)
    assert main(["export", str(project), "-o", str(tmp_path / "shot.png"), "--fps", "4"]) == 0
    frames = sorted((tmp_path / "shot").iterdir())
    assert [f.name for f in frames] == [f"shot_{n:05d}.png" for n in range(1, 7)]


def test_an_empty_timeline_is_exit_1_with_the_reason(tmp_path, capsys):
    project = save_project(Document((32, 32)), tmp_path / "empty.atelier")
    out = tmp_path / "film.mp4"
    assert main(["export", str(project), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.strip() == (
        f"atelier: error: {project}: the timeline is empty: "
        "add clips to it in the Timeline panel first"
    )
    assert list(tmp_path.iterdir()) == [project]


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["-o", "film.avi"], "use .mp4, .webm, .gif or .png"),
        (["-o", "film.mp4", "--width", "32"], "give both --width and --height"),
        (["-o", "film.mp4", "--quality", "best"], "--quality must be one of"),
        (["-o", "film.mp4", "--start", "5"], "nothing to export from 5 s"),
    ],
)
def test_wrong_options_are_one_line_and_write_nothing(tmp_path, capsys, extra, words):
    project = saved_project(tmp_path)
    code = main(["export", str(project), *extra])
    assert code in (1, 2)
    err = capsys.readouterr().err
    assert err.startswith("atelier: error: ") and words in err
    assert list(tmp_path.iterdir()) == [project]


def test_a_damaged_project_is_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.atelier"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    assert main(["export", str(bad), "-o", str(tmp_path / "film.mp4")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("atelier: error: ") and "bad.atelier" in err
    assert not (tmp_path / "film.mp4").exists()
