"""Video export: MP4, WebM, GIF and PNG sequences as ffprobe reads them, sound in sync,
cancel and failures leaving nothing, and the provenance a generated video carries."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.cli import main
from engine.protocol import VideoData
from plugins.exporters import export, exporter_for
from plugins.provenance import marking, watermark
from plugins.provenance.media_tags import (
    TAG_SOURCE,
    TAG_WATERMARK,
    mp4_boxes,
    read_media_claims,
)
from plugins.provenance.settings import SafetySettings
from plugins.provenance.verify import verify_file
from plugins.provenance.xmp import TRAINED, parse_xmp, read_xmp
from plugins.registry import discover
from plugins.video_export import encoding
from plugins.video_export.encoding import (
    ExportCancelledError,
    VideoWriteError,
    write_video,
)

FPS = 24
RECIPE = {
    "task": "video.test",
    "version": "1",
    "params": {"prompt": "a drifting nebula", "seed": 7, "steps": 4},
    "model": {"name": "tiny-video", "family": "test", "hash": "0123abcd"},
}
needs_ffprobe = pytest.mark.skipif(shutil.which("ffprobe") is None, reason="needs ffprobe")


def clip(count: int = 24, width: int = 256, height: int = 256) -> np.ndarray:
    """A moving, photo-like clip: a smooth colour field with grain, panning by 3 px a frame."""
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:height, 0 : width + 3 * count] / max(width, height)
    rgb = np.stack([120 + 80 * np.sin(6 * x), 100 + 90 * y, 140 - 60 * x * y], -1)
    rgb = (rgb + rng.normal(0, 6, rgb.shape)).clip(0, 255).astype(np.uint8)
    return np.stack([rgb[:, 3 * t : 3 * t + width] for t in range(count)])


def tone(seconds: float, rate: int = 48000, channels: int = 2) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return np.stack(
        [0.3 * np.sin(2 * np.pi * (330 + 110 * c) * t) for c in range(channels)]
    ).astype(np.float32)


def probe(path: Path) -> dict:
    command = ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-show_format"]
    result = subprocess.run([*command, "-of", "json", str(path)], capture_output=True, check=True)
    return json.loads(result.stdout)


def stream_seconds(stream: dict) -> float:
    """A stream's duration: its own field (MP4, GIF) or Matroska's DURATION tag (WebM)."""
    if "duration" in stream:
        return float(stream["duration"])
    hours, minutes, seconds = stream["tags"]["DURATION"].split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def video_stream(info: dict) -> dict:
    return next(s for s in info["streams"] if s["codec_type"] == "video")


def audio_streams(info: dict) -> list[dict]:
    return [s for s in info["streams"] if s["codec_type"] == "audio"]


def marked_video(frames: np.ndarray, fps: float = FPS) -> VideoData:
    """A video as the safety step leaves a job's output: watermarked, with its record."""
    video = VideoData(frames, fps, {"recipe": RECIPE})
    result = marking.mark_output(video, RECIPE["task"], {"checked": True}, SafetySettings())
    assert isinstance(result, VideoData)
    return result


# ---- formats ---------------------------------------------------------------------------------


@needs_ffprobe
@pytest.mark.parametrize(
    ("suffix", "codec", "pix_fmt", "audio_codec"),
    [(".mp4", "h264", "yuv420p", "aac"), (".webm", "vp9", "yuv420p", "opus")],
)
@pytest.mark.parametrize("fps", [Fraction(FPS), Fraction(30000, 1001)])
def test_video_with_sound_is_what_ffprobe_reads(tmp_path, suffix, codec, pix_fmt, audio_codec, fps):
    frames = clip(24)
    progress = []
    path = write_video(
        tmp_path / f"clip{suffix}",
        iter(frames),  # streamed: the length comes from total_frames
        fps=fps,
        audio=tone(3.0, 44100),  # longer than the video, at another rate: cut to length
        audio_rate=44100,
        total_frames=len(frames),
        on_progress=progress.append,
    )
    assert progress == list(range(1, 25))
    info = probe(path)
    video = video_stream(info)
    assert (video["codec_name"], video["pix_fmt"]) == (codec, pix_fmt)
    assert (video["width"], video["height"]) == (256, 256)
    assert int(video["nb_read_frames"]) == 24
    assert video["color_space"] == "bt709"
    frame_s = 1 / float(fps)
    assert stream_seconds(video) == pytest.approx(24 * frame_s, abs=frame_s / 2)
    (audio,) = audio_streams(info)
    assert audio["codec_name"] == audio_codec
    assert abs(stream_seconds(audio) - stream_seconds(video)) < frame_s
    assert abs(float(audio.get("start_time", 0)) - float(video["start_time"])) < frame_s


