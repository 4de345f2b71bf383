"""Repairing turns whose process died mid-turn (``kill -9``, a crash, a power cut).

A turn still marked ``running`` whose owning process is gone is finished here, exactly as
an interrupt would have finished it: unfinished items end ``failed``, unanswered approvals
are resolved as rejected by ``policy``, any ``tool_use`` left without a result gets one,
and ``turn/completed`` (``interrupted``) is appended. Turns of live processes, including
other servers sharing the store, are left alone.
"""

from __future__ import annotations

from typing import Any

from agent.events import EventLog
from agent.protocol import (
    ApprovalRequestedEvent,
    ApprovalResolvedEvent,
    ItemCompletedEvent,
    ItemStartedEvent,
    Turn,
    TurnCompletedEvent,
    Usage,
)
from agent.store import Store, owner_alive
from agent.supervisor import stop_leftovers

DIED = "agent-lsp stopped while this turn was running; the thread is intact and takes new turns."
UNANSWERED = "Not run: agent-lsp stopped before this tool call finished."


def dead_turns(store: Store, workspace: str) -> list[Turn]:
    return [turn for turn, owner in store.running_turns()
            if not owner_alive(owner) and store.thread_workspace(turn.thread_id) == workspace]


def repair_turn(store: Store, log: EventLog, turn: Turn) -> None:
    stop_leftovers(store, turn.id)  # commands it left running stop before anything is told
    started: dict[str, Any] = {}
    finished: set[str] = set()
    approvals: dict[str, str] = {}
    for event in store.events_after(turn.thread_id, 0):
        if isinstance(event, ItemStartedEvent) and event.turn_id == turn.id:
            started[event.item.id] = event.item
        elif isinstance(event, ItemCompletedEvent) and event.turn_id == turn.id:
            finished.add(event.item.id)
        elif isinstance(event, ApprovalRequestedEvent) and event.turn_id == turn.id:
            approvals[event.approval.id] = event.approval.item_id
        elif isinstance(event, ApprovalResolvedEvent):
            approvals.pop(event.approval_id, None)
    for approval_id in approvals:
        log.emit(ApprovalResolvedEvent(thread_id=turn.thread_id, approval_id=approval_id,
                                       decision="reject", source="policy"))
    for item_id, item in started.items():
        if item_id not in finished:
            log.emit(ItemCompletedEvent(thread_id=turn.thread_id, turn_id=turn.id,
                                        item=item.model_copy(update={"status": "failed"})))
    answer_dangling_tool_calls(store, turn)
    log.emit(TurnCompletedEvent(thread_id=turn.thread_id,
                                turn=turn.model_copy(update={"status": "interrupted", "error": DIED}),
                                usage=Usage()))


def answer_dangling_tool_calls(store: Store, turn: Turn) -> None:
    """The transcript is committed in valid units, so this finds nothing unless a store was
    written by something else; it is cheap insurance that the next request is valid."""
    messages = store.messages(turn.thread_id)
    if not messages or messages[-1].get("role") != "assistant":
        return
    content = messages[-1].get("content")
    calls = [b for b in content if b.get("type") == "tool_use"] if isinstance(content, list) else []
    if calls:
        results = [{"type": "tool_result", "tool_use_id": c["id"], "content": UNANSWERED, "is_error": True}
                   for c in calls]
        store.append_messages(turn.thread_id, turn.id, [{"role": "user", "content": results}])


def recover(store: Store, log: EventLog, workspace: str) -> list[Turn]:
    """Repair every dead turn of this workspace; returns them."""
    repaired = dead_turns(store, workspace)
    for turn in repaired:
        repair_turn(store, log, turn)
    return repaired
