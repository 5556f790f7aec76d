"""The `atelier` command: the window by default, or generate / img2img / inpaint / outpaint /
models / info without one."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.cli_verify import add_verify_command
from engine.untrusted import clean_text
from plugins.api import Task, param_specs

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


COMMANDS = ("generate", "img2img", "inpaint", "outpaint", "models", "info", "verify")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    _print_any_file_name()
    if not argv or argv[0] == "gui":
        return gui_main(argv[1:])
    if argv[0] not in COMMANDS and Path(argv[0]).is_file():  # `atelier picture.png`
        return gui_main(argv)  # (as the desktop entry calls it; a command is never a file)
    args = _parser().parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("atelier: cancelled", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `atelier verify *.png | head`: the reader left
        sys.stdout = None
        return 0


def _print_any_file_name() -> None:
    """File names may hold bytes that are not UTF-8: print them back as the same bytes
    instead of failing on them."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="surrogateescape")


def gui_main(argv: list[str] | None = None) -> int:
    from app.ui.launch import run_gui

    return run_gui(sys.argv[1:] if argv is None else argv)


def _parser() -> argparse.ArgumentParser:
    from plugins.diffusion import IMG2IMG, INPAINT, OUTPAINT
    from plugins.diffusion.params import Txt2ImgParams

    parser = argparse.ArgumentParser(
        prog="atelier", description="Atelier: a local creative studio. No command opens the window."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="make images from a prompt, no window")
    generate.add_argument("prompt", help="what to draw")
    generate.add_argument("--size", type=_size, help="WIDTHxHEIGHT, e.g. 768x512")
    add_generation_flags(generate, Txt2ImgParams)
    generate.set_defaults(handler=_generate)

    img2img = commands.add_parser("img2img", help="repaint a picture after a prompt")
    img2img.add_argument("image", type=Path, help="the picture to start from")
    img2img.add_argument("prompt", help="what to draw")
    add_generation_flags(img2img, IMG2IMG.params_type)
    img2img.set_defaults(handler=_edit, task=IMG2IMG)

    inpaint = commands.add_parser("inpaint", help="repaint the masked part of a picture")
    inpaint.add_argument("image", type=Path, help="the picture to repaint")
    inpaint.add_argument("prompt", help='what to draw in the mask ("" for none)')
    masks = inpaint.add_mutually_exclusive_group(required=True)
    masks.add_argument("--mask", type=Path, help="mask image: white = repaint, black = keep")
    masks.add_argument(
        "--mask-from-alpha", action="store_true", help="repaint where the picture is transparent"
    )
    add_generation_flags(inpaint, INPAINT.params_type)
    inpaint.set_defaults(handler=_edit, task=INPAINT)

    outpaint = commands.add_parser("outpaint", help="extend a picture and fill the new area")
    outpaint.add_argument("image", type=Path, help="the picture to extend")
    outpaint.add_argument("prompt", help='what the new area shows ("" for none)')
    add_generation_flags(outpaint, OUTPAINT.params_type)
    outpaint.set_defaults(handler=_edit, task=OUTPAINT)

    models = commands.add_parser("models", help="list the models Atelier found")
    models.add_argument("--add-folder", type=Path, help="also read models from this folder")
    models.set_defaults(handler=_models)

    info = commands.add_parser("info", help="print the generation settings stored in images")
    info.add_argument("images", nargs="+", type=Path)
    info.set_defaults(handler=_info)

    add_verify_command(commands)
    return parser


def add_generation_flags(parser: argparse.ArgumentParser, params_type: type) -> None:
    """--model, one flag per Param field but the prompt, and -o: what every generating
    command takes."""
    parser.add_argument("--model", default="", help="model name (see `atelier models`)")
    add_param_flags(parser, params_type, skip={"prompt"})
    parser.add_argument("-o", "--output", type=Path, required=True, help="PNG file to write")


def add_param_flags(parser: argparse.ArgumentParser, params_type: type, skip: set[str]) -> None:
    """One flag per Param field of a params dataclass, typed and ranged from its spec."""
    for f, spec in param_specs(params_type):
        if f.name in skip:
            continue
        flag = spec.cli or "--" + f.name.replace("_", "-")
        kwargs: dict[str, Any] = {"dest": f.name, "default": None, "help": spec.help or spec.label}
        if str(f.type) == "bool":
            kwargs["action"] = argparse.BooleanOptionalAction
        elif spec.choices:
            kwargs["choices"] = spec.choices
        else:
            kwargs["type"] = _ranged(_field_type(f), spec.minimum, spec.maximum, spec.label)
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


