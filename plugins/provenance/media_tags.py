"""The AI-generated claim for video and audio files: XMP in MP4 and WAV, tags for ffmpeg.

For the video and music features: `add_xmp_mp4` / `add_xmp_wav` put the same XMP packet
as images carry into an MP4 (a top-level `uuid` XMP box) or a WAV (a `_PMX` chunk);
`ffmpeg_metadata_args` gives the `-metadata` flags that write the claim as container tags
(MP4, FLAC, MP3, Ogg) when ffmpeg writes the file; `read_media_claims` reads them back.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from plugins.provenance.xmp import TRAINED, riff_chunks, riff_file

XMP_UUID = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")
TAG_SOURCE = "DIGITAL_SOURCE_TYPE"
TAG_WATERMARK = "ATELIER_WATERMARK_ID"


# ---- MP4 -------------------------------------------------------------------------------------


def mp4_boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """The top-level boxes of an MP4/MOV file: (type, start, end)."""
    boxes, pos = [], 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
        elif size == 0:
            size = len(data) - pos
        if size < 8:
            raise ValueError("broken MP4 box")
        boxes.append((kind, pos, min(pos + size, len(data))))
        pos += size
    return boxes


def is_mp4(data: bytes) -> bool:
    return data[4:8] == b"ftyp"


def add_xmp_mp4(data: bytes, packet: str) -> bytes:
    """The MP4 with the packet in a top-level XMP `uuid` box at the end (an older one is
    dropped); appending moves no sample data, so the file's offsets stay valid."""
    if not is_mp4(data):
        raise ValueError("not an MP4 file")
    kept = [
        data[start:end]
        for kind, start, end in mp4_boxes(data)
        if not (kind == b"uuid" and data[start + 8 : start + 24] == XMP_UUID)
    ]
    body = XMP_UUID + packet.encode("utf-8")
    return b"".join(kept) + struct.pack(">I4s", len(body) + 8, b"uuid") + body


def read_xmp_mp4(data: bytes) -> str | None:
    for kind, start, end in mp4_boxes(data):
        if kind == b"uuid" and data[start + 8 : start + 24] == XMP_UUID:
            return data[start + 24 : end].decode("utf-8", "replace")
    return None


# ---- WAV -------------------------------------------------------------------------------------


def add_xmp_wav(data: bytes, packet: str) -> bytes:
    """The WAV with the packet in a `_PMX` chunk (the XMP spec's place in RIFF WAVE)."""
    chunks = [(k, b) for k, b in riff_chunks(data, b"WAVE") if k != b"_PMX"]
    chunks.append((b"_PMX", packet.encode("utf-8")))
    return riff_file(b"WAVE", chunks)


def read_xmp_wav(data: bytes) -> str | None:
    for kind, body in riff_chunks(data, b"WAVE"):
        if kind == b"_PMX":
            return body.decode("utf-8", "replace")
    return None


# ---- container tags (ffmpeg) -----------------------------------------------------------------


def claim_tags(provenance: Mapping[str, Any]) -> dict[str, str]:
    """The claim as plain key/value tags."""
    watermark = provenance.get("watermark", {})
    return {
        "comment": (
            f"AI-generated with {provenance.get('software', 'Atelier')} "
            f"(IPTC digital source type: {provenance.get('digital_source_type', TRAINED)})"
        ),
        "encoder": str(provenance.get("software", "Atelier")),
        TAG_SOURCE: str(provenance.get("digital_source_type", TRAINED)),
        TAG_WATERMARK: str(watermark.get("id", "")),
    }


def ffmpeg_metadata_args(provenance: Mapping[str, Any], container: str = "mp4") -> list[str]:
    """`-metadata key=value` flags for ffmpeg; for MP4/MOV also the flag that lets custom
    keys through (`-movflags use_metadata_tags`)."""
    args: list[str] = []
    for key, value in claim_tags(provenance).items():
        if value:
            args += ["-metadata", f"{key}={value}"]
    if container.lower() in ("mp4", "mov", "m4a"):
        args += ["-movflags", "+use_metadata_tags"]
    return args


def flac_tags(data: bytes) -> dict[str, str]:
    """The Vorbis comments of a FLAC file (keys upper-cased)."""
    if not data.startswith(b"fLaC"):
        raise ValueError("not a FLAC file")
    pos, tags = 4, {}
    while pos + 4 <= len(data):
        header = data[pos]
        length = int.from_bytes(data[pos + 1 : pos + 4], "big")
        block = data[pos + 4 : pos + 4 + length]
        if header & 0x7F == 4:  # VORBIS_COMMENT, little-endian lengths
            (vendor_length,) = struct.unpack("<I", block[:4])
            at = 4 + vendor_length
            (count,) = struct.unpack("<I", block[at : at + 4])
            at += 4
            for _ in range(count):
                (size,) = struct.unpack("<I", block[at : at + 4])
                key, _, value = (
                    block[at + 4 : at + 4 + size].decode("utf-8", "replace").partition("=")
                )
                tags[key.upper()] = value
                at += 4 + size
        pos += 4 + length
        if header & 0x80:  # the last metadata block
            break
    return tags


def read_media_claims(data: bytes) -> dict[str, Any]:
    """What a video/audio file claims: its XMP packet (MP4, WAV) and FLAC tags."""
    claims: dict[str, Any] = {"xmp": None, "tags": {}}
    if is_mp4(data):
        claims["xmp"] = read_xmp_mp4(data)
    elif data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        claims["xmp"] = read_xmp_wav(data)
    elif data.startswith(b"fLaC"):
        claims["tags"] = flac_tags(data)
    return claims
