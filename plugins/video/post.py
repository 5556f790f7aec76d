"""After decoding: frames doubled by optical flow, and frames upscaled. Torch-free (OpenCV).

Interpolation puts a frame between each two: Farneback's dense flow from each neighbour to
the other, each neighbour warped halfway along it (cv2.remap), the two blended. A clip of
n frames becomes 2n - 1 and its frame rate doubles, so it lasts as long.
"""

from __future__ import annotations

import cv2
import numpy as np

UPSCALE = 2


def _halfway(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """`source` warped half the way toward `target` along their dense optical flow."""
    grey = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in (source, target)]
    flow = cv2.calcOpticalFlowFarneback(grey[1], grey[0], None, 0.5, 3, 15, 3, 5, 1.2, 0)
    height, width = grey[0].shape
    grid_x, grid_y = np.meshgrid(
        np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)
    )
    map_x, map_y = grid_x + 0.5 * flow[..., 0], grid_y + 0.5 * flow[..., 1]
    return cv2.remap(source, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def middle_frame(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The frame halfway between two: each warped halfway toward the other, blended."""
    forward, backward = _halfway(before, after), _halfway(after, before)
    return ((forward.astype(np.uint16) + backward) // 2).astype(np.uint8)


def interpolate_2x(frames: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) uint8 frames with a middle frame between each two: 2T - 1 frames."""
    out = [frames[0]]
    for before, after in zip(frames[:-1], frames[1:], strict=True):
        out += [middle_frame(before, after), after]
    return np.stack(out)


def upscale_2x(frames: np.ndarray) -> np.ndarray:
    """Each frame at twice its width and height (Lanczos)."""
    height, width = frames.shape[1:3]
    size = (width * UPSCALE, height * UPSCALE)
    return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_LANCZOS4) for f in frames])
