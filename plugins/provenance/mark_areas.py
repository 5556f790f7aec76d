"""Where each watermark lies in a picture that holds several, and reading one area at a time.

A repaint (inpaint, outpaint) keeps the input's pixels, and with them the input's mark,
outside the area it generated, and marks only that area with its own id; an exported
canvas holds each generated layer's mark where the layer lies. The provenance record lists
every mark, topmost first, with its area (docs/DESIGN.md section 3): `boxes`, rectangles
in the file's pixels, or null for the whole picture; an area leaves out the boxes of the
marks listed before it. Marking finds the marks a picture already carries with
`marks_in`; `verify` reads each recorded area with `read_area`. numpy only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from plugins.provenance.payload import describe_payload

if TYPE_CHECKING:
    from plugins.provenance.watermark import Detection

Box = tuple[int, int, int, int]  # x, y, width, height
CELL = 8  # the grid that a repainted area's boxes follow
MAX_BOXES = 16  # per mark; the grid coarsens until the boxes fit
MIN_READ_PIXELS = 32 * 32  # a smaller area is too small to read a mark from
SCAN_SPLIT = 4  # marks_in also reads the area in up to 4 x 4 blocks
MIN_SCAN_BLOCK = 64
MAX_RECORDED = 64  # marks (and boxes per mark) read from a file's record


@dataclass(frozen=True)
class Mark:
    """One watermark a picture carries: its payload, where it lies (None: everywhere not
    taken by a boxed mark listed before it), whether the job or export that wrote the
    file made it, and what it came from ("this job", "kept from the input", a layer)."""

    payload: int
    boxes: tuple[Box, ...] | None = None
    new: bool = False
    source: str = ""

    @property
    def id(self) -> str:
        return describe_payload(self.payload)["id"]

    def record(self) -> dict[str, Any]:
        """The mark as the provenance record's `marks` list holds it (JSON)."""
        boxes = None if self.boxes is None else [list(box) for box in self.boxes]
        return {
            "id": self.id,
            "payload": self.payload,
            "payload_hex": f"{self.payload:08x}",
            "boxes": boxes,
            "new": self.new,
            "source": self.source,
        }


# ---- areas -------------------------------------------------------------------------------