def _field_type(f: dataclasses.Field) -> type:
    return {"int": int, "float": float}.get(str(f.type), str)


def _ranged(kind: type, low: float | None, high: float | None, label: str) -> Any:
    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{label} must be a {kind.__name__}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{label} must be between {low:g} and {high:g}")
        return value

    return convert


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError("size must look like 512x768") from None
    return width, height


def _fail(message: str, code: int = EXIT_FAILED) -> int:
    print(f"atelier: error: {message}", file=sys.stderr)
    return code


def _generate(args: argparse.Namespace) -> int:
    from plugins.diffusion import TXT2IMG

    fixed = _prompt_fields(args)
    if args.size:
        fixed["width"], fixed["height"] = args.size
    return _run_task(TXT2IMG, args, fixed)


def _edit(args: argparse.Namespace) -> int:
    """img2img, inpaint, outpaint: read the picture (and mask), run the task, save."""
    from app.model.image_files import ImageReadError
    from app.model.image_import import read_image

    fixed = _prompt_fields(args)
    try:
        fixed["image"] = read_image(args.image)
        if args.command == "inpaint":
            fixed["mask"] = _read_mask(args.mask, fixed["image"])
    except ImageReadError as exc:
        return _fail(str(exc), EXIT_USAGE)
    return _run_task(args.task, args, fixed)


def _prompt_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The prompt, negative prompt and model name as typed; bytes that are not UTF-8 (a
    prompt from a file in another encoding) become U+FFFD instead of breaking the tokenizer."""
    fields = {"prompt": clean_text(args.prompt), "model": args.model}
    if args.negative_prompt is not None:
        fields["negative_prompt"] = clean_text(args.negative_prompt)
    return fields


def _run_task(task: Task, args: argparse.Namespace, fixed: dict[str, Any]) -> int:
    """Run a diffusion task with the model of --model, else the default checkpoint; the
    sampling flags not given come from the model's atelier.json defaults."""
    from app.cli_generate import run_generate
    from engine.model_store import ModelStore
    from engine.protocol import JobError
    from plugins.diffusion.params import model_defaults

    store = ModelStore()
    try:
        entry = store.pick_checkpoint(args.model)
    except JobError as exc:
        return _fail(exc.message)
    defaults = model_defaults(entry.settings.defaults)
    try:
        params = params_from_args(task.params_type, args, defaults, **fixed)
    except TypeError as exc:
        return _fail(str(exc), EXIT_USAGE)
    return run_generate(params, args.output, _fail, task=task.id, store=store)


def _read_mask(path: Path | None, image: Any) -> Any:
    """An (h, w) uint8 mask, 255 = repaint: from a mask picture (white = repaint; transparent
    counts as black), or, without one, from the picture's alpha (transparent = repaint)."""
    import numpy as np

    from app.model.image_import import read_image

    if path is None:
        return 255 - image[..., 3]
    mask = read_image(path).astype(np.float32)
    return np.round(mask[..., :3].mean(axis=2) * mask[..., 3] / 255).astype(np.uint8)


def _models(args: argparse.Namespace) -> int:
    from engine.home import add_model_folder, models_dir
    from engine.model_store import ModelStore

    if args.add_folder:
        try:
            add_model_folder(args.add_folder)
        except ValueError as exc:
            return _fail(str(exc), EXIT_USAGE)
        print(f"added {args.add_folder}")
    store = ModelStore()
    entries = store.scan()
    if not entries:
        print(f"No models found. Put checkpoints into {models_dir('checkpoints')}")
    for entry in entries:
        family = f"{entry.family} {entry.variant}".strip()
        print(f"{entry.name:40} {entry.kind:12} {family:12} {entry.format:12} {entry.path}")
        if entry.settings.about:
            print(f"    {entry.settings.about}")
    for problem in store.problems:
        print(problem, file=sys.stderr)
    return EXIT_OK


def _info(args: argparse.Namespace) -> int:
    from app.model.image_files import ImageReadError, describe, read_generation_info

    code = EXIT_OK
    for path in args.images:
        try:
            info = read_generation_info(path)
        except ImageReadError as exc:
            code = _fail(str(exc), EXIT_USAGE)
            continue
        if len(args.images) > 1:
            print(f"== {path}")
        if info is None:
            print(f"{path}: no generation settings found")
            code = max(code, EXIT_FAILED)
        else:
            print(describe(info))
    return code


if __name__ == "__main__":
    raise SystemExit(main())
