"""The `.atelier` project file: a zip of manifest.json plus one PNG per layer and mask.

manifest.json holds the format name and version, the document id and size and the layer
tree (names, visibility, opacity, blend modes, recipes, control settings, reference
weights and IP-Adapters); each layer's pixels are a PNG of the bounding box of its content,
placed at (x, y): RGBA for raster, control and reference layers, grayscale for masks. A project with
control or reference layers is version 2 (an older Atelier asks to be updated); one
without stays version 1, which every Atelier opens. A project whose timeline is not empty
is version 3: the manifest holds its tracks, clips and media items (times as "num/den"
texts) and each media item's data is a file: `media/<id>.npz` (one array, compressed,
lossless) for media made in Atelier, `media/<id><suffix>` for an imported file, copied as
it was (when opened, it is unpacked to a temporary folder and decoded when first needed).
A project with sounds in the Audio panel is version 4: the manifest's "audio" lists each
sound's settings and the media items of their sources that the timeline does not list,
their data saved the same way.
The undo history is not saved. Saving builds the whole file in memory, then writes it
atomically, so a failed save (disk full) leaves the previous file as it was.
Saving then loading gives back exactly the same pixels, masks, properties, timeline,
sounds and media.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import lzma
import math
import os
import shutil
import struct
import tempfile
import weakref
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from app.model.audio_clips import AudioClip, AudioLibrary
from app.model.document import Document
from app.model.generation_info import atelier_version
from app.model.layers import (
    ControlLayer,
    ControlSettings,
    GroupLayer,
    Layer,
    MaskLayer,
    RasterLayer,
    ReferenceLayer,
    SteeringLayer,
)
from app.model.project_manifest import (
    AudioEntry,
    ControlEntry,
    GroupEntry,
    Manifest,
    MaskEntry,
    MediaItemEntry,
    PixelsEntry,
    RasterEntry,
    ReferenceEntry,
    TimelineEntry,
    tree_problem,
)
from app.model.selection import Selection
from app.model.tiles import TiledRaster
from app.model.timeline import Clip, MediaItem, MediaStore, Timeline, Track
from app.model.timeline_media import (
    MAX_DECODED_BYTES,
    MAX_MEDIA_FILE_BYTES,
    file_loader,
)
from engine.file_writing import write_atomic, write_failure
from engine.untrusted import (
    MAX_JSON_BYTES,
    MiB,
    UntrustedInputError,
    display_path,
    parse_json,
    read_file_bytes,
    regular_file_size,
    validate,
)

FORMAT = "atelier-project"
VERSION = 4  # the newest this Atelier reads and writes
TIMELINE_VERSION = 3  # a project with a timeline and no sounds in the Audio panel
STEERED_VERSION = 2  # a project with control or reference layers and no timeline
PLAIN_VERSION = 1  # a project without control or reference layers or a timeline
SUFFIX = ".atelier"
MANIFEST = "manifest.json"


class ProjectFileError(Exception):
    """A project could not be saved or opened; the message names the file and the reason."""


# ---- saving ----------------------------------------------------------------------------------


def save_project(
    doc: Document, path: str | os.PathLike[str], extra: dict[str, Any] | None = None
) -> Path:
    """Write `doc` to `path` atomically; `extra` is kept in the manifest (e.g. where a
    recovery file came from). Raises ProjectFileError, leaving any previous file intact."""
    path = Path(path)
    try:
        data = project_bytes(doc, extra)
    except (TypeError, ValueError) as exc:  # a recipe value JSON cannot hold
        raise ProjectFileError(f"cannot save {display_path(path)}: {exc}") from None
    try:
        write_atomic(path, data)
    except OSError as exc:
        raise ProjectFileError(f"cannot save {display_path(path)}: {write_failure(exc)}") from exc
    return path


def project_bytes(doc: Document, extra: dict[str, Any] | None = None) -> bytes:
    """The bytes of the project file for `doc`."""
    assets: dict[str, bytes] = {}
    manifest = {
        "format": FORMAT,
        "version": _version(doc),
        "app_version": atelier_version(),
        "document": {"id": doc.id, "width": doc.width, "height": doc.height},
        "layers": [_layer_entry(layer, assets) for layer in doc.layers],
        "selection": _selection_entry(doc.selection, assets),
        "extra": dict(extra or {}),
    }
    if doc.timeline != Timeline():
        manifest["timeline"] = _timeline_entry(doc.timeline, doc.media, assets)
    if doc.audio.clips:
        manifest["audio"] = _audio_entry(doc, assets)
    text = json.dumps(manifest, ensure_ascii=False, indent=1, default=_json_value)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(_entry(MANIFEST, zipfile.ZIP_DEFLATED), text)
        for name, blob in assets.items():  # PNGs are compressed already
            archive.writestr(_entry(name, zipfile.ZIP_STORED), blob)
    return buffer.getvalue()


def _version(doc: Document) -> int:
    """The oldest format version that holds `doc`, so older Ateliers open what they can."""
    if doc.audio.clips:
        return VERSION
    if doc.timeline != Timeline():
        return TIMELINE_VERSION
    steered = any(isinstance(lay, SteeringLayer) for lay in doc.walk())
    return STEERED_VERSION if steered else PLAIN_VERSION


def _entry(name: str, compression: int) -> zipfile.ZipInfo:
    """A zip entry with a fixed date, so the same document always gives the same bytes."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = compression
    return info


