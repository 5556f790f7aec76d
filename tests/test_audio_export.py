"""Audio export: WAV, FLAC, MP3 and AAC/M4A as ffprobe reads them (codec, rate, channels,
duration, tags), the watermark kept through each codec, and failures leaving nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from engine.protocol import AudioData
from plugins.audio_export import encoding
from plugins.audio_export.encoding import AudioWriteError, write_audio
from plugins.exporters import export, exporter_for
from plugins.provenance import marking, watermark
from plugins.provenance.media_tags import TAG_SOURCE, TAG_WATERMARK, flac_tags
from plugins.provenance.settings import SafetySettings
from plugins.provenance.verify import read_audio
from plugins.provenance.xmp import TRAINED
from plugins.registry import discover
from tests.test_video_export import (
    fill_the_disk,
    needs_ffprobe,
    needs_modes,
    probe,
    read_only_folder,
)

PROMPT = "a calm piano melody in A minor at 70 bpm"
RECIPE = {
    "task": "music.generate",
    "version": 1,
    "params": {"prompt": PROMPT, "seed": 7, "duration": 4.0},
    "model": {"name": "tiny-musicgen", "family": "musicgen", "hash": "0123abcd"},
}
LICENCE = "cc-by-nc-4.0"
FORMATS = [(".wav", "pcm_s16le"), (".flac", "flac"), (".mp3", "mp3"), (".m4a", "aac")]
LAYOUTS = [(32000, 2), (16000, 1)]  # MusicGen's rate in stereo; a speech rate in mono
CODEC_FRAME = {".mp3": 1152, ".m4a": 1024}  # samples a frame; padding is at most two


def tone_and_noise(rate: int, channels: int, seconds: float = 4.0) -> np.ndarray:
    """A chord that swells and fades, with a little noise: music-like for the watermark."""
    t = np.arange(round(rate * seconds)) / rate
    chord = sum(0.12 * np.sin(2 * np.pi * f * t) for f in (220.0, 261.6, 329.6, 440.0))
    rng = np.random.default_rng(channels)
    left = chord * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t)) + rng.normal(0, 0.02, t.shape)
    return np.stack([np.roll(left, 90 * c) for c in range(channels)]).astype(np.float32)


def generated(rate: int = 32000, channels: int = 2, seconds: float = 4.0) -> AudioData:
    """A sound as a music job delivers it: recipe, licence, then the safety step's mark."""
    meta = {"recipe": RECIPE, "licence": LICENCE}
    plain = AudioData(tone_and_noise(rate, channels, seconds), rate, meta)
    safety = {"output": {"checked": False, "reason": "no output check for sound"}}
    return marking.mark_output(plain, "music.generate", safety, SafetySettings())


def exporters():
    return discover().exporters


def export_sound(path: Path, audio: AudioData) -> Path:
    return export(exporter_for(path, exporters(), "audio"), path, audio)


# ---- formats ---------------------------------------------------------------------------------


def test_the_audio_exporters_are_registered_by_suffix(tmp_path):
    audio = {e.id: e.suffixes for e in exporters() if e.output == "audio"}
    assert sorted(audio.values()) == [(".flac",), (".m4a",), (".mp3",), (".wav",)]
    assert exporter_for(Path("song.FLAC"), exporters(), "audio").id == "audio_export.flac"
    with pytest.raises(ValueError, match=r"use \.wav, \.flac, \.mp3 or \.m4a"):
        exporter_for(tmp_path / "song.ogg", exporters(), "audio")


