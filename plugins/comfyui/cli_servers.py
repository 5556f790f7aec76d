"""`atelier servers`: list the configured ComfyUI servers and test each; add or remove one."""

from __future__ import annotations

import argparse
import sys

from plugins.comfyui.client import ComfyUIClient, ServerUnreachable
from plugins.comfyui.server_info import info, status
from plugins.comfyui.servers import ServerConfig, load_servers, normalise_url, save_servers

NAME = "servers"  # the command's name, as the plugin declares it (Backend.command_name)


def add_command(subparsers: argparse._SubParsersAction) -> None:
    """The Backend's command."""
    command = subparsers.add_parser(
        NAME,
        help="list the ComfyUI servers jobs can run on, and test them",
        description="List the ComfyUI servers (Settings > Servers) and test each: its "
        "device, memory, queue and models. Run a job there with --server URL.",
    )
    command.add_argument("--add", metavar="URL", help="add a server")
    command.add_argument("--token", default="", help="the added server's bearer token")
    command.add_argument("--name", default="", help="the added server's name")
    command.add_argument("--remove", metavar="URL", help="remove a server")
    command.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Add or remove as asked, then list and test every server: 0 when all answer."""
    try:
        servers = _edited(load_servers(), args)
    except ValueError as exc:
        print(f"atelier: error: {exc}", file=sys.stderr)
        return 2
    if not servers:
        print("No servers. Add one with: atelier servers --add http://HOST:8188")
        return 0
    code = 0
    for server in servers:
        line = _tested(server)
        code = code if line.startswith("ok") else 1
        print(f"{server.label:24} {server.url:32} {line}")
    return code


def _edited(servers: list[ServerConfig], args: argparse.Namespace) -> list[ServerConfig]:
    if not (args.add or args.remove):
        return servers
    if args.remove:
        url = normalise_url(args.remove)
        if all(s.url != url for s in servers):
            raise ValueError(f"no server at {url}; `atelier servers` lists them")
        servers = [s for s in servers if s.url != url]
    if args.add:
        added = ServerConfig(normalise_url(args.add), args.token, args.name)
        servers = [s for s in servers if s.url != added.url] + [added]
    save_servers(servers)
    return servers


def _tested(server: ServerConfig) -> str:
    """ "ok" and what the server has, or why it did not answer."""
    client = ComfyUIClient(server)
    try:
        state, offered = status(client), info(client)
    except ServerUnreachable as exc:
        return f"unreachable: {exc}"
    counts = ", ".join(f"{len(names)} {kind}" for kind, names in offered.models.items())
    return f"ok: {state.describe()}; {counts}"
