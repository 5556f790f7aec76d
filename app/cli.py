"""The `atelier` command: the window by default, or without one a subcommand of each
registered task that has one (generate, img2img, inpaint, outpaint, and any plugin's: see
app/cli_tasks.py), and models / info / verify / export."""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cli_export import add_export_command
from app.cli_tasks import add_task_command, cli_tasks, fixed_fields, params_from_args
from app.cli_verify import add_verify_command
from plugins.api import Backend, Task, fitting_defaults, param_specs, resolve
from plugins.exporters import exporter_for
from plugins.registry import Registry, discover

if TYPE_CHECKING:
    from engine.model_store import ModelStore

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
OTHER_COMMANDS = ("models", "info", "verify", "export")  # and "gui", which opens the window


def commands(registry: Registry) -> tuple[str, ...]:
    """Every subcommand: the registered tasks' (in their Generate panel order), then the
    others, then the backends' own (`atelier servers`)."""
    tasks = (task.cli for task in _command_tasks(registry))
    return (*tasks, *OTHER_COMMANDS, *_backend_commands(registry))


def _backend_commands(registry: Registry) -> tuple[str, ...]:
    return tuple(b.command_name for b in registry.backends if b.command and b.command_name)


def _command_tasks(registry: Registry) -> list[Task]:
    taken = (*OTHER_COMMANDS, *_backend_commands(registry), "gui")
    return cli_tasks(registry.tasks.values(), taken=taken)


def __getattr__(name: str) -> Any:
    """`COMMANDS`: every subcommand, with those of the plugins installed now."""
    if name == "COMMANDS":
        return commands(discover())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    _print_any_file_name()
    if not argv or argv[0] == "gui":
        return gui_main(argv[1:])
    registry = discover()
    if argv[0] not in commands(registry) and Path(argv[0]).is_file():  # `atelier picture.png`
        return gui_main(argv)  # (as the desktop entry calls it; a command is never a file)
    args = _parser(registry).parse_args(argv)
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


def _parser(registry: Registry | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand; `registry`: the plugins (default: those installed)."""
    registry = discover() if registry is None else registry
    parser = argparse.ArgumentParser(
        prog="atelier", description="Atelier: a local creative studio. No command opens the window."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for task in _command_tasks(registry):
        command = add_task_command(subparsers, task, registry.exporters)
        command.set_defaults(handler=functools.partial(_run_task, registry, task))
        _add_backend_flag(command, task, registry.backends)

    models = subparsers.add_parser("models", help="list the models Atelier found")
    models.add_argument("--add-folder", type=Path, help="also read models from this folder")
    models.set_defaults(handler=_models)

    info = subparsers.add_parser("info", help="print the generation settings stored in images")
    info.add_argument("images", nargs="+", type=Path)
    info.set_defaults(handler=_info)

    add_verify_command(subparsers)
    add_export_command(subparsers)
    for backend in registry.backends:
        if backend.command and backend.command_name:
            resolve(backend.command)(subparsers)
    return parser


def _add_backend_flag(
    command: argparse.ArgumentParser, task: Task, backends: list[Backend]
) -> None:
    """A backend's flag (e.g. --server URL, repeatable) on the subcommands of its tasks."""
    for backend in backends:
        if backend.cli_flag and task.id in backend.tasks:
            command.add_argument(
                backend.cli_flag,
                dest="targets",
                action="append",
                metavar="URL",
                help="run it on the server at URL instead of here (repeat to spread a "
                "batch over several)",
            )
            command.set_defaults(backend=backend)


def _fail(message: str, code: int = EXIT_FAILED) -> int:
    print(f"atelier: error: {message}", file=sys.stderr)
    return code


def _run_task(registry: Registry, task: Task, args: argparse.Namespace) -> int:
    """A task's subcommand: choose the exporter, read the inputs, take the model's defaults
    (for a task with a model), run the task and write what it made."""
    from app.cli_generate import run_task
    from app.model.image_files import ImageReadError
    from engine.protocol import JobError

    try:
        exporter = exporter_for(args.output, registry.exporters, task.output)
        fixed = fixed_fields(task, args)
    except (ValueError, ImageReadError) as exc:
        return _fail(str(exc), EXIT_USAGE)
    store, defaults = None, {}
    targets = getattr(args, "targets", None)
    if "model" in fixed and not targets:  # a server's models are its own
        try:
            store, defaults = _model_and_defaults(fixed["model"])
        except JobError as exc:
            return _fail(exc.message)
    elif not targets:
        store, defaults = _picked_model_defaults(task, args)
    try:
        params = params_from_args(task.params_type, args, defaults, **fixed)
    except TypeError as exc:
        return _fail(str(exc), EXIT_USAGE)
    engine = None
    if targets:
        try:
            engine = resolve(args.backend.engine)(registry, targets, None)
        except ValueError as exc:
            return _fail(str(exc), EXIT_USAGE)
    return run_task(
        registry, task.id, params, args.output, exporter, _fail, store=store, engine=engine
    )


def _model_and_defaults(name: str) -> tuple[ModelStore, dict[str, Any]]:
    """The model store (the engine then uses it as scanned) and the sampling defaults of
    the checkpoint called `name` (the default one for ""); JobError when there is none."""
    from engine.model_store import ModelStore
    from plugins.diffusion.params import model_defaults

    store = ModelStore()
    entry = store.pick_checkpoint(name)
    return store, model_defaults(entry.settings.defaults)


def _picked_model_defaults(
    task: Task, args: argparse.Namespace
) -> tuple[ModelStore | None, dict[str, Any]]:
    """For a task whose params pick a model in a picker field (the music model): the store
    and the defaults of the model named, else of the picker's default one. None and none
    without such a field; none when no such model is installed (the job then says so)."""
    from engine.model_store import ModelStore
    from engine.protocol import JobError

    picker = next(
        ((f.name, spec.models) for f, spec in param_specs(task.params_type) if spec.models), None
    )
    if picker is None:
        return None, {}
    store = ModelStore()
    choices = resolve(picker[1])(store.listing())
    if not choices:
        return store, {}
    name = getattr(args, picker[0], None)
    try:
        entry = store.find(name, choices[0].entry.kind) if name else choices[0].entry
    except JobError:
        return store, {}
    return store, fitting_defaults(task.params_type, entry.settings.defaults)


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
