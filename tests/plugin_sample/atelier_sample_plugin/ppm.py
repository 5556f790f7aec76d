"""The sample exporter: binary PPM (P6), in plain numpy. PPM has no alpha and no metadata:
transparent parts go onto white, and only the watermark in the pixels says where the
picture comes from."""

import os
from pathlib import Path

import numpy as np

from engine.protocol import ImageData


def write_ppm(path: str | os.PathLike[str], image: ImageData) -> Path:
    path = Path(path)
    rgba = image.pixels.astype(np.float32)
    alpha = rgba[..., 3:] / 255
    rgb = np.round(rgba[..., :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
    height, width = rgb.shape[:2]
    path.write_bytes(b"P6\n%d %d\n255\n" % (width, height) + rgb.tobytes())
    return path
