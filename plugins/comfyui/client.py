"""A ComfyUI server's HTTP API and websocket, as one job needs them. Qt-free, torch-free.

Calls: `/system_stats`, `/object_info`, `/queue` (read, and delete of queued prompts),
`/prompt`, `/history/{id}`, `/view`, `/view_metadata`, `/upload/image`, `/interrupt`, and
the websocket `/ws?clientId=`. Every failure to reach the server is a `ServerUnreachable`
(an OSError) with a sentence naming the server; a refusal of a graph is a `GraphRefused`
(a ValueError) with the server's own words.
"""

from __future__ import annotations

import json
import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode, urlsplit
from urllib.request import Request, urlopen

from plugins.comfyui.servers import ServerConfig

TIMEOUT_S = 10.0
PREVIEW_IMAGE = 1  # the binary websocket message type of a step preview
_IMAGE_FORMATS = {1: "jpeg", 2: "png"}


class ServerUnreachable(OSError):
    """The server did not answer (down, wrong address, dropped connection)."""


class NotFound(ServerUnreachable):
    """The server answered that what was asked for is not there (HTTP 404)."""


class GraphRefused(ValueError):
    """The server refused a graph (a node or model it lacks, a value out of range)."""


@dataclass(frozen=True)
class Preview:
    """A step preview the server sent: an encoded picture and its format."""

    data: bytes
    format: str


