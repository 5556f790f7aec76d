"""The stripes task's run function: vertical stripes, no model, no torch."""

import numpy as np

from engine.protocol import ImageData, TaskResult

RGB = {
    "red": (220, 30, 30),
    "green": (30, 180, 60),
    "blue": (30, 60, 220),
    "black": (0, 0, 0),
    "white": (255, 255, 255),
}


def run(params, ctx) -> TaskResult:
    pixels = np.full((params.height, params.width, 4), 255, np.uint8)
    band = params.width / params.stripes
    for number in range(params.stripes):
        ctx.check_cancelled()
        if number % 2 == 0:
            pixels[:, int(number * band) : int((number + 1) * band), :3] = RGB[params.colour]
        ctx.progress((number + 1) / params.stripes, f"stripe {number + 1} of {params.stripes}")
    return TaskResult((ImageData(pixels),))