@needs_ffprobe
@pytest.mark.parametrize("rate,channels", LAYOUTS)
@pytest.mark.parametrize("suffix,codec", FORMATS)
def test_each_format_is_what_ffprobe_reads(tmp_path, suffix, codec, rate, channels):
    audio = generated(rate, channels)
    count = audio.samples.shape[1]
    path = export_sound(tmp_path / f"track{suffix}", audio)
    info = probe(path)
    (stream,) = info["streams"]
    assert stream["codec_name"] == codec
    assert int(stream["sample_rate"]) == rate
    assert stream["channels"] == channels
    seconds = float(stream["duration"])
    if suffix in (".wav", ".flac"):
        assert int(stream["duration_ts"]) == count  # exact to the sample
    else:  # the encoder's priming and padding, at most two frames
        assert 0 <= seconds - count / rate <= 2 * CODEC_FRAME[suffix] / rate
    decoded, decoded_rate = read_audio(path)  # decoders trim the padding the file records
    assert decoded.shape == (channels, count) and decoded_rate == rate
    assert list(tmp_path.iterdir()) == [path]


@needs_ffprobe
@pytest.mark.parametrize("suffix", [".wav", ".flac", ".mp3", ".m4a"])
def test_tags_carry_the_prompt_claim_watermark_licence_and_software(tmp_path, suffix):
    audio = generated()
    record = audio.meta["provenance"]
    path = export_sound(tmp_path / f"track{suffix}", audio)
    tags = probe(path)["format"]["tags"]
    assert tags["title"] == PROMPT
    assert "AI-generated" in tags["comment"] and TRAINED in tags["comment"]
    assert tags["encoded_by"] == record["software"]
    assert tags["copyright"] == f"Model licence: {LICENCE} (tiny-musicgen)"
    if suffix != ".wav":  # a WAV's INFO list has no place for them: its XMP carries them
        assert tags[TAG_SOURCE] == TRAINED
        assert tags[TAG_WATERMARK] == record["watermark"]["id"]
    if suffix in (".mp3", ".m4a"):
        assert json.loads(tags["description"])["recipe"] == RECIPE
    if suffix == ".flac":  # ffmpeg reads DESCRIPTION into "comment"; the file keeps it apart
        assert json.loads(flac_tags(path.read_bytes())["DESCRIPTION"])["recipe"] == RECIPE


@needs_ffprobe
def test_wav_is_16_bit_or_float_and_the_lossless_formats_keep_the_samples(tmp_path):
    audio = generated(32000, 2, 1.0)
    floats = write_audio(tmp_path / "f.wav", audio.samples, 32000, wav_format="float32")
    assert probe(floats)["streams"][0]["codec_name"] == "pcm_f32le"
    assert np.array_equal(read_audio(floats)[0], audio.samples)  # as given: not marked again
    for suffix in (".wav", ".flac"):
        path = write_audio(tmp_path / f"i{suffix}", audio.samples, 32000)
        assert np.abs(read_audio(path)[0] - audio.samples).max() <= 1 / 32768


@needs_ffprobe
def test_mp3_and_aac_take_a_rate_they_lack_as_the_next_one_up(tmp_path):
    for rate, suffix, expected in [
        (37800, ".mp3", 44100),
        (37800, ".m4a", 44100),
        (96000, ".mp3", 48000),
        (37800, ".flac", 37800),
        (6400, ".mp3", 8000),  # a tiny test model's rate
        (6400, ".wav", 6400),
    ]:
        path = write_audio(tmp_path / f"{rate}{suffix}", tone_and_noise(rate, 1, 1.0), rate)
        assert int(probe(path)["streams"][0]["sample_rate"]) == expected


# ---- the watermark through each codec --------------------------------------------------------


@pytest.mark.parametrize("rate,channels", LAYOUTS)
@pytest.mark.parametrize("suffix", [".mp3", ".m4a"])
def test_the_watermark_survives_mp3_and_aac_at_every_quality(tmp_path, suffix, rate, channels):
    audio = generated(rate, channels)
    payload = audio.meta["provenance"]["watermark"]["payload"]
    assert not watermark.detect_audio(tone_and_noise(rate, channels), rate).present
    for quality in encoding.QUALITIES:
        path = write_audio(tmp_path / f"{quality}{suffix}", audio.samples, rate, quality=quality)
        found = watermark.detect_audio(*read_audio(path))
        assert found.present and found.payload == payload, quality


