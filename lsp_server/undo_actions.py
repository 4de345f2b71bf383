"""The "Undo agent turn: TITLE" code action, on the lines a finished agent turn changed.

``UndoActions`` reads the store's change journal (``changed_files`` and ``turn_changes``, the
same store in host mode and in-process): for each agent turn of the workspace's threads that
changed the document and is not undone, the lines it wrote are its after-text's lines that
differ from its before-text. They are found in the document as it is now by diffing the
after-text against it, so a line the user (or a later turn) changed since no longer counts,
and lines that moved keep counting. The action runs ``agent.undoTurn [threadId, turnId]``;
the newest turn comes first. Threads with a running turn are left out: undo waits for them.
"""

from __future__ import annotations

import difflib
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types as t

from agent import ToolError, uri_to_path
from lsp_server.convert import command_action

if TYPE_CHECKING:
    from lsp_server.runtime import Runtime

MAX_THREADS = 20  # the newest threads looked at; older turns are undone from the chat or the CLI
CACHE_TURNS = 64
TITLE_LIMIT = 60


@dataclass(frozen=True)
class _Written:
    """What one turn left in one file: its after-text's lines and which of them it wrote."""

    after: list[str]
    lines: frozenset[int]  # 0-based indices into ``after``


def written_lines(before: str | None, after: str) -> _Written:
    """The lines of ``after`` that differ from ``before`` (every line of a created file); a pure
    deletion marks the line that now stands where the deleted lines were."""
    new = after.splitlines(keepends=True)
    if before is None:
        return _Written(new, frozenset(range(len(new))))
    old = before.splitlines(keepends=True)
    marked: set[int] = set()
    for tag, _, _, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if j2 > j1:
            marked.update(range(j1, j2))
        elif new:
            marked.add(min(j1, len(new) - 1))
    return _Written(new, frozenset(marked))


def lines_now(written: _Written, current: str) -> set[int]:
    """The 0-based lines of ``current`` that still hold what the turn wrote."""
    now = current.splitlines(keepends=True)
    if now == written.after:
        return set(written.lines)
    found: set[int] = set()
    matcher = difflib.SequenceMatcher(None, written.after, now, autojunk=False)
    for block in matcher.get_matching_blocks():
        for offset in range(block.size):
            if block.a + offset in written.lines:
                found.add(block.b + offset)
    return found


class UndoActions:
    """Offers the undo code action; remembers what each finished turn wrote (the journal of a
    finished turn never changes)."""

    def __init__(self, root: Path) -> None:
        self._root = Path(os.path.realpath(root))
        self._cache: OrderedDict[tuple[str, str], _Written | None] = OrderedDict()

    def actions(self, runtime: Runtime, uri: str, rng: t.Range) -> list[t.CodeAction]:
        rel = self._rel(uri)
        if rel is None:
            return []
        current: str | None = None
        actions: list[t.CodeAction] = []
        for thread_id in self._threads(runtime):
            seen: set[str] = set()
            for turn_id, path, title in runtime.agent.store.changed_files(thread_id):
                if path != rel or turn_id in seen:
                    continue
                seen.add(turn_id)
                written = self._written(runtime, turn_id, rel)
                if written is None:
                    continue
                if current is None:
                    current = self._text(runtime, uri)
                    if current is None:
                        return []
                held = lines_now(written, current)
                if any(rng.start.line <= line <= max(rng.start.line, rng.end.line) for line in held):
                    actions.append(command_action(f"Undo agent turn: {_short(title)}", "agent.undoTurn",
                                                  thread_id, turn_id))
        return actions

    def _threads(self, runtime: Runtime) -> list[str]:
        threads = [th for th in runtime.agent.list_threads()[:MAX_THREADS] if th.status == "idle"]
        ids = [th.id for th in threads]
        current = runtime.current_thread_id
        if current in ids:  # the thread this editor works in first
            ids.remove(current)
            ids.insert(0, current)
        return ids

    def _written(self, runtime: Runtime, turn_id: str, rel: str) -> _Written | None:
        key = (turn_id, rel)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        records = [c.file for c in runtime.agent.store.turn_changes(turn_id)
                   if c.source == "agent" and c.file.path == rel]
        written = None
        if records and records[-1].after is not None:
            written = written_lines(records[0].before, records[-1].after)
        self._cache[key] = written
        if len(self._cache) > CACHE_TURNS:
            self._cache.popitem(last=False)
        return written

    def _rel(self, uri: str) -> str | None:
        try:
            path = Path(os.path.realpath(uri_to_path(uri)))
        except (ToolError, ValueError, OSError):
            return None
        try:
            return path.relative_to(self._root).as_posix()
        except ValueError:
            return None

    def _text(self, runtime: Runtime, uri: str) -> str | None:
        """The document as the editor has it, else as it is on disk."""
        path = Path(os.path.realpath(uri_to_path(uri)))
        doc = runtime.documents.get(path)
        if doc is not None:
            return doc.text
        try:
            return path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return None


def _short(title: str) -> str:
    line = " ".join(title.split()) or "changes"
    return line if len(line) <= TITLE_LIMIT else line[: TITLE_LIMIT - 3] + "..."
