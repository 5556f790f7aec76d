"""The requests of the diffusion tasks: frozen dataclasses that drive the GUI forms and CLI flags.

Every task shares SamplingParams (prompt, steps, CFG, seed, batch, scheduler, model). Images
and masks travel as numpy arrays in fields without a Param spec (not shown in forms): images
(h, w, 4) uint8 RGBA, masks (h, w) uint8 with 255 = repaint (128 and up counts). The
validators are torch-free and raise ValueError with a message a designer can act on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from app.model.document import MAX_CANVAS_SIDE  # images to edit: inpaint works on a crop
from engine.control_models import CONTROL_KINDS
from plugins.api import fitting_defaults, param
from plugins.diffusion.control_maps import is_picture
from plugins.diffusion.schedulers import SCHEDULER_NAMES

if TYPE_CHECKING:
    from engine.model_store import ModelEntry

SCHEDULERS = SCHEDULER_NAMES
MAX_SIDE = 4096
MAX_PIXELS = 4096 * 4096
MIN_SIDE = 64
NATIVE_SIZE = {"sd15": 512, "sd2": 768, "sdxl": 1024, "sdxl_refiner": 1024}
MIN_IMAGE_SIDE = 8
MAX_WORK_SIZE = 2048
MAX_EXTEND = 2048  # outpaint: pixels per side in one go
MASK_THRESHOLD = 128  # mask values from here up are repainted
PX = "px"  # the unit of the fields that count pixels
MAX_CONTROL_STRENGTH = 2.0  # a control's strength and a reference's weight go up to this


def cli_list(flag: str, metavar: str, parser: str, help: str) -> dict[str, Any]:
    """The metadata of a params field filled by a repeatable CLI flag (app/cli_tasks.py):
    each use is parsed by plugins.diffusion.steering_cli's `parser`, called with the text
    and the app's picture reader."""
    parse = f"plugins.diffusion.steering_cli:{parser}"
    return {"cli_list": {"flag": flag, "metavar": metavar, "parse": parse, "help": help}}


@dataclass(frozen=True)
class ControlSpec:
    """One control of a job (a ControlNet or T2I-Adapter steering where things go).

    `image` is the control map, already preprocessed, as the model expects it (scribble,
    line art, soft edge, canny: white lines on black), (h, w, 3) uint8 RGB. It covers the
    area the job's output covers (text to image: the output; image to image and inpaint:
    the input picture; outpaint: the extended canvas) and is resized to it. `model` is a
    model store name ("" = the first installed control of `kind` for the checkpoint's
    family); `strength` scales its residuals; `start`/`end` are the fractions of the
    denoising steps it acts in.
    """

    kind: str
    image: np.ndarray = field(compare=False, repr=False)
    model: str = ""
    strength: float = 1.0
    start: float = 0.0
    end: float = 1.0


@dataclass(frozen=True)
class ReferenceSpec:
    """A reference image (IP-Adapter): its style or subject steers the job by `weight`.
    `image` is (h, w, 3) uint8 RGB; `model` an IP-Adapter in the store ("" = the first
    installed for the checkpoint's family)."""

    image: np.ndarray = field(compare=False, repr=False)
    weight: float = 0.6
    model: str = ""


@dataclass(frozen=True)
class LoraSpec:
    """A LoRA by its model store name and weight (0 = as if absent)."""

    name: str
    weight: float = 1.0


