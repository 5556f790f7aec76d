"""Image files that carry their generation settings: write PNGs atomically, read them back."""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import struct
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError
from PIL.PngImagePlugin import PngInfo

from app.model.comfyui_graph import parse_comfyui
from app.model.document import MAX_CANVAS_SIDE
from app.model.generation_info import (
    GenerationInfo,
    format_atelier,
    format_parameters,
    parse_atelier,
    parse_parameters,
)
from app.model.invokeai_metadata import INVOKEAI_KEYS, parse_invokeai
from app.model.metadata_json import looks_like_json, novelai_settings, parse_settings_json
from app.model.stealth_metadata import read_stealth_text
from engine.file_writing import write_atomic
from engine.untrusted import MiB, UntrustedInputError, clean_text, read_file_bytes

log = logging.getLogger(__name__)
EXIF_IFD, USER_COMMENT = 0x8769, 0x9286  # where JPEG and WebP keep A1111's `parameters`
_SOURCE_NAMES = {
    "atelier": "Atelier",
    "a1111": "AUTOMATIC1111 / Forge",
    "comfyui": "ComfyUI",
    "other": "another generator",
}

# Pillow decodes only these formats for files from outside: its other plugins (EPS runs
# Ghostscript) must never see a hostile file, whatever its name.
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP")
MAX_IMAGE_FILE_BYTES = 256 * MiB
# 64 megapixels (8192 x 8192, or a 16384 x 4096 panorama): 256 MB as RGBA, so reading one
# (a few copies while converting) and editing it stays within a couple of GB. Sides up to
# the canvas limit of 16384 are fine as long as the area stays below this.
MAX_IMAGE_PIXELS = 64 * 1024 * 1024
MAX_TEXT_BYTES = 16 * MiB  # one PNG text chunk, decompressed; ComfyUI workflows reach a few MB
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_TEXT_KINDS = (b"tEXt", b"zTXt", b"iTXt")


class ImageWriteError(OSError):
    """An image could not be written; the message names the path and the reason."""


class ImageReadError(OSError):
    """An image could not be read; the message names the path and the reason."""


def _reason(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc) or type(exc).__name__


# ---- writing ---------------------------------------------------------------------------------


def _png_key(key: str) -> str:
    if not 1 <= len(key) <= 79 or key != key.strip() or "\0" in key:
        raise ValueError(f"PNG text key {key!r} must be 1-79 characters without outer spaces")
    try:
        key.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"PNG text key {key!r} must be Latin-1") from None
    return key


def encode_png(rgba: np.ndarray, text: Mapping[str, str] | None = None) -> bytes:
    """PNG bytes of an (H, W, 4) or (H, W, 3) uint8 image; RGB when fully opaque. Text that
    is not Latin-1 goes into iTXt chunks (UTF-8), the rest into tEXt."""
    if rgba.dtype != np.uint8 or rgba.ndim != 3 or rgba.shape[2] not in (3, 4):
        raise ValueError(f"expected (H, W, 4) uint8 pixels, got {rgba.shape} {rgba.dtype}")
    pixels = np.ascontiguousarray(rgba)
    if pixels.shape[2] == 4 and bool((pixels[..., 3] == 255).all()):
        pixels = np.ascontiguousarray(pixels[..., :3])
    info = PngInfo()
    for key, value in (text or {}).items():
        info.add_text(_png_key(key), str(value))  # Pillow switches to iTXt for non-Latin-1
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGBA" if pixels.shape[2] == 4 else "RGB").save(
        buffer, format="PNG", pnginfo=info
    )
    return buffer.getvalue()


def save_png(
    path: str | os.PathLike[str],
    rgba: np.ndarray,
    text: Mapping[str, str],
    provenance: Mapping[str, Any] | None = None,
) -> Path:
    """Write a PNG with text chunks atomically: an existing file is replaced whole or kept.
    With a `provenance` record (a generated image's meta["provenance"]) the file also
    carries XMP and signed Content Credentials (see `with_provenance`).
    Raises ImageWriteError when the folder is missing or not writable, or the disk is full."""
    path = Path(path)
    data = encode_png(rgba, text)  # in memory first, so a bad image never touches the disk
    return write_image_bytes(path, with_provenance(data, provenance, path.name))


def write_image_bytes(path: Path, data: bytes) -> Path:
    """Write an encoded image atomically; ImageWriteError names the file and the reason."""
    if not path.parent.is_dir():
        what = "is not a folder" if path.parent.exists() else "does not exist"
        raise ImageWriteError(f"cannot write {path}: {path.parent} {what}")
    try:
        write_atomic(path, data)
    except OSError as exc:
        raise ImageWriteError(f"cannot write {path}: {_reason(exc)}") from exc
    return path


