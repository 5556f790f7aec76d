"""The `atelier` subcommands of the registered tasks: one for each task whose `cli` is set.

Each input a task declares becomes an argument, read into the params field of the same
name: "image" a picture (positional, PNG, JPEG or WebP, as pixels), "mask" `--mask PATH`
(with an image also `--mask-from-alpha`), "folder" a folder and "clip" a video or audio
file (positional, as paths). A params field "prompt" is the positional after them, every
other Param field a flag; width and height also take `--size WxH`, a `model` field
`--model`. A field whose metadata has "cli_list" (a flag, a metavar, a help line and a
"module:function" parser) is a repeatable flag, each use parsed with the app's picture
reader into one item of the field's tuple (the diffusion tasks' `--control`, `--reference`
and `--lora`). `-o` names the file, written by the exporter of the task's output kind that
owns its suffix.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.untrusted import clean_text
from plugins.api import Exporter, Param, Task, param_specs, resolve
from plugins.exporters import exporters_of

log = logging.getLogger(__name__)
NUMBERS: dict[str, type] = {"int": int, "float": float}  # params field types read as numbers


def cli_tasks(tasks: Iterable[Task], taken: Iterable[str]) -> list[Task]:
    """The tasks that have a subcommand, in the Generate panel's order. A name in `taken`
    (another command's) or already claimed by an earlier task gets none, with a warning."""
    names, chosen = set(taken), []
    for task in sorted((t for t in tasks if t.cli), key=lambda t: (t.order, t.cli)):
        if task.cli in names:
            log.warning("task %s: the command %r is taken; it gets none", task.id, task.cli)
            continue
        names.add(task.cli)
        chosen.append(task)
    return chosen


def add_task_command(
    subparsers: argparse._SubParsersAction, task: Task, exporters: Sequence[Exporter]
) -> argparse.ArgumentParser:
    """Add `task`'s subcommand: its inputs, prompt, flags and -o (see the module's doc)."""
    specs = {f.name: spec for f, spec in param_specs(task.params_type)}
    about = task.tip or task.title
    parser = subparsers.add_parser(task.cli, help=about, description=about)
    for kind in task.inputs:
        INPUT_ARGUMENTS[kind](parser, task)
    if "prompt" in specs:
        parser.add_argument("prompt", type=clean_text, help=specs["prompt"].help)
    if {"width", "height"} <= specs.keys():
        parser.add_argument("--size", type=_size, help="WIDTHxHEIGHT, e.g. 768x512")
    if _has_field(task.params_type, "model"):
        parser.add_argument("--model", default="", help="model name (see `atelier models`)")
    add_param_flags(parser, task.params_type, skip={"prompt"})
    add_list_flags(parser, task.params_type)
    suffixes = [s for e in exporters_of(exporters, task.output) for s in e.suffixes]
    written = ", ".join(suffixes) if suffixes else f"no installed plugin exports {task.output}"
    parser.add_argument(
        "-o", "--output", type=Path, required=True, help=f"the file to write ({written})"
    )
    return parser


def _image_argument(parser: argparse.ArgumentParser, task: Task) -> None:
    parser.add_argument("image", type=Path, help="the picture to work on (PNG, JPEG or WebP)")


def _mask_arguments(parser: argparse.ArgumentParser, task: Task) -> None:
    masks = parser.add_mutually_exclusive_group(required=True)
    masks.add_argument("--mask", type=Path, help="mask image: white = repaint, black = keep")
    if "image" in task.inputs:
        masks.add_argument(
            "--mask-from-alpha",
            action="store_true",
            help="repaint where the picture is transparent",
        )


def _folder_argument(parser: argparse.ArgumentParser, task: Task) -> None:
    parser.add_argument("folder", type=Path, help="the folder to read")


def _clip_argument(parser: argparse.ArgumentParser, task: Task) -> None:
    parser.add_argument("clip", type=Path, help="the video or audio file to work on")


INPUT_ARGUMENTS: dict[str, Callable[[argparse.ArgumentParser, Task], None]] = {
    "image": _image_argument,
    "mask": _mask_arguments,
    "folder": _folder_argument,
    "clip": _clip_argument,
}


def fixed_fields(task: Task, args: argparse.Namespace) -> dict[str, Any]:
    """The params fields that come from the inputs, --size and --model (the flags of Param
    fields are read by `params_from_args`). ImageReadError for a picture that cannot be
    read, ValueError for a folder or clip that is not one."""
    from app.model.image_import import read_image

    fields: dict[str, Any] = {}
    if "image" in task.inputs:
        fields["image"] = read_image(args.image)
    if "mask" in task.inputs:
        fields["mask"] = _read_mask(args.mask, fields.get("image"))
    if "folder" in task.inputs:
        if not args.folder.is_dir():
            raise ValueError(f"{args.folder} is not a folder")
        fields["folder"] = args.folder
    if "clip" in task.inputs:
        if not args.clip.is_file():
            raise ValueError(f"{args.clip} is not a file")
        fields["clip"] = args.clip
    if getattr(args, "size", None):
        fields["width"], fields["height"] = args.size
    if _has_field(task.params_type, "model"):
        fields["model"] = args.model
    for f, _ in list_fields(task.params_type):
        if getattr(args, f.name, None):
            fields[f.name] = tuple(getattr(args, f.name))
    return fields


def list_fields(params_type: type) -> list[tuple[dataclasses.Field, Mapping[str, str]]]:
    """The fields of a params dataclass filled by repeatable flags, with their "cli_list"."""
    return [
        (f, f.metadata["cli_list"])
        for f in dataclasses.fields(params_type)
        if "cli_list" in f.metadata
    ]


def add_list_flags(parser: argparse.ArgumentParser, params_type: type) -> None:
    """One repeatable flag per "cli_list" field (see the module's doc); a use that its
    parser refuses, or whose picture cannot be read, is an argparse error in one line."""
    for f, spec in list_fields(params_type):
        parser.add_argument(
            spec["flag"],
            dest=f.name,
            action="append",
            metavar=spec["metavar"],
            type=_list_item(spec["parse"], spec["flag"]),
            help=spec["help"],
        )


def _list_item(parse: str, flag: str) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        from app.model.image_import import read_image

        try:
            return resolve(parse)(clean_text(text), read_image)
        except (ValueError, OSError) as exc:  # OSError: ImageReadError and unreadable files
            raise argparse.ArgumentTypeError(f"{flag} {text}: {exc}") from None

    return convert


def _read_mask(path: Path | None, image: Any) -> Any:
    """An (h, w) uint8 mask, 255 = repaint: from a mask picture (white = repaint; transparent
    counts as black), or, without one, from the picture's alpha (transparent = repaint)."""
    import numpy as np

    from app.model.image_import import read_image

    if path is None:
        return 255 - image[..., 3]
    mask = read_image(path).astype(np.float32)
    return np.round(mask[..., :3].mean(axis=2) * mask[..., 3] / 255).astype(np.uint8)


def _has_field(params_type: type, name: str) -> bool:
    return any(f.name == name for f in dataclasses.fields(params_type))


def add_param_flags(parser: argparse.ArgumentParser, params_type: type, skip: set[str]) -> None:
    """One flag per Param field of a params dataclass, typed and ranged from its spec; text
    that is not UTF-8 (from a file in another encoding) has its odd bytes made U+FFFD."""
    for f, spec in param_specs(params_type):
        if f.name in skip or "cli_list" in f.metadata:  # a repeatable flag of its own
            continue
        flag = spec.cli or "--" + f.name.replace("_", "-")
        kwargs: dict[str, Any] = {"dest": f.name, "default": None, "help": spec.help or spec.label}
        kind = _type_name(f)
        if kind == "bool":
            kwargs["action"] = argparse.BooleanOptionalAction
        elif spec.choices:
            kwargs["choices"] = spec.choices
        elif kind in NUMBERS:
            kwargs["type"] = _ranged(NUMBERS[kind], spec)
        else:
            kwargs["type"] = clean_text
        parser.add_argument(flag, **kwargs)


def params_from_args(
    params_type: type,
    args: argparse.Namespace,
    defaults: Mapping[str, Any] | None = None,
    **fixed: Any,
) -> Any:
    """A params instance from parsed flags: given flags win over `defaults` (the model's),
    which win over the dataclass defaults."""
    given = {f.name: getattr(args, f.name, None) for f, _ in param_specs(params_type)} | fixed
    values = {k: v for k, v in (defaults or {}).items() if k in given}
    return params_type(**values | {k: v for k, v in given.items() if v is not None})


def _type_name(f: dataclasses.Field) -> str:
    """ "int" for a field typed `int`, whether or not its module postpones annotations."""
    return f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))


def _ranged(kind: type, spec: Param) -> Any:
    low, high, label = spec.minimum, spec.maximum, spec.label
    unit = f" {spec.unit}" if spec.unit else ""

    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{label} must be a {kind.__name__}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{label} must be between {low:g} and {high:g}{unit}")
        return value

    return convert


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError("size must look like 512x768") from None
    return width, height
