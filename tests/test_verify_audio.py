"""`atelier verify` on exported sounds: the claim, the watermark id read, its agreement with
the metadata, and the recipe, for WAV, FLAC, MP3 and M4A; the MP3 XMP frame on its own."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import struct

import numpy as np
import pytest

from app.cli import main
from engine.protocol import AudioData
from plugins.audio_export.encoding import write_audio
from plugins.provenance import marking, media_tags
from plugins.provenance.settings import SafetySettings
from plugins.provenance.verify import read_audio, verify_file
from plugins.provenance.xmp import TRAINED, parse_xmp, xmp_packet
from tests.test_audio_export import RECIPE, export_sound, generated, tone_and_noise

SUFFIXES = [".wav", ".flac", ".mp3", ".m4a"]


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_an_exported_sound_verifies_with_its_claim_mark_and_recipe(tmp_path, suffix, capsys):
    audio = generated(32000, 2)
    record = audio.meta["provenance"]
    path = export_sound(tmp_path / f"track{suffix}", audio)

    report = verify_file(path)
    assert report.kind == "audio" and report.readable
    assert report.marked and report.watermark.payload == record["watermark"]["payload"]
    assert report.provenance == json.loads(json.dumps(record))
    assert report.agrees is True
    assert report.claims["recipe"] == RECIPE
    assert report.claims["xmp"]["digital_source_type"] == TRAINED

    assert main(["verify", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"atelier id {record['watermark']['id']}" in out
    assert "matches the metadata" in out
    assert "recipe: music.generate v1, model tiny-musicgen, seed 7, duration 4 s" in out
    assert f"prompt: {RECIPE['params']['prompt']}" in out
    assert "XMP: digital source type trainedAlgorithmicMedia" in out
    assert "carries Atelier's watermark" in out


def test_a_flac_also_shows_its_claim_tags(tmp_path, capsys):
    path = export_sound(tmp_path / "track.flac", generated(16000, 1))
    assert verify_file(path).claims["tags"]["digital_source_type"] == TRAINED
    main(["verify", str(path)])
    assert "tags: digital source type trainedAlgorithmicMedia" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", [".mp3", ".m4a"])
def test_a_mark_the_metadata_does_not_record_is_reported(tmp_path, suffix, capsys):
    audio = generated(32000, 2)
    other = marking.mark_output(
        AudioData(tone_and_noise(32000, 2), 32000, {"recipe": {**RECIPE, "task": "other"}}),
        "other",
        {},
        SafetySettings(),
    )
    swapped = dataclasses.replace(
        audio, meta={**audio.meta, "provenance": other.meta["provenance"]}
    )
    path = export_sound(tmp_path / f"track{suffix}", swapped)
    report = verify_file(path)
    assert report.marked and report.agrees is False
    main(["verify", str(path)])
    recorded = other.meta["provenance"]["watermark"]["payload"]
    assert f"the metadata names {recorded:08x}" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_a_sound_without_provenance_verifies_as_unmarked(tmp_path, suffix, capsys):
    path = write_audio(tmp_path / f"plain{suffix}", tone_and_noise(32000, 2), 32000)
    report = verify_file(path)
    assert not report.marked and report.provenance is None
    assert main(["verify", str(path)]) == 3
    assert "XMP: none" in capsys.readouterr().out


# ---- the MP3 XMP frame -----------------------------------------------------------------------


def id3v23(frames: list[tuple[bytes, bytes]]) -> bytes:
    """An ID3v2.3 tag (plain 32-bit frame sizes), as older taggers write it."""
    body = b"".join(kind + struct.pack(">I", len(b)) + b"\x00\x00" + b for kind, b in frames)
    size = bytes([len(body) >> 21 & 0x7F, len(body) >> 14 & 0x7F, len(body) >> 7 & 0x7F])
    return b"ID3\x03\x00\x00" + size + bytes([len(body) & 0x7F]) + body


def test_the_mp3_xmp_frame_is_replaced_not_doubled_and_other_frames_kept(tmp_path):
    audio = generated(16000, 1, 1.0)
    record = audio.meta["provenance"]
    path = write_audio(tmp_path / "bare.mp3", audio.samples, 16000)
    bare = path.read_bytes()
    title = (b"TIT2", b"\x00Old title")
    for start in (bare, id3v23([title]) + bare[media_tags.id3_frames(bare)[2] :]):
        data = media_tags.add_xmp_mp3(start, xmp_packet(record))
        data = media_tags.add_xmp_mp3(data, xmp_packet(record, RECIPE))
        version, frames, end = media_tags.id3_frames(data)
        assert sum(kind == b"PRIV" for kind, _, _ in frames) == 1
        assert data[end:] == start[media_tags.id3_frames(start)[2] :]  # the audio untouched
        if start is not bare:
            assert version == 3 and (b"TIT2", b"\x00\x00", title[1]) in frames
        claims = parse_xmp(media_tags.read_media_claims(data)["xmp"])
        assert claims["provenance"] == json.loads(json.dumps(record))
        assert claims["recipe"] == RECIPE
        path.write_bytes(data)
        assert read_audio(path)[0].shape == audio.samples.shape  # still decodes


def test_a_damaged_id3_tag_gives_a_report_not_a_crash(tmp_path):
    path = export_sound(tmp_path / "track.mp3", generated(16000, 1, 1.0))
    data = path.read_bytes()
    end = media_tags.id3_frames(data)[2]
    rng = np.random.default_rng(3)
    for _ in range(30):
        broken = bytearray(data)
        for at in rng.integers(3, end, 6):
            broken[at] = int(rng.integers(0, 256))
        # only what verify catches and reports as broken container metadata
        with contextlib.suppress(ValueError, struct.error, IndexError):
            media_tags.read_media_claims(bytes(broken))
        path.write_bytes(bytes(broken))
        assert verify_file(path).kind == "audio"  # a report, whatever it says