def generation_text_chunks(
    info: GenerationInfo, recipe: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """The text chunks for a generated image: A1111 `parameters` and Atelier's JSON recipe."""
    return {"parameters": format_parameters(info), "atelier": format_atelier(info, recipe)}


def with_provenance(data: bytes, provenance: Mapping[str, Any] | None, title: str = "") -> bytes:
    """PNG/JPEG/WebP file bytes carrying a provenance record: an XMP packet with IPTC's
    digital source type, then a C2PA manifest signed with this computer's key. Unchanged
    when `provenance` is None. If Content Credentials cannot be signed (c2pa-python
    missing or failing) the file keeps its XMP and the reason is logged."""
    if not provenance:
        return data
    title = clean_text(title)  # a file name with undecodable bytes: U+FFFD, not surrogates
    from plugins.provenance import content_credentials
    from plugins.provenance.xmp import add_xmp, image_format, xmp_packet

    data = add_xmp(data, xmp_packet(provenance))
    mime = f"image/{image_format(data)}"
    try:
        return content_credentials.sign(data, mime, provenance, title)
    except content_credentials.ContentCredentialsError as exc:
        log.warning("%s saved without Content Credentials: %s", title or "image", exc)
        return data


# ---- reading ---------------------------------------------------------------------------------


def read_image_bytes(path: str | os.PathLike[str], max_bytes: int = MAX_IMAGE_FILE_BYTES) -> bytes:
    """The bytes of an image file from outside: a regular file of at most `max_bytes` (a
    FIFO, a device or a folder is refused without blocking)."""
    try:
        return read_file_bytes(path, "an image", max_bytes)
    except UntrustedInputError as exc:
        raise ImageReadError(f"cannot read {path}: {exc.reason}") from None
    except OSError as exc:
        raise ImageReadError(f"cannot read {path}: {_reason(exc)}") from None


# What Pillow raises on damaged files besides OSError (EXIF, truncated chunks, bad CRCs).
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    EOFError,
    struct.error,
    ZeroDivisionError,
)


@contextmanager
def pillow_image(data: bytes, path: str | os.PathLike[str]) -> Iterator[Image.Image]:
    """A lazily decoded Pillow image of file bytes, PNG, JPEG or WebP only. Whatever goes
    wrong opening or decoding it in the `with` block becomes an ImageReadError naming
    `path`."""
    try:
        with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
            yield image
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        raise ImageReadError(
            f"cannot read {path}: not an image file Atelier can open (PNG, JPEG or WebP)"
        ) from None
    except _DECODE_ERRORS as exc:
        log.debug("decoding %s failed: %s", path, _reason(exc))
        raise ImageReadError(f"cannot read {path}: {_damage(exc)}") from None


def _damage(exc: BaseException) -> str:
    """What is wrong with an image Pillow could not decode, in a designer's words (Pillow's
    own text, e.g. 'Truncated File Read', says little to them)."""
    if isinstance(exc, EOFError) or "truncated" in _reason(exc).lower():
        return (
            "the file is incomplete: it ends before the picture does, as when a download "
            "or a copy is cut short; open or export it again from the original"
        )
    return (
        "the file is damaged: its picture data cannot be decoded; export it again from "
        "the program that made it"
    )


def check_pixel_count(
    image: Image.Image, path: str | os.PathLike[str], limit: int = MAX_IMAGE_PIXELS
) -> None:
    """Refuse an image whose header promises more pixels than `limit`, or a side longer
    than a canvas can be, before decoding: a small file can hold a huge single-colour
    picture."""
    width, height = image.size
    if width * height > limit or max(width, height) > MAX_CANVAS_SIDE:
        raise ImageReadError(
            f"cannot open {path}: it is {width} x {height} pixels, more than Atelier opens "
            f"here ({limit / 1e6:.0f} megapixels, {MAX_CANVAS_SIDE} pixels a side); "
            "scale it down in another editor first"
        )


_COMMENT_CHARSETS = (b"ASCII\0\0\0", b"UNICODE\0", b"JIS\0\0\0\0\0", b"\0" * 8)


