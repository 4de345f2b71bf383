"""The store's threads as rows: a thread's record, its lineage and the state kept beside it.

A mixin of ``agent.store.sqlite.Store`` (which owns the connection, ``_tx`` and ``_lock``), like
``agent.store.records``: reading a thread (``get_thread``, ``list_threads``), where a subagent's
thread comes from (``lineage``, ``root_thread``) and the ``ThreadState`` the harness keeps beside
it (system prompt, todos, touched files, grants), changed in one transaction. Creating a thread
commits its first event, so ``create_thread`` stays with the event log in ``agent.store.sqlite``.
``StoredThreadState`` is one thread's state as tools and run_command use it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from agent.context.thread_state import FileKind, ThreadState
from agent.protocol import Thread

if TYPE_CHECKING:
    from agent.store.sqlite import Store


class UnknownThread(LookupError):
    """Raised for a thread id the store does not hold."""


class Threads:
    """Queries over the ``threads`` table; ``Store`` provides the connection and transactions."""

    _db: sqlite3.Connection
    _lock: threading.RLock
    _tx: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def get_thread(self, thread_id: str) -> Thread:
        with self._lock:
            row = self._db.execute(
                "SELECT id, title, created_at, updated_at, status, last_seq, parent_thread_id, kind FROM threads WHERE id=?",
                (thread_id,),
            ).fetchone()
        if row is None:
            raise UnknownThread(thread_id)
        return _thread_from_row(row)

    def thread_workspace(self, thread_id: str) -> str:
        with self._lock:
            row = self._db.execute("SELECT workspace FROM threads WHERE id=?", (thread_id,)).fetchone()
        if row is None:
            raise UnknownThread(thread_id)
        return str(row[0])

    def list_threads(self, workspace: str, parent_thread_id: str | None = None) -> list[Thread]:
        """The workspace's main threads, most recently updated first; with ``parent_thread_id``,
        that thread's subagents, oldest first (the order they were spawned in)."""
        with self._lock:
            if parent_thread_id is None:
                rows = self._db.execute(
                    "SELECT id, title, created_at, updated_at, status, last_seq, parent_thread_id, kind FROM threads "
                    "WHERE workspace=? AND parent_thread_id IS NULL ORDER BY touched DESC", (workspace,)).fetchall()
            else:
                rows = self._db.execute(
                    "SELECT id, title, created_at, updated_at, status, last_seq, parent_thread_id, kind FROM threads "
                    "WHERE workspace=? AND parent_thread_id=? ORDER BY rowid", (workspace, parent_thread_id)).fetchall()
        return [_thread_from_row(r) for r in rows]

    def lineage(self, thread_id: str) -> tuple[str | None, str | None, int]:
        """A thread's parent, the item that spawned it, and its depth (0 for a main thread)."""
        with self._lock:
            row = self._db.execute("SELECT parent_thread_id, spawn_item_id, depth FROM threads WHERE id=?",
                                   (thread_id,)).fetchone()
        if row is None:
            raise UnknownThread(thread_id)
        return row[0], row[1], int(row[2])

    def root_thread(self, thread_id: str) -> str:
        """The main thread a subagent's thread descends from (itself for a main thread)."""
        parent = self.lineage(thread_id)[0]
        while parent is not None:
            thread_id, parent = parent, self.lineage(parent)[0]
        return thread_id

    def thread_state(self, thread_id: str) -> ThreadState:
        """What the harness keeps beside the thread (system prompt, todos, files, grants)."""
        with self._lock:
            row = self._db.execute("SELECT state FROM threads WHERE id=?", (thread_id,)).fetchone()
        if row is None:
            raise UnknownThread(thread_id)
        return ThreadState.model_validate_json(row[0])

    def update_state(self, thread_id: str, change: Callable[[ThreadState], ThreadState]) -> ThreadState:
        """Read, change and write the thread's state in one transaction; returns the new state."""
        with self._tx() as db:
            row = db.execute("SELECT state FROM threads WHERE id=?", (thread_id,)).fetchone()
            if row is None:
                raise UnknownThread(thread_id)
            state = change(ThreadState.model_validate_json(row[0]))
            db.execute("UPDATE threads SET state=? WHERE id=?", (state.model_dump_json(exclude_defaults=True), thread_id))
        return state


def _thread_from_row(row: tuple[Any, ...]) -> Thread:
    return Thread(
        id=row[0], title=row[1], created_at=row[2], updated_at=row[3], status=row[4], last_seq=row[5],
        parent_thread_id=row[6], kind=row[7] or "main",
    )


class StoredThreadState:
    """One thread's state as tools and run_command use it, backed by the store."""

    def __init__(self, store: Store, thread_id: str) -> None:
        self._store = store
        self._thread_id = thread_id

    def load(self) -> ThreadState:
        return self._store.thread_state(self._thread_id)

    def update(self, change: Callable[[ThreadState], ThreadState]) -> ThreadState:
        return self._store.update_state(self._thread_id, change)

    def touch(self, rel: str, kind: FileKind) -> None:
        """Note that the agent read or changed ``rel`` now (compaction re-reads these)."""
        self.update(lambda state: state.touched(rel, kind))

    def record_process(self, turn_id: str, pgid: int, identity: str) -> None:
        """``ProcessLedger`` (agent.engine.supervisor): run_command records its groups here."""
        self._store.record_process(self._thread_id, turn_id, pgid, identity)

    def forget_process(self, turn_id: str, pgid: int) -> None:
        self._store.forget_process(turn_id, pgid)
