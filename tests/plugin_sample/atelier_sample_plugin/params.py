"""The stripes task's params: its own fields, shown by the Generate panel and the CLI."""

from dataclasses import dataclass

from plugins.api import param

COLOURS = ("red", "green", "blue", "black", "white")


@dataclass
class StripesParams:
    stripes: int = param(4, "Stripes", minimum=1, maximum=64, help="How many stripes.")
    colour: str = param("red", "Colour", choices=COLOURS, help="The colour of every other stripe.")
    width: int = param(64, "Width", minimum=8, maximum=1024, step=8, advanced=True)
    height: int = param(64, "Height", minimum=8, maximum=1024, step=8, advanced=True)


def validate_stripes(params: StripesParams) -> None:
    if params.colour not in COLOURS:
        raise ValueError(f"The colour must be one of {', '.join(COLOURS)}, not {params.colour!r}.")
    if not 1 <= params.stripes <= min(params.width, 64):
        raise ValueError("Choose between 1 and 64 stripes, no more than the width.")