@needs_ffprobe
@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
def test_short_sound_is_padded_with_silence_to_the_video_length(tmp_path, suffix):
    path = write_video(tmp_path / f"clip{suffix}", clip(24), fps=FPS, audio=tone(0.4))
    info = probe(path)
    (audio,) = audio_streams(info)
    assert abs(stream_seconds(audio) - stream_seconds(video_stream(info))) < 1 / FPS


def test_sound_needs_the_frame_count_and_the_frames_must_keep_to_it(tmp_path):
    def stream(count):
        yield from clip(count, 32, 32)

    with pytest.raises(ValueError, match="give total_frames with the sound"):
        write_video(tmp_path / "a.mp4", stream(4), fps=FPS, audio=tone(0.2))
    with pytest.raises(ValueError, match="the video had 3 frames, not the 4 announced"):
        write_video(tmp_path / "a.mp4", stream(3), fps=FPS, audio=tone(0.2), total_frames=4)
    assert list(tmp_path.iterdir()) == []


@needs_ffprobe
def test_gif_has_one_palette_every_frame_and_no_sound(tmp_path):
    path = write_video(tmp_path / "loop.gif", clip(12, 96, 64), fps=12, audio=tone(1.0))
    info = probe(path)
    (video,) = info["streams"]
    assert video["codec_name"] == "gif" and int(video["nb_read_frames"]) == 12
    assert (video["width"], video["height"]) == (96, 64)
    assert float(info["format"]["duration"]) == pytest.approx(1.0, abs=1 / 12)
    with Image.open(path) as gif:
        assert gif.n_frames == 12 and gif.info.get("loop") == 0


@needs_ffprobe
def test_odd_sides_are_cropped_to_even_and_a_size_asked_is_scaled_to(tmp_path):
    odd = write_video(tmp_path / "odd.mp4", clip(6, 255, 129), fps=FPS)
    assert (video_stream(probe(odd))["width"], video_stream(probe(odd))["height"]) == (254, 128)
    small = write_video(tmp_path / "small.webm", clip(6), fps=FPS, size=(129, 97))
    assert (video_stream(probe(small))["width"], video_stream(probe(small))["height"]) == (128, 96)
    gif = write_video(tmp_path / "small.gif", clip(6, 64, 64), fps=FPS, size=(33, 21))
    assert Image.open(gif).size == (33, 21)


def test_a_png_sequence_is_a_folder_of_numbered_frames_each_carrying_the_recipe(tmp_path):
    video = marked_video(clip(5, 64, 48))
    written = export(
        exporter_for(tmp_path / "shot.png", exporters(), "video"), tmp_path / "shot.png", video
    )
    assert written == tmp_path / "shot" and not (tmp_path / "shot.png").exists()
    names = sorted(p.name for p in written.iterdir())
    assert names == [f"shot_{n:05d}.png" for n in range(1, 6)]
    with Image.open(written / "shot_00003.png") as frame:
        assert frame.mode == "RGB" and frame.size == (64, 48)
        assert np.array_equal(np.asarray(frame), video.frames[2])  # lossless
        assert json.loads(frame.text["atelier"])["recipe"] == RECIPE
        assert "a drifting nebula" in frame.text["parameters"]
    claims = parse_xmp(read_xmp((written / "shot_00001.png").read_bytes()))
    assert claims["provenance"] == json.loads(json.dumps(video.meta["provenance"]))
    assert claims["digital_source_type"] == TRAINED
    # Exported again, shorter: the old sequence is replaced whole, no frame of it left.
    write_video(tmp_path / "shot.png", clip(2, 64, 48), fps=FPS)
    assert sorted(p.name for p in written.iterdir()) == ["shot_00001.png", "shot_00002.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shot"]