@dataclass(frozen=True)
class SamplingParams:
    """What every diffusion task asks for."""

    prompt: str = param("", "Prompt", multiline=True, help="What to draw.")
    negative_prompt: str = param(
        "", "Negative prompt", multiline=True, cli="--negative", help="What to avoid."
    )
    steps: int = param(25, "Steps", minimum=1, maximum=150, help="Denoising steps.")
    cfg_scale: float = param(
        7.0,
        "CFG scale",
        minimum=0.0,
        maximum=30.0,
        step=0.5,
        cli="--cfg",
        help="How strongly to follow the prompt.",
    )
    seed: int = param(-1, "Seed", minimum=-1, maximum=2**32 - 1, help="-1 = a random seed.")
    batch_count: int = param(
        1, "Batch count", minimum=1, maximum=16, cli="--batch", help="Images to make."
    )
    scheduler: str = param("Euler a", "Scheduler", choices=SCHEDULERS, help="Sampling method.")
    model: str = field(default="")  # chosen with the model picker / --model; "" = default
    # Steering (no form fields: the Control and LoRA panels and the CLI's --control,
    # --reference and --lora fill them). `<lora:name:weight>` in the prompt adds LoRAs too.
    controls: tuple[ControlSpec, ...] = field(
        default=(),
        metadata=cli_list(
            "--control",
            "KIND:IMAGE[:MODEL][:STRENGTH][:START-END]",
            "control",
            "steer with a picture made into a control map (repeatable), e.g. "
            "canny:photo.png or scribble:sketch.png::0.8:0-0.6",
        ),
    )
    references: tuple[ReferenceSpec, ...] = field(
        default=(),
        metadata=cli_list(
            "--reference", "IMAGE[:WEIGHT]", "reference", "a reference image (IP-Adapter)"
        ),
    )
    loras: tuple[LoraSpec, ...] = field(
        default=(),
        metadata=cli_list("--lora", "NAME[:WEIGHT]", "lora", "add a LoRA (repeatable)"),
    )


NATIVE_HELP = (
    "0 = the model's native size; on the canvas, both at 0 make the native pixel count "
    "in the shape of the canvas (or the selection)."
)


@dataclass(frozen=True)
class Txt2ImgParams(SamplingParams):
    width: int = param(
        0,
        "Width",
        minimum=0,
        nonzero_minimum=MIN_SIDE,
        maximum=MAX_SIDE,
        step=8,
        unit=PX,
        help=NATIVE_HELP,
    )
    height: int = param(
        0,
        "Height",
        minimum=0,
        nonzero_minimum=MIN_SIDE,
        maximum=MAX_SIDE,
        step=8,
        unit=PX,
        help=NATIVE_HELP,
    )


# ---- the fields the image tasks share (one spec each, declared by each task's dataclass)


def _strength(default: float) -> Any:
    return param(
        default,
        "Strength",
        minimum=0.0,
        maximum=1.0,
        step=0.05,
        help="How much to change: low keeps the picture, 1 repaints it completely.",
    )


def _work_size() -> Any:
    return param(
        0,
        "Work size",
        minimum=0,
        maximum=MAX_WORK_SIZE,
        step=64,
        unit=PX,
        advanced=True,
        help="The area is generated at about this size squared, then scaled back; "
        "0 = the model's native size.",
    )


def _context() -> Any:
    return param(
        64,
        "Context",
        minimum=0,
        maximum=1024,
        step=8,
        unit=PX,
        help="Pixels around the masked area the model sees, so the fill fits in.",
    )


def _match_colours() -> Any:
    return param(
        True,
        "Match colours",
        advanced=True,
        help="Match the colours of the new pixels to those around the mask.",
    )


def _extend(side: str) -> Any:
    return param(0, side, minimum=0, maximum=MAX_EXTEND, step=8, unit=PX, help="Pixels to add.")


def _pixels() -> Any:
    return field(default=None, compare=False)  # numpy arrays: no form field, no equality


@dataclass(frozen=True)
class Img2ImgParams(SamplingParams):
    """Repaint a whole picture (the canvas or a selection's crop) at some strength."""

    strength: float = _strength(0.6)
    work_size: int = _work_size()
    image: np.ndarray | None = _pixels()  # (h, w, 4) uint8 RGBA


