"""Which exporter writes a file: among the registered exporters of an output's kind, the one
whose suffixes hold the file's. The export dialog and the CLI both choose this way."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from plugins.api import Exporter, resolve


def exporters_of(exporters: Iterable[Exporter], kind: str) -> list[Exporter]:
    """The exporters that write outputs of `kind` ("images", "video", ...), in order."""
    return [exporter for exporter in exporters if exporter.output == kind]


def exporter_for(path: Path, exporters: Iterable[Exporter], kind: str) -> Exporter:
    """The exporter of `kind` that writes files named like `path`. ValueError saying that
    nothing writes `kind`, or naming the suffixes that work."""
    usable = exporters_of(exporters, kind)
    if not usable:
        raise ValueError(f"Atelier cannot write {kind} to a file yet: no plugin exports {kind}")
    suffix = Path(path).suffix.lower()
    for exporter in usable:
        if suffix in exporter.suffixes:
            return exporter
    defaults = [exporter.suffixes[0] for exporter in usable]
    choices = defaults[0] if len(defaults) == 1 else f"{', '.join(defaults[:-1])} or {defaults[-1]}"
    raise ValueError(f"cannot write {path}: use {choices}")


def export(exporter: Exporter, path: Path, output: Any) -> Path:
    """Write `output` with `exporter`; the path written. OSError or ValueError (from the
    exporter) say what went wrong."""
    return resolve(exporter.write)(path, output)
