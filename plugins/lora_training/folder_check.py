"""Checking a folder of photos for LoRA training: which pictures can be used, why the others
cannot (unreadable, too small, a near-duplicate, over the limit), and their captions.

The panel runs `check_folder` when a folder is picked and the training job runs it first.
Every file is from outside (docs/DESIGN.md section 9): pictures are read by
app.model.image_import.read_image (PNG, JPEG or WebP named explicitly, size checked from the
header, EXIF orientation applied), captions with a bound. Torch-free and Qt-free.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import ExifTags

from app.model.image_files import ImageReadError, pillow_image, read_image_bytes
from app.model.image_import import read_image
from engine.untrusted import UntrustedInputError, display_path, read_file_bytes

PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
MAX_CAPTION_BYTES = 4096
# Pictures are kept scaled down to this short side: 500 photos of 24 megapixels would not
# fit in memory, and no bucket up to 1024 px needs more (a 2:1 bucket is 1408 px long).
MAX_SIDE = 1536
# Two pictures are near-duplicates when their 64-bit difference hashes differ in at most
# this many bits (a resave, a slight brightness or colour change stays within 2-4) and
# their 8x8 colour thumbnails differ by at most DUPLICATE_COLOUR levels on average (so
# that two flat pictures of different colours, whose hashes are both all zero, are not).
DUPLICATE_BITS = 6
DUPLICATE_COLOUR = 24.0
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# kinds of FileProblem, in the order the summary lists them
UNREADABLE, TOO_SMALL, DUPLICATE = "unreadable", "too small", "near-duplicate"
OVER_LIMIT, UPRIGHT, CAPTION = "over the limit", "turned upright", "caption not used"


@dataclass(frozen=True, eq=False)
class Photo:
    """A usable photo: upright (H, W, 3) uint8 RGB pixels, transparency put on white."""

    path: Path
    pixels: np.ndarray
    caption: str | None  # from a same-stem .txt beside it (cleaned); None when absent
    rotated: bool  # EXIF orientation was applied


@dataclass(frozen=True)
class FileProblem:
    """Why a file is not used (`skipped`), or a note about one that is."""

    path: Path
    problem: str  # one sentence about the file, e.g. "too small (200x150; ...)"
    skipped: bool
    kind: str = ""  # UNREADABLE, TOO_SMALL, DUPLICATE, OVER_LIMIT, UPRIGHT or CAPTION


@dataclass(frozen=True)
class FolderReport:
    folder: Path
    photos: tuple[Photo, ...]
    problems: tuple[FileProblem, ...]
    min_side: int = 0

    def summary(self) -> str:
        """'14 photos usable; 3 skipped (1 unreadable, 1 too small, 1 near-duplicate);
        2 turned upright'."""
        count = len(self.photos)
        parts = [f"{count} photo{'s' if count != 1 else ''} usable"]
        skipped = [p for p in self.problems if p.skipped]
        if skipped:
            parts.append(f"{len(skipped)} skipped ({_counts(skipped)})")
        notes = [p for p in self.problems if not p.skipped]
        if notes:
            parts.append(_counts(notes).replace(", ", "; "))
        return "; ".join(parts)

    def lines(self) -> list[str]:
        """One line per file with a problem or a note: 'name.jpg: too small (...)'."""
        return [f"{display_path(p.path.name)}: {p.problem}" for p in self.problems]


def _counts(problems: Iterable[FileProblem]) -> str:
    counts = Counter(p.kind for p in problems)
    order = (UNREADABLE, TOO_SMALL, DUPLICATE, OVER_LIMIT, UPRIGHT, CAPTION)
    return ", ".join(f"{counts[kind]} {kind}" for kind in order if counts[kind])


