"""The short human lines that name what the agent does, written once for every surface.

``item_title`` is what a progress report, a terminal line or a status bar says while an item
runs ("Reading src/calc.py", "Running pytest -q"); ``command_title`` is an approval's title for
a command ("Run pytest -q"). A change's title ("Edit src/calc.py", "Patch 3 files") is the
``ChangeSet``'s, named where the change is planned.
"""

from __future__ import annotations

from agent.events import Event, ItemCompletedEvent, TurnCompletedEvent
from agent.protocol import (
    AgentMessageItem,
    CommandExecutionItem,
    CompactionItem,
    FileChangeItem,
    Item,
    ReasoningItem,
    SubagentItem,
    TodoListItem,
    ToolCallItem,
    UserMessageItem,
)

MAX_CHARS = 60
VERBS = {"read_file": "Reading", "glob": "Finding", "grep": "Searching"}


def shorten(text: str, limit: int = MAX_CHARS) -> str:
    """One line, at most ``limit`` characters (an ellipsis marks a cut)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def command_title(command: str) -> str:
    return f"Run {shorten(command)}"


def tool_target(tool: str, arguments: dict[str, object]) -> str:
    """What a tool call is about: its path, or its pattern."""
    target = arguments.get("path") or arguments.get("pattern") or ""
    return str(target)


def item_title(item: Item) -> str | None:
    """The one-line description shown while ``item`` runs; None for the user's own message."""
    if isinstance(item, ToolCallItem):
        verb = VERBS.get(item.tool, item.tool)
        return f"{verb} {tool_target(item.tool, item.input)}".strip()
    if isinstance(item, FileChangeItem):
        return "Editing " + ", ".join(change.path for change in item.changes)
    if isinstance(item, CommandExecutionItem):
        return f"Running {shorten(item.command)}"
    if isinstance(item, AgentMessageItem):
        return "Writing"
    if isinstance(item, ReasoningItem):
        return "Thinking"
    if isinstance(item, TodoListItem):
        return "Updating the plan"
    if isinstance(item, SubagentItem):
        return f"Delegating: {shorten(item.description)}"
    if isinstance(item, CompactionItem):
        return "Compacting context"
    if isinstance(item, UserMessageItem):
        return None
    return None


def recap(events: list[Event]) -> str | None:
    """Two lines on what happened in ``events`` (a client's absence): what was done, and the
    agent's last words; None when nothing finished in them."""
    turns = [e for e in events if isinstance(e, TurnCompletedEvent)]
    done = [e.item for e in events if isinstance(e, ItemCompletedEvent)]
    if not turns and not done:
        return None
    files = sorted({c.path for i in done if isinstance(i, FileChangeItem) and i.outcome == "applied" for c in i.changes})
    commands = sum(isinstance(i, CommandExecutionItem) for i in done)
    parts = [f"{len(turns)} turn{'s' * (len(turns) != 1)} ended"
             + (f" ({', '.join(sorted({t.turn.status for t in turns}))})" if turns else "")]
    if files:
        shown = ", ".join(files[:4]) + (f" and {len(files) - 4} more" if len(files) > 4 else "")
        parts.append(f"changed {shown}")
    if commands:
        parts.append(f"ran {commands} command{'s' * (commands != 1)}")
    said = [i.text for i in done if isinstance(i, AgentMessageItem) and i.text]
    last = f"\nLast: {shorten(said[-1], 160)}" if said else ""
    return "While you were away: " + "; ".join(parts) + "." + last
