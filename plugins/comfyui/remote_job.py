"""One picture (or clip) made on one ComfyUI server: upload, queue, follow, fetch.

The websocket is opened (with a client id of this picture's own) before the graph is
queued, so no message is missed; it brings progress, step previews (where the server
sends them) and the end. A dropped websocket is reopened with the same client id and the
picture's record is read from `/history`, since messages sent meanwhile are lost; a server
that stays away for RECONNECT_S is `ServerLost` and the picture goes to another server.
Cancel deletes the prompt from the server's queue, or interrupts it when it is running
(only when it is ours). Both kinds of server are served: the 2024 ones end a prompt with
`executing` of node null and no `execution_success`, and ignore client prompt ids.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from plugins.comfyui.client import (
    ComfyUIClient,
    ServerUnreachable,
    preview_of,
    running_and_pending,
)
from plugins.comfyui.graphs import Plan, decode_picture, png_bytes
from plugins.diffusion.mask_geometry import rgba

RECONNECT_S = 10.0  # how long a server may stay away before its picture goes elsewhere
POLL_S = 5.0  # with no message for this long, ask /history (a message may have been lost)
HISTORY_WAIT_S = 10.0  # outputs may reach /history a moment after the end is announced


class ServerLost(OSError):
    """The server went away mid-job (or lost the job): run it elsewhere."""


class Cancelled(Exception):
    """The job was cancelled; the server's copy was deleted or interrupted."""


class ServerFailed(RuntimeError):
    """The server ran the graph and reported an error (its own words)."""


@dataclass
class Watch:
    """How a picture reports back: `progress(fraction or None, preview or None)`, and
    `cancelled()` asked between messages."""

    progress: Callable[[float | None, np.ndarray | None], None]
    cancelled: Callable[[], bool]


def make_picture(client: ComfyUIClient, plan: Plan, watch: Watch) -> np.ndarray:
    """Run `plan` on the server: the finished RGBA picture, or a clip's (plan.fps) frames
    stacked (t, h, w, 4). Raises ServerLost, Cancelled, ServerFailed, or GraphRefused (the
    server would not take the graph)."""
    client_id = uuid.uuid4().hex
    follower = _Follower(client, client_id, watch)
    try:
        follower.connect()
        for name, pixels in plan.graph.uploads.items():
            stored = _lost(client.upload_image, png_bytes(pixels), f"{client_id}-{name}")
            plan.graph.rename_upload(name, stored)
        prompt_id = _lost(client.submit, plan.graph.nodes, client_id)
        record = follower.follow(prompt_id)
        images = record.get("outputs", {}).get(plan.output_node, {}).get("images") or []
        if not images:
            raise ServerFailed(f"{client.server.label} finished the job but sent no picture")
        if plan.fps:
            return np.stack([rgba(decode_picture(_lost(client.view, i))) for i in images])
        return plan.finish(decode_picture(_lost(client.view, images[0])))
    finally:
        follower.close()


def _lost(call: Callable[..., Any], *args: Any) -> Any:
    """A call whose failure to reach the server means the server is lost for this job."""
    try:
        return call(*args)
    except ServerUnreachable as exc:
        raise ServerLost(str(exc)) from None


