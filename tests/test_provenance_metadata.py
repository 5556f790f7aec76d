"""Provenance metadata in files: XMP with IPTC's digital source type and signed C2PA
Content Credentials in saved PNG / JPEG / WebP, the same claim in MP4 / WAV / FLAC, the
local signing key, and watermarking exported canvases."""

from __future__ import annotations

import io
import stat
import subprocess
import wave

import numpy as np
import pytest
from PIL import Image

from app.model.image_files import read_text_chunks, with_provenance
from engine.protocol import ImageData
from plugins.image_export.writers import write_png
from plugins.provenance import content_credentials, marking, media_tags, xmp

RECORD = {
    "software": "Atelier 0.1.0",
    "created": "2025-06-01T12:00:00+00:00",
    "task": "diffusion.txt2img",
    "digital_source_type": xmp.TRAINED,
    "watermark": {"payload": 0xA7112345, "id": "12345", "app": "atelier", "method": "atelier"},
    "safety": {"prompt": {"level": "block", "matched": []}, "output": {"checked": True}},
    "settings": {"prompt": "block", "output": "blur"},
}
EMPTY_EXIF = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x00\x00"
RECIPE = {
    "task": "diffusion.txt2img",
    "version": 1,
    "params": {"prompt": 'a lighthouse, <dusk> & "rain"', "seed": 5, "steps": 2},
    "model": {"name": "tiny-sd15", "family": "sd15", "hash": "abc"},
}


