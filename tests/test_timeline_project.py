"""The timeline in the `.atelier` project, without Qt: save and reopen give back the same
timeline and the same media bytes, imported files travel inside the project, a damaged
timeline entry gives one clear ProjectFileError, and only a project with a timeline needs
the newer format version."""

from __future__ import annotations

import io
import json
import wave
import zipfile
from fractions import Fraction as F
from pathlib import Path

import numpy as np
import pytest

from app.model.document import Document
from app.model.history import History
from app.model.project_file import (
    ProjectFileError,
    load_project,
    project_bytes,
    read_manifest,
    save_project,
)
from app.model.timeline import Timeline
from app.model.timeline_edits import AddClip, AddTrack, SetFades, SetGain, SetOpacity
from app.model.timeline_media import MediaFileError, add_output, add_picture, import_file
from app.model.timeline_render import frame_at, mix_audio
from engine.protocol import AudioData, VideoData


def write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    """16-bit PCM WAV of (C, N) float samples."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").T.tobytes()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(samples.shape[0])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return path


def made_doc() -> Document:
    """A document whose timeline holds a generated video, a canvas picture and a
    generated sound, with opacity, fades, gain and an odd frame rate."""
    rng = np.random.default_rng(3)
    doc = Document((32, 32))
    history = History(doc)
    frames = rng.integers(0, 256, (5, 12, 20, 3), dtype=np.uint8)
    movie = add_output(doc.media, VideoData(frames, 30000 / 1001), "generated video")
    still = add_picture(doc.media, rng.integers(0, 256, (10, 10, 4), dtype=np.uint8), "layer")
    sound = add_output(doc.media, AudioData(rng.random((2, 900), np.float32) - 0.5, 9000), "s")
    history.push(AddTrack("video", track_id="v1"))
    history.push(AddTrack("image", track_id="i1"))
    history.push(AddTrack("audio", track_id="a1"))
    history.push(AddClip(movie, "v1", F(1, 3), in_point=F(1001, 30000), clip_id="m"))
    history.push(AddClip(still, "i1", F(0), clip_id="s"))
    history.push(AddClip(sound, "a1", F(1, 7), clip_id="a"))
    history.push(SetOpacity("s", 0.4))
    history.push(SetFades("s", F(1, 3), F(2, 3)))
    history.push(SetGain("a", -3.5))
    return doc


def test_save_and_reopen_gives_back_the_timeline_and_its_media(tmp_path):
    doc = made_doc()
    path = save_project(doc, tmp_path / "cut.atelier")
    again = load_project(path)
    assert again.timeline == doc.timeline
    for item in doc.timeline.media:
        saved, loaded = doc.media.data(item), again.media.data(item)
        assert loaded.dtype == saved.dtype and np.array_equal(loaded, saved)
    for t in (F(0), F(1, 2), F(2, 3)):
        assert np.array_equal(
            frame_at(again.timeline, again.media, t), frame_at(doc.timeline, doc.media, t)
        )
    assert np.array_equal(
        mix_audio(again.timeline, again.media, 9000), mix_audio(doc.timeline, doc.media, 9000)
    )
    manifest = read_manifest(path)
    assert manifest["version"] == 3
    assert manifest["timeline"]["tracks"][0]["clips"][0]["start"] == "1/3"
    assert manifest["timeline"]["fps"] == "24/1"
    assert project_bytes(again) == project_bytes(doc)  # the same document, the same bytes


def test_a_project_without_a_timeline_keeps_its_older_version(tmp_path):
    doc = Document((8, 8))
    manifest = read_manifest(save_project(doc, tmp_path / "plain.atelier"))
    assert manifest["version"] == 1 and "timeline" not in manifest
    again = load_project(tmp_path / "plain.atelier")
    assert again.timeline == Timeline()


def test_imported_files_travel_inside_the_project_as_they_were(tmp_path):
    import imageio_ffmpeg

    rate = 8000
    wav = write_wav(tmp_path / "voice.wav", np.sin(np.arange(4000)[None] / 9) * 0.5, rate)
    video = tmp_path / "walk.mp4"
    writer = imageio_ffmpeg.write_frames(str(video), (32, 16), fps=8, macro_block_size=16)
    writer.send(None)
    for n in range(4):
        writer.send(np.full((16, 32, 3), 40 * n, np.uint8).tobytes())
    writer.close()

    doc = Document((8, 8))
    history = History(doc)
    sound, movie = import_file(doc.media, wav), import_file(doc.media, video)
    assert (sound.rate, sound.channels, sound.length) == (rate, 1, 4000)
    assert (movie.size, movie.fps, movie.length) == ((32, 16), 8, 4)
    history.push(AddTrack("audio", track_id="a1"))
    history.push(AddTrack("video", track_id="v1"))
    history.push(AddClip(sound, "a1", F(0)))
    history.push(AddClip(movie, "v1", F(0)))
    save_project(doc, tmp_path / "imported.atelier")
    wav_bytes, video_bytes = wav.read_bytes(), video.read_bytes()
    wav.unlink(), video.unlink()  # the project holds its own copies

    with zipfile.ZipFile(tmp_path / "imported.atelier") as archive:
        assert archive.read(f"media/{sound.id}.wav") == wav_bytes
        assert archive.read(f"media/{movie.id}.mp4") == video_bytes
    again = load_project(tmp_path / "imported.atelier")
    assert again.timeline == doc.timeline
    assert np.array_equal(again.media.data(sound), doc.media.data(sound))
    shown = [int(frame_at(again.timeline, again.media, F(n, 8)).mean()) for n in range(4)]
    assert all(abs(s - 40 * n) <= 3 for n, s in enumerate(shown))  # lossy, but each frame
    assert project_bytes(again) == project_bytes(load_project(tmp_path / "imported.atelier"))


def edited_manifest(data: bytes, change) -> bytes:
    """The project `data` with its manifest changed by `change(manifest)`."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(files["manifest.json"])
    change(manifest)
    files["manifest.json"] = json.dumps(manifest).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, blob in files.items():
            archive.writestr(name, blob)
    return buffer.getvalue()