def mask_boxes(mask: np.ndarray, cell: int = CELL, limit: int = MAX_BOXES) -> tuple[Box, ...]:
    """Rectangles on a `cell`-pixel grid whose union covers the set pixels of `mask` (an
    L-shaped outpaint border is two, a round inpaint a few bands)."""
    height, width = mask.shape
    while True:
        rows, cols = -(-height // cell), -(-width // cell)
        padded = np.zeros((rows * cell, cols * cell), bool)
        padded[:height, :width] = mask > 0
        grid = padded.reshape(rows, cell, cols, cell).any(axis=(1, 3))
        boxes = _bands(grid)
        if len(boxes) <= limit or cell >= max(height, width):
            scaled = ((x * cell, y * cell, w * cell, h * cell) for x, y, w, h in boxes)
            return tuple(clip(box, width, height) for box in scaled)
        cell *= 2


def _bands(grid: np.ndarray) -> list[Box]:
    """Boxes (in grid cells) of a boolean grid: runs of set cells in a row, merged with the
    rows below while those have the same runs."""
    boxes: list[Box] = []
    open_runs: tuple[tuple[int, int], ...] = ()
    top = 0
    for y in range(grid.shape[0] + 1):
        runs = _runs(grid[y]) if y < grid.shape[0] else ()
        if runs == open_runs:
            continue
        boxes += [(start, top, end - start, y - top) for start, end in open_runs]
        open_runs, top = runs, y
    return boxes


def _runs(row: np.ndarray) -> tuple[tuple[int, int], ...]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], row.astype(np.int8), [0]])))
    return tuple(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def clip(box: Box, width: int, height: int) -> Box:
    """`box` cut to a width x height picture (empty: zero width or height)."""
    x, y, w, h = box
    x0, y0 = min(max(x, 0), width), min(max(y, 0), height)
    x1, y1 = min(max(x + w, x0), width), min(max(y + h, y0), height)
    return x0, y0, x1 - x0, y1 - y0


def bounding_box(boxes: Sequence[Box]) -> Box:
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
    return x0, y0, x1 - x0, y1 - y0


def areas(marks: Sequence[Mark]) -> list[tuple[Mark, tuple[Box, ...]]]:
    """Each mark with the boxes its area leaves out: those of the boxed marks before it."""
    out, above = [], []
    for mark in marks:
        out.append((mark, tuple(above)))
        above += mark.boxes or ()
    return out


# ---- reading -----------------------------------------------------------------------------


def read_area(
    rgb: np.ndarray,
    boxes: Sequence[Box] | None = None,
    skip: Sequence[Box] = (),
    rescaled: bool = True,
) -> Detection | None:
    """The mark read in `boxes` (None: the whole picture) less `skip`; None when that
    area is too small to read. A large area is read in its middle, as `detect_image` does;
    `rescaled` False reads it at its own scale only."""
    from plugins.provenance import watermark

    height, width = rgb.shape[:2]
    if boxes is None:
        inside = [(0, 0, width, height)]
    else:
        inside = [box for box in (clip(b, width, height) for b in boxes) if box[2] and box[3]]
    if not inside:
        return None
    x, y, w, h = bounding_box(inside)
    side = watermark.MAX_DETECT_SIDE
    x, y = x + max(0, (w - side) // 2), y + max(0, (h - side) // 2)
    w, h = min(w, side), min(h, side)
    where = np.zeros((h, w), bool)
    for bx, by, bw, bh in inside:
        where[max(by - y, 0) : max(by + bh - y, 0), max(bx - x, 0) : max(bx + bw - x, 0)] = True
    for bx, by, bw, bh in skip:
        where[max(by - y, 0) : max(by + bh - y, 0), max(bx - x, 0) : max(bx + bw - x, 0)] = False
    if int(where.sum()) < MIN_READ_PIXELS:
        return None
    crop = np.ascontiguousarray(rgb[y : y + h, x : x + w, :3])
    return watermark.detect_image_where(crop, where, rescaled)


def marks_in(rgb: np.ndarray, skip: Sequence[Box] = (), source: str = "") -> list[Mark]:
    """The marks a picture carries outside `skip`: the one read in the whole area (boxes
    None, listed last, found at any scale), and others read in blocks of it (boxed by
    those blocks, read at the picture's own scale)."""
    height, width = rgb.shape[:2]
    whole = read_area(rgb, None, skip)
    main = whole.payload if whole is not None and whole.present else None
    found: dict[int, list[Box]] = {}
    for block in scan_blocks(width, height):
        seen = read_area(rgb, [block], skip, rescaled=False)
        if seen is not None and seen.present and seen.payload not in (None, main):
            found.setdefault(seen.payload, []).append(block)
    marks = [Mark(payload, tuple(blocks), source=source) for payload, blocks in found.items()]
    return marks + ([Mark(main, None, source=source)] if main is not None else [])


def scan_blocks(width: int, height: int) -> list[Box]:
    """The blocks `marks_in` reads: a grid of at most SCAN_SPLIT x SCAN_SPLIT, none
    smaller than MIN_SCAN_BLOCK a side (a small picture is one block: none)."""
    side = max(MIN_SCAN_BLOCK, -(-max(width, height) // SCAN_SPLIT))
    blocks = [
        clip((x, y, side, side), width, height)
        for y in range(0, height, side)
        for x in range(0, width, side)
    ]
    return blocks if len(blocks) > 1 else []


# ---- a file's record ---------------------------------------------------------------------


def recorded_marks(provenance: Mapping[str, Any] | None) -> list[Mark]:
    """The marks a provenance record lists (a record from before `marks`: its one
    watermark, everywhere). Entries that are not what Atelier writes are left out: the
    record comes from a file, so from anyone."""
    if not isinstance(provenance, Mapping):
        return []
    listed = provenance.get("marks")
    if isinstance(listed, list):
        marks = [_mark(entry) for entry in listed[:MAX_RECORDED]]
        return [mark for mark in marks if mark is not None]
    stamp = provenance.get("watermark")
    payload = stamp.get("payload") if isinstance(stamp, Mapping) else None
    return [Mark(payload, None, True)] if _is_payload(payload) else []


def _mark(entry: Any) -> Mark | None:
    if not isinstance(entry, Mapping) or not _is_payload(entry.get("payload")):
        return None
    boxes = entry.get("boxes")
    if boxes is not None:
        if not isinstance(boxes, list):
            return None
        boxes = tuple(_box(b) for b in boxes[:MAX_RECORDED])
        if None in boxes:
            return None
    source = entry.get("source")
    return Mark(
        entry["payload"],
        boxes,
        entry.get("new") is True,
        source[:200] if isinstance(source, str) else "",
    )


def _is_payload(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**32


def _box(value: Any) -> Box | None:
    if not isinstance(value, list) or len(value) != 4:
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value):
        return None
    return tuple(value)  # type: ignore[return-value]