def _layer_entry(layer: Layer, assets: dict[str, bytes]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": layer.id,
        "name": layer.name,
        "visible": layer.visible,
        "opacity": layer.opacity,
        "blend": layer.blend.value,
    }
    if isinstance(layer, ControlLayer):
        entry["type"] = "control"
        entry["control"] = dataclasses.asdict(layer.control)
        entry["pixels"] = _pixels_entry(layer.pixels, f"layers/{layer.id}.png", assets)
    elif isinstance(layer, ReferenceLayer):
        entry["type"] = "reference"
        entry["weight"] = layer.weight
        entry["model"] = layer.model
        entry["pixels"] = _pixels_entry(layer.pixels, f"layers/{layer.id}.png", assets)
    elif isinstance(layer, RasterLayer):
        entry["type"] = "raster"
        entry["recipe"] = layer.recipe
        entry["pixels"] = _pixels_entry(layer.pixels, f"layers/{layer.id}.png", assets)
    elif isinstance(layer, MaskLayer):
        entry["type"] = "mask"
        entry["fill"] = layer.pixels.fill
        entry["pixels"] = _pixels_entry(layer.pixels, f"masks/{layer.id}.png", assets)
    elif isinstance(layer, GroupLayer):
        entry["type"] = "group"
        entry["children"] = [_layer_entry(child, assets) for child in layer.children]
    else:
        raise TypeError(f"cannot save a {type(layer).__name__}")
    mask = getattr(layer, "mask", None)
    if mask is not None or not isinstance(layer, MaskLayer):
        entry["mask"] = _layer_entry(mask, assets) if mask is not None else None
    return entry


def _pixels_entry(raster: TiledRaster, name: str, assets: dict[str, bytes]) -> dict | None:
    """Store the content's bounding box as a PNG; None when the raster is all `fill`."""
    box = raster.bbox()
    if box is None:
        return None
    assets[name] = _encode(raster.read(box))
    return {"file": name, "x": box.x, "y": box.y, "width": box.w, "height": box.h}


def _selection_entry(selection: Selection | None, assets: dict[str, bytes]) -> str | None:
    if selection is None:
        return None
    assets["selection.png"] = _encode(selection.mask)
    return "selection.png"


def _encode(pixels: np.ndarray) -> bytes:
    """PNG bytes of RGBA or grey pixels. Fast zlib level 1: a 4096x4096 layer takes about
    1.5 s instead of 10 s at Pillow's default, for files about 15% larger, which keeps
    autosave of big documents within its minute."""
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    image = Image.fromarray(np.ascontiguousarray(pixels), "L" if pixels.ndim == 2 else "RGBA")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _json_value(value: Any) -> Any:
    """Numpy scalars and arrays in recipes become plain numbers and lists."""
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(f"a recipe value of type {type(value).__name__} cannot be saved")


