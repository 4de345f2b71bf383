"""The workspace as tools see it: a root that paths may not leave, and open buffers.

``Workspace.resolve`` is the single gate for every path a tool touches: relative paths are
taken from the root, symlinks are resolved, and anything that ends up outside the root is
refused. ``uri_to_path`` is the gate for URIs: NUL characters, broken percent-escapes and
non-file schemes are refused with a ToolError that says what is wrong. ``Documents`` is how an editor lends its unsaved buffers to the harness; the CLI
passes none, the LSP server passes its mirror of the client's open documents.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote, unquote, urlparse

from agent.policy.secrets import SecretSource

if TYPE_CHECKING:
    from agent.files.sight import EditorSight


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


_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def check_uri(uri: str) -> None:
    """Raise a ToolError if ``uri`` is malformed whatever its scheme: no scheme, a NUL
    (raw or ``%00``), a ``%`` not followed by two hex digits, or escapes that are not UTF-8."""
    if not isinstance(uri, str) or not _SCHEME.match(uri):
        raise ToolError(f"{uri!r} is not a URI; send a file:// URI such as file:///home/me/project/a.py")
    if "\x00" in uri:
        raise ToolError(f"{uri!r} contains a NUL character; no file can have that name")
    bad = _BAD_PERCENT.search(uri)
    if bad is not None:
        raise ToolError(f"{uri!r} has an invalid percent-escape at {uri[bad.start():bad.start() + 3]!r}; "
                        "encode '%' as %25 and use two hex digits after every '%'")
    try:
        decoded = unquote(uri, errors="strict")
    except UnicodeDecodeError:
        raise ToolError(f"{uri!r} has percent-escapes that are not UTF-8; encode the path as UTF-8") from None
    if "\x00" in decoded:
        raise ToolError(f"{uri!r} contains %00 (a NUL character); no file can have that name")


def uri_to_path(uri: str) -> Path:
    """The absolute path a ``file://`` URI names, or a ToolError saying what is wrong with it."""
    check_uri(uri)
    parsed = urlparse(uri)
    if parsed.scheme.lower() != "file":
        raise ToolError(f"only file:// URIs are supported, got {uri!r}")
    if parsed.netloc not in ("", "localhost"):
        raise ToolError(f"{uri!r} names a file on host {parsed.netloc!r}; use a local file:/// URI "
                        "(three slashes before an absolute path)")
    path = unquote(parsed.path)
    if not path.startswith("/"):
        raise ToolError(f"{uri!r} has no absolute path; use file:///absolute/path")
    return Path(path)


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

    def __init__(self, root: Path, documents: Documents | None = None, sight: EditorSight | None = None) -> None:
        from agent.files.sight import EditorSight  # it imports this module

        self.root = root.resolve()
        self.documents: Documents = documents or NoDocuments()
        self.sight = sight or EditorSight()  # the editor's diagnostics and language servers, when lent
        self.secrets = SecretSource(self.root)  # the values to hide, incl. settings' "redact"

    @property
    def key(self) -> str:
        """How the store names this workspace."""
        return str(self.root)

    def resolve(self, raw: str) -> Path:
        """An absolute, symlink-free path inside the root, or a ToolError saying why not."""
        if not isinstance(raw, str) or not raw:
            raise ToolError("path must be a non-empty path inside the workspace")
        if "\x00" in raw:
            raise ToolError(f"{raw!r} contains a NUL character; no file can have that name")
        if raw.startswith("file://"):  # a model may pass the URI it was shown
            raw = str(uri_to_path(raw))
        try:
            candidate = Path(raw).expanduser()
            if not candidate.is_absolute():
                candidate = self.root / candidate
            resolved = Path(os.path.realpath(candidate))
        except (OSError, RuntimeError, ValueError) as exc:
            raise ToolError(f"{raw!r} is not a usable path ({exc}); use a path inside the workspace") from None
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