@dataclass(frozen=True)
class DepthParams:
    """Make a picture's depth map with a depth model (DPT, Depth Anything)."""

    depth_model: str = param(
        "",
        "Depth model",
        advanced=True,
        help="The depth model's name (see `atelier models`); empty = the first installed.",
    )
    image: np.ndarray | None = _pixels()  # (h, w, 4) uint8 RGBA


@dataclass(frozen=True)
class InpaintParams(SamplingParams):
    """Repaint the masked part of a picture; the rest stays exactly as it was."""

    strength: float = _strength(1.0)
    grow: int = param(
        8,
        "Grow mask",
        minimum=0,
        maximum=256,
        unit=PX,
        help="Widen the mask by this many pixels.",
    )
    feather: int = param(
        8,
        "Feather",
        minimum=0,
        maximum=256,
        unit=PX,
        help="Soften the mask's edge over this many pixels.",
    )
    context: int = _context()
    work_size: int = _work_size()
    match_colours: bool = _match_colours()
    image: np.ndarray | None = _pixels()  # (h, w, 4) uint8 RGBA
    mask: np.ndarray | None = _pixels()  # (h, w) uint8, 255 = repaint
    # Where the mask's top-left pixel lies on the image; None: the mask covers the image
    # exactly (same size). With an origin the mask may be any size; it is clipped.
    mask_origin: tuple[int, int] | None = None


@dataclass(frozen=True)
class OutpaintParams(SamplingParams):
    """Extend the picture on any side and fill the new area to match."""

    left: int = _extend("Left")
    top: int = _extend("Top")
    right: int = _extend("Right")
    bottom: int = _extend("Bottom")
    overlap: int = param(
        16,
        "Overlap",
        minimum=0,
        maximum=256,
        unit=PX,
        help="Pixels of the old picture, at its edge, blended into the new area.",
    )
    strength: float = _strength(1.0)
    context: int = _context()
    work_size: int = _work_size()
    match_colours: bool = _match_colours()
    image: np.ndarray | None = _pixels()  # (h, w, 4) uint8 RGBA


