"""Benchmark: painting on a 4096x4096, 10-layer document.

Measured side by side in one run:
- a 200-dab brush stroke: time per dab, then the redraw of only the dirty rectangle
  (all 10 layers composited there) versus repainting the whole composite;
- the memory that 100 undo steps (brush strokes, kept as tile deltas) hold, versus 100
  full copies of the layer (what whole-image undo snapshots would hold).

Run: python bench/canvas.py
"""

from __future__ import annotations

import math
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.model.brush import Brush, Stroke  # noqa: E402
from app.model.document import Document  # noqa: E402
from app.model.history import History  # noqa: E402
from app.model.layers import BlendMode, RasterLayer  # noqa: E402
from app.model.tiles import TILE, Rect, tile_keys  # noqa: E402

SIZE = 4096
LAYERS = 10
DABS = 200
UNDO_STEPS = 100
MODES = [BlendMode.NORMAL, BlendMode.MULTIPLY, BlendMode.SCREEN, BlendMode.OVERLAY]


def build_document() -> Document:
    """An opaque noisy background and 9 full-canvas semi-transparent layers (the worst
    case for compositing: every tile of every layer holds pixels)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE
    layers = []
    for i in range(LAYERS):
        pixels = rng.integers(0, 256, (SIZE, SIZE, 4), dtype=np.uint8)
        if i == 0:
            pixels[..., 3] = 255
        else:
            wave = 0.5 + 0.5 * np.sin(6.28 * (xx * (i % 3 + 1) + yy * (i % 4 + 1)))
            pixels[..., 3] = (wave * 200).astype(np.uint8)
        blend = MODES[i % len(MODES)] if i else BlendMode.NORMAL
        layers.append(RasterLayer.from_array(pixels, name=f"layer {i}", blend=blend))
    return Document((SIZE, SIZE), layers)


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def stroke_points(n: int, start: tuple[float, float], step: float, phase: float):
    """Pointer positions `step` apart in x along a gentle wave, pressure 0.7..1."""
    x0, y0 = start
    for i in range(n):
        x = x0 + i * step
        yield x, y0 + 120 * math.sin(x / 100 + phase), 0.85 + 0.15 * math.sin(i / 9)


def bench_stroke(doc: Document, history: History) -> dict[str, float]:
    layer = doc.layers[5]
    brush = Brush(size=64, hardness=0.7, color=(200, 40, 90), spacing=0.1)
    stroke = Stroke(layer, brush)
    dab_times, dirty_times, tile_times, dirty_area = [], [], [], []
    for x, y, p in stroke_points(10 * DABS, (900.0, 2000.0), 1.5, 0.0):
        if stroke.dabs >= DABS:
            break
        dabs_before = stroke.dabs
        seconds, rect = timed(stroke.add_point, x, y, p)
        if rect is None:
            continue
        dab_times.append(seconds / max(1, stroke.dabs - dabs_before))
        t_dirty, _ = timed(doc.composite, rect)  # redraw only what changed
        dirty_times.append(t_dirty)
        dirty_area.append(rect.area)
        tiles = [Rect(kx * TILE, ky * TILE, TILE, TILE) for kx, ky in tile_keys(rect)]
        tile_times.append(sum(timed(doc.composite, t)[0] for t in tiles) / len(tiles))
    history.push(stroke.finish())
    full = min(timed(doc.composite)[0] for _ in range(2))  # repaint everything
    return {
        "dabs": stroke.dabs,
        "dab_ms": statistics.median(dab_times) * 1e3,
        "dab_p90_ms": float(np.percentile(dab_times, 90)) * 1e3,
        "dirty_ms": statistics.median(dirty_times) * 1e3,
        "tile_ms": statistics.median(tile_times) * 1e3,
        "full_ms": full * 1e3,
        "area_ratio": statistics.median(dirty_area) / (SIZE * SIZE),
    }


def bench_undo_memory(doc: Document, history: History) -> dict[str, float]:
    layer = doc.layers[3]
    rng = np.random.default_rng(1)
    history.clear()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    for step in range(UNDO_STEPS):
        brush = Brush(size=float(rng.uniform(16, 96)), color=tuple(rng.integers(0, 256, 3)))
        stroke = Stroke(layer, brush)
        x0, y0 = rng.uniform(200, SIZE - 900, 2)
        for x, y, p in stroke_points(40, (x0, y0), 12.0, step):
            stroke.add_point(x, y, p)
        history.push(stroke.finish())
    used, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    undo_s, _ = timed(lambda: [history.undo() for _ in range(UNDO_STEPS)])
    full_copies = UNDO_STEPS * SIZE * SIZE * 4
    return {
        "steps": len(history.entries()),
        "kept_mb": history.nbytes / 2**20,
        "measured_mb": (used - base) / 2**20,
        "full_mb": full_copies / 2**20,
        "ratio": max(history.nbytes, used - base) / full_copies,
        "undo_ms": undo_s / UNDO_STEPS * 1e3,
    }


def main() -> None:
    start = time.perf_counter()
    doc = build_document()
    history = History(doc, budget=8 << 30)  # large enough to keep all 100 steps
    built = time.perf_counter() - start
    s = bench_stroke(doc, history)
    m = bench_undo_memory(doc, history)
    repaint_ratio = s["dirty_ms"] / s["full_ms"]
    rows = [
        ("brush dab (size 64, pressure), median", f"{s['dab_ms']:.3f} ms"),
        ("brush dab, 90th percentile", f"{s['dab_p90_ms']:.3f} ms"),
        ("redraw dirty rect after a dab, 10 layers", f"{s['dirty_ms']:.2f} ms"),
        ("composite one 256x256 tile, 10 layers", f"{s['tile_ms']:.2f} ms"),
        ("repaint the whole 4096x4096 composite", f"{s['full_ms']:.0f} ms"),
        ("dirty / full: redraw time", f"{repaint_ratio:.5f}"),
        ("dirty / full: area", f"{s['area_ratio']:.5f}"),
        (f"{m['steps']} undo steps (strokes): kept as tile deltas", f"{m['kept_mb']:.0f} MiB"),
        ("  the same, measured (tracemalloc)", f"{m['measured_mb']:.0f} MiB"),
        (f"{UNDO_STEPS} full copies of the layer", f"{m['full_mb']:.0f} MiB"),
        ("undo memory / full copies", f"{m['ratio']:.4f}"),
        ("undo one stroke", f"{m['undo_ms']:.3f} ms"),
    ]
    print(f"canvas: {SIZE}x{SIZE}, {LAYERS} full layers, {s['dabs']} dabs (built in {built:.1f} s)")
    for label, value in rows:
        print(f"  {label:<48} {value:>12}")
    print(f"  total time {time.perf_counter() - start:.1f} s")
    print(
        f"bench canvas: dab_ms={s['dab_ms']:.3f} repaint_ratio={repaint_ratio:.5f} "
        f"undo_memory_ratio={m['ratio']:.4f}"
    )


if __name__ == "__main__":
    main()