class ComfyUIClient:
    """One server's API. Each call is a short HTTP request (TIMEOUT_S)."""

    def __init__(self, server: ServerConfig, timeout: float = TIMEOUT_S) -> None:
        self.server = server
        self.timeout = timeout

    @property
    def url(self) -> str:
        return self.server.url

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.server.token}"} if self.server.token else {}

    def request(
        self, path: str, body: bytes | None = None, content_type: str = "application/json"
    ) -> bytes:
        """GET `path` (POST when there is a body): the answer's bytes."""
        headers = self._headers()
        if body is not None:
            headers["Content-Type"] = content_type
        request = Request(f"{self.url}{path}", data=body, headers=headers)
        try:
            with urlopen(request, timeout=self.timeout) as answer:
                return answer.read()
        except HTTPError as exc:
            raise self._http_error(path, exc) from None
        except (URLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            message = f"the server {self.server.label} did not answer: {reason}"
            raise ServerUnreachable(message) from None

    def _http_error(self, path: str, exc: HTTPError) -> Exception:
        text = exc.read().decode("utf-8", "replace")
        if exc.code in (401, 403):
            return ServerUnreachable(
                f"the server {self.server.label} refused the token (HTTP {exc.code}); "
                "check it in Settings > Servers"
            )
        if path == "/prompt" and exc.code == 400:
            return GraphRefused(refusal_text(text))
        if exc.code == 404:
            return NotFound(f"the server {self.server.label} has no {path.split('?')[0]}")
        return ServerUnreachable(f"the server {self.server.label} answered HTTP {exc.code}")

    def get_json(self, path: str) -> Any:
        try:
            return json.loads(self.request(path))
        except json.JSONDecodeError:
            raise ServerUnreachable(
                f"{self.server.label} answered {path} with something other than JSON: "
                "is it a ComfyUI server?"
            ) from None

    def post_json(self, path: str, data: Mapping[str, Any]) -> Any:
        answer = self.request(path, json.dumps(data).encode("utf-8"))
        return json.loads(answer) if answer.strip() else None

    def system_stats(self) -> dict[str, Any]:
        return self.get_json("/system_stats")

    def object_info(self) -> dict[str, Any]:
        return self.get_json("/object_info")

    def queue(self) -> dict[str, Any]:
        """{"queue_running": [...], "queue_pending": [...]}; each item's [1] is a prompt id."""
        return self.get_json("/queue")

    def submit(self, graph: Mapping[str, Any], client_id: str) -> str:
        """Queue a graph: its prompt id. GraphRefused when the server refuses it."""
        answer = self.post_json("/prompt", {"prompt": graph, "client_id": client_id})
        if answer.get("node_errors"):
            raise GraphRefused(refusal_text(json.dumps(answer)))
        return str(answer["prompt_id"])

    def history(self, prompt_id: str) -> dict[str, Any] | None:
        """The finished prompt's record (its outputs and status), None while it is not."""
        return self.get_json(f"/history/{prompt_id}").get(prompt_id)

    def view(self, image: Mapping[str, str]) -> bytes:
        """An output file as /history names it ({"filename", "subfolder", "type"})."""
        query = {key: image.get(key, "") for key in ("filename", "subfolder", "type")}
        return self.request(f"/view?{urlencode(query)}")

    def model_metadata(self, folder: str, filename: str) -> dict[str, Any]:
        """The metadata a model file of `folder` ("loras", ...) carries ({} when the server
        shows none: not a .safetensors file, no metadata, or an older server)."""
        query = urlencode({"filename": filename})
        try:
            answer = self.get_json(f"/view_metadata/{quote(folder)}?{query}")
        except NotFound:
            return {}
        return answer if isinstance(answer, dict) else {}

    def upload_image(self, png: bytes, name: str) -> str:
        """Upload a PNG into the server's input folder: the name a LoadImage node takes."""
        boundary = uuid.uuid4().hex
        body = b"".join(
            [
                f"--{boundary}\r\n".encode(),
                f'Content-Disposition: form-data; name="image"; filename="{name}"\r\n'.encode(),
                b"Content-Type: image/png\r\n\r\n",
                png,
                f"\r\n--{boundary}\r\n".encode(),
                b'Content-Disposition: form-data; name="overwrite"\r\n\r\ntrue\r\n',
                f"--{boundary}--\r\n".encode(),
            ]
        )
        answer = json.loads(
            self.request("/upload/image", body, f"multipart/form-data; boundary={boundary}")
        )
        folder = answer.get("subfolder") or ""
        return f"{folder}/{answer['name']}" if folder else str(answer["name"])

    def delete_queued(self, prompt_id: str) -> None:
        self.post_json("/queue", {"delete": [prompt_id]})

    def interrupt(self) -> None:
        """Stop what the server runs now, whoever's it is: check it is ours first."""
        self.request("/interrupt", b"{}")

    def websocket(self, client_id: str) -> Any:
        """The server's websocket for `client_id` (websocket-client's WebSocket; reading it
        times out after a second, so a job can look at its cancel flag)."""
        import websocket

        parts = urlsplit(self.url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        address = f"{scheme}://{parts.netloc}{parts.path}/ws?clientId={client_id}"
        header = [f"{k}: {v}" for k, v in self._headers().items()]
        try:
            socket = websocket.create_connection(address, timeout=self.timeout, header=header)
        except (OSError, websocket.WebSocketException) as exc:
            raise ServerUnreachable(
                f"the server {self.server.label} did not open its websocket: {exc}"
            ) from None
        socket.settimeout(1.0)
        return socket


def running_and_pending(queue: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """The prompt ids running and waiting in a /queue answer."""

    def ids(items: Any) -> list[str]:
        return [str(item[1]) for item in items or () if isinstance(item, list) and len(item) > 1]

    return ids(queue.get("queue_running")), ids(queue.get("queue_pending"))


def preview_of(message: bytes) -> Preview | None:
    """A binary websocket message as a step preview, None when it is another kind."""
    if len(message) < 8:
        return None
    kind, image_format = struct.unpack(">II", message[:8])
    if kind != PREVIEW_IMAGE or image_format not in _IMAGE_FORMATS:
        return None
    return Preview(message[8:], _IMAGE_FORMATS[image_format])


def refusal_text(answer: str) -> str:
    """The server's reasons for refusing a graph, in a line or two."""
    try:
        data = json.loads(answer)
    except json.JSONDecodeError:
        return answer.strip()[:300] or "the server refused the job"
    reasons = []
    error = data.get("error")
    if isinstance(error, Mapping):
        reasons.append(str(error.get("message", "")).strip())
    for node in (data.get("node_errors") or {}).values():
        for item in node.get("errors", ()) if isinstance(node, Mapping) else ():
            detail = str(item.get("details") or item.get("message") or "").strip()
            reasons.append(f"{node.get('class_type', 'a node')}: {detail}")
    return "; ".join(r for r in reasons if r) or "the server refused the job"
