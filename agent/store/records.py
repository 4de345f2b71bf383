"""The store's records of things in flight: approvals, tool calls, command process groups, and
the process identities (``pid:starttime``) that say whose they are.

A mixin of ``agent.store.sqlite.Store`` (which owns the connection, ``_tx`` and ``_lock``), kept apart so
the store's own module stays about threads, events and transcripts. Approvals are projected from
``approval/requested`` and ``approval/resolved`` (in ``Store._project``), so any process sharing
the store can draw the pending ones with their locations; tool calls in flight and the process
groups of running commands are what the repair of a dead turn reads (``agent.engine.recovery``).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from agent.protocol import Approval


def process_identity(pid: int | None = None) -> str:
    """``pid:start-time``: names one process, even after its pid is reused."""
    pid = pid or os.getpid()
    try:
        with open(f"/proc/{pid}/stat") as stat:
            start = stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        start = "?"
    return f"{pid}:{start}"


def pid_running(pid: int) -> bool:
    """Whether ``pid`` names a process that has not exited (a zombie, killed but not yet
    reaped, counts as exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def owner_alive(owner: str) -> bool:
    """Whether the process that wrote ``owner`` still runs (same pid, same start time)."""
    pid_text, _, start = owner.partition(":")
    if not pid_text.isdigit() or not pid_running(int(pid_text)):
        return False
    return start == "?" or process_identity(int(pid_text)) == owner


@dataclass(frozen=True)
class PendingCall:
    """A tool call of an uncommitted assistant message: its item and result, once known."""

    tool_use_id: str
    item_id: str | None
    result: dict[str, Any] | None


@dataclass(frozen=True)
class ApprovalRecord:
    """An approval as the store projected it: pending, resolved (by whom, how) or expired."""

    thread_id: str
    approval: Approval
    status: str
    decision: str | None
    source: str | None
    client_name: str | None


class Records:
    """Queries over the records above; ``Store`` provides the connection and transactions."""

    _db: sqlite3.Connection
    _lock: threading.RLock
    owner: str
    _tx: Callable[[], AbstractContextManager[sqlite3.Connection]]

    # --- approvals -----------------------------------------------------------------------------
    # Projected from approval/requested and approval/resolved (and expired by the end of their
    # turn), so any process sharing the store can draw the pending ones with their locations.

    def pending_approvals(self, workspace: str | None = None, thread_id: str | None = None) -> list[Approval]:
        """Approvals still waiting for an answer, oldest first: of one workspace, one thread, or all."""
        sql = "SELECT a.body FROM approvals a JOIN threads t ON t.id = a.thread_id WHERE a.status='pending'"
        args: list[str] = []
        if workspace is not None:
            sql += " AND t.workspace=?"
            args.append(workspace)
        if thread_id is not None:
            sql += " AND a.thread_id=?"
            args.append(thread_id)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY a.rowid", args).fetchall()
        return [Approval.model_validate_json(r[0]) for r in rows]

    def approval_record(self, approval_id: str) -> ApprovalRecord | None:
        """One approval and how it ended (``pending``, ``resolved`` or ``expired``)."""
        with self._lock:
            row = self._db.execute(
                "SELECT thread_id, body, status, decision, source, client_name FROM approvals WHERE id=?",
                (approval_id,),
            ).fetchone()
        if row is None:
            return None
        return ApprovalRecord(thread_id=row[0], approval=Approval.model_validate_json(row[1]), status=row[2],
                              decision=row[3], source=row[4], client_name=row[5])

    # --- tool calls in flight ----------------------------------------------------------------
    # The assistant message whose tool calls are running is kept here until it is committed
    # to the transcript with all its results, so the repair of a turn that died can tell the
    # model exactly which calls started, which item each became, and what each returned.

    def begin_calls(self, thread_id: str, turn_id: str, assistant: dict[str, Any]) -> None:
        """Record an assistant message whose ``tool_use`` blocks are about to run."""
        body = json.dumps(assistant, separators=(",", ":"))
        calls = [b for b in assistant.get("content", []) if b.get("type") == "tool_use"]
        with self._tx() as db:
            db.execute("DELETE FROM pending_calls WHERE thread_id=?", (thread_id,))
            db.executemany(
                "INSERT INTO pending_calls (thread_id, turn_id, ord, tool_use_id, assistant) VALUES (?,?,?,?,?)",
                [(thread_id, turn_id, i, c["id"], body if i == 0 else "") for i, c in enumerate(calls)],
            )

    def call_item(self, thread_id: str, tool_use_id: str, item_id: str) -> None:
        """The item a running tool call became (its first item, if several)."""
        with self._tx() as db:
            db.execute("UPDATE pending_calls SET item_id=COALESCE(item_id, ?) WHERE thread_id=? AND tool_use_id=?",
                       (item_id, thread_id, tool_use_id))

    def call_result(self, thread_id: str, tool_use_id: str, result: dict[str, Any]) -> None:
        with self._tx() as db:
            db.execute("UPDATE pending_calls SET result=? WHERE thread_id=? AND tool_use_id=?",
                       (json.dumps(result, separators=(",", ":")), thread_id, tool_use_id))

    def pending_calls(self, thread_id: str, turn_id: str) -> tuple[dict[str, Any] | None, list[PendingCall]]:
        """The assistant message still waiting for its results, and each of its calls."""
        with self._lock:
            rows = self._db.execute(
                "SELECT tool_use_id, assistant, item_id, result FROM pending_calls "
                "WHERE thread_id=? AND turn_id=? ORDER BY ord", (thread_id, turn_id)).fetchall()
        if not rows:
            return None, []
        calls = [PendingCall(r[0], r[2], json.loads(r[3]) if r[3] else None) for r in rows]
        return json.loads(rows[0][1]), calls

    # --- command process groups --------------------------------------------------------------

    def record_process(self, thread_id: str, turn_id: str, pgid: int, identity: str) -> None:
        """A command's process group is running for ``turn_id``; ``identity`` is its leader's
        ``pid:start-time``. Recorded with this store's owner, so a repair knows whose it was."""
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO processes (thread_id, turn_id, pgid, identity, owner) "
                "VALUES (?,?,?,?,?)",
                (thread_id, turn_id, pgid, identity, self.owner),
            )

    def forget_process(self, turn_id: str, pgid: int) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM processes WHERE turn_id=? AND pgid=?", (turn_id, pgid))

    def turn_processes(self, turn_id: str) -> list[tuple[int, str, str]]:
        """``(pgid, leader identity, owner)`` of every group still recorded for the turn."""
        with self._lock:
            rows = self._db.execute(
                "SELECT pgid, identity, owner FROM processes WHERE turn_id=? ORDER BY pgid", (turn_id,)
            ).fetchall()
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]
