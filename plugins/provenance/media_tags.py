"""The AI-generated claim for video and audio files: XMP in MP4, WAV and MP3, tags for ffmpeg.

For the video and music features: `add_xmp_mp4` / `add_xmp_wav` / `add_xmp_mp3` put the
same XMP packet as images carry into an MP4 or M4A (a top-level `uuid` XMP box), a WAV (a
`_PMX` chunk) or an MP3 (an ID3v2 `PRIV` frame owned by "XMP"), the places the XMP
specification names; a FLAC carries it in its `XMP` Vorbis comment (`TAG_XMP`), which
ffmpeg writes. `ffmpeg_tag_args` gives the `-metadata` flags that write the claim as
container tags (MP4, FLAC, MP3, Ogg) when ffmpeg writes the file; `read_media_claims`
reads the packet and the FLAC tags back.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from plugins.provenance.xmp import TRAINED, riff_chunks, riff_file

XMP_UUID = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")
TAG_SOURCE = "DIGITAL_SOURCE_TYPE"
TAG_WATERMARK = "ATELIER_WATERMARK_ID"
TAG_XMP = "XMP"
ID3_XMP_OWNER = b"XMP\x00"


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


# ---- MP3 (ID3v2) -----------------------------------------------------------------------------


def _syncsafe(raw: bytes) -> int:
    return (raw[0] & 0x7F) << 21 | (raw[1] & 0x7F) << 14 | (raw[2] & 0x7F) << 7 | raw[3] & 0x7F


def _to_syncsafe(size: int) -> bytes:
    return bytes([size >> 21 & 0x7F, size >> 14 & 0x7F, size >> 7 & 0x7F, size & 0x7F])


def id3_frames(data: bytes) -> tuple[int, list[tuple[bytes, bytes, bytes]], int]:
    """The ID3v2 tag at the start of an MP3: (major version, its frames as (id, flags,
    body), where the audio begins); (4, [], 0) when the file has none."""
    if data[:3] != b"ID3":
        return 4, [], 0
    version, flags = data[3], data[5]
    if version not in (3, 4):
        raise ValueError(f"unsupported ID3v2.{version} tag")
    end = 10 + _syncsafe(data[6:10])
    pos = 10
    if flags & 0x40:  # an extended header: its size counts itself in v2.4, not in v2.3
        size = data[10:14]
        pos += _syncsafe(size) if version == 4 else 4 + struct.unpack(">I", size)[0]
    frames = []
    while pos + 10 <= end and data[pos] != 0:  # a zero byte starts the padding
        raw = data[pos + 4 : pos + 8]
        size = _syncsafe(raw) if version == 4 else struct.unpack(">I", raw)[0]
        frames.append(
            (data[pos : pos + 4], data[pos + 8 : pos + 10], data[pos + 10 : pos + 10 + size])
        )
        pos += 10 + size
    return version, frames, end + (10 if version == 4 and flags & 0x10 else 0)  # a footer


def add_xmp_mp3(data: bytes, packet: str) -> bytes:
    """The MP3 with the packet in an ID3v2 `PRIV` frame owned by "XMP" (an older one is
    dropped); the tag is rebuilt in front of the unchanged audio."""
    version, frames, end = id3_frames(data)
    kept = [f for f in frames if not (f[0] == b"PRIV" and f[2].startswith(ID3_XMP_OWNER))]
    kept.append((b"PRIV", b"\x00\x00", ID3_XMP_OWNER + packet.encode("utf-8")))
    size = _to_syncsafe if version == 4 else (lambda n: struct.pack(">I", n))
    body = b"".join(kind + size(len(b)) + flags + b for kind, flags, b in kept)
    return b"ID3" + bytes([version, 0, 0]) + _to_syncsafe(len(body)) + body + data[end:]


def read_xmp_mp3(data: bytes) -> str | None:
    for kind, _flags, body in id3_frames(data)[1]:
        if kind == b"PRIV" and body.startswith(ID3_XMP_OWNER):
            return body[len(ID3_XMP_OWNER) :].decode("utf-8", "replace")
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
        "encoded_by": str(provenance.get("software", "Atelier")),  # ffmpeg sets "encoder"
        TAG_SOURCE: str(provenance.get("digital_source_type", TRAINED)),
        TAG_WATERMARK: str(watermark.get("id", "")),
    }


def ffmpeg_tag_args(
    provenance: Mapping[str, Any] | None, metadata: Mapping[str, str] | None = None
) -> list[str]:
    """`-metadata key=value` flags for ffmpeg: the provenance claim, then `metadata` (which
    may override it); empty values are left out."""
    tags = {**(claim_tags(provenance) if provenance else {}), **(metadata or {})}
    args: list[str] = []
    for key, value in tags.items():
        if value:
            args += ["-metadata", f"{key}={value}"]
    return args


def ffmpeg_metadata_args(provenance: Mapping[str, Any], container: str = "mp4") -> list[str]:
    """`-metadata key=value` flags for ffmpeg; for MP4/MOV also the flag that lets custom
    keys through (`-movflags use_metadata_tags`)."""
    args = ffmpeg_tag_args(provenance)
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
    """What a video/audio file claims: its XMP packet (MP4, M4A, WAV, MP3, FLAC) and FLAC
    tags."""
    claims: dict[str, Any] = {"xmp": None, "tags": {}}
    if is_mp4(data):
        claims["xmp"] = read_xmp_mp4(data)
    elif data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        claims["xmp"] = read_xmp_wav(data)
    elif data[:3] == b"ID3":
        claims["xmp"] = read_xmp_mp3(data)
    elif data.startswith(b"fLaC"):
        claims["tags"] = flac_tags(data)
        claims["xmp"] = claims["tags"].pop(TAG_XMP, None)
    return claims