# ---- loading ---------------------------------------------------------------------------------
#
# A project may come from anywhere, so it is read defensively: the zip must be a regular
# file with few entries, each read with a bound (checked against the entry's declared size
# and again while inflating), and the manifest is validated into typed values before
# anything is built from it. Every problem becomes one ProjectFileError naming the file.

MAX_ENTRIES = 10_000
MAX_MANIFEST_BYTES = MAX_JSON_BYTES
_READABLE = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
_STREAM_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError)


def load_project(path: str | os.PathLike[str]) -> Document:
    """Open a project file; ProjectFileError when it is missing, damaged or not a project."""
    path = Path(path)
    with _open_archive(path) as archive:
        manifest = _manifest(archive, path)[1]
        try:
            return _document(manifest, _Assets(archive, path))
        except ValueError as exc:  # the document model refused what the manifest describes
            raise _damaged(path, str(exc)) from None


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Just the manifest, checked (fast: no pixels are decoded)."""
    path = Path(path)
    with _open_archive(path) as archive:
        return _manifest(archive, path)[0]


def read_project_manifest(path: str | os.PathLike[str]) -> Manifest:
    """The checked manifest as typed values (fast: no pixels are decoded)."""
    path = Path(path)
    with _open_archive(path) as archive:
        return _manifest(archive, path)[1]


@contextlib.contextmanager
def _open_archive(path: Path) -> Iterator[zipfile.ZipFile]:
    """The project's zip, with at most MAX_ENTRIES entries; errors as ProjectFileError."""
    try:
        regular_file_size(path)
        with open(path, "rb", opener=_nonblocking) as file, zipfile.ZipFile(file) as archive:
            if len(archive.infolist()) > MAX_ENTRIES:
                raise _damaged(path, f"it holds more than {MAX_ENTRIES} files")
            yield archive
    except ProjectFileError:
        raise
    except UntrustedInputError as exc:
        raise ProjectFileError(f"cannot open {_shown(path)}: {exc.reason}") from None
    except FileNotFoundError:
        raise ProjectFileError(f"cannot open {_shown(path)}: no such file") from None
    except OSError as exc:
        raise ProjectFileError(f"cannot open {_shown(path)}: {exc.strerror or exc}") from None
    except (zipfile.BadZipFile, EOFError, ValueError, struct.error, NotImplementedError):
        raise _damaged(path, "the file is damaged or not a project") from None


def _nonblocking(path: str, flags: int) -> int:
    """Open without blocking on a FIFO swapped in after the check."""
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0))


def _shown(path: Path) -> str:
    return display_path(path)


def _damaged(path: Path, reason: str) -> ProjectFileError:
    return ProjectFileError(f"cannot open {_shown(path)}: {reason}")


