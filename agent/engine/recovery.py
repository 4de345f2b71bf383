"""Repairing turns whose process died mid-turn (``kill -9``, a crash, a power cut).

A turn still marked ``running`` whose owning process is gone is finished here, exactly as
an interrupt would have finished it: unfinished items end ``failed`` (a command keeping the
output it had printed), unanswered approvals are resolved as rejected by ``policy``, and
``turn/completed`` (``interrupted``) is appended. The model is never left blind: the tool
calls that were in flight are committed with results that say what each one did (an edit
applied or not, a command's output so far), followed by a note that the turn was cut off. Turns of live processes, including
other servers sharing the store, are left alone.
"""

from __future__ import annotations

from typing import Any

from agent.engine.events import EventLog
from agent.events import (
    ApprovalRequestedEvent,
    ItemDeltaEvent,
    ApprovalResolvedEvent,
    ItemCompletedEvent,
    ItemStartedEvent,
    TurnCompletedEvent,
)
from agent.protocol import (
    CommandExecutionItem,
    FileChangeItem,
    Item,
    SubagentItem,
    ToolCallItem,
    Turn,
    Usage,
)
from agent.store.sqlite import Store, owner_alive
from agent.engine.supervisor import stop_leftovers

DIED = "agent-lsp stopped while this turn was running; the thread is intact and takes new turns."
SUBAGENT_DIED = "the agent host stopped before this subagent finished"
UNANSWERED = "Not run: agent-lsp stopped before this tool call finished."
CUT_OFF = ("[agent-lsp] The previous turn was cut off: agent-lsp stopped (a crash or a kill) in the middle "
           "of it. The tool results above say what each call did before that. Check the current state of "
           "anything it touched before you continue, and do not assume an unfinished step happened.")


def dead_turns(store: Store, workspace: str) -> list[tuple[Turn, str]]:
    """Turns of ``workspace`` still marked running whose process is gone, with that owner."""
    return [(turn, owner) for turn, owner in store.running_turns()
            if not owner_alive(owner) and store.thread_workspace(turn.thread_id) == workspace]


def repair_turn(store: Store, log: EventLog, turn: Turn, dead_owner: str) -> bool:
    """Finish a turn whose process (``dead_owner``) died; False when another process claimed
    it first (two servers opening the workspace at once repair it once, not twice)."""
    if not store.claim_turn(turn.id, dead_owner):
        return False
    stop_leftovers(store, turn.id)  # commands it left running stop before anything is told
    started: dict[str, Item] = {}
    latest: dict[str, Item] = {}
    streamed: dict[str, list[str]] = {}
    approvals: dict[str, str] = {}
    for event in store.events_after(turn.thread_id, 0):
        if isinstance(event, ItemStartedEvent) and event.turn_id == turn.id:
            started[event.item.id] = latest[event.item.id] = event.item
        elif isinstance(event, ItemDeltaEvent) and event.turn_id == turn.id:
            streamed.setdefault(event.item_id, []).append(event.text)
        elif isinstance(event, ItemCompletedEvent) and event.turn_id == turn.id:
            latest[event.item.id] = event.item
            started.pop(event.item.id, None)
        elif isinstance(event, ApprovalRequestedEvent) and event.turn_id == turn.id:
            approvals[event.approval.id] = event.approval.item_id
        elif isinstance(event, ApprovalResolvedEvent):
            approvals.pop(event.approval_id, None)
    for approval_id in approvals:
        log.emit(ApprovalResolvedEvent(thread_id=turn.thread_id, approval_id=approval_id,
                                       decision="reject", source="policy"))
    for item_id, item in started.items():  # items the crash left unfinished
        update: dict[str, Any] = {"status": "failed"}
        if isinstance(item, CommandExecutionItem):
            update["output"] = "".join(streamed.get(item_id, []))
        elif isinstance(item, SubagentItem):
            update["output"] = SUBAGENT_DIED
        latest[item_id] = log.emit(ItemCompletedEvent(
            thread_id=turn.thread_id, turn_id=turn.id, item=item.model_copy(update=update))).item  # type: ignore[union-attr]
    tell_the_model(store, turn, latest, set(approvals.values()))
    log.emit(TurnCompletedEvent(thread_id=turn.thread_id,
                                turn=turn.model_copy(update={"status": "interrupted", "error": DIED}),
                                usage=Usage()))
    return True


def tell_the_model(store: Store, turn: Turn, items: dict[str, Item], unanswered: set[str]) -> None:
    """Commit, as valid transcript, what the cut-off turn did: the assistant message whose
    tool calls were running, each call's result (recorded, or rebuilt from its item: an edit
    applied or not, a command's output so far), and a note that the turn was cut off. The
    next request then starts from what really happened, not from before it."""
    assistant, calls = store.pending_calls(turn.thread_id, turn.id)
    messages: list[dict[str, Any]] = []
    if assistant is not None:
        results = [call.result or _rebuilt_result(call.tool_use_id, items.get(call.item_id or ""),
                                                  (call.item_id or "") in unanswered)
                   for call in calls]
        messages = [assistant, {"role": "user", "content": results}]
    messages.append({"role": "user", "content": [{"type": "text", "text": CUT_OFF}]})
    store.append_messages(turn.thread_id, turn.id, messages)


def _rebuilt_result(tool_use_id: str, item: Item | None, was_asking: bool) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": tool_use_id, "content": _what_happened(item, was_asking),
            "is_error": True}


def _what_happened(item: Item | None, was_asking: bool) -> str:
    if item is None:
        return UNANSWERED
    if isinstance(item, FileChangeItem):
        paths = ", ".join(change.path for change in item.changes)
        if item.outcome == "applied":
            return f"Applied before agent-lsp stopped: the change to {paths} is in place."
        if was_asking or item.status == "declined":
            return f"Not applied: agent-lsp stopped while this change to {paths} waited for approval."
        return (f"Unknown: agent-lsp stopped while applying this change to {paths}; it may or may not "
                "have landed. Read the files before redoing it.")
    if isinstance(item, CommandExecutionItem):
        if was_asking:
            return "Not run: agent-lsp stopped while this command waited for approval."
        if item.exit_code is not None:
            return f"Exit code {item.exit_code}\n{item.output or ''}".rstrip()
        output = item.output or ""
        told = f" Output so far:\n{output}" if output else " It had printed nothing."
        return ("agent-lsp stopped while this command was running; the command was stopped with it and "
                f"may have done part of its work.{told}")
    if isinstance(item, SubagentItem):
        return item.output if item.status == "completed" and item.output else (
            f"{SUBAGENT_DIED}; its thread ({item.child_thread_id}) keeps what it did. Check its effects before "
            "redoing the task.")
    if isinstance(item, ToolCallItem) and item.output:
        return item.output if item.status == "completed" else f"Failed: {item.output}"
    if item.status == "completed":
        return "Done before agent-lsp stopped."
    return UNANSWERED


def recover(store: Store, log: EventLog, workspace: str) -> list[Turn]:
    """Repair every dead turn of this workspace; returns those this process repaired."""
    return [turn for turn, owner in dead_turns(store, workspace) if repair_turn(store, log, turn, owner)]
