"""Pure conversions between ACP and the harness: prompts to input parts, items and events to
``session/update``s, turn reports to stop reasons, approvals to permission options.

Nothing here does I/O: a file's current text comes in through a ``read`` callable, so every
function can be tested with plain values. A file change's ``diff`` content needs the file's
old and new text; the item carries unified diffs only, so ``file_texts`` rebuilds both from
the diff and the file as it is now (before the change lands, or after it did).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from acp import schema as s

from agent import (AgentMessageItem, CommandExecutionItem, CompactionItem, Event, FileChangeItem, Item,
                   ItemCompletedEvent, ItemDeltaEvent, ItemStartedEvent, ReasoningItem, SelectionPart,
                   SubagentItem, TextPart, Thread, TodoListItem, ToolCallItem, TurnCompletedEvent, TurnReport,
                   Usage, UserMessageItem, item_title, split_lines)

Read = Callable[[Path], "str | None"]  # a file's text now, None when it does not exist
Update = Any  # one of the acp.schema session update models
CONTEXT_WINDOW = 200_000
MAX_OUTPUT_CHARS = 4000

MODES: dict[str, tuple[str, str]] = {
    "ask": ("Ask", "Ask before every change and command the rules do not allow"),
    "acceptEdits": ("Accept edits", "Apply file changes at once; ask before commands"),
    "readOnly": ("Read only", "Read and search only; no changes, no commands"),
    "bypass": ("Bypass permissions", "Never ask (deny rules still hold)"),
}
# option id -> (ACP option kind, label); the ids are agent-lsp's decisions
PERMISSION_OPTIONS: dict[str, tuple[Literal["allow_once", "allow_always", "reject_once"], str]] = {
    "approve": ("allow_once", "Allow once"),
    "approveForSession": ("allow_always", "Allow for this session"),
    "approveAlways": ("allow_always", "Always allow (saves a rule)"),
    "reject": ("reject_once", "Reject"),
}
TOOL_KINDS = {"read_file": "read", "glob": "search", "grep": "search", "todo_write": "think"}


# --- prompts in --------------------------------------------------------------------------------

def prompt_parts(blocks: list[Any]) -> list[TextPart]:
    """ACP prompt content as input parts; ValueError (saying what to send) for what we cannot take."""
    parts: list[TextPart] = []
    for block in blocks:
        if isinstance(block, s.TextContentBlock):
            parts.append(TextPart(text=block.text))
        elif isinstance(block, s.ResourceContentBlock):
            parts.append(TextPart(text=f"[Attached file: {block.uri}] (read it with read_file if needed)"))
        elif isinstance(block, s.EmbeddedResourceContentBlock) and isinstance(block.resource, s.TextResourceContents):
            fence = "````" if "```" in block.resource.text else "```"
            parts.append(TextPart(text=f"Contents of {block.resource.uri}:\n{fence}\n{block.resource.text}\n{fence}"))
        else:
            kind = getattr(block, "type", type(block).__name__)
            raise ValueError(f"agent-lsp takes text, resource links and embedded text resources in a prompt, "
                             f"not {kind!r} content; send the text or a link to the file instead")
    if not parts:
        raise ValueError("the prompt is empty; send at least one text block")
    return parts


# --- unified diffs -----------------------------------------------------------------------------

_HUNK = re.compile(r"@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")
Hunk = tuple[int, int, list[tuple[str, str]]]  # old start, new start, (tag, line) body


def parse_hunks(diff: str) -> list[Hunk]:
    hunks: list[Hunk] = []
    for line in split_lines(diff):
        if line.startswith("@@"):
            match = _HUNK.match(line)
            if match is None:
                raise ValueError(f"not a hunk header: {line!r}")
            hunks.append((int(match[1]), int(match[2]), []))
        elif hunks and line.startswith("\\"):  # "\ No newline at end of file": the last line has none
            body = hunks[-1][2]
            if body:
                tag, text = body[-1]
                body[-1] = (tag, text[:-1] if text.endswith("\n") else text)
        elif hunks and line[:1] in (" ", "-", "+"):
            hunks[-1][2].append((line[0], line[1:]))
    return hunks


def apply_hunks(text: str, hunks: list[Hunk], reverse: bool = False) -> str | None:
    """``text`` with the hunks applied (or undone), or None when their context does not fit."""
    lines = split_lines(text)
    out: list[str] = []
    pos = 0
    for old_start, new_start, body in hunks:
        old = [line for tag, line in body if tag in (" ", "-")]
        new = [line for tag, line in body if tag in (" ", "+")]
        start = old_start
        if reverse:
            old, new, start = new, old, new_start
        at = max(start - 1, 0) if old else start
        if at < pos or lines[at:at + len(old)] != old:
            return None
        out += lines[pos:at] + new
        pos = at + len(old)
    return "".join(out + lines[pos:])


def file_texts(kind: str, diff: str, current: str | None, landed: bool) -> tuple[str | None, str] | None:
    """(old text, new text) of one file change, from its diff and the file's ``current`` text;
    ``landed`` says which side ``current`` most likely is. None when neither side fits."""
    try:
        hunks = parse_hunks(diff)
    except ValueError:
        return None
    if kind == "add":
        new = apply_hunks("", hunks)
        return (None, new) if new is not None else None
    if kind == "delete":
        old = apply_hunks("", hunks, reverse=True)
        return (old, "") if old is not None else None
    if current is None:
        return None
    for undo in ((True, False) if landed else (False, True)):
        other = apply_hunks(current, hunks, reverse=undo)
        if other is not None:
            return (other, current) if undo else (current, other)
    return None


# --- items and events out ----------------------------------------------------------------------

def _status(item: Item) -> Literal["pending", "in_progress", "completed", "failed"]:
    if isinstance(item, FileChangeItem) and item.outcome in ("rejected", "conflict"):
        return "failed"
    return {"inProgress": "in_progress", "completed": "completed"}.get(item.status, "failed")  # type: ignore[return-value]


def _text(text: str) -> s.ContentToolCallContent:
    if len(text) > MAX_OUTPUT_CHARS:
        text = text[:MAX_OUTPUT_CHARS] + f"\n… ({len(text) - MAX_OUTPUT_CHARS} more characters)"
    return s.ContentToolCallContent(type="content", content=s.TextContentBlock(type="text", text=text))


def is_tool_like(item: Item) -> bool:
    return isinstance(item, (ToolCallItem, FileChangeItem, CommandExecutionItem, SubagentItem, CompactionItem))


def tool_fields(item: Item, root: Path, read: Read) -> dict[str, Any]:
    """kind, title, status, rawInput, locations and content of a tool-like item, as it is now."""
    fields: dict[str, Any] = {"title": item_title(item) or item.type, "status": _status(item)}
    content: list[Any] = []
    if isinstance(item, ToolCallItem):
        fields.update(kind=TOOL_KINDS.get(item.tool, "other"), raw_input=item.input)
        target = item.input.get("path")
        if isinstance(target, str) and target:
            fields["locations"] = [s.ToolCallLocation(path=str(root / target))]
        if item.output:
            content.append(_text(item.output))
    elif isinstance(item, FileChangeItem):
        kinds = {change.kind for change in item.changes}
        fields.update(kind="delete" if kinds == {"delete"} else "edit",
                      raw_input={"changes": [change.to_wire() for change in item.changes]},
                      locations=[s.ToolCallLocation(path=str(root / change.path)) for change in item.changes])
        landed = item.outcome == "applied"
        for change in item.changes:
            path = root / change.path
            texts = file_texts(change.kind, change.diff, read(path), landed)
            content.append(s.FileEditToolCallContent(type="diff", path=str(path), old_text=texts[0], new_text=texts[1])
                           if texts else _text(change.diff))
        if item.outcome in ("rejected", "conflict"):
            content.append(_text(f"Change {item.outcome}."))
    elif isinstance(item, CommandExecutionItem):
        fields.update(kind="execute", raw_input={"command": item.command, "cwd": item.cwd})
        if item.exit_code is not None:
            fields["raw_output"] = {"exitCode": item.exit_code}
        if item.output:
            content.append(_text(f"```\n{item.output.rstrip()}\n```"))
    elif isinstance(item, SubagentItem):
        fields.update(kind="other", raw_input={"description": item.description, "childThreadId": item.child_thread_id})
    elif isinstance(item, CompactionItem):
        fields.update(kind="other")
        if item.summary:
            content.append(_text(item.summary))
    if content:
        fields["content"] = content
    return fields


def plan(item: TodoListItem) -> s.AgentPlanUpdate:
    return s.AgentPlanUpdate(session_update="plan", entries=[
        s.PlanEntry(content=todo.content, status=todo.status, priority="medium") for todo in item.todos])


def _chunk(kind: type, update: str, text: str) -> Update:
    return kind(session_update=update, content=s.TextContentBlock(type="text", text=text))


def user_chunks(item: UserMessageItem) -> list[Update]:
    out = []
    for part in item.content:
        if isinstance(part, TextPart):
            out.append(_chunk(s.UserMessageChunk, "user_message_chunk", part.text))
        elif isinstance(part, SelectionPart):
            line = part.range.start.line + 1
            out.append(_chunk(s.UserMessageChunk, "user_message_chunk", f"[selection in {part.uri} at line {line}]"))
    return out


def replay(item: Item, root: Path, read: Read) -> list[Update]:
    """The updates that show a stored item as it ended (``session/load``)."""
    if isinstance(item, UserMessageItem):
        return user_chunks(item)
    if isinstance(item, AgentMessageItem):
        return [_chunk(s.AgentMessageChunk, "agent_message_chunk", item.text)] if item.text else []
    if isinstance(item, ReasoningItem):
        return [_chunk(s.AgentThoughtChunk, "agent_thought_chunk", item.text)] if item.text else []
    if isinstance(item, TodoListItem):
        return [plan(item)]
    if is_tool_like(item):
        return [s.ToolCallStart(session_update="tool_call", tool_call_id=item.id, **tool_fields(item, root, read))]
    return []


def usage_update(usage: Usage) -> s.UsageUpdate:
    used = usage.input_tokens + usage.cache_read_tokens + usage.cache_creation_tokens + usage.output_tokens
    return s.UsageUpdate(session_update="usage_update", used=min(used, CONTEXT_WINDOW), size=CONTEXT_WINDOW)


class LiveUpdates:
    """Events as they happen, as updates; remembers each item's type so deltas find their kind."""

    def __init__(self, root: Path, read: Read) -> None:
        self.root = root
        self.read = read
        self._kinds: dict[str, str] = {}

    def updates(self, event: Event) -> list[Update]:
        if isinstance(event, ItemStartedEvent):
            item = event.item
            self._kinds[item.id] = item.type
            if isinstance(item, TodoListItem):
                return [plan(item)]
            if is_tool_like(item):
                return [s.ToolCallStart(session_update="tool_call", tool_call_id=item.id,
                                        **tool_fields(item, self.root, self.read))]
        elif isinstance(event, ItemDeltaEvent):
            kind = self._kinds.get(event.item_id)
            if kind == "agentMessage":
                return [_chunk(s.AgentMessageChunk, "agent_message_chunk", event.text)]
            if kind == "reasoning":
                return [_chunk(s.AgentThoughtChunk, "agent_thought_chunk", event.text)]
        elif isinstance(event, ItemCompletedEvent):
            item = event.item
            self._kinds.pop(item.id, None)
            if is_tool_like(item):
                return [s.ToolCallProgress(session_update="tool_call_update", tool_call_id=item.id,
                                           **tool_fields(item, self.root, self.read))]
        elif isinstance(event, TurnCompletedEvent):
            return [usage_update(event.usage)]
        return []


