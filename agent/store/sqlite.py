"""Durable threads, turns, items, events and model transcripts in SQLite (WAL mode).

The store owns sequence numbers: ``append`` assigns ``seq`` inside a ``BEGIN IMMEDIATE``
transaction, so two processes sharing a file never duplicate a seq, and the event is
committed before the caller may publish it. Items, turns and approvals are projections updated
in the same transaction as the event that changes them, so they never disagree with the log
(``_project``, in ``agent.store.projection``, is the reducer of spec/reducer/README.md; its test vectors run against it).

Each item row carries the seq of the last event that changed it (``changed_seq``), so a resume
after a seq sends only what changed (``resume_page``), a page of events at a time; each thread
carries a transcript revision, bumped by every change of its messages, so a transcript kept in
memory (``agent.context.transcript``) knows with one read whether it is still current.

This module owns the connection, the schema and its migrations, the event log (append, read,
resume pages, usage) and the turns' rows; ``Store`` takes the rest from mixins: thread rows and
state (``agent.store.threads``), model transcripts (``agent.store.messages``), records of things
in flight (``agent.store.records``), the change journal (``agent.store.changes``) and the
projection of events (``agent.store.projection``).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from agent.events import (
    EVENT_ADAPTER,
    ClientAttachedEvent,
    ClientDetachedEvent,
    Event,
    ThreadStartedEvent,
    TurnStartedEvent,
)
from agent.protocol import (
    ITEM_ADAPTER,
    Item,
    Thread,
    Turn,
    Usage,
)
from agent.store.changes import ChangeJournal
from agent.store.projection import Projection, _item_json, _streamed_wire, _with_streamed
from agent.store.messages import ModelTranscript
from agent.store.records import ApprovalRecord, PendingCall, Records, owner_alive, process_identity
from agent.store.threads import StoredThreadState, Threads, UnknownThread, _thread_from_row

SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    id TEXT PRIMARY KEY, workspace TEXT NOT NULL, title TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'idle',
    last_seq INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL DEFAULT '{}',
    touched INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS threads_by_workspace ON threads (workspace, touched);
CREATE INDEX IF NOT EXISTS threads_by_touch ON threads (touched);
CREATE TABLE IF NOT EXISTS turns (
    id TEXT PRIMARY KEY, thread_id TEXT NOT NULL, status TEXT NOT NULL, error TEXT, owner TEXT
);
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY, thread_id TEXT NOT NULL, turn_id TEXT NOT NULL, ord INTEGER NOT NULL,
    body TEXT NOT NULL, streamed TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS items_by_thread ON items (thread_id, ord);
CREATE TABLE IF NOT EXISTS events (
    thread_id TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (thread_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    thread_id TEXT NOT NULL, idx INTEGER NOT NULL, turn_id TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (thread_id, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS processes (
    thread_id TEXT NOT NULL, turn_id TEXT NOT NULL, pgid INTEGER NOT NULL, identity TEXT NOT NULL,
    owner TEXT NOT NULL, PRIMARY KEY (turn_id, pgid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS approvals (
    id TEXT PRIMARY KEY, thread_id TEXT NOT NULL, turn_id TEXT NOT NULL, body TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', decision TEXT, source TEXT, client_name TEXT
);
CREATE INDEX IF NOT EXISTS approvals_by_status ON approvals (status, thread_id);
CREATE TABLE IF NOT EXISTS presence (
    thread_id TEXT NOT NULL, client_id TEXT NOT NULL, client_name TEXT NOT NULL,
    PRIMARY KEY (thread_id, client_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending_calls (
    thread_id TEXT NOT NULL, turn_id TEXT NOT NULL, ord INTEGER NOT NULL, tool_use_id TEXT NOT NULL,
    assistant TEXT NOT NULL, item_id TEXT, result TEXT,
    PRIMARY KEY (thread_id, tool_use_id)
) WITHOUT ROWID;
"""


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def default_state_dir() -> Path:
    """``AGENT_LSP_STATE_DIR``, else the platform's user state directory."""
    configured = os.environ.get("AGENT_LSP_STATE_DIR")
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_state_dir("agent-lsp", appauthor=False))