def pixels(width: int = 96, height: int = 64) -> np.ndarray:
    rng = np.random.default_rng(1)
    rgba = rng.integers(0, 255, (height, width, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    return rgba


def encoded(kind: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels()[..., :3]).save(buffer, format=kind, **options)
    return buffer.getvalue()


def test_the_xmp_packet_round_trips_with_escaped_json():
    record = {**RECORD, "note": 'quotes " and <tags> & newlines\nhere'}
    claims = xmp.parse_xmp(xmp.xmp_packet(record))
    assert claims["digital_source_type"] == xmp.TRAINED
    assert claims["creator_tool"] == "Atelier 0.1.0"
    assert claims["provenance"] == record


def test_a_saved_generated_png_carries_text_xmp_and_a_trusted_c2pa_manifest(home, tmp_path):
    path = tmp_path / "out.png"
    image = ImageData(pixels(), {"recipe": RECIPE, "provenance": RECORD})
    write_png(path, image)
    data = path.read_bytes()
    with Image.open(path) as opened:
        assert np.array_equal(np.asarray(opened.convert("RGBA")), image.pixels)
        assert opened.info["XML:com.adobe.xmp"]  # Pillow sees the iTXt XMP chunk
    assert "a lighthouse" in read_text_chunks(path)["parameters"]
    claims = xmp.parse_xmp(xmp.read_xmp(data))
    assert claims["digital_source_type"] == xmp.TRAINED and claims["provenance"] == RECORD
    manifest = content_credentials.read(data, "image/png")
    assert manifest["present"] and manifest["state"] == "Trusted"
    assert manifest["actions"] == ["c2pa.created"]
    assert manifest["digital_source_type"] == xmp.TRAINED
    assert manifest["atelier"]["watermark"]["id"] == "12345" and manifest["failures"] == []


@pytest.mark.parametrize(
    ("kind", "options", "mime"),
    [
        ("JPEG", {"quality": 90}, "image/jpeg"),
        ("JPEG", {"quality": 90, "exif": Image.Exif().tobytes()}, "image/jpeg"),
        ("WEBP", {"quality": 80}, "image/webp"),
        ("WEBP", {"lossless": True}, "image/webp"),
        ("WEBP", {"quality": 80, "exif": EMPTY_EXIF}, "image/webp"),
    ],
)  # fmt: skip
def test_jpeg_and_webp_exports_carry_xmp_and_c2pa(home, kind, options, mime):
    plain = encoded(kind, **options)
    data = with_provenance(plain, RECORD, "export")
    with Image.open(io.BytesIO(data)) as opened:
        opened.load()
        assert opened.size == (96, 64) and opened.format == kind
        assert xmp.parse_xmp(opened.info["xmp"])["digital_source_type"] == xmp.TRAINED
    assert xmp.parse_xmp(xmp.read_xmp(data))["provenance"] == RECORD
    manifest = content_credentials.read(data, mime)
    assert manifest["state"] == "Trusted" and manifest["digital_source_type"] == xmp.TRAINED
    assert content_credentials.read(plain, mime) == {"present": False}


def test_no_record_no_metadata():
    plain = encoded("PNG")
    assert with_provenance(plain, None) == plain


def test_a_changed_file_reads_invalid_and_a_stranger_key_reads_valid(home, tmp_path):
    data = with_provenance(encoded("PNG"), RECORD, "x.png")
    tampered = bytearray(data)
    idat = data.index(b"IDAT")
    tampered[idat + 20] ^= 0xFF
    assert content_credentials.read(bytes(tampered), "image/png")["state"] == "Invalid"
    other_home = tmp_path / "other-computer"
    assert content_credentials.read(data, "image/png", other_home)["state"] == "Valid"


def test_the_signing_key_is_made_once_and_kept_private(home):
    keys = content_credentials.ensure_keys()
    assert keys.key.parent == home / "keys"
    assert stat.S_IMODE(keys.key.stat().st_mode) == 0o600
    chain = keys.chain.read_text()
    assert chain.count("BEGIN CERTIFICATE") == 2
    assert content_credentials.ensure_keys().chain.read_text() == chain  # reused


# ---- video and audio containers -----------------------------------------------------------


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def test_mp4_gets_an_xmp_box_and_still_plays(tmp_path):
    import imageio_ffmpeg

    path = tmp_path / "clip.mp4"
    writer = imageio_ffmpeg.write_frames(str(path), (64, 48), fps=8, macro_block_size=16)
    writer.send(None)
    for value in range(8):
        writer.send(np.full((48, 64, 3), value * 20, np.uint8).tobytes())
    writer.close()
    data = media_tags.add_xmp_mp4(path.read_bytes(), xmp.xmp_packet(RECORD))
    data = media_tags.add_xmp_mp4(data, xmp.xmp_packet(RECORD))  # replaced, not doubled
    assert sum(kind == b"uuid" for kind, _, _ in media_tags.mp4_boxes(data)) == 1
    path.write_bytes(data)
    claims = xmp.parse_xmp(media_tags.read_media_claims(data)["xmp"])
    assert claims["digital_source_type"] == xmp.TRAINED
    frames = list(imageio_ffmpeg.read_frames(str(path)))
    assert len(frames) == 1 + 8  # the meta dict, then every frame


def test_wav_gets_an_xmp_chunk_and_still_reads(tmp_path):
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(np.zeros(801, np.int16).tobytes())
    data = media_tags.add_xmp_wav(buffer.getvalue(), xmp.xmp_packet(RECORD))
    with wave.open(io.BytesIO(data)) as back:
        assert back.getnframes() == 801
    assert xmp.parse_xmp(media_tags.read_xmp_wav(data))["provenance"] == RECORD


def test_ffmpeg_tags_carry_the_claim_into_flac(tmp_path):
    path = tmp_path / "song.flac"
    command = [ffmpeg(), "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=0.2"]
    command += [*media_tags.ffmpeg_metadata_args(RECORD, "flac"), "-y", str(path)]
    subprocess.run(command, check=True, capture_output=True)
    tags = media_tags.read_media_claims(path.read_bytes())["tags"]
    assert tags[media_tags.TAG_SOURCE] == xmp.TRAINED
    assert tags[media_tags.TAG_WATERMARK] == "12345"
    assert "-movflags" in media_tags.ffmpeg_metadata_args(RECORD, "mp4")


# ---- exported canvases -------------------------------------------------------------------


def canvas(size: int = 256) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size]
    rgb = np.stack([x % 256, y % 256, (x + y) // 2 % 256], -1).astype(np.uint8)
    rgb = (rgb.astype(int) + np.random.default_rng(3).integers(-20, 20, rgb.shape)).clip(0, 255)
    return np.dstack([rgb.astype(np.uint8), np.full((size, size), 255, np.uint8)])


def test_mark_export_marks_canvases_with_generated_layers_only():
    from plugins.provenance import watermark

    plain = canvas()
    assert marking.mark_export(plain, []) is plain
    marked, record = marking.mark_export_with_provenance(plain, [marking.GeneratedLayer(RECIPE)])
    assert marked.shape == plain.shape and not np.array_equal(marked, plain)
    assert np.array_equal(marked[..., 3], plain[..., 3])
    found = watermark.detect_image(np.ascontiguousarray(marked[..., :3]))
    assert found.present and found.payload == record["watermark"]["payload"]
    assert record["digital_source_type"] == xmp.COMPOSITE
    assert record["task"] == "diffusion.txt2img"
    again, second = marking.mark_export_with_provenance(marked, [marking.GeneratedLayer(RECIPE)])
    assert again is marked and second["watermark"]["payload"] == found.payload  # kept