def snap8(value: int) -> int:
    """Round a side to the nearest multiple of 8 (latents are 1/8 of the image)."""
    return max(8, (int(value) + 4) // 8 * 8)


def ceil8(value: int) -> int:
    """Round up to a multiple of 8; 0 stays 0 (outpaint amounts)."""
    return -(-int(value) // 8) * 8


def native_size(entry: ModelEntry | None) -> int:
    """The side a model makes images at: its atelier.json's native_size, else its family's."""
    if entry is None:
        return NATIVE_SIZE["sd15"]
    return entry.settings.native_size or NATIVE_SIZE.get(entry.family, NATIVE_SIZE["sd15"])


def resolved_size(params: Txt2ImgParams, native: int) -> tuple[int, int]:
    """(width, height) snapped to multiples of 8, 0 meaning the model's native size."""
    return snap8(params.width or native), snap8(params.height or native)


# A model's atelier.json may set these (a prompt and a seed belong to one picture, not a model).
def model_defaults(defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The usable part of a checkpoint's "defaults": its sampling fields (`fitting_defaults`)."""
    return fitting_defaults(SamplingParams, defaults)


def outpaint_amounts(params: OutpaintParams) -> tuple[int, int, int, int]:
    """(left, top, right, bottom), each rounded up to a multiple of 8."""
    return ceil8(params.left), ceil8(params.top), ceil8(params.right), ceil8(params.bottom)


# ---- validation


def validate_sampling(params: SamplingParams) -> None:
    """The checks every task shares."""
    if not 1 <= params.steps <= 150:
        raise ValueError("Steps must be between 1 and 150.")
    if not 0 <= params.cfg_scale <= 30:
        raise ValueError("CFG scale must be between 0 and 30.")
    if not 1 <= params.batch_count <= 16:
        raise ValueError("Batch count must be between 1 and 16.")
    if params.scheduler not in SCHEDULERS:
        raise ValueError(f"Unknown scheduler '{params.scheduler}'; one of {', '.join(SCHEDULERS)}.")
    if params.seed < -1 or params.seed >= 2**32:
        raise ValueError("The seed must be -1 (random) or between 0 and 4294967295.")
    for number, control in enumerate(params.controls, 1):
        _check_control(control, number)
    for number, reference in enumerate(params.references, 1):
        _check_reference(reference, number)


def active_controls(controls: tuple[ControlSpec, ...]) -> tuple[ControlSpec, ...]:
    """The controls that steer: strength above 0 and a step range that is not empty (the
    others are dropped, so they change nothing)."""
    return tuple(c for c in controls if c.strength > 0 and c.start < c.end)


def _check_control(control: Any, number: int) -> None:
    if not isinstance(control, ControlSpec):
        raise ValueError(f"Control {number} is not a control ({type(control).__name__}).")
    if control.kind not in CONTROL_KINDS:
        raise ValueError(
            f"Control {number}: unknown kind '{control.kind}'; one of {', '.join(CONTROL_KINDS)}."
        )
    if not 0 <= control.strength <= MAX_CONTROL_STRENGTH:
        raise ValueError(
            f"Control {number} ({control.kind}): strength must be between 0 and "
            f"{MAX_CONTROL_STRENGTH:g}, not {control.strength:g}."
        )
    if not 0 <= control.start <= control.end <= 1:
        raise ValueError(
            f"Control {number} ({control.kind}): its step range {control.start:g}-"
            f"{control.end:g} must lie within 0-1, start first."
        )
    _check_rgb(control.image, f"Control {number} ({control.kind})")


def _check_reference(reference: Any, number: int) -> None:
    if not isinstance(reference, ReferenceSpec):
        raise ValueError(
            f"Reference {number} is not a reference image ({type(reference).__name__})."
        )
    if not 0 <= reference.weight <= MAX_CONTROL_STRENGTH:
        raise ValueError(
            f"Reference {number}: its weight must be between 0 and {MAX_CONTROL_STRENGTH:g}, "
            f"not {reference.weight:g}."
        )
    _check_rgb(reference.image, f"Reference {number}")


def _check_rgb(image: Any, what: str) -> None:
    """A steering picture: (h, w, 3) uint8 of a usable size."""
    if not (
        isinstance(image, np.ndarray)
        and image.dtype == np.uint8
        and image.ndim == 3
        and image.shape[2] == 3
    ):
        shape = getattr(image, "shape", type(image).__name__)
        raise ValueError(f"{what}: its picture must be (height, width, 3) 8-bit RGB, not {shape}.")
    height, width = image.shape[:2]
    if min(width, height) < MIN_IMAGE_SIDE or max(width, height) > MAX_CANVAS_SIDE:
        raise ValueError(
            f"{what}: its picture is {width}x{height} pixels; it must be between "
            f"{MIN_IMAGE_SIDE} and {MAX_CANVAS_SIDE} pixels in each direction."
        )


def validate_txt2img(params: Txt2ImgParams) -> None:
    """Reject what cannot work, with a message a designer can act on (no torch needed)."""
    if not params.prompt.strip():
        raise ValueError("Type a prompt first.")
    for name, side in (("width", params.width), ("height", params.height)):
        if side != 0 and not MIN_SIDE <= side <= MAX_SIDE:
            raise ValueError(f"The {name} must be between {MIN_SIDE} and {MAX_SIDE} pixels.")
    if params.width * params.height > MAX_PIXELS:
        raise ValueError("That size is too large; keep it within 4096 x 4096 pixels.")
    validate_sampling(params)


def validate_img2img(params: Img2ImgParams) -> None:
    _check_image(params.image, "Image to image")
    _check_strength(params)
    validate_sampling(params)


def validate_depth(params: DepthParams) -> None:
    _check_image(params.image, "Depth map")


def validate_inpaint(params: InpaintParams) -> None:
    _check_image(params.image, "Inpaint")
    _check_mask(params.mask, params.mask_origin, params.image.shape)
    for name, value, high in (("Grow", params.grow, 256), ("Feather", params.feather, 256)):
        if not 0 <= value <= high:
            raise ValueError(f"{name} must be between 0 and {high} pixels.")
    _check_strength(params)
    validate_sampling(params)


def validate_outpaint(params: OutpaintParams) -> None:
    _check_image(params.image, "Outpaint")
    amounts = outpaint_amounts(params)
    if min(amounts) < 0:
        raise ValueError("Outpaint adds pixels: left, top, right and bottom cannot be negative.")
    if max(amounts) == 0:
        raise ValueError("Choose how far to extend the canvas: left, top, right and bottom are 0.")
    if max(amounts) > MAX_EXTEND:
        raise ValueError(
            f"Extend by at most {MAX_EXTEND} pixels per side at a time; "
            "outpaint again to go further."
        )
    height, width = params.image.shape[:2]
    new_width, new_height = width + amounts[0] + amounts[2], height + amounts[1] + amounts[3]
    if max(new_width, new_height) > MAX_CANVAS_SIDE:
        raise ValueError(
            f"The extended canvas would be {new_width}x{new_height} pixels; "
            f"keep it within {MAX_CANVAS_SIDE} x {MAX_CANVAS_SIDE}."
        )
    if not 0 <= params.overlap <= 256:
        raise ValueError("Overlap must be between 0 and 256 pixels.")
    _check_strength(params)
    validate_sampling(params)


def _check_image(image: Any, feature: str) -> None:
    if image is None:
        raise ValueError(f"{feature} needs a picture to start from: open or paint one first.")
    if not is_picture(image):
        shape = getattr(image, "shape", type(image).__name__)
        raise ValueError(f"The picture must be (height, width, 4) 8-bit RGBA, not {shape}.")
    height, width = image.shape[:2]
    if min(width, height) < MIN_IMAGE_SIDE:
        raise ValueError(
            f"The picture is only {width}x{height} pixels; "
            f"it needs at least {MIN_IMAGE_SIDE} in each direction."
        )
    if max(width, height) > MAX_CANVAS_SIDE:
        raise ValueError(
            f"The picture is {width}x{height} pixels; Atelier edits pictures up to "
            f"{MAX_CANVAS_SIDE} x {MAX_CANVAS_SIDE}."
        )


def _check_mask(mask: Any, origin: tuple[int, int] | None, image_shape: tuple[int, ...]) -> None:
    if mask is None:
        raise ValueError("The mask is empty: paint or select the area to repaint.")
    if not (isinstance(mask, np.ndarray) and mask.dtype == np.uint8 and mask.ndim == 2):
        shape = getattr(mask, "shape", type(mask).__name__)
        raise ValueError(f"The mask must be (height, width) 8-bit, not {shape}.")
    height, width = image_shape[:2]
    if origin is None and mask.shape != (height, width):
        raise ValueError(
            f"The mask is {mask.shape[1]}x{mask.shape[0]} pixels but the picture is "
            f"{width}x{height}; they must be the same size."
        )
    selected = mask >= MASK_THRESHOLD
    if not selected.any():
        raise ValueError("The mask is empty: paint or select the area to repaint.")
    x, y = origin or (0, 0)
    if not selected[max(0, -y) : max(0, height - y), max(0, -x) : max(0, width - x)].any():
        raise ValueError(
            "The mask lies entirely outside the canvas: move it or the selection onto the picture."
        )


def _check_strength(params: Img2ImgParams | InpaintParams | OutpaintParams) -> None:
    if not 0 < params.strength <= 1:
        raise ValueError("Strength must be above 0 and at most 1.")
    if int(params.steps * params.strength) < 1:
        raise ValueError(
            f"Strength {params.strength:g} with {params.steps} steps leaves no step to run; "
            "raise Strength or Steps."
        )