@dataclass(frozen=True)
class ResumePage:
    """One reply of ``agent/thread/resume``: items and events as wire JSON. ``next_after_seq``
    is set when ``limit`` cut the events off: ask again with it as ``afterSeq``."""

    thread: Thread
    items: list[dict[str, Any]]
    events: list[dict[str, Any]]
    items_complete: bool
    next_after_seq: int | None = None


@dataclass(frozen=True)
class UsageTotals:
    """A thread's model requests so far: their summed tokens and cost."""

    usage: Usage
    cost_usd: float
    requests: int


class Store(Threads, ModelTranscript, Records, ChangeJournal, Projection):
    """One SQLite connection, safe to share between the event loop and worker threads."""

    def __init__(self, path: Path, owner: str | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.owner = owner or process_identity()
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a process crash (kill -9); only power loss can drop
        # the last commits, and then the log is still consistent.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        with self._tx():
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(turns)")}
            if "owner" not in columns:  # stores made before turns had owners
                self._db.execute("ALTER TABLE turns ADD COLUMN owner TEXT")
            self._migrate_paging()
            self._migrate_changes()
        self.loaded_transcripts: OrderedDict[str, Any] = OrderedDict()  # agent.context.transcript's, by thread

    def _migrate_paging(self) -> None:
        """Columns for deltas and the transcript revision (stores made before them: every old
        item counts as changed at its thread's last seq, so a delta never misses one)."""
        if "changed_seq" not in {row[1] for row in self._db.execute("PRAGMA table_info(items)")}:
            self._db.execute("ALTER TABLE items ADD COLUMN changed_seq INTEGER NOT NULL DEFAULT 0")
            self._db.execute("UPDATE items SET changed_seq=(SELECT last_seq FROM threads WHERE id=items.thread_id)")
        self._db.execute("CREATE INDEX IF NOT EXISTS items_by_change ON items (thread_id, changed_seq)")
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(threads)")}
        for column in ("transcript_rev", "transcript_rewrites"):
            if column not in columns:
                self._db.execute(f"ALTER TABLE threads ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0")
        for column, kind in (("parent_thread_id", "TEXT"), ("spawn_item_id", "TEXT"),
                             ("kind", "TEXT NOT NULL DEFAULT 'main'"), ("depth", "INTEGER NOT NULL DEFAULT 0")):
            if column not in columns:  # subagents: a child thread names its parent and the item that spawned it
                self._db.execute(f"ALTER TABLE threads ADD COLUMN {column} {kind}")
        self._db.execute("CREATE INDEX IF NOT EXISTS threads_by_parent ON threads (parent_thread_id)")
        self._db.execute("CREATE TABLE IF NOT EXISTS cache_watch (thread_id TEXT PRIMARY KEY, body TEXT NOT NULL)")

    @classmethod
    def open_default(cls, state_dir: Path | None = None) -> Store:
        return cls((state_dir or default_state_dir()) / "threads.sqlite3")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- threads -----------------------------------------------------------------------------

    def create_thread(self, workspace: str, title: str, *, parent_thread_id: str | None = None,
                      spawn_item_id: str | None = None) -> ThreadStartedEvent:
        """Create a thread and commit its ``thread/started`` event (seq 1); with a parent, a
        subagent's thread one level deeper than its parent."""
        stamp = now_iso()
        kind = "subagent" if parent_thread_id else "main"
        thread = Thread(id=new_id("thr"), title=title, created_at=stamp, updated_at=stamp,
                        parent_thread_id=parent_thread_id, kind=kind)
        with self._tx() as db:
            depth = 0
            if parent_thread_id is not None:
                row = db.execute("SELECT depth FROM threads WHERE id=?", (parent_thread_id,)).fetchone()
                if row is None:
                    raise UnknownThread(parent_thread_id)
                depth = int(row[0]) + 1
            db.execute(
                "INSERT INTO threads (id, workspace, title, created_at, updated_at, parent_thread_id, spawn_item_id, "
                "kind, depth) VALUES (?,?,?,?,?,?,?,?,?)",
                (thread.id, workspace, title, stamp, stamp, parent_thread_id, spawn_item_id, kind, depth),
            )
            thread = thread.model_copy(update={"last_seq": 1})
            event = ThreadStartedEvent(thread_id=thread.id, seq=1, thread=thread)
            self._insert_event(db, event, stamp)
        return event

    # --- events ------------------------------------------------------------------------------

    def append(self, event: Event) -> Event:
        """Assign the next seq, commit the event and its projections, return it numbered."""
        with self._tx() as db:
            return self._append(db, event)

    def begin_turn(self, event: TurnStartedEvent, alive: Callable[[str], bool]) -> Event | str:
        """Append ``turn/started`` unless a live process already runs a turn on the thread
        (checked in the same transaction, so two processes cannot both start one); returns
        the numbered event, or the running turn's id."""
        with self._tx() as db:
            for turn_id, owner in db.execute(
                "SELECT id, COALESCE(owner, '') FROM turns WHERE thread_id=? AND status='running'",
                (event.thread_id,),
            ).fetchall():
                if alive(owner):
                    return str(turn_id)
            return self._append(db, event)

    def _append(self, db: sqlite3.Connection, event: Event) -> Event:
        row = db.execute("SELECT last_seq FROM threads WHERE id=?", (event.thread_id,)).fetchone()
        if row is None:
            raise UnknownThread(event.thread_id)
        numbered = event.model_copy(update={"seq": int(row[0]) + 1})
        self._insert_event(db, numbered, now_iso())
        self._project(db, numbered)
        return numbered

    def _insert_event(self, db: sqlite3.Connection, event: Event, stamp: str) -> None:
        db.execute(
            "INSERT INTO events (thread_id, seq, body) VALUES (?,?,?)",
            (event.thread_id, event.seq, json.dumps(event.to_wire(), separators=(",", ":"))),
        )
        if isinstance(event, (ClientAttachedEvent, ClientDetachedEvent)):  # presence is not activity
            db.execute("UPDATE threads SET last_seq=? WHERE id=?", (event.seq, event.thread_id))
            return
        # `touched` orders threads by last activity without trusting the clock's resolution.
        db.execute(
            "UPDATE threads SET last_seq=?, updated_at=?, "
            "touched=(SELECT COALESCE(MAX(touched), 0) + 1 FROM threads) WHERE id=?",
            (event.seq, stamp, event.thread_id),
        )

    def snapshot(self, thread_id: str, after_seq: int) -> tuple[list[Item], list[Event]]:
        """Items and the events after ``after_seq`` from one read transaction, so another
        process's commit cannot fall between them."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                return self.items(thread_id), self.events_after(thread_id, after_seq)
            finally:
                self._db.execute("COMMIT")

    def resume_page(self, thread_id: str, after_seq: int = 0, limit: int | None = None) -> ResumePage:
        """What a client at ``after_seq`` lacks, as wire JSON (no model round trip): at most
        ``limit`` events after it, and the items whose last change is among them (every item,
        when ``after_seq`` is 0 and no page is cut off). One read transaction."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                row = self._db.execute(
                    "SELECT id, title, created_at, updated_at, status, last_seq, parent_thread_id, kind FROM threads WHERE id=?",
                    (thread_id,)).fetchone()
                if row is None:
                    raise UnknownThread(thread_id)
                thread = _thread_from_row(row)
                sql = "SELECT seq, body FROM events WHERE thread_id=? AND seq>? ORDER BY seq"
                args: tuple[Any, ...] = (thread_id, after_seq)
                if limit is not None:
                    sql += " LIMIT ?"
                    args += (limit + 1,)
                rows = self._db.execute(sql, args).fetchall()
                more = limit is not None and len(rows) > limit
                rows = rows[:limit] if more else rows
                upto = int(rows[-1][0]) if more else max([thread.last_seq] + [int(r[0]) for r in rows[-1:]])
                item_rows = self._db.execute(
                    "SELECT body, streamed FROM items WHERE thread_id=? AND changed_seq>? AND changed_seq<=? "
                    "ORDER BY ord", (thread_id, after_seq, upto)).fetchall()
            finally:
                self._db.execute("COMMIT")
        items = [_streamed_wire(body, streamed) for body, streamed in item_rows]
        return ResumePage(thread=thread.model_copy(update={"last_seq": max(thread.last_seq, upto)}),
                          items=items, events=[json.loads(r[1]) for r in rows],
                          items_complete=after_seq == 0 and not more,
                          next_after_seq=upto if more else None)

    def thread_usage(self, thread_id: str) -> UsageTotals:
        """The thread's tokens and cost so far, summed over its ``turn/usage`` events."""
        fields = ("inputTokens", "outputTokens", "cacheReadTokens", "cacheCreationTokens")
        sums = ", ".join(f"COALESCE(SUM(json_extract(body, '$.usage.{f}')), 0)" for f in fields)
        with self._lock:
            row = self._db.execute(
                f"SELECT COUNT(*), COALESCE(SUM(json_extract(body, '$.costUsd')), 0), {sums} FROM events "
                "WHERE thread_id=? AND json_extract(body, '$.type')='turn/usage'", (thread_id,)).fetchone()
        usage = Usage(input_tokens=int(row[2]), output_tokens=int(row[3]), cache_read_tokens=int(row[4]),
                      cache_creation_tokens=int(row[5]))
        return UsageTotals(usage=usage, cost_usd=round(float(row[1]), 8), requests=int(row[0]))

    def events_after(self, thread_id: str, after_seq: int = 0) -> list[Event]:
        """Every event with ``seq > after_seq``, in order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM events WHERE thread_id=? AND seq>? ORDER BY seq",
                (thread_id, after_seq),
            ).fetchall()
        return [EVENT_ADAPTER.validate_json(r[0]) for r in rows]

    def items(self, thread_id: str) -> list[Item]:
        """The thread's items in order; streamed text is folded into unfinished items."""
        with self._lock:
            rows = self._db.execute(
                "SELECT body, streamed FROM items WHERE thread_id=? ORDER BY ord", (thread_id,)
            ).fetchall()
        return [_with_streamed(ITEM_ADAPTER.validate_json(body), streamed) for body, streamed in rows]

    def running_turns(self, thread_id: str | None = None) -> list[tuple[Turn, str]]:
        """Turns still marked running, with the process that runs them (after a crash,
        those whose process is gone are the ones to repair)."""
        sql = "SELECT id, thread_id, status, error, COALESCE(owner, '') FROM turns WHERE status='running'"
        args: tuple[str, ...] = ()
        if thread_id is not None:
            sql += " AND thread_id=?"
            args = (thread_id,)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [(Turn(id=r[0], thread_id=r[1], status=r[2], error=r[3]), r[4]) for r in rows]

    def latest_turn(self, thread_id: str) -> Turn | None:
        """The thread's last started turn, as ``turn/started`` and ``turn/completed`` left it."""
        with self._lock:
            row = self._db.execute(
                "SELECT id, thread_id, status, error FROM turns WHERE thread_id=? ORDER BY rowid DESC LIMIT 1",
                (thread_id,),
            ).fetchone()
        return None if row is None else Turn(id=row[0], thread_id=row[1], status=row[2], error=row[3])

    def claim_turn(self, turn_id: str, dead_owner: str) -> bool:
        """Take over a running turn whose owner died, in one transaction: True for exactly one
        claimant. A claimant that dies in turn leaves a dead owner, so the next one claims it."""
        with self._tx() as db:
            cursor = db.execute("UPDATE turns SET owner=? WHERE id=? AND status='running' AND COALESCE(owner, '')=?",
                                (self.owner, turn_id, dead_owner))
            return cursor.rowcount == 1