# ---- files: permissions, failures ------------------------------------------------------------


def test_files_get_the_permissions_the_umask_gives(tmp_path):
    old = os.umask(0o027)
    try:
        path = write_audio(tmp_path / "a.flac", tone_and_noise(16000, 1, 0.2), 16000)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("suffix", [".wav", ".mp3"])
def test_a_full_disk_says_so_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch, suffix):
    path = tmp_path / f"track{suffix}"
    path.write_bytes(b"the previous export")
    made = fill_the_disk(monkeypatch, encoding)
    with pytest.raises(AudioWriteError, match="the disk is full") as caught:
        write_audio(path, tone_and_noise(32000, 2, 2.0), 32000)
    assert caught.value.errno == 28 and str(path) in str(caught.value)
    assert made and path.read_bytes() == b"the previous export"
    assert list(tmp_path.iterdir()) == [path]


def test_a_failure_after_encoding_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "track.m4a"
    path.write_bytes(b"the previous export")

    def broken(data: bytes, packet: str) -> bytes:
        raise OSError(5, "Input/output error")

    monkeypatch.setitem(encoding._ADD_XMP, "m4a", broken)
    with pytest.raises(AudioWriteError, match="Input/output error"):
        export_sound(path, generated(16000, 1, 1.0))
    assert path.read_bytes() == b"the previous export"
    assert list(tmp_path.iterdir()) == [path]


def test_a_path_whose_folder_is_missing_or_a_file_is_refused_with_a_reason(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    sound = tone_and_noise(16000, 1, 0.2)
    with pytest.raises(AudioWriteError, match="file.txt is not a folder"):
        write_audio(tmp_path / "file.txt" / "a.wav", sound, 16000)
    with pytest.raises(AudioWriteError, match="missing does not exist"):
        write_audio(tmp_path / "missing" / "a.wav", sound, 16000)
    (tmp_path / "folder.wav").mkdir()
    with pytest.raises(AudioWriteError, match="a folder has that name"):
        write_audio(tmp_path / "folder.wav", sound, 16000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "folder.wav"]


@needs_modes
def test_a_read_only_folder_is_refused_with_a_reason(tmp_path):
    with read_only_folder(tmp_path) as folder:
        with pytest.raises(AudioWriteError, match="Atelier may not write there"):
            write_audio(folder / "a.mp3", tone_and_noise(16000, 1, 0.2), 16000)
        assert list(folder.iterdir()) == []


def test_bad_arguments_are_refused_before_any_file(tmp_path):
    sound = tone_and_noise(16000, 1, 0.2)
    cases = [
        (dict(path=tmp_path / "a.ogg"), r"use \.wav, \.flac, \.mp3 or \.m4a"),
        (dict(samples=np.zeros((3, 100), np.float32)), "mono or stereo"),
        (dict(samples=np.zeros(100, np.float32)), r"must be \(channels, samples\)"),
        (dict(samples=np.zeros((1, 0), np.float32)), r"must be \(channels, samples\)"),
        (dict(samples=np.zeros((1, 100), np.int16)), "must be floats"),
        (dict(samples=np.full((1, 100), np.nan, np.float32)), "not numbers"),
        (dict(rate=500), "1000-384000 Hz"),
        (dict(wav_format="int24"), "wav_format must be one of int16, float32"),
        (dict(quality="best"), "quality must be one of high, medium, small"),
    ]
    for change, words in cases:
        arguments = dict(path=tmp_path / "a.wav", samples=sound, rate=16000)
        arguments.update(change)
        with pytest.raises(ValueError, match=words):
            write_audio(arguments.pop("path"), arguments.pop("samples"), **arguments)
    assert list(tmp_path.iterdir()) == []