def _decode_user_comment(raw: Any) -> str | None:
    """EXIF UserComment: an 8-byte charset prefix, then text (A1111 writes UTF-16)."""
    if isinstance(raw, str):
        return raw.strip("\0").strip() or None
    if not isinstance(raw, bytes) or len(raw) <= 8:
        return None
    prefix, body = raw[:8], raw[8:]
    if prefix not in _COMMENT_CHARSETS:  # no charset prefix (some tools write bare JSON)
        prefix, body = b"", raw
    if prefix == b"UNICODE\0":
        if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
            text = body.decode("utf-16", errors="replace")
        else:
            big_endian = body[:1] == b"\0" or body[1:2] != b"\0"
            text = body.decode("utf-16-be" if big_endian else "utf-16-le", errors="replace")
    else:
        text = body.decode("utf-8", errors="replace")
    return text.strip("\0").strip() or None


def _exif_texts(load_exif: Callable[[], Image.Exif]) -> dict[str, str]:
    """A1111 (JPEG/WebP) puts `parameters` in EXIF UserComment (some ComfyUI save nodes in
    IFD0's own UserComment); ComfyUI's WebP puts 'prompt:{...}' / 'workflow:{...}' in IFD0
    strings, save-node packs 'Prompt:' / 'Workflow:'. Broken EXIF is missing metadata."""
    texts: dict[str, str] = {}
    try:
        exif = load_exif()
        comment = _decode_user_comment(exif.get_ifd(EXIF_IFD).get(USER_COMMENT))
        comment = comment or _decode_user_comment(exif.get(USER_COMMENT))
        values = list(exif.values())
    except Exception:  # noqa: BLE001 - Pillow's EXIF parser raises many kinds
        return texts
    for value in [comment, *values]:
        if isinstance(value, bytes) and len(value) <= MAX_TEXT_BYTES:
            value = value.decode("utf-8", errors="replace").rstrip("\0")
        for key in ("prompt", "workflow"):
            if isinstance(value, str) and value[: len(key) + 1].lower() == f"{key}:":
                texts[key] = value[len(key) + 1 :]
                value = None
        if comment and value is comment:
            texts["parameters"] = comment
    return texts


def _png_chunks(data: bytes, path: object) -> Iterator[tuple[bytes, bytes]]:
    """The (kind, body) chunks of PNG bytes up to IEND; a truncated file ends early. The
    header and text chunks must have intact checksums."""
    pos = len(PNG_SIGNATURE)
    while pos + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 8 + length
        if end + 4 > len(data):
            return  # truncated: keep what came before
        body = data[pos + 8 : end]
        if kind == b"IHDR" or kind in _PNG_TEXT_KINDS:
            (crc,) = struct.unpack(">I", data[end : end + 4])
            if zlib.crc32(kind + body) != crc:
                name = kind.decode("latin-1")
                raise ImageReadError(f"cannot read {path}: its {name} chunk is damaged (bad CRC)")
        yield kind, body
        if kind == b"IEND":
            return
        pos = end + 4


def _inflate(compressed: bytes) -> bytes | None:
    """zlib text decompressed to at most MAX_TEXT_BYTES; None when damaged or larger."""
    from plugins.provenance.xmp import inflate

    try:
        return inflate(compressed, MAX_TEXT_BYTES)
    except ValueError:
        return None


def _itxt_text(rest: bytes) -> bytes | None:
    """The text of an iTXt chunk after its keyword: compression flag and method, language
    tag, translated keyword, then the (maybe compressed) text."""
    parts = rest[2:].split(b"\0", 2)
    if len(parts) < 3 or rest[1:2] != b"\0" or rest[:1] not in (b"\0", b"\1"):
        return None
    return _inflate(parts[2]) if rest[:1] == b"\1" else parts[2]


def _png_text(kind: bytes, body: bytes) -> tuple[str, str] | None:
    """(keyword, text) of a tEXt, zTXt or iTXt chunk; None when damaged. iTXt is UTF-8;
    tEXt/zTXt are Latin-1 as the PNG spec says, but tools (Stability Matrix) write UTF-8
    there too, so text that is valid UTF-8 is read as UTF-8 (Latin-1 text seldom is)."""
    keyword, sep, rest = body.partition(b"\0")
    if not sep or not 1 <= len(keyword) <= 79:
        return None
    if kind == b"iTXt":
        text = _itxt_text(rest)
    elif kind == b"zTXt":
        text = _inflate(rest[1:]) if rest[:1] == b"\0" else None
    else:
        text = rest
    if text is None:
        return None
    try:
        return keyword.decode("latin-1"), text.decode("utf-8")
    except UnicodeDecodeError:
        if kind == b"iTXt":
            return None
        return keyword.decode("latin-1"), text.decode("latin-1")


