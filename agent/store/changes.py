"""The store's journal of file changes: what each turn wrote, so a turn can be undone and redone.

A mixin of ``agent.store.sqlite.Store`` (which owns the connection, ``_tx`` and ``_lock``), like
``agent.store.records``. ``file_changes`` keeps, per landed change and file, the text before and
the text after (what the applier wrote; ``None`` for a file that did not exist), with the turn
and item that made it and whether the turn was the agent's own, an undo or a redo.
``turn_undos`` says which agent turns are undone now and by which undo turn (redo reverts that
undo turn's own changes). ``undo_notes`` holds what the model must be told in the thread's next
user message ("The user undid turn ..."), taken once. Commands' effects are not journaled.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Literal

ChangeSource = Literal["agent", "undo", "redo"]

CHANGES_SCHEMA = """
CREATE TABLE IF NOT EXISTS file_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, thread_id TEXT NOT NULL, turn_id TEXT NOT NULL,
    item_id TEXT NOT NULL, source TEXT NOT NULL, path TEXT NOT NULL, kind TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '', before TEXT, after TEXT
);
CREATE INDEX IF NOT EXISTS file_changes_by_turn ON file_changes (turn_id, id);
CREATE INDEX IF NOT EXISTS file_changes_by_thread ON file_changes (thread_id, id);
CREATE TABLE IF NOT EXISTS turn_undos (
    turn_id TEXT PRIMARY KEY, thread_id TEXT NOT NULL, undo_turn_id TEXT NOT NULL,
    undone INTEGER NOT NULL DEFAULT 1, ord INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS undo_notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, thread_id TEXT NOT NULL, text TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class LandedFile:
    """One file of a landed change: its text before and after (``None``: it did not exist)."""

    path: str  # workspace-relative
    kind: Literal["add", "update", "delete"]
    before: str | None
    after: str | None


@dataclass(frozen=True)
class JournaledChange:
    """A ``LandedFile`` as journaled, with the turn and item that made it."""

    thread_id: str
    turn_id: str
    item_id: str
    source: ChangeSource
    title: str
    file: LandedFile


class ChangeJournal:
    """Queries over the journal above; ``Store`` provides the connection and transactions."""

    _db: sqlite3.Connection
    _lock: threading.RLock
    _tx: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def _migrate_changes(self) -> None:
        """Create the journal's tables (stores made before undo simply start with none)."""
        for statement in CHANGES_SCHEMA.split(";"):
            if statement.strip():
                self._db.execute(statement)

    def record_changes(self, thread_id: str, turn_id: str, item_id: str, title: str,
                       files: list[LandedFile], source: ChangeSource = "agent") -> None:
        with self._tx() as db:
            db.executemany(
                "INSERT INTO file_changes (thread_id, turn_id, item_id, source, path, kind, title, before, after) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                [(thread_id, turn_id, item_id, source, f.path, f.kind, title, f.before, f.after) for f in files],
            )

    def turn_changes(self, turn_id: str) -> list[JournaledChange]:
        """The turn's changes, in the order they landed."""
        with self._lock:
            rows = self._db.execute(
                "SELECT thread_id, turn_id, item_id, source, title, path, kind, before, after FROM file_changes "
                "WHERE turn_id=? ORDER BY id", (turn_id,)).fetchall()
        return [JournaledChange(r[0], r[1], r[2], r[3], r[4], LandedFile(r[5], r[6], r[7], r[8])) for r in rows]

    def changed_turns(self, thread_id: str) -> list[tuple[str, bool]]:
        """The thread's agent turns that changed files, oldest first, each with whether it is
        undone now."""
        with self._lock:
            rows = self._db.execute(
                "SELECT c.turn_id, COALESCE(u.undone, 0) FROM file_changes c "
                "LEFT JOIN turn_undos u ON u.turn_id = c.turn_id "
                "WHERE c.thread_id=? AND c.source='agent' GROUP BY c.turn_id ORDER BY MIN(c.id)",
                (thread_id,)).fetchall()
        return [(str(r[0]), bool(r[1])) for r in rows]

    def changed_files(self, thread_id: str) -> list[tuple[str, str, str]]:
        """``(turn id, path, title)`` of every file an agent turn of the thread changed and
        that is not undone, newest first (for code actions on the lines a turn changed)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT c.turn_id, c.path, c.title FROM file_changes c "
                "LEFT JOIN turn_undos u ON u.turn_id = c.turn_id "
                "WHERE c.thread_id=? AND c.source='agent' AND COALESCE(u.undone, 0)=0 ORDER BY c.id DESC",
                (thread_id,)).fetchall()
        return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]

    def undo_of(self, turn_id: str) -> tuple[str, bool] | None:
        """``(undo turn id, undone now)`` for a turn that was ever undone."""
        with self._lock:
            row = self._db.execute("SELECT undo_turn_id, undone FROM turn_undos WHERE turn_id=?",
                                   (turn_id,)).fetchone()
        return (str(row[0]), bool(row[1])) if row else None

    def last_undone(self, thread_id: str) -> str | None:
        """The agent turn of the thread undone most recently and not redone since."""
        with self._lock:
            row = self._db.execute("SELECT turn_id FROM turn_undos WHERE thread_id=? AND undone=1 "
                                   "ORDER BY ord DESC LIMIT 1", (thread_id,)).fetchone()
        return str(row[0]) if row else None

    def mark_undone(self, thread_id: str, turn_id: str, undo_turn_id: str, undone: bool) -> None:
        with self._tx() as db:
            ord_ = db.execute("SELECT COALESCE(MAX(ord), 0) + 1 FROM turn_undos").fetchone()[0]
            db.execute("INSERT OR REPLACE INTO turn_undos (turn_id, thread_id, undo_turn_id, undone, ord) "
                       "VALUES (?,?,?,?,?)", (turn_id, thread_id, undo_turn_id, int(undone), ord_))

    def add_undo_note(self, thread_id: str, text: str) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO undo_notes (thread_id, text) VALUES (?,?)", (thread_id, text))

    def take_undo_notes(self, thread_id: str) -> list[str]:
        """The notes for the thread's next user message, oldest first; each is taken once."""
        with self._tx() as db:
            rows = db.execute("SELECT id, text FROM undo_notes WHERE thread_id=? ORDER BY id",
                              (thread_id,)).fetchall()
            db.execute("DELETE FROM undo_notes WHERE thread_id=?", (thread_id,))
        return [str(r[1]) for r in rows]
