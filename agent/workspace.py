"""The workspace as tools see it: a root that paths may not leave, and open buffers.

``Workspace.resolve`` is the single gate for every path a tool touches: relative paths are
taken from the root, symlinks are resolved, and anything that ends up outside the root is
refused. ``Documents`` is how an editor lends its unsaved buffers to the harness; the CLI
passes none, the LSP server passes its mirror of the client's open documents.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, unquote, urlparse


class ToolError(Exception):
    """A failure the model should read and can act on; never ends the turn by itself."""


@dataclass(frozen=True)
class OpenDocument:
    """A buffer the editor has open: its text and the version that text belongs to."""

    uri: str
    text: str
    version: int | None


class Documents(Protocol):
    """Read access to the editor's open buffers, keyed by absolute path."""

    def get(self, path: Path) -> OpenDocument | None: ...

    def unsaved_paths(self) -> list[Path]: ...


class NoDocuments:
    """No editor: every read comes from disk (the CLI)."""

    def get(self, path: Path) -> OpenDocument | None:
        return None

    def unsaved_paths(self) -> list[Path]:
        return []


def path_to_uri(path: Path) -> str:
    return "file://" + quote(str(path), safe="/:")


def uri_to_path(uri: str) -> Path:
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        raise ToolError(f"only file:// URIs are supported, got {uri!r}")
    return Path(unquote(parsed.path))


@dataclass(frozen=True)
class FileText:
    """A file's current text, and where it came from (buffer version or disk)."""

    path: Path
    text: str
    version: int | None  # None: read from disk
    from_buffer: bool
    exists: bool = True


class Workspace:
    """A root directory and the editor's buffers inside it."""

    def __init__(self, root: Path, documents: Documents | None = None) -> None:
        self.root = root.resolve()
        self.documents: Documents = documents or NoDocuments()

    @property
    def key(self) -> str:
        """How the store names this workspace."""
        return str(self.root)

    def resolve(self, raw: str) -> Path:
        """An absolute, symlink-free path inside the root, or a ToolError saying why not."""
        if not raw or "\x00" in raw:
            raise ToolError("path must be a non-empty path inside the workspace")
        candidate = Path(raw).expanduser()
        if not candidate.is_absolute():
            candidate = self.root / candidate
        resolved = Path(os.path.realpath(candidate))
        if resolved != self.root and self.root not in resolved.parents:
            raise ToolError(
                f"{raw!r} is outside the workspace {self.root}; use a path inside it "
                "(relative paths are taken from the workspace root)"
            )
        return resolved

    def relative(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix() or "."
        except ValueError:
            return str(path)

    def uri_for(self, path: Path) -> str:
        """The editor's own URI for an open file (its spelling wins), else a file:// URI."""
        doc = self.documents.get(path)
        return doc.uri if doc is not None else path_to_uri(path)

    def read(self, path: Path) -> FileText:
        """The open buffer's text when the file is open, else the disk's."""
        doc = self.documents.get(path)
        if doc is not None:
            return FileText(path, doc.text, doc.version, from_buffer=True)
        if not path.exists():
            return FileText(path, "", None, from_buffer=False, exists=False)
        if path.is_dir():
            raise ToolError(f"{self.relative(path)} is a directory; use glob to list files")
        if not path.is_file():  # a FIFO or device would block the server
            raise ToolError(f"{self.relative(path)} is not a regular file; it cannot be read")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ToolError(f"{self.relative(path)} cannot be read: {exc.strerror or exc}") from None
        if b"\x00" in data[:8192]:
            raise ToolError(f"{self.relative(path)} is a binary file; it cannot be read as text")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ToolError(f"{self.relative(path)} is not UTF-8 text; it cannot be read") from None
        return FileText(path, text, None, from_buffer=False)
