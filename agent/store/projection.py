"""The store's projection of events: the reducer of spec/reducer/README.md as SQL.

A mixin of ``agent.store.sqlite.Store`` (which owns the connection, ``_tx`` and ``_lock``):
``_project`` folds each event, in the transaction that stores it, into the ``items``, ``turns``,
``approvals`` and ``presence`` tables, so any process sharing the store can draw a thread (its
items, pending approvals, latest turn and who is attached) without replaying its events. The
same vectors (``spec/reducer/vectors``) run against it, the VS Code shim and the Neovim plugin.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from agent.events import (
    ApprovalRequestedEvent,
    ApprovalResolvedEvent,
    ClientAttachedEvent,
    ClientDetachedEvent,
    Event,
    ItemCompletedEvent,
    ItemDeltaEvent,
    ItemStartedEvent,
    TurnCompletedEvent,
    TurnStartedEvent,
)
from agent.protocol import ITEM_ADAPTER, CommandExecutionItem, Item


class Projection:
    """Events into tables; ``Store`` provides the connection, the lock and ``append``."""

    _db: sqlite3.Connection
    _lock: threading.RLock
    owner: str

    append: Callable[[Event], Event]

    def _project(self, db: sqlite3.Connection, event: Event) -> None:
        """The reducer of spec/reducer/README.md, as SQL on the items, turns and approvals tables."""
        if isinstance(event, ItemDeltaEvent):  # only into the streamed field of an unfinished item
            db.execute(
                "UPDATE items SET streamed = streamed || ?, changed_seq=? WHERE id=? AND thread_id=? "
                "AND json_extract(body, '$.status')='inProgress' "
                "AND json_extract(body, '$.type') IN ('agentMessage', 'reasoning', 'commandExecution')",
                (event.text, event.seq, event.item_id, event.thread_id),
            )
        elif isinstance(event, ItemStartedEvent):  # an item already there stays as it is
            db.execute(
                "INSERT OR IGNORE INTO items (id, thread_id, turn_id, ord, body, changed_seq) VALUES (?,?,?,?,?,?)",
                (event.item.id, event.thread_id, event.turn_id, event.seq, _item_json(event.item), event.seq),
            )
        elif isinstance(event, ItemCompletedEvent):  # the final state wins; unknown items are added
            row = db.execute(
                "SELECT body, streamed FROM items WHERE id=? AND thread_id=?", (event.item.id, event.thread_id)
            ).fetchone()
            final = event.item
            if row is None:
                db.execute(
                    "INSERT OR IGNORE INTO items (id, thread_id, turn_id, ord, body, changed_seq) "
                    "VALUES (?,?,?,?,?,?)",
                    (final.id, event.thread_id, event.turn_id, event.seq, _item_json(final), event.seq),
                )
                return
            if isinstance(final, CommandExecutionItem) and final.output is None:
                so_far = _with_streamed(ITEM_ADAPTER.validate_json(row[0]), row[1])
                if isinstance(so_far, CommandExecutionItem) and so_far.output is not None:
                    final = final.model_copy(update={"output": so_far.output})  # kept, e.g. interrupted
            db.execute("UPDATE items SET body=?, streamed='', changed_seq=? WHERE id=?",
                       (_item_json(final), event.seq, final.id))
        elif isinstance(event, ApprovalRequestedEvent):
            approval = event.approval
            db.execute(
                "INSERT OR IGNORE INTO approvals (id, thread_id, turn_id, body) VALUES (?,?,?,?)",
                (approval.id, event.thread_id, event.turn_id,
                 json.dumps(approval.to_wire(), separators=(",", ":"))),
            )
        elif isinstance(event, ApprovalResolvedEvent):  # the first answer wins
            db.execute(
                "UPDATE approvals SET status='resolved', decision=?, source=?, client_name=? "
                "WHERE id=? AND thread_id=? AND status='pending'",
                (event.decision, event.source, event.client_name, event.approval_id, event.thread_id),
            )
        elif isinstance(event, ClientAttachedEvent):
            db.execute("INSERT OR REPLACE INTO presence (thread_id, client_id, client_name) VALUES (?,?,?)",
                       (event.thread_id, event.client_id, event.client_name))
        elif isinstance(event, ClientDetachedEvent):
            db.execute("DELETE FROM presence WHERE thread_id=? AND client_id=?", (event.thread_id, event.client_id))
        elif isinstance(event, TurnStartedEvent):
            db.execute(
                "INSERT INTO turns (id, thread_id, status, owner) VALUES (?,?,?,?)",
                (event.turn.id, event.thread_id, event.turn.status, self.owner),
            )
            db.execute("UPDATE threads SET status='running' WHERE id=?", (event.thread_id,))
        elif isinstance(event, TurnCompletedEvent):
            db.execute(
                "UPDATE turns SET status=?, error=? WHERE id=?",
                (event.turn.status, event.turn.error, event.turn.id),
            )
            db.execute("UPDATE threads SET status='idle' WHERE id=?", (event.thread_id,))
            # nothing can answer an approval of a finished turn any more
            db.execute("UPDATE approvals SET status='expired' WHERE turn_id=? AND status='pending'",
                       (event.turn.id,))

    # --- presence (client/attached, client/detached) -------------------------------------------

    def attached(self, thread_id: str) -> list[tuple[str, str]]:
        """The surfaces attached to a thread now: (client id, client name), in id order."""
        with self._lock:
            rows = self._db.execute("SELECT client_id, client_name FROM presence WHERE thread_id=? ORDER BY client_id",
                                    (thread_id,)).fetchall()
        return [(str(r[0]), str(r[1])) for r in rows]

    def detach_everyone(self) -> list[Event]:
        """At a host's start no surface can be attached: a ``client/detached`` for each one a dead
        host left behind, so every reducer's set of attached surfaces is right again."""
        with self._lock:
            rows = self._db.execute("SELECT thread_id, client_id, client_name FROM presence").fetchall()
        return [self.append(ClientDetachedEvent(thread_id=r[0], seq=0, client_id=r[1], client_name=r[2]))
                for r in rows]


def _item_json(item: Item) -> str:
    return json.dumps(item.to_wire(), separators=(",", ":"))


def _with_streamed(item: Item, streamed: str) -> Item:
    """An unfinished item with its streamed deltas folded into its text, or a command's output."""
    if not streamed:
        return item
    if isinstance(item, CommandExecutionItem):
        return item.model_copy(update={"output": (item.output or "") + streamed})
    if hasattr(item, "text"):
        return item.model_copy(update={"text": item.text + streamed})
    return item


def _streamed_wire(body: str, streamed: str) -> dict[str, Any]:
    """A stored item as wire JSON, with its streamed text folded in (as ``_with_streamed``)."""
    item = json.loads(body)
    if streamed:
        field = "output" if item.get("type") == "commandExecution" else "text"
        item[field] = (item.get(field) or "") + streamed
    return item