def check_folder(
    folder: Path,
    min_side: int,
    max_photos: int = 500,
    progress: Callable[[int, int], None] | None = None,
    *,
    max_side: int = MAX_SIDE,
) -> FolderReport:
    """Read the pictures of `folder` in name order and sort them into usable photos and
    skipped files. `progress(done, total)` is called after each picture. Pictures keep at
    most `max_side` pixels on their short side. ValueError when the folder cannot be
    listed."""
    folder = Path(folder)
    names = _list_files(folder)
    pictures = sorted(name for name in names if name.lower().endswith(PICTURE_SUFFIXES))
    photos: list[Photo] = []
    problems: list[FileProblem] = []
    hashes: list[tuple[np.ndarray, np.ndarray]] = []
    for done, name in enumerate(pictures, 1):
        path = folder / name
        if len(photos) >= max_photos:
            problems.append(_over_limit(path, max_photos))
        else:
            photo = _check_picture(path, min_side, max_side, photos, hashes, problems)
            if photo is not None:
                caption = _caption(folder, Path(name).stem, names, problems)
                photos.append(Photo(path, photo.pixels, caption, photo.rotated))
        if progress is not None:
            progress(done, len(pictures))
    return FolderReport(folder, tuple(photos), tuple(problems), min_side)


def _list_files(folder: Path) -> set[str]:
    """The names of the regular files (links followed) in `folder`, hidden ones left out."""
    try:
        with os.scandir(folder) as entries:
            return {
                entry.name
                for entry in entries
                if not entry.name.startswith(".") and _is_file(entry)
            }
    except FileNotFoundError:
        raise ValueError(f"The photo folder {display_path(folder)} does not exist.") from None
    except NotADirectoryError:
        raise ValueError(f"{display_path(folder)} is not a folder of photos.") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ValueError(
            f"The photo folder {display_path(folder)} cannot be read ({reason})."
        ) from None


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def _check_picture(
    path: Path,
    min_side: int,
    max_side: int,
    photos: list[Photo],
    hashes: list[tuple[np.ndarray, np.ndarray]],
    problems: list[FileProblem],
) -> Photo | None:
    """The photo at `path`, or None with the reason added to `problems`; a usable photo's
    hash is added to `hashes` (parallel to `photos`)."""
    try:
        pixels, orientation = _read_upright(path)
    except ImageReadError as exc:
        sentence = str(exc).replace(str(path), "it", 1)
        problems.append(FileProblem(path, sentence, True, UNREADABLE))
        return None
    height, width = pixels.shape[:2]
    if min(width, height) < min_side:
        sentence = f"too small ({width}x{height}; needs {min_side} px on the short side)"
        problems.append(FileProblem(path, sentence, True, TOO_SMALL))
        return None
    pixels = _scale_down(pixels, max_side)
    fingerprint = perceptual_hash(pixels)
    for photo, other in zip(photos, hashes, strict=True):
        if same_picture(fingerprint, other):
            sentence = f"looks the same as {display_path(photo.path.name)}"
            problems.append(FileProblem(path, sentence, True, DUPLICATE))
            return None
    hashes.append(fingerprint)
    if orientation != 1:
        sentence = f"turned upright (EXIF orientation {orientation})"
        problems.append(FileProblem(path, sentence, False, UPRIGHT))
    return Photo(path, pixels, None, orientation != 1)


def _read_upright(path: Path) -> tuple[np.ndarray, int]:
    """(H, W, 3) RGB pixels on white, upright, and the EXIF orientation that was applied
    (1 when none). Raises ImageReadError."""
    with pillow_image(read_image_bytes(path), path) as image:  # the header only
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    rgba = read_image(path).astype(np.float32)
    alpha = rgba[..., 3:] / 255.0
    rgb = rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)
    upright = orientation if isinstance(orientation, int) and 2 <= orientation <= 8 else 1
    return np.rint(rgb).astype(np.uint8), upright


def _scale_down(pixels: np.ndarray, max_side: int) -> np.ndarray:
    height, width = pixels.shape[:2]
    scale = max_side / min(width, height)
    if scale >= 1:
        return pixels
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