class _Follower:
    """Reads one prompt's messages to its end, reconnecting when the websocket drops."""

    def __init__(self, client: ComfyUIClient, client_id: str, watch: Watch) -> None:
        self.client, self.client_id, self.watch = client, client_id, watch
        self.socket: Any = None

    def connect(self) -> None:
        self.socket = _lost(self.client.websocket, self.client_id)

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close()

    def follow(self, prompt_id: str) -> Mapping[str, Any]:
        """Progress and previews until the prompt ends: its /history record."""
        import websocket

        last_heard = time.monotonic()
        while True:
            if self.watch.cancelled():
                self._cancel(prompt_id)
                raise Cancelled()
            try:
                message = self.socket.recv()
            except websocket.WebSocketTimeoutException:
                if time.monotonic() - last_heard > POLL_S:
                    last_heard = time.monotonic()
                    record = self._record_or_lost(prompt_id)
                    if record is not None:
                        return record
                continue
            except (websocket.WebSocketException, OSError):
                self._reconnect()
                record = self._record_or_lost(prompt_id)
                if record is not None:
                    return record
                continue
            last_heard = time.monotonic()
            if self._ended(message, prompt_id):
                return self._wait_for_record(prompt_id)

    def _ended(self, message: str | bytes, prompt_id: str) -> bool:
        """Handle one message; True when it says the prompt has ended."""
        if isinstance(message, bytes):
            preview = preview_of(message)
            if preview is not None:
                self.watch.progress(None, decode_picture(preview.data))
            return False
        try:
            kind, data = _parsed(message)
        except ValueError:
            return False
        if data.get("prompt_id", prompt_id) != prompt_id:
            return False
        if kind == "progress" and data.get("max"):
            self.watch.progress(float(data["value"]) / float(data["max"]), None)
        elif kind == "execution_error":
            raise ServerFailed(
                f"{self.client.server.label} failed in {data.get('node_type', 'a node')}: "
                f"{str(data.get('exception_message', '')).strip() or 'no reason given'}"
            )
        elif kind == "execution_interrupted":
            raise ServerFailed(f"{self.client.server.label} interrupted the job")
        return kind == "execution_success" or (
            kind == "executing" and data.get("node") is None and "prompt_id" in data
        )

    def _record_or_lost(self, prompt_id: str) -> Mapping[str, Any] | None:
        """The prompt's record when it has ended; None while it waits or runs; ServerLost
        when the server no longer knows it (restarted)."""
        record = _lost(self.client.history, prompt_id)
        if record is not None:
            return _checked(record, self.client.server.label)
        running, pending = running_and_pending(_lost(self.client.queue))
        if prompt_id not in running and prompt_id not in pending:
            raise ServerLost(f"{self.client.server.label} lost the job (was it restarted?)")
        return None

    def _wait_for_record(self, prompt_id: str) -> Mapping[str, Any]:
        deadline = time.monotonic() + HISTORY_WAIT_S
        while True:
            record = _lost(self.client.history, prompt_id)
            if record is not None and (record.get("outputs") or time.monotonic() > deadline):
                return _checked(record, self.client.server.label)
            if time.monotonic() > deadline:
                raise ServerFailed(f"{self.client.server.label} kept no record of the job")
            time.sleep(0.1)

    def _reconnect(self) -> None:
        """Open the websocket again with the same client id, for up to RECONNECT_S."""
        self.close()
        deadline = time.monotonic() + RECONNECT_S
        while True:
            if self.watch.cancelled():
                raise Cancelled()
            try:
                self.socket = self.client.websocket(self.client_id)
                return
            except ServerUnreachable as exc:
                if time.monotonic() > deadline:
                    raise ServerLost(str(exc)) from None
                time.sleep(0.5)

    def _cancel(self, prompt_id: str) -> None:
        """Take the prompt off the server: delete it when queued, interrupt it when it is
        the one running (never someone else's). A server that is away has nothing to stop."""
        try:
            running, pending = running_and_pending(self.client.queue())
            if prompt_id in pending:
                self.client.delete_queued(prompt_id)
            elif prompt_id in running:
                self.client.interrupt()
        except ServerUnreachable:
            pass


def _parsed(message: str) -> tuple[str, Mapping[str, Any]]:
    try:
        decoded = json.loads(message)
    except json.JSONDecodeError:
        raise ValueError("not JSON") from None
    if not isinstance(decoded, Mapping):
        raise ValueError("not a message")
    data = decoded.get("data")
    return str(decoded.get("type", "")), data if isinstance(data, Mapping) else {}


def _checked(record: Mapping[str, Any], label: str) -> Mapping[str, Any]:
    """A /history record, ServerFailed when it says the prompt failed."""
    status = record.get("status") or {}
    if status.get("status_str") == "error":
        for kind, data in status.get("messages") or ():
            if kind == "execution_error" and isinstance(data, Mapping):
                reason = str(data.get("exception_message", "")).strip()
                raise ServerFailed(f"{label} failed: {reason or 'no reason given'}")
        raise ServerFailed(f"{label} failed the job")
    return record
