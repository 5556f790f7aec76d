"""What a ComfyUI server has: its device, memory and queue, its nodes and its models.

Read from `/system_stats`, `/queue` and `/object_info` (the models are the choices of the
stock loader nodes' inputs), and `/view_metadata` for the hashes that find copies of local
models under other names (plugins.comfyui.model_copies). Qt-free, torch-free.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.model_store import ModelStore
from plugins.comfyui.client import ComfyUIClient, running_and_pending
from plugins.comfyui.model_copies import CopyFinder
from plugins.comfyui.servers import server_for

# model kind (as Atelier's store names its folders) -> (loader node, its input)
MODEL_INPUTS = {
    "checkpoints": ("CheckpointLoaderSimple", "ckpt_name"),
    "loras": ("LoraLoader", "lora_name"),
    "controlnet": ("ControlNetLoader", "control_net_name"),
}


@dataclass(frozen=True)
class ServerStatus:
    """A server's device and queue, as Settings > Servers and `atelier servers` show them."""

    device: str
    gpu: bool  # the device is an accelerator (else its memory is the computer's)
    memory_total: int  # the device's memory in bytes; 0 when the server does not say
    memory_free: int
    running: int  # prompts running now (0 or 1)
    pending: int  # prompts waiting

    @property
    def busy(self) -> int:
        """Prompts ahead of a new one."""
        return self.running + self.pending

    def describe(self) -> str:
        """One line: device, memory, queue."""
        kind = "GPU memory" if self.gpu else "memory"
        memory = (
            f"{_gib(self.memory_free)} of {_gib(self.memory_total)} {kind} free"
            if self.memory_total
            else "memory not reported"
        )
        queue = "idle" if not self.busy else f"{self.running} running, {self.pending} waiting"
        return f"{self.device}; {memory}; {queue}"


@dataclass(frozen=True)
class ServerInfo:
    """The nodes a server has and the models each loader offers."""

    nodes: frozenset[str]
    models: Mapping[str, tuple[str, ...]]  # kind -> file names, as the server lists them
    samplers: tuple[str, ...] = ()  # KSampler's sampler_name choices
    schedules: tuple[str, ...] = ()  # KSampler's scheduler choices
    # find_copy(kind, local name) -> the server's file holding the same weights under
    # another name, or None (plugins.comfyui.model_copies); None: names only
    find_copy: Callable[[str, str], str | None] | None = field(default=None, compare=False)


def status(client: ComfyUIClient) -> ServerStatus:
    """The server's device, memory and queue (ServerUnreachable when it does not answer)."""
    stats = client.system_stats()
    running, pending = running_and_pending(client.queue())
    devices = stats.get("devices") or [{}]
    device = devices[0] if isinstance(devices[0], Mapping) else {}
    system = stats.get("system") or {}
    gpu = device.get("type") not in ("cpu", None)
    # a CPU device's figures are the computer's memory; newer servers also send them in
    # "system", older ones only there
    total = _int(device.get("vram_total")) or (0 if gpu else _int(system.get("ram_total")))
    free = _int(device.get("vram_free")) or (0 if gpu else _int(system.get("ram_free")))
    return ServerStatus(
        device=str(device.get("name") or device.get("type") or "unknown device"),
        gpu=gpu,
        memory_total=total,
        memory_free=free,
        running=len(running),
        pending=len(pending),
    )


def info(client: ComfyUIClient) -> ServerInfo:
    """The server's nodes and models, from one `/object_info`."""
    objects = client.object_info()
    models = {kind: choices(objects, *node_input) for kind, node_input in MODEL_INPUTS.items()}
    return ServerInfo(
        frozenset(objects),
        models,
        choices(objects, "KSampler", "sampler_name"),
        choices(objects, "KSampler", "scheduler"),
    )


def choices(objects: Mapping[str, Any], node: str, name: str) -> tuple[str, ...]:
    """The values a node's list input offers (its first element is the list)."""
    spec = objects.get(node, {}).get("input", {})
    for group in ("required", "optional"):
        entry = spec.get(group, {}).get(name)
        if isinstance(entry, list) and entry and isinstance(entry[0], list):
            return tuple(str(value) for value in entry[0])
    return ()


def models(url: str) -> dict[str, tuple[str, ...]]:
    """The Backend's models: the file names of each kind the server at `url` offers, and
    among the LoRAs also the installed ones it holds under other names (by hash,
    model_copies), by their names here: a prompt's tag of one works there."""
    client = ComfyUIClient(server_for(url))
    offered = dict(info(client).models)
    copies = CopyFinder(client, offered, ModelStore()).local_names("loras")
    return {**offered, "loras": offered.get("loras", ()) + copies}


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) else 0


def _gib(count: int) -> str:
    return f"{count / 2**30:.1f} GiB"