def _read_entry(archive: zipfile.ZipFile, path: Path, name: str, limit: int) -> bytes:
    """One entry's bytes, at most `limit` (checked against the declared size and while
    inflating, so a small file that inflates to gigabytes is refused early)."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise _damaged(path, f"{name} is missing") from None
    if info.flag_bits & 0x1:
        raise _damaged(path, f"{name} is encrypted, which Atelier projects never are")
    if info.compress_type not in _READABLE:
        raise _damaged(path, f"{name} is compressed in a way Atelier cannot read")
    if info.file_size > limit:
        raise _damaged(path, f"{name} is too large ({info.file_size} bytes)")
    chunks, left = [], limit + 1
    try:
        with archive.open(info) as stream:
            while left > 0 and (chunk := stream.read(min(left, 1 << 20))):
                chunks.append(chunk)
                left -= len(chunk)
    except (*_STREAM_ERRORS, NotImplementedError, RuntimeError) as exc:
        raise _damaged(path, f"{name} is damaged ({exc})") from None
    if left <= 0:
        raise _damaged(path, f"{name} is larger than it says")
    return b"".join(chunks)


def _manifest(archive: zipfile.ZipFile, path: Path) -> tuple[dict[str, Any], Manifest]:
    """The manifest as plain JSON and as checked, typed values."""
    if MANIFEST not in archive.namelist():
        raise _damaged(path, "it is not an Atelier project")
    text = _read_entry(archive, path, MANIFEST, MAX_MANIFEST_BYTES)
    try:
        data = parse_json(text, "its manifest")
    except UntrustedInputError as exc:
        raise _damaged(path, str(exc)) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _damaged(path, "it is not an Atelier project")
    version = data.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise _damaged(
            path,
            f"it was saved by a newer Atelier ({data.get('app_version', 'unknown version')}); "
            "please update",
        )
    try:
        manifest = validate(data, Manifest, "its manifest is damaged at")
    except UntrustedInputError as exc:
        raise _damaged(path, str(exc)) from None
    problem = tree_problem(manifest)
    if problem:
        raise _damaged(path, problem)
    return data, manifest


class _Assets:
    """Reads the PNGs of one open project, checking they fit the canvas, and its media."""

    def __init__(self, archive: zipfile.ZipFile, path: Path) -> None:
        self.archive, self.path = archive, path
        self.folder: Path | None = None  # where imported media files are unpacked

    def raster(
        self, entry: PixelsEntry | None, size: tuple[int, int], channels: int, fill: int
    ) -> TiledRaster:
        raster = TiledRaster(size[0], size[1], channels, fill)
        if entry is not None:
            if entry.x + entry.width > size[0] or entry.y + entry.height > size[1]:
                raise _damaged(self.path, f"{entry.file} is off the canvas")
            pixels = self._decode(entry.file, (entry.width, entry.height), channels)
            raster.write(entry.x, entry.y, pixels)
            raster.clear_dirty()
        return raster

    def mask(self, name: str, size: tuple[int, int]) -> np.ndarray:
        return self._decode(name, size, 1)[..., 0]

    def array(self, name: str, item: MediaItem) -> np.ndarray:
        """The array in the .npz `name`, which must be what `item` says (its shape and type
        are checked in the header, before anything is allocated)."""
        dtype = np.dtype(np.float32 if item.kind == "audio" else np.uint8)
        size = math.prod(item.shape) * dtype.itemsize
        if size > MAX_DECODED_BYTES:
            raise _damaged(self.path, f"{name} is too large ({size} bytes)")
        data = _read_entry(self.archive, self.path, name, size + size // 50 + MiB)
        try:
            limit = size + 64 * 1024  # the array and its header
            with zipfile.ZipFile(io.BytesIO(data)) as inner, inner.open("data.npy") as member:
                npy = member.read(limit + 1)
            if len(npy) > limit:
                raise ValueError("it holds more than its media")
            stream = io.BytesIO(npy)
            version = np.lib.format.read_magic(stream)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran, found = read_header(stream)
            if shape != item.shape or found != dtype or fortran:
                raise ValueError(f"it holds {shape} {found}, not {item.shape} {dtype}")
            stream.seek(0)
            return np.lib.format.read_array(stream, allow_pickle=False)
        except (*_STREAM_ERRORS, ValueError, KeyError, NotImplementedError, RuntimeError) as exc:
            raise _damaged(self.path, f"{name} is damaged ({exc})") from None

    def unpack(self, name: str, media: MediaStore) -> Path:
        """The imported file `name` written to a temporary folder that lives as long as
        `media` (its data is decoded from there when first needed)."""
        data = _read_entry(self.archive, self.path, name, MAX_MEDIA_FILE_BYTES)
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="atelier-media-"))
            weakref.finalize(media, shutil.rmtree, self.folder, ignore_errors=True)
        target = self.folder / Path(name).name
        target.write_bytes(data)
        return target

    def _decode(self, name: str, size: tuple[int, int], channels: int) -> np.ndarray:
        """The (h, w, channels) pixels of PNG `name`, which must be `size` (w, h)."""
        width, height = size
        limit = (width * 4 + 1) * height * 11 // 10 + MiB  # stored PNG of that size, and more
        data = _read_entry(self.archive, self.path, name, limit)
        try:  # the size is checked before decoding: it is the layer's, within the canvas
            with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
                if image.size != size:
                    raise ValueError(f"it is {image.size[0]}x{image.size[1]}, not {width}x{height}")
                pixels = np.asarray(image.convert("RGBA" if channels == 4 else "L"))
        except (OSError, ValueError, SyntaxError) as exc:
            raise _damaged(self.path, f"{name} is damaged ({exc})") from None
        return pixels[..., None] if pixels.ndim == 2 else pixels


def _document(manifest: Manifest, assets: _Assets) -> Document:
    info = manifest.document
    size = (info.width, info.height)
    layers = [_layer(entry, size, assets) for entry in manifest.layers]
    timeline, media, audio = Timeline(), MediaStore(), AudioLibrary()
    if manifest.timeline is not None:
        timeline = _timeline(manifest.timeline, media, assets)
    if manifest.audio is not None:
        audio = _audio(manifest.audio, timeline, media, assets)
    doc = Document(size, layers, timeline, media=media, id=info.id, audio=audio)
    ids = [layer.id for layer in doc.walk()]
    if len(ids) != len(set(ids)):
        raise ValueError("two layers share an id")
    if manifest.selection:
        doc.selection = Selection(assets.mask(manifest.selection, size))
    return doc


def _layer(
    entry: MaskEntry | RasterEntry | ControlEntry | ReferenceEntry | GroupEntry,
    size: tuple[int, int],
    assets: _Assets,
) -> Layer:
    props = {
        "id": entry.id,
        "name": entry.name,
        "visible": entry.visible,
        "opacity": entry.opacity,
        "blend": entry.blend,
    }
    if isinstance(entry, MaskEntry):
        return MaskLayer(pixels=assets.raster(entry.pixels, size, 1, entry.fill), **props)
    mask = _layer(entry.mask, size, assets) if entry.mask else None
    if isinstance(entry, RasterEntry):
        pixels = assets.raster(entry.pixels, size, 4, 0)
        return RasterLayer(pixels=pixels, recipe=entry.recipe, mask=mask, **props)
    if isinstance(entry, ControlEntry):
        pixels = assets.raster(entry.pixels, size, 4, 0)
        control = ControlSettings(**entry.control.model_dump())
        return ControlLayer(pixels=pixels, control=control, mask=mask, **props)
    if isinstance(entry, ReferenceEntry):
        pixels = assets.raster(entry.pixels, size, 4, 0)
        return ReferenceLayer(
            pixels=pixels, weight=entry.weight, model=entry.model, mask=mask, **props
        )
    children = [_layer(child, size, assets) for child in entry.children]
    return GroupLayer(children=children, mask=mask, **props)


# ---- the timeline ----------------------------------------------------------------------------


def _timeline_entry(timeline: Timeline, media: MediaStore, assets: dict[str, bytes]) -> dict:
    width, height = timeline.size or (None, None)
    return {
        "fps": _time_text(timeline.fps),
        "width": width,
        "height": height,
        "tracks": [
            {
                "id": track.id,
                "kind": track.kind,
                "name": track.name,
                "clips": [_clip_entry(clip) for clip in track.clips],
            }
            for track in timeline.tracks
        ],
        "media": [_media_entry(item, media, assets) for item in timeline.media],
    }


def _clip_entry(clip: Clip) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": clip.id, "media": clip.media_id}
    for name in ("start", "in_point", "out_point", "fade_in", "fade_out"):
        entry[name] = _time_text(getattr(clip, name))
    entry.update(opacity=clip.opacity, gain_db=clip.gain_db)
    return entry


def _time_text(time: Any) -> str:
    return f"{time.numerator}/{time.denominator}"


def _media_entry(item: MediaItem, media: MediaStore, assets: dict[str, bytes]) -> dict:
    width, height = item.size or (None, None)
    entry: dict[str, Any] = {
        "id": item.id, "kind": item.kind, "name": item.name, "width": width, "height": height,
        "fps": _time_text(item.fps) if item.fps is not None else None, "rate": item.rate,
        "channels": item.channels, "length": item.length, "file": item.file,
        "provenance": item.provenance,
    }  # fmt: skip
    if item.id not in media:
        raise ValueError(f"the data of {item.name!r} is missing")
    path = media.file(item.id)
    if path is None:
        assets[f"media/{item.id}.npz"] = _npz(media.data(item))
        return entry
    entry["suffix"] = path.suffix.lower()
    try:
        assets[f"media/{item.id}{entry['suffix']}"] = read_file_bytes(
            path, "a media file", MAX_MEDIA_FILE_BYTES
        )
    except (OSError, UntrustedInputError) as exc:
        reason = exc.reason if isinstance(exc, UntrustedInputError) else exc.strerror or exc
        raise ValueError(
            f"the imported file {display_path(path)} cannot be read ({reason})"
        ) from None
    return entry


def _npz(array: np.ndarray) -> bytes:
    """An .npz holding `array` as "data", deflated fast, with fixed dates (the same array
    always gives the same bytes)."""
    npy = io.BytesIO()
    np.lib.format.write_array(npy, np.ascontiguousarray(array), allow_pickle=False)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", allowZip64=True) as archive:
        info = _entry("data.npy", zipfile.ZIP_DEFLATED)
        archive.writestr(info, npy.getvalue(), compresslevel=1)
    return buffer.getvalue()


def _timeline(entry: TimelineEntry, media: MediaStore, assets: _Assets) -> Timeline:
    """The timeline a manifest describes, its media's data put in `media`. Raises
    ProjectFileError for damaged data, TimelineError (a ValueError) for clips that do not
    fit together."""
    items = _media_items(entry.media, media, assets)
    tracks = [Track(t.id, t.kind, t.name, tuple(_clip(c) for c in t.clips)) for t in entry.tracks]
    size = (entry.width, entry.height) if entry.width and entry.height else None
    return Timeline(tuple(tracks), tuple(items), entry.fps, size)


def _clip(c: Any) -> Clip:
    return Clip(
        c.id, c.media, c.start, c.in_point, c.out_point, c.opacity, c.fade_in, c.fade_out,
        c.gain_db,
    )  # fmt: skip


def _media_items(
    entries: list[MediaItemEntry], media: MediaStore, assets: _Assets
) -> list[MediaItem]:
    """The media items the entries describe, their data put in `media`."""
    items = []
    for m in entries:
        size = (m.width, m.height) if m.width and m.height else None
        item = MediaItem(
            m.id, m.kind, m.name, size, m.fps, m.rate, m.channels, m.length, m.file, m.provenance
        )
        if m.suffix is None:
            media.add(item, assets.array(f"media/{m.id}.npz", item))
        else:
            path = assets.unpack(f"media/{m.id}{m.suffix}", media)
            media.add_file(item, path, file_loader(item, path))
        items.append(item)
    return items


# ---- the Audio panel's sounds ----------------------------------------------------------------


def _audio_entry(doc: Document, assets: dict[str, bytes]) -> dict[str, Any]:
    """The sounds' settings, and the media items of their sources the timeline lacks."""
    listed = {item.id for item in doc.timeline.media}
    clips = [
        {
            "id": clip.id,
            "media": clip.item.id,
            "start": _time_text(clip.start),
            "end": _time_text(clip.end),
            "fade_in": _time_text(clip.fade_in),
            "fade_out": _time_text(clip.fade_out),
            "gain_db": clip.gain_db,
            "loudness_target": clip.loudness_target,
            "meta": clip.meta,
        }
        for clip in doc.audio.clips
    ]
    media = [
        _media_entry(item, doc.media, assets) for item in doc.audio.media if item.id not in listed
    ]
    return {"clips": clips, "media": media}


def _audio(
    entry: AudioEntry, timeline: Timeline, media: MediaStore, assets: _Assets
) -> AudioLibrary:
    """The sounds a manifest lists, their own sources' data put in `media`. Raises
    ProjectFileError for damaged data, AudioError (a ValueError) for settings that do not
    fit their source."""
    items = {item.id: item for item in timeline.media}
    for item in _media_items(entry.media, media, assets):
        items.setdefault(item.id, item)
    clips = []
    for c in entry.clips:
        if c.media not in items:
            raise ValueError(f"the sound {c.id!r} has no media")
        clips.append(
            AudioClip(
                c.id,
                items[c.media],
                c.start,
                c.end,
                c.fade_in,
                c.fade_out,
                c.gain_db,
                c.loudness_target,
                c.meta,
            )
        )
    return AudioLibrary(tuple(clips))
