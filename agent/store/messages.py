"""The store's model transcripts: each thread's API messages, their revision, and the cache watch.

A mixin of ``agent.store.sqlite.Store`` (which owns the connection, ``_tx`` and ``_lock``), like
``agent.store.records``. ``messages`` holds the thread's transcript as the model API takes it,
one row per message; callers append only where the transcript is valid to send, and compaction
replaces a prefix, each in one transaction. Every change bumps the thread's ``transcript_rev``
(a compaction also ``transcript_rewrites``), so a transcript kept in memory
(``agent.context.transcript``) knows with one read whether it is still current. ``cache_watch``
keeps what the thread's last model request left in the prompt cache (``agent.model.pricing``).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from agent.store.threads import UnknownThread


class ModelTranscript:
    """Queries over ``messages`` and ``cache_watch``; ``Store`` provides the connection and transactions."""

    _db: sqlite3.Connection
    _lock: threading.RLock
    _tx: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def transcript_revision(self, thread_id: str) -> int:
        """Bumped by every change of the thread's messages (one indexed read)."""
        with self._lock:
            row = self._db.execute("SELECT transcript_rev FROM threads WHERE id=?", (thread_id,)).fetchone()
        if row is None:
            raise UnknownThread(thread_id)
        return int(row[0])

    def transcript_rewrites(self, thread_id: str) -> int:
        """How many times the thread's transcript was rewritten (compactions)."""
        with self._lock:
            row = self._db.execute("SELECT transcript_rewrites FROM threads WHERE id=?", (thread_id,)).fetchone()
        if row is None:
            raise UnknownThread(thread_id)
        return int(row[0])

    def _bump_transcript(self, db: sqlite3.Connection, thread_id: str, rewrite: bool = False) -> int | None:
        row = db.execute("UPDATE threads SET transcript_rev=transcript_rev+1, "
                         "transcript_rewrites=transcript_rewrites+? WHERE id=? RETURNING transcript_rev",
                         (int(rewrite), thread_id)).fetchone()
        return None if row is None else int(row[0])

    def cache_watch(self, thread_id: str) -> dict[str, Any] | None:
        """What the thread's last model request left in the prompt cache (agent.model.pricing)."""
        with self._lock:
            row = self._db.execute("SELECT body FROM cache_watch WHERE thread_id=?", (thread_id,)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def set_cache_watch(self, thread_id: str, body: dict[str, Any]) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO cache_watch (thread_id, body) VALUES (?,?)",
                       (thread_id, json.dumps(body, separators=(",", ":"))))

    def append_messages(self, thread_id: str, turn_id: str, messages: list[dict[str, Any]]) -> int | None:
        """Append API messages atomically: callers only append at points where the
        transcript is valid to send (an assistant message together with its tool results).
        Calls recorded as in flight are done once their message is in the transcript."""
        with self._tx() as db:
            db.execute("DELETE FROM pending_calls WHERE thread_id=?", (thread_id,))
            row = db.execute(
                "SELECT COALESCE(MAX(idx), -1) FROM messages WHERE thread_id=?", (thread_id,)
            ).fetchone()
            start = int(row[0]) + 1
            db.executemany(
                "INSERT INTO messages (thread_id, idx, turn_id, body) VALUES (?,?,?,?)",
                [
                    (thread_id, start + i, turn_id, json.dumps(m, separators=(",", ":")))
                    for i, m in enumerate(messages)
                ],
            )
            return self._bump_transcript(db, thread_id)

    def replace_messages_prefix(self, thread_id: str, turn_id: str, count: int,
                                messages: list[dict[str, Any]]) -> int | None:
        """Replace the transcript's first ``count`` messages with ``messages``, keeping the
        rest after them, in one transaction: a reader sees the old transcript or the new one."""
        shift = len(messages) - count
        with self._tx() as db:
            db.execute("DELETE FROM messages WHERE thread_id=? AND idx<?", (thread_id, count))
            if shift:  # through negative indexes, so no row collides with another mid-update
                db.execute("UPDATE messages SET idx=-idx-1 WHERE thread_id=? AND idx>=?", (thread_id, count))
                db.execute("UPDATE messages SET idx=-idx-1+? WHERE thread_id=? AND idx<0", (shift, thread_id))
            db.executemany(
                "INSERT INTO messages (thread_id, idx, turn_id, body) VALUES (?,?,?,?)",
                [(thread_id, i, turn_id, json.dumps(m, separators=(",", ":"))) for i, m in enumerate(messages)],
            )
            return self._bump_transcript(db, thread_id, rewrite=True)

    def message_count(self, thread_id: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT COUNT(*) FROM messages WHERE thread_id=?", (thread_id,)).fetchone()
        return int(row[0])

    def messages(self, thread_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM messages WHERE thread_id=? ORDER BY idx", (thread_id,)
            ).fetchall()
        return [json.loads(r[0]) for r in rows]