def test_a_png_sequence_never_replaces_a_folder_holding_other_files(tmp_path):
    (tmp_path / "shot").mkdir()
    (tmp_path / "shot" / "notes.txt").write_text("mine")
    with pytest.raises(VideoWriteError, match=r"holds other files \(notes.txt\)"):
        write_video(tmp_path / "shot.png", clip(2, 32, 32), fps=FPS)
    assert [p.name for p in (tmp_path / "shot").iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shot"]


def test_files_get_the_permissions_the_umask_gives(tmp_path):
    old = os.umask(0o027)
    try:
        path = write_video(tmp_path / "clip.mp4", clip(3, 32, 32), fps=FPS)
        folder = write_video(tmp_path / "seq.png", clip(2, 32, 32), fps=FPS)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640
    assert folder.stat().st_mode & 0o777 == 0o750
    assert (folder / "seq_00001.png").stat().st_mode & 0o777 == 0o640


# ---- cancel and failures ---------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".mp4", ".webm", ".gif", ".png"])
def test_cancel_mid_export_leaves_no_file_and_no_temp(tmp_path, suffix):
    done = []
    with pytest.raises(ExportCancelledError):
        write_video(
            tmp_path / f"clip{suffix}",
            clip(24, 64, 64),
            fps=FPS,
            audio=tone(1.0),
            on_progress=done.append,
            is_cancelled=lambda: len(done) >= 5,
        )
    assert done == [1, 2, 3, 4, 5]
    assert list(tmp_path.iterdir()) == []


def test_a_cancelled_export_keeps_the_file_it_would_have_replaced(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"the previous export")
    with pytest.raises(ExportCancelledError):
        write_video(path, clip(12, 64, 64), fps=FPS, is_cancelled=lambda: True)
    assert path.read_bytes() == b"the previous export"
    assert list(tmp_path.iterdir()) == [path]


def test_a_failing_frame_source_leaves_nothing(tmp_path):
    def broken():
        yield from clip(3, 64, 64)
        raise RuntimeError("the timeline could not render frame 4")

    def gone():
        yield from clip(3, 64, 64)
        raise FileNotFoundError(2, "No such file or directory", "walk.mp4")

    with pytest.raises(RuntimeError, match="frame 4"):
        write_video(tmp_path / "clip.mp4", broken(), fps=FPS)
    with pytest.raises(FileNotFoundError) as caught:  # the source's error, not a write's
        write_video(tmp_path / "clip.png", gone(), fps=FPS)
    assert caught.value.filename == "walk.mp4"
    with pytest.raises(ValueError, match="frame 3 is 32x32 pixels, the first was 64x64"):
        write_video(tmp_path / "clip.webm", [*clip(2, 64, 64), clip(1, 32, 32)[0]], fps=FPS)
    assert list(tmp_path.iterdir()) == []


def test_a_path_whose_folder_is_a_file_is_refused_with_a_reason(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    for suffix in (".mp4", ".png"):
        with pytest.raises(VideoWriteError, match=r"file.txt is not a folder") as caught:
            write_video(tmp_path / "file.txt" / f"clip{suffix}", clip(2, 32, 32), fps=FPS)
        assert isinstance(caught.value, OSError)
    with pytest.raises(VideoWriteError, match="missing does not exist"):
        write_video(tmp_path / "missing" / "clip.mp4", clip(2, 32, 32), fps=FPS)
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]


needs_modes = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores modes"
)


@contextlib.contextmanager
def read_only_folder(parent: Path) -> Iterator[Path]:
    """A new folder that may not be written in, while the block runs."""
    folder = parent / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        yield folder
    finally:
        folder.chmod(0o700)


@needs_modes
def test_a_read_only_folder_is_refused_with_a_reason(tmp_path):
    with read_only_folder(tmp_path) as folder:
        with pytest.raises(VideoWriteError, match="Atelier may not write there"):
            write_video(folder / "clip.mp4", clip(2, 32, 32), fps=FPS)
        assert list(folder.iterdir()) == []


