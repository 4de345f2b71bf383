"""Planned file changes: their unified diffs, and how they land on disk.

A tool that changes files computes a ``ChangeSet`` first (nothing is written), which the
permission step shows as a diff and an approval. An approved set goes to a ``ChangeApplier``:
the editor's (versioned ``workspace/applyEdit``) or ``DiskApplier`` (atomic replace). Either
way the whole set applies or nothing does, and a file that changed since it was read is a
conflict, never an overwrite.
"""

from __future__ import annotations

import difflib
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from agent.protocol import FileChange, Position, Range


@dataclass(frozen=True)
class PlannedFile:
    """One file's change, computed against ``old_text`` (buffer ``version`` or disk)."""

    path: Path
    rel: str
    kind: Literal["add", "update", "delete"]
    old_text: str
    new_text: str
    version: int | None
    from_buffer: bool

    @property
    def diff(self) -> str:
        return unified_diff(self.rel, self.old_text, self.new_text, self.kind)

    def changed_range(self) -> Range:
        """The lines of ``old_text`` this change replaces (for diagnostics and code actions)."""
        start, old_end, _ = changed_lines(self.old_text, self.new_text)
        end = max(start, old_end)
        return Range(start=Position(line=start, character=0), end=Position(line=end, character=0))

    def to_protocol(self) -> FileChange:
        return FileChange(path=self.rel, kind=self.kind, diff=self.diff)


@dataclass
class ChangeSet:
    title: str
    files: list[PlannedFile] = field(default_factory=list)

    def to_protocol(self) -> list[FileChange]:
        return [f.to_protocol() for f in self.files]

    @property
    def diff(self) -> str:
        return "".join(f.diff for f in self.files)


@dataclass(frozen=True)
class ApplyResult:
    outcome: Literal["applied", "conflict"]
    detail: str = ""


class ChangeApplier(Protocol):
    """Lands an approved change set; all or nothing."""

    async def apply(self, changes: ChangeSet) -> ApplyResult: ...


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def split_lines(text: str) -> list[str]:
    """Lines with their endings, split only where an editor splits (\\n, \\r\\n, \\r)."""
    return _LINE.findall(text)


def text_lines(text: str) -> list[str]:
    """Lines without their endings, numbered as an editor numbers them."""
    return [line.rstrip("\r\n") for line in _LINE.findall(text)]


def unified_diff(rel: str, old: str, new: str, kind: str = "update") -> str:
    a = "/dev/null" if kind == "add" else f"a/{rel}"
    b = "/dev/null" if kind == "delete" else f"b/{rel}"
    lines = list(
        difflib.unified_diff(split_lines(old), split_lines(new), a, b, n=3)
    )
    out: list[str] = []
    for line in lines:
        if line.endswith("\n"):
            out.append(line)
        else:
            out.append(line + "\n\\ No newline at end of file\n")
    return "".join(out)


def changed_lines(old: str, new: str) -> tuple[int, int, int]:
    """(first differing line, end line in old, end line in new), whole lines, 0-based."""
    a = split_lines(old)
    b = split_lines(new)
    start = 0
    while start < len(a) and start < len(b) and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a -= 1
        end_b -= 1
    return start, end_a, end_b


class DiskApplier:
    """Writes change sets to disk atomically, after checking nothing changed underneath."""

    async def apply(self, changes: ChangeSet) -> ApplyResult:
        problem = self.check(changes)
        if problem is not None:
            return problem
        self.write(changes)
        return ApplyResult("applied")

    def check(self, changes: ChangeSet) -> ApplyResult | None:
        """A conflict if any file on disk is not what the change was computed against."""
        for planned in changes.files:
            current = _read_disk(planned.path)
            expected = None if planned.kind == "add" else planned.old_text
            if current != expected:
                state = "already exists" if planned.kind == "add" else "changed on disk since it was read"
                return ApplyResult("conflict", f"{planned.rel} {state}")
        return None

    def write(self, changes: ChangeSet) -> None:
        for planned in changes.files:
            if planned.kind == "delete":
                planned.path.unlink()
            else:
                write_atomic(planned.path, planned.new_text)


def _read_disk(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        return "\x00undecodable"


def write_atomic(path: Path, text: str) -> None:
    """Temporary file in the same folder, fsync, rename: readers see old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o7777 if path.exists() else None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".agent-lsp.tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