def clip0(manifest: dict) -> dict:
    return manifest["timeline"]["tracks"][0]["clips"][0]


def media0(manifest: dict) -> dict:
    return manifest["timeline"]["media"][0]


DAMAGES = {
    "a time that is no fraction": (lambda m: clip0(m).update(start="1/0"), "num/den"),
    "a negative time": (lambda m: clip0(m).update(start=[-1, 2]), "num/den"),
    "a float time": (lambda m: clip0(m).update(start=0.5), "num/den"),
    "a clip past its media": (lambda m: clip0(m).update(out_point="99"), "past the end"),
    "a clip without media": (lambda m: clip0(m).update(media="nope"), "has no media"),
    "overlapping clips": (
        lambda m: m["timeline"]["tracks"][0]["clips"].append({**clip0(m), "id": "twin"}),
        "overlap",
    ),
    "a media shape that differs": (lambda m: media0(m).update(length=6), "media/"),
    "a zero frame rate": (lambda m: m["timeline"].update(fps="0/1"), "frame rate"),
    "an unknown track kind": (
        lambda m: m["timeline"]["tracks"][0].update(kind="3d"),
        "tracks.0.kind",
    ),
    "an id unsafe as a file name": (lambda m: media0(m).update(id="../x"), "media.0.id"),
}


@pytest.mark.parametrize("name", DAMAGES)
def test_a_damaged_timeline_entry_gives_a_clear_error(tmp_path, name):
    change, words = DAMAGES[name]
    path = tmp_path / "damaged.atelier"
    path.write_bytes(edited_manifest(project_bytes(made_doc()), change))
    with pytest.raises(ProjectFileError) as caught:
        load_project(path)
    message = str(caught.value)
    assert message.startswith(f"cannot open {path}") and words in message
    assert "\n" not in message


def test_damaged_media_data_gives_a_clear_error(tmp_path):
    doc = made_doc()
    data = project_bytes(doc)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    movie = doc.timeline.media[0]
    files[f"media/{movie.id}.npz"] = files[f"media/{movie.id}.npz"][:-40]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, blob in files.items():
            archive.writestr(name, blob)
    path = tmp_path / "cut.atelier"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(ProjectFileError, match=f"media/{movie.id}.npz is damaged"):
        load_project(path)


def test_saving_without_an_imported_file_says_which(tmp_path):
    wav = write_wav(tmp_path / "gone.wav", np.zeros((1, 800)), 8000)
    doc = Document((8, 8))
    item = import_file(doc.media, wav)
    History(doc).push(AddTrack("audio", track_id="a1"))
    doc.timeline = AddClip(item, "a1", F(0)).changed(doc.timeline)
    wav.unlink()
    with pytest.raises(ProjectFileError, match="gone.wav cannot be read"):
        save_project(doc, tmp_path / "x.atelier")
    assert not (tmp_path / "x.atelier").exists()


def test_unreadable_media_files_are_refused_clearly(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(MediaFileError, match="not a video, picture or sound"):
        import_file(Document((8, 8)).media, tmp_path / "notes.txt")
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 300)
    with pytest.raises(MediaFileError, match="broken.mp4: not a video Atelier can decode"):
        import_file(Document((8, 8)).media, tmp_path / "broken.mp4")
    (tmp_path / "broken.wav").write_bytes(b"RIFF....WAVE")
    with pytest.raises(MediaFileError, match="broken.wav: not a sound file"):
        import_file(Document((8, 8)).media, tmp_path / "broken.wav")
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(MediaFileError, match="folder.png: it is a folder"):
        import_file(Document((8, 8)).media, tmp_path / "folder.png")
