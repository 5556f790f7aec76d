"""Crash recovery: autosave changed documents to <home>/recovery/<document-id>.atelier.

A clean close deletes the document's recovery file, so any recovery file found when
Atelier starts was left by a crash and can be offered to the user. The GUI calls
`Autosaver.tick()` from a timer (every minute); it writes only when the document changed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from app.model.document import Document
from app.model.project_file import SUFFIX, ProjectFileError, load_project, read_manifest
from app.model.project_file import save_project as _save
from engine.home import atelier_home

RECOVERY = "recovery"


@dataclass(frozen=True)
class RecoveryFile:
    """A recovery file left behind: which document, when, and its original project file."""

    path: Path
    document_id: str
    saved_at: float  # seconds since the epoch
    source: str | None  # the .atelier file the document was saved to, None if never saved

    def load(self) -> Document:
        return load_project(self.path)


def recovery_dir(home: Path | None = None) -> Path:
    return (home or atelier_home()) / RECOVERY


def recovery_path(document_id: str, home: Path | None = None) -> Path:
    if not document_id or any(c in document_id for c in "/\\:") or document_id.startswith("."):
        raise ValueError(f"not a usable document id: {document_id!r}")
    return recovery_dir(home) / f"{document_id}{SUFFIX}"


def write_recovery(
    doc: Document, home: Path | None = None, source: str | os.PathLike[str] | None = None
) -> Path:
    """Save a recovery copy of `doc` (atomically; raises ProjectFileError on failure)."""
    extra = {"recovery_of": str(source) if source else None}
    return _save(doc, recovery_path(doc.id, home), extra)


def find_recovery_files(home: Path | None = None) -> list[RecoveryFile]:
    """Recovery files left by a crash, newest first; unreadable ones are left out (and on
    disk: a damaged recovery file is never deleted behind the user's back)."""
    found = []
    folder = recovery_dir(home)
    for path in folder.glob(f"*{SUFFIX}") if folder.is_dir() else []:
        try:
            manifest = read_manifest(path)
            doc_id = str(manifest["document"]["id"])
            source = (manifest.get("extra") or {}).get("recovery_of")
            found.append(RecoveryFile(path, doc_id, path.stat().st_mtime, source))
        except (ProjectFileError, OSError, KeyError, TypeError):
            continue
    return sorted(found, key=lambda f: f.saved_at, reverse=True)


def discard_recovery(document_id: str, home: Path | None = None) -> None:
    recovery_path(document_id, home).unlink(missing_ok=True)


class Autosaver:
    """Keeps one document's recovery file up to date."""

    def __init__(
        self, doc: Document, home: Path | None = None, source: str | os.PathLike[str] | None = None
    ) -> None:
        self.doc, self.home, self.source = doc, home, source
        self._saved_revision = doc.revision

    @property
    def path(self) -> Path:
        return recovery_path(self.doc.id, self.home)

    @property
    def pending(self) -> bool:
        """The document changed since it was last saved or autosaved."""
        return self.doc.revision != self._saved_revision

    def tick(self) -> Path | None:
        """Write the recovery file if the document changed; returns its path if written."""
        if not self.pending:
            return None
        revision = self.doc.revision
        path = write_recovery(self.doc.snapshot(), self.home, self.source)
        self._saved_revision = revision
        return path

    def saved(self, source: str | os.PathLike[str] | None = None) -> None:
        """The user saved the document (to `source`): the recovery copy is no longer needed."""
        self.source = source or self.source
        self._saved_revision = self.doc.revision
        discard_recovery(self.doc.id, self.home)

    def close(self) -> None:
        """A clean close: remove the recovery file."""
        discard_recovery(self.doc.id, self.home)