def fill_the_disk(monkeypatch, module) -> list[Path]:
    """Make `module`'s temps /dev/full, where every write fails with ENOSPC; the targets
    it was asked temps for are listed."""
    made: list[Path] = []

    @contextlib.contextmanager
    def full_disk(path):
        made.append(path)
        yield Path("/dev/full")

    monkeypatch.setattr(module, "temp_beside", full_disk)
    return made


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_says_so_and_leaves_no_temp(tmp_path, monkeypatch):
    made = fill_the_disk(monkeypatch, encoding)
    with pytest.raises(VideoWriteError, match="the disk is full") as caught:
        write_video(tmp_path / "clip.mp4", clip(24, 64, 64), fps=FPS, audio=tone(1.0))
    assert caught.value.errno == 28 and str(tmp_path / "clip.mp4") in str(caught.value)
    assert made and list(tmp_path.iterdir()) == []


def test_bad_arguments_are_refused_before_any_file(tmp_path):
    cases = [
        (dict(path=tmp_path / "clip.avi"), "use .mp4, .webm, .gif or .png"),
        (dict(fps=0), "frame rate must be above 0"),
        (dict(quality="best"), "quality must be one of high, medium, small"),
        (dict(quality=70), "CRF must be from 0 to 51"),
        (dict(audio=np.zeros(100, np.float32)), r"audio must be \(channels, samples\)"),
        (dict(frames=[]), "there are no frames"),
        (dict(frames=np.zeros((2, 8, 8), np.uint8)), r"frame 1 must be \(height, width, 3\)"),
    ]
    for change, words in cases:
        arguments = dict(path=tmp_path / "clip.mp4", frames=clip(2, 32, 32), fps=FPS)
        arguments.update(change)
        path, frames = arguments.pop("path"), arguments.pop("frames")
        with pytest.raises(ValueError, match=words):
            write_video(path, frames, **arguments)
    assert list(tmp_path.iterdir()) == []


# ---- provenance ------------------------------------------------------------------------------


def exporters():
    return discover().exporters


def test_the_video_exporters_are_registered_by_suffix():
    video = {e.id: e.suffixes for e in exporters() if e.output == "video"}
    assert set(video.values()) == {(".mp4",), (".webm",), (".gif",), (".png",)}
    assert exporter_for(Path("a.MP4"), exporters(), "video").id == "video_export.mp4"


@needs_ffprobe
def test_an_exported_generated_mp4_carries_its_mark_claim_and_recipe(tmp_path, capsys):
    video = marked_video(clip(24))
    record = video.meta["provenance"]
    path = tmp_path / "clip.mp4"
    assert export(exporter_for(path, exporters(), "video"), path, video) == path

    report = verify_file(path)
    assert report.marked and report.watermark.payload == record["watermark"]["payload"]
    assert report.provenance == json.loads(json.dumps(record))
    assert report.agrees is True
    assert main(["verify", str(path)]) == 0

    claims = parse_xmp(read_media_claims(path.read_bytes())["xmp"])
    assert claims["digital_source_type"] == TRAINED
    tags = probe(path)["format"]["tags"]
    assert tags[TAG_SOURCE] == TRAINED
    assert tags[TAG_WATERMARK] == record["watermark"]["id"]
    assert "AI-generated" in tags["comment"]
    assert json.loads(tags["description"])["recipe"] == RECIPE
    boxes = [kind for kind, _, _ in mp4_boxes(path.read_bytes())]
    assert boxes.index(b"moov") < boxes.index(b"mdat")  # +faststart: plays while it loads


@needs_ffprobe
def test_a_generated_webm_carries_the_claim_as_tags_and_keeps_its_mark(tmp_path):
    video = marked_video(clip(24))
    path = export(
        exporter_for(tmp_path / "c.webm", exporters(), "video"), tmp_path / "c.webm", video
    )
    tags = {key.upper(): value for key, value in probe(path)["format"]["tags"].items()}
    assert tags[TAG_SOURCE] == TRAINED
    assert json.loads(tags["DESCRIPTION"])["recipe"] == RECIPE
    assert verify_file(path).marked


def test_an_unmarked_video_exports_without_a_claim(tmp_path):
    frames = clip(24)
    path = write_video(tmp_path / "plain.mp4", frames, fps=FPS)
    assert read_media_claims(path.read_bytes())["xmp"] is None
    assert not verify_file(path).marked
    assert not watermark.detect_frames(frames).present