def png_texts(data: bytes, path: str | os.PathLike[str]) -> dict[str, str]:
    """The text chunks of PNG bytes, before and after the pixels, read without decoding
    any pixel; chunks over MAX_TEXT_BYTES (or damaged ones) are skipped with a warning.
    A truncated file gives the texts before the cut. Raises ImageReadError when the header
    is missing, a checksum is wrong, or the file is truncated before any text."""
    chunks = _png_chunks(data, path)
    if next(chunks, (b"", b""))[0] != b"IHDR":
        raise ImageReadError(f"cannot read {path}: the PNG file is damaged (no IHDR header)")
    texts: dict[str, str] = {}
    kind = b""
    for kind, body in chunks:
        if kind == b"eXIf":
            for key, value in _exif_texts(lambda body=body: _exif_from(body)).items():
                texts.setdefault(key, value)
        if kind not in _PNG_TEXT_KINDS:
            continue
        found = _png_text(kind, body) if len(body) <= MAX_TEXT_BYTES else None
        if found is None:
            log.warning("%s: skipped a damaged or oversized %s chunk", path, kind.decode())
        else:
            texts[found[0]] = found[1]
    if kind != b"IEND" and not texts:
        raise ImageReadError(f"cannot read {path}: the PNG file is truncated (cut off early)")
    return texts


def _exif_from(body: bytes) -> Image.Exif:
    exif = Image.Exif()
    exif.load(body)
    return exif


def image_texts(data: bytes, path: str | os.PathLike[str]) -> dict[str, str]:
    """The text metadata of image file bytes: PNG text chunks (and eXIf), or the texts in a
    JPEG/WebP's EXIF and info; no pixel is decoded. Raises ImageReadError."""
    if data.startswith(PNG_SIGNATURE):
        return png_texts(data, path)
    with pillow_image(data, path) as image:
        texts = {k: v for k, v in image.info.items() if isinstance(v, str)}
        for key, value in _exif_texts(image.getexif).items():
            texts.setdefault(key, value)
    return texts


def read_text_chunks(path: str | os.PathLike[str]) -> dict[str, str]:
    """The text metadata of an image file (PNG text chunks, EXIF texts)."""
    return image_texts(read_image_bytes(path), path)


def read_generation_info(path: str | os.PathLike[str]) -> GenerationInfo | None:
    """The generation settings in an image, from whichever generator wrote them (see
    `settings_from_texts`), else hidden in its pixels (A1111's stealth pnginfo). None when
    there are none; ImageReadError when the file is not a readable image or its settings
    are corrupt."""
    data = read_image_bytes(path)
    texts = image_texts(data, path)
    try:
        info = settings_from_texts(texts)
        if info is None and not data.startswith(b"\xff\xd8"):  # JPEG keeps no hidden bits
            info = _stealth_settings(data, path)
    except ValueError as exc:
        raise ImageReadError(f"cannot read the settings in {path}: {exc}") from None
    return info


def settings_from_texts(texts: Mapping[str, str]) -> GenerationInfo | None:
    """Settings from an image's texts, tried in turn: Atelier's chunk; `parameters` as
    A1111 text, or as JSON (SwarmUI, Fooocus, Civitai...: see metadata_json); InvokeAI's
    chunks; NovelAI's Comment; a ComfyUI graph; Stability Matrix's `parameters-json`.
    None when there are none; ValueError (the first problem) when all present are
    corrupt."""
    problems: list[str] = []
    for holds, parse in _READERS:
        if not holds(texts):
            continue
        try:
            return parse(texts)
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise ValueError(problems[0])
    return None


def _parameters(texts: Mapping[str, str]) -> GenerationInfo:
    text = texts["parameters"]
    if looks_like_json(text):
        info = parse_settings_json(text)
        if info.generator.startswith("SwarmUI") and (texts.get("prompt") or texts.get("workflow")):
            info = _with_graph(info, texts)
        return info
    info = parse_parameters(text)
    if "parameters-json" in texts or "smproj" in texts:
        info = dataclasses.replace(info, generator="Stability Matrix")
    return info


def _with_graph(info: GenerationInfo, texts: Mapping[str, str]) -> GenerationInfo:
    """SwarmUI's JSON and the ComfyUI graph it ran: the graph where it tells more, the
    JSON's settings filling what the graph lacks, and the generator named either way."""
    try:
        graph = parse_comfyui(texts.get("prompt"), texts.get("workflow"))
    except ValueError:
        return info
    if _known(graph) <= _known(info):
        return info
    missing = {
        name: getattr(info, name) for name in _SETTINGS if getattr(graph, name) in (None, "")
    }
    return dataclasses.replace(graph, **missing, generator=info.generator)


