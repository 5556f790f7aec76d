"""The ComfyUI servers the designer configured (Settings > Servers), kept in settings.json.

A server is its URL, an optional bearer token and a name to show. Qt-free and torch-free.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from engine.home import load_settings, save_settings

KEY = "comfyui_servers"  # settings.json: a list of {"url", "token", "name"}


@dataclass(frozen=True)
class ServerConfig:
    """One server: `url` as normalise_url gives it, a bearer token ("" = none), a name."""

    url: str
    token: str = ""
    name: str = ""

    @property
    def label(self) -> str:
        """How the server is shown: its name, else its host and port."""
        return self.name or urlsplit(self.url).netloc


def normalise_url(text: str) -> str:
    """A server address as Atelier keeps it: scheme, host and port, no trailing slash
    ("localhost:8188" becomes "http://localhost:8188"). ValueError with a sentence to show
    when it cannot be a server's address."""
    text = text.strip()
    if not text:
        raise ValueError("Type the server's address, e.g. http://192.168.1.20:8188")
    if "://" not in text:
        text = f"http://{text}"
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{text} is not a web address: it must start with http:// or https://")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{text} has a port that is not a number from 1 to 65535") from None
    if not parts.hostname:
        raise ValueError(f"{text} names no host")
    if parts.query or parts.fragment:
        raise ValueError(f"{text}: give only the address, without ? or #")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}{path}"


def load_servers(home: Path | None = None) -> list[ServerConfig]:
    """The configured servers, in the order the designer put them; entries that cannot be
    read are skipped (settings.json may be edited by hand)."""
    servers = []
    for item in load_settings(home).get(KEY, []):
        if not isinstance(item, dict):
            continue
        try:
            url = normalise_url(str(item.get("url", "")))
        except ValueError:
            continue
        servers.append(ServerConfig(url, str(item.get("token", "")), str(item.get("name", ""))))
    return servers


def save_servers(servers: list[ServerConfig], home: Path | None = None) -> None:
    """Keep `servers` in settings.json (SettingsError, a ValueError, when it cannot be
    written)."""
    settings = load_settings(home)
    settings[KEY] = [asdict(server) for server in servers]
    save_settings(settings, home)


def server_for(url: str, home: Path | None = None) -> ServerConfig:
    """The configured server at `url` (with its token), or a new one with no token."""
    url = normalise_url(url)
    return next((s for s in load_servers(home) if s.url == url), ServerConfig(url))


def targets() -> list[tuple[str, str]]:
    """The Backend's targets: each configured server's URL and label."""
    return [(server.url, server.label) for server in load_servers()]
