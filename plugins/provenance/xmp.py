"""XMP packets claiming IPTC's digital source type, written into and read from PNG/JPEG/WebP.

The packet carries Iptc4xmpExt:DigitalSourceType (trainedAlgorithmicMedia for a generated
image, compositeWithTrainedAlgorithmicMedia for a canvas with generated layers), the
creator tool and date, the watermark ids (the new one, and every one the pixels carry),
and Atelier's provenance record (marks and where they lie, safety record, settings) as
JSON; a sound's packet also carries its recipe (no other place for it is common to every
audio format). Files are edited at the byte level, so pixels are never re-encoded: PNG
gets an iTXt chunk `XML:com.adobe.xmp`, JPEG an APP1 segment, WebP an `XMP ` chunk.
"""

from __future__ import annotations

import json
import re
import struct
import zlib
from collections.abc import Mapping
from typing import Any
from xml.etree import ElementTree as ET

from engine.untrusted import MiB, parse_json

TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
COMPOSITE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "atelier": "urn:atelier:ns:provenance:1.0#",
}
for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_XMP_KEY = b"XML:com.adobe.xmp"
JPEG_XMP_ID = b"http://ns.adobe.com/xap/1.0/\x00"
MAX_XMP_BYTES = 16 * MiB  # real packets are KBs; Adobe's with history and thumbnails, a few MB
# XMP never declares a DOCTYPE: one is there only to define entities (billion laughs).
_DECLARATION = re.compile(r"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)


def _q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


# ---- the packet ------------------------------------------------------------------------------


def xmp_packet(provenance: Mapping[str, Any], recipe: Mapping[str, Any] | None = None) -> str:
    """An XMP packet for a provenance record (see plugins.provenance.marking), with the
    recipe that made the file when given."""
    meta = ET.Element(_q("x", "xmpmeta"))
    rdf = ET.SubElement(meta, _q("rdf", "RDF"))
    description = ET.SubElement(rdf, _q("rdf", "Description"), {_q("rdf", "about"): ""})
    attributes = {
        _q("Iptc4xmpExt", "DigitalSourceType"): provenance.get("digital_source_type", TRAINED),
        _q("xmp", "CreatorTool"): str(provenance.get("software", "Atelier")),
        _q("xmp", "CreateDate"): str(provenance.get("created", "")),
        _q("atelier", "WatermarkId"): str(provenance.get("watermark", {}).get("id", "")),
        _q("atelier", "WatermarkIds"): " ".join(
            str(mark.get("id", "")) for mark in provenance.get("marks") or ()
        ),
        _q("atelier", "Provenance"): json.dumps(provenance, sort_keys=True, default=str),
        _q("atelier", "Recipe"): json.dumps(recipe, sort_keys=True, default=str) if recipe else "",
    }
    for key, value in attributes.items():
        if value:
            description.set(key, value)
    body = ET.tostring(meta, encoding="unicode")
    return f'<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>{body}<?xpacket end="r"?>'


def parse_xmp(packet: str | bytes) -> dict[str, Any]:
    """What an XMP packet claims: digital_source_type, creator_tool, create_date,
    Atelier's provenance record and recipe (None where absent). Raises ValueError if
    unparsable."""
    if len(packet) > MAX_XMP_BYTES:
        raise ValueError(f"the XMP packet is larger than {MAX_XMP_BYTES // MiB} MB")
    text = packet.decode("utf-8", "replace") if isinstance(packet, bytes) else packet
    if _DECLARATION.search(text):
        raise ValueError("the XMP packet declares a DOCTYPE or entities, which XMP never does")
    start, end = text.find("<x:xmpmeta"), text.rfind("</x:xmpmeta>")
    if start < 0 or end < 0:
        start, end = text.find("<rdf:RDF"), text.rfind("</rdf:RDF>")
        closing = len("</rdf:RDF>")
    else:
        closing = len("</x:xmpmeta>")
    if start < 0 or end < 0:
        raise ValueError("not an XMP packet")
    try:
        root = ET.fromstring(text[start : end + closing])
    except ET.ParseError as exc:
        raise ValueError(f"broken XMP: {exc}") from None
    found: dict[str, Any] = {}
    names = {
        "digital_source_type": _q("Iptc4xmpExt", "DigitalSourceType"),
        "creator_tool": _q("xmp", "CreatorTool"),
        "create_date": _q("xmp", "CreateDate"),
        "provenance": _q("atelier", "Provenance"),
        "recipe": _q("atelier", "Recipe"),
    }
    for element in root.iter():
        for key, qname in names.items():
            value = element.get(qname)
            if value is None and element.tag == qname:
                value = (element.text or "").strip() or element.get(_q("rdf", "resource"))
            if value and key not in found:
                found[key] = value
    claims = {key: found.get(key) for key in names}
    for key in ("provenance", "recipe"):
        if claims[key]:
            try:
                claims[key] = parse_json(claims[key], f"the {key} in XMP")
            except ValueError:
                claims[key] = None
    return claims


# ---- PNG -------------------------------------------------------------------------------------


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG file")
    chunks, pos = [], len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        chunks.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
        if kind == b"IEND":
            break
    return chunks


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def _is_png_xmp(kind: bytes, body: bytes) -> bool:
    return kind == b"iTXt" and body.startswith(PNG_XMP_KEY + b"\x00")


def add_xmp_png(data: bytes, packet: str) -> bytes:
    """The PNG with the packet as an uncompressed iTXt chunk before the pixels (an older
    XMP chunk is replaced)."""
    itxt = PNG_XMP_KEY + b"\x00\x00\x00\x00\x00" + packet.encode("utf-8")
    out, placed = [PNG_SIGNATURE], False
    for kind, body in _png_chunks(data):
        if _is_png_xmp(kind, body):
            continue
        if kind in (b"IDAT", b"IEND") and not placed:
            out.append(_png_chunk(b"iTXt", itxt))
            placed = True
        out.append(_png_chunk(kind, body))
    return b"".join(out)


def read_xmp_png(data: bytes) -> str | None:
    for kind, body in _png_chunks(data):
        if _is_png_xmp(kind, body):
            rest = body[len(PNG_XMP_KEY) + 1 :]
            compressed, rest = rest[:1] == b"\x01", rest[2:]
            rest = rest.split(b"\x00", 2)[-1]  # language tag, translated keyword
            return (inflate(rest, MAX_XMP_BYTES) if compressed else rest).decode("utf-8", "replace")
    return None


def inflate(compressed: bytes, limit: int) -> bytes:
    """zlib data decompressed, at most `limit` bytes of it: a few KB can inflate to GBs.
    Raises ValueError when the data is damaged or inflates beyond the limit."""
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(compressed, limit + 1)
    except zlib.error as exc:
        raise ValueError(f"damaged compressed text ({exc})") from None
    if len(data) > limit:
        raise ValueError(f"compressed text inflates beyond {limit // MiB} MB")
    return data


# ---- JPEG ------------------------------------------------------------------------------------


def _jpeg_segments(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """The marker segments before the scan, and the rest of the file from the first SOS."""
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG file")
    segments, pos = [], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xDA:  # start of scan: the rest is image data
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        segments.append((marker, data[pos + 4 : pos + 2 + length]))
        pos += 2 + length
    return segments, data[pos:]


def add_xmp_jpeg(data: bytes, packet: str) -> bytes:
    """The JPEG with the packet in an APP1 segment after the leading APP0/APP1 ones."""
    body = JPEG_XMP_ID + packet.encode("utf-8")
    if len(body) + 2 > 0xFFFF:
        raise ValueError("the XMP packet is too large for one JPEG segment")
    segments, rest = _jpeg_segments(data)
    segments = [(m, b) for m, b in segments if not (m == 0xE1 and b.startswith(JPEG_XMP_ID))]
    at = 0
    while at < len(segments) and segments[at][0] in (0xE0, 0xE1):
        at += 1
    segments.insert(at, (0xE1, body))
    out = [b"\xff\xd8"]
    out += [bytes([0xFF, m]) + struct.pack(">H", len(b) + 2) + b for m, b in segments]
    return b"".join(out) + rest


def read_xmp_jpeg(data: bytes) -> str | None:
    for marker, body in _jpeg_segments(data)[0]:
        if marker == 0xE1 and body.startswith(JPEG_XMP_ID):
            return body[len(JPEG_XMP_ID) :].decode("utf-8", "replace")
    return None


# ---- RIFF (WebP, WAV) ------------------------------------------------------------------------


def riff_chunks(data: bytes, form: bytes) -> list[tuple[bytes, bytes]]:
    """The chunks of a RIFF file of the given form type (b"WEBP", b"WAVE")."""
    if data[:4] != b"RIFF" or data[8:12] != form:
        raise ValueError(f"not a RIFF {form.decode()} file")
    chunks, pos = [], 12
    while pos + 8 <= len(data):
        kind = data[pos : pos + 4]
        (length,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        chunks.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 8 + length + (length & 1)
    return chunks


def riff_file(form: bytes, chunks: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(
        kind + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) & 1 else b"")
        for kind, data in chunks
    )
    return b"RIFF" + struct.pack("<I", len(body) + 4) + form + body


def _webp_canvas(chunks: list[tuple[bytes, bytes]]) -> tuple[int, int, bool]:
    """(width, height, has alpha) of a simple (VP8 / VP8L) WebP."""
    kind, body = chunks[0]
    if kind == b"VP8 " and body[3:6] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", body[6:10])
        return width & 0x3FFF, height & 0x3FFF, False
    if kind == b"VP8L" and body[:1] == b"\x2f":
        (bits,) = struct.unpack("<I", body[1:5])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool((bits >> 28) & 1)
    raise ValueError("unsupported WebP bitstream")


def add_xmp_webp(data: bytes, packet: str) -> bytes:
    """The WebP with the packet in an `XMP ` chunk (a simple WebP becomes extended)."""
    chunks = [(k, b) for k, b in riff_chunks(data, b"WEBP") if k != b"XMP "]
    if chunks[0][0] != b"VP8X":
        width, height, alpha = _webp_canvas(chunks)
        flags = 0x10 if alpha else 0
        canvas = struct.pack("<I", width - 1)[:3] + struct.pack("<I", height - 1)[:3]
        chunks.insert(0, (b"VP8X", bytes([flags, 0, 0, 0]) + canvas))
    header = chunks[0][1]
    chunks[0] = (b"VP8X", bytes([header[0] | 0x04]) + header[1:])
    chunks.append((b"XMP ", packet.encode("utf-8")))
    return riff_file(b"WEBP", chunks)


def read_xmp_webp(data: bytes) -> str | None:
    for kind, body in riff_chunks(data, b"WEBP"):
        if kind == b"XMP ":
            return body.decode("utf-8", "replace")
    return None


# ---- by format -------------------------------------------------------------------------------


def image_format(data: bytes) -> str | None:
    """ "png", "jpeg" or "webp" from a file's first bytes; None for anything else."""
    if data.startswith(PNG_SIGNATURE):
        return "png"
    if data.startswith(b"\xff\xd8"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


_ADD = {"png": add_xmp_png, "jpeg": add_xmp_jpeg, "webp": add_xmp_webp}
_READ = {"png": read_xmp_png, "jpeg": read_xmp_jpeg, "webp": read_xmp_webp}


def add_xmp(data: bytes, packet: str) -> bytes:
    """The image file (PNG/JPEG/WebP bytes) with the packet in it."""
    kind = image_format(data)
    if kind is None:
        raise ValueError("XMP goes into PNG, JPEG or WebP files only")
    return _ADD[kind](data, packet)


def read_xmp(data: bytes) -> str | None:
    """The XMP packet of a PNG/JPEG/WebP file, or None."""
    kind = image_format(data)
    return _READ[kind](data) if kind else None