# --- sessions, modes, turns, approvals ---------------------------------------------------------

def modes(current: str) -> s.SessionModeState:
    return s.SessionModeState(current_mode_id=current, available_modes=[
        s.SessionMode(id=mode, name=name, description=description) for mode, (name, description) in MODES.items()])


def session_info(thread: Thread, cwd: Path) -> s.SessionInfo:
    return s.SessionInfo(session_id=thread.id, cwd=str(cwd), title=thread.title, updated_at=thread.updated_at)


def stop_reason(report: TurnReport) -> Literal["end_turn", "max_tokens", "refusal", "cancelled"] | None:
    """The prompt's stop reason; None for a failed turn (answered as an error instead)."""
    if report.status == "completed":
        return "end_turn"
    if report.status == "interrupted":
        return "cancelled"
    error = (report.error or "").lower()
    if "output limit" in error or "max_tokens" in error:
        return "max_tokens"
    if "refus" in error:
        return "refusal"
    return None


def permission_options() -> list[s.PermissionOption]:
    return [s.PermissionOption(option_id=decision, kind=kind, name=name)
            for decision, (kind, name) in PERMISSION_OPTIONS.items()]


def decision(outcome: Any) -> str | None:
    """The decision a permission answer carries; None when the client cancelled it."""
    if isinstance(outcome, s.AllowedOutcome) and outcome.option_id in PERMISSION_OPTIONS:
        return outcome.option_id
    return None