def perceptual_hash(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A picture's fingerprint: its 64-bit difference hash (is each pixel of a 9x8 grey
    thumbnail brighter than its right neighbour) and its 8x8 colour thumbnail."""
    grey = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    small = cv2.resize(grey, (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (small[:, :-1] > small[:, 1:]).ravel()
    colours = cv2.resize(pixels, (8, 8), interpolation=cv2.INTER_AREA).astype(np.float32)
    return bits, colours


def same_picture(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> bool:
    """Whether two fingerprints (`perceptual_hash`) are of near-duplicate pictures."""
    bits = int(np.count_nonzero(a[0] != b[0]))
    colour = float(np.abs(a[1] - b[1]).mean())
    return bits <= DUPLICATE_BITS and colour <= DUPLICATE_COLOUR


def _over_limit(path: Path, max_photos: int) -> FileProblem:
    sentence = f"not used: only the first {max_photos} usable photos (by name) are trained on"
    return FileProblem(path, sentence, True, OVER_LIMIT)


def _caption(folder: Path, stem: str, names: set[str], problems: list[FileProblem]) -> str | None:
    """The cleaned caption in `stem`.txt beside a photo; None when there is none or it is
    empty. One that cannot be read is noted in `problems` and not used."""
    name = f"{stem}.txt"
    if name not in names:
        return None
    path = folder / name
    try:
        data = read_file_bytes(path, "a caption", MAX_CAPTION_BYTES)
    except UntrustedInputError as exc:
        problems.append(FileProblem(path, f"not used as a caption: {exc.reason}", False, CAPTION))
        return None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        problems.append(FileProblem(path, f"not used as a caption: {reason}", False, CAPTION))
        return None
    return clean_caption(data)


def clean_caption(data: bytes) -> str | None:
    """Caption file bytes as one line of text: UTF-8 with bad bytes replaced, control
    characters and runs of whitespace made single spaces; None when empty."""
    text = _CONTROL.sub(" ", data.decode("utf-8-sig", errors="replace"))
    return " ".join(text.split()) or None


def require_usable(report: FolderReport) -> None:
    """ValueError naming the folder when none of its photos can be used, saying why."""
    if report.photos:
        return
    folder = display_path(report.folder)
    needed = "a PNG, JPEG or WebP photo"
    if report.min_side:
        needed += f" at least {report.min_side} px on its short side"
    skipped = [p for p in report.problems if p.skipped]
    if not skipped:
        raise ValueError(
            f"No photo in {folder} can be used: it holds no PNG, JPEG or WebP pictures. "
            f"Training needs at least one: {needed}."
        )
    examples = "; ".join(report.lines()[:3])
    raise ValueError(
        f"No photo in {folder} can be used: {len(skipped)} skipped ({_counts(skipped)}: "
        f"{examples}). Training needs at least {needed}."
    )


def caption_for(photo: Photo, trigger: str, class_word: str) -> str:
    """The training caption of a photo: its own caption led by the trigger word (unless it
    already holds that word), else '<trigger> <class_word>'."""
    if photo.caption is None:
        return f"{trigger} {class_word}"
    if re.search(rf"(?<!\w){re.escape(trigger)}(?!\w)", photo.caption, re.IGNORECASE):
        return photo.caption
    return f"{trigger}, {photo.caption}"


def class_caption(caption: str, trigger: str, class_word: str) -> str:
    """A training caption with the subject made generic, for prior preservation's class
    pictures: "<trigger> <class>" and the trigger alone become the class word, so the base
    model draws an ordinary member of the class in the same setting."""
    words = re.compile(rf"(?<!\w){re.escape(trigger)}(\s+{re.escape(class_word)})?(?!\w)", re.I)
    generic = words.sub(class_word, caption)
    return re.sub(rf"^{re.escape(class_word)},\s*(?=.*{re.escape(class_word)})", "", generic)


def tag_frequency(captions: Iterable[str]) -> dict[str, int]:
    """How often each comma-separated tag appears in the captions (kohya's
    ss_tag_frequency for one folder), tags stripped, empty ones left out."""
    counts: Counter[str] = Counter()
    for caption in captions:
        counts.update(tag for tag in (part.strip() for part in caption.split(",")) if tag)
    return dict(counts)