_SETTINGS = ("prompt", "negative_prompt", "steps", "cfg_scale", "seed", "width", "height")
_SETTINGS += ("scheduler", "model", "model_hash")


def _known(info: GenerationInfo) -> int:
    return sum(getattr(info, name) not in (None, "") for name in _SETTINGS)


def _comfyui(texts: Mapping[str, str]) -> GenerationInfo:
    return parse_comfyui(texts.get("prompt"), texts.get("workflow"))


_Reader = Callable[[Mapping[str, str]], GenerationInfo]


def _has(*keys: str) -> Callable[[Mapping[str, str]], bool]:
    return lambda texts: any(texts.get(key, "").strip() for key in keys)


def _novelai_comment(texts: Mapping[str, str]) -> bool:
    """A Comment chunk of NovelAI's (JSON), not another program's note ("Created with GIMP")."""
    return looks_like_json(texts.get("Comment", "")) or texts.get("Software") == "NovelAI"


# (whether the texts hold it, reader), tried in turn
_READERS: tuple[tuple[Callable[[Mapping[str, str]], bool], _Reader], ...] = (
    (_has("atelier"), lambda texts: parse_atelier(texts["atelier"])),
    (_has("parameters"), _parameters),
    (_has(*INVOKEAI_KEYS), parse_invokeai),
    (_novelai_comment, novelai_settings),
    (_has("prompt", "workflow"), _comfyui),
    (_has("parameters-json"), lambda texts: parse_settings_json(texts["parameters-json"])),
)


def _stealth_settings(data: bytes, path: str | os.PathLike[str]) -> GenerationInfo | None:
    """Settings hidden in the lowest bits of the pixels (A1111's stealth pnginfo,
    NovelAI), read only from a picture Atelier would open."""
    with pillow_image(data, path) as image:
        if image.mode not in ("RGBA", "RGB"):
            return None
        check_pixel_count(image, path)
        pixels = np.asarray(image)
    text = read_stealth_text(pixels)
    if not text or not text.strip():
        return None
    return (
        parse_settings_json(text, "the pixels") if looks_like_json(text) else parse_parameters(text)
    )


# ---- describing ------------------------------------------------------------------------------


def _row(label: str, value: object) -> list[str]:
    first, *rest = str(value).split("\n")
    return [f"{label + ':':<11} {first}"] + [f"{'':<11} {line}" for line in rest]


def source_name(info: GenerationInfo) -> str:
    """The program that wrote the settings, in words: "Fooocus v2.4.3", "ComfyUI"."""
    return info.generator or _SOURCE_NAMES.get(info.source, info.source)


def describe(info: GenerationInfo) -> str:
    """A human-readable summary for `atelier info`, one setting a line; for a composite,
    its size, then each generated layer (topmost first) with its place and settings."""
    lines = _row("Source", source_name(info))
    composite = info.composite
    if composite is None:
        return "\n".join(lines + _settings_lines(info))
    generated = f"{len(composite.layers)} of them generated"
    lines += _row("Picture", f"{composite.width} x {composite.height}, {composite.layer_count} "
                  f"layer{'s' if composite.layer_count != 1 else ''}, {generated}")  # fmt: skip
    for number, layer in enumerate(composite.layers, 1):
        chosen = " (Reuse settings loads this one)" if layer is composite.chosen_layer else ""
        place = f"{layer.x}, {layer.y}, {layer.width} x {layer.height}"
        lines += _row(f"Layer {number}", f'"{layer.name}" at {place}{chosen}')
        lines += ["  " + line for line in _settings_lines(layer.info)]
    return "\n".join(lines)


def _settings_lines(info: GenerationInfo) -> list[str]:
    """The settings of `describe`, one a line."""
    lines: list[str] = []
    if info.model or info.model_hash:
        model_hash = f" [{info.model_hash}]" if info.model_hash else ""
        lines += _row("Model", f"{info.model or '(unknown)'}{model_hash}")
    lines += _row("Prompt", info.prompt or "(empty)")
    if info.negative_prompt:
        lines += _row("Negative", info.negative_prompt)
    size = f"{info.width} x {info.height}" if info.width and info.height else None
    cfg = format(info.cfg_scale, "g") if info.cfg_scale is not None else None
    for label, value in (
        ("Steps", info.steps),
        ("CFG scale", cfg),
        ("Seed", info.seed),
        ("Size", size),
        ("Scheduler", info.scheduler),
    ):
        if value is not None:
            lines += _row(label, value)
    if info.extras:
        lines.append("Other settings:")
        for key, value in info.extras.items():
            lines += f"  {key}: {value}".replace("\n", "\n    ").split("\n")
    return lines
