"""The wire vocabulary of PROTOCOL.md sections 1, 3 and 5, as data only: the base, positions, parts and items.

Every model of the protocol is a pydantic model on ``Wire`` here, with snake_case attributes and
camelCase wire names (``to_wire`` / ``model_validate``). This module owns the base, positions,
the vocabulary (threads, turns, usage and the status and decision literals), the input parts,
the items (a discriminated union on ``type``) and approvals. The events that carry them are in
``agent/events.py``; the params and results of the methods in ``agent/params.py``. Nothing here
does I/O or holds state; behaviour lives elsewhere in ``agent/``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel

from agent.files.workspace import ToolError, check_uri


class Wire(BaseModel):
    """Base for every protocol model: camelCase aliases, tolerant of snake_case input."""

    # defer_build: schemas are built on first use, not at import (keeps `initialize` fast)
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid",
                              defer_build=True)

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict sent to clients (camelCase, no ``None`` fields)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# --- positions (LSP-shaped, but independent of lsprotocol) ---------------------------------


class Position(Wire):
    """A position in a document: 0-based line and character (UTF-16 code units by default)."""

    line: int = Field(ge=0)
    character: int = Field(ge=0)


class Range(Wire):
    """A range in a document, LSP-shaped: ``end`` is exclusive."""

    start: Position
    end: Position


# --- 1. vocabulary ---------------------------------------------------------------------------

ThreadStatus = Literal["idle", "running"]
TurnStatus = Literal["running", "completed", "interrupted", "failed"]
ItemStatus = Literal["inProgress", "completed", "failed", "declined", "interrupted"]
PermissionMode = Literal["ask", "acceptEdits", "readOnly", "bypass"]
Decision = Literal["approve", "approveForSession", "approveAlways", "reject"]
ApprovalSource = Literal["codeAction", "request", "message", "policy"]


class Thread(Wire):
    """A durable conversation about one workspace; it survives server and editor restarts."""

    id: str
    title: str
    created_at: str
    updated_at: str
    status: ThreadStatus = "idle"
    last_seq: int = 0
    parent_thread_id: str | None = Field(None, description="v2: the thread whose subagent this thread is")
    kind: Literal["main", "subagent"] = Field("main", description="v2: a subagent's thread takes no direct input")


class Turn(Wire):
    """One user input and all the agent's work until it stops."""

    id: str
    thread_id: str
    status: TurnStatus = "running"
    error: str | None = None


class Usage(Wire):
    """Token counts of a turn, summed over its model requests."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0

    def add(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_creation_tokens=self.cache_creation_tokens + other.cache_creation_tokens,
        )


# --- 3. input parts --------------------------------------------------------------------------


class TextPart(Wire):
    """Plain text the user typed."""

    type: Literal["text"] = "text"
    text: str


def _well_formed_uri(uri: str) -> str:
    try:
        check_uri(uri)
    except ToolError as exc:
        raise ValueError(str(exc)) from None
    return uri


DocumentUri = Annotated[str, AfterValidator(_well_formed_uri)]  # no NUL, no broken %-escapes


class SelectionPart(Wire):
    """A range of a document; the server reads its text itself (from the open buffer if any)."""

    type: Literal["selection"] = "selection"
    uri: DocumentUri
    range: Range


class DiagnosticPart(Wire):
    """An LSP diagnostic of a document for the agent to fix."""

    type: Literal["diagnostic"] = "diagnostic"
    uri: DocumentUri
    diagnostic: dict[str, Any]


InputPart = Annotated[Union[TextPart, SelectionPart, DiagnosticPart], Field(discriminator="type")]


# --- 5. items --------------------------------------------------------------------------------


class ItemBase(Wire):
    """Fields every item has: identity and lifecycle status."""

    id: str
    status: ItemStatus = "inProgress"


class UserMessageItem(ItemBase):
    """The user's input to a turn."""

    type: Literal["userMessage"] = "userMessage"
    content: list[InputPart]


class AgentMessageItem(ItemBase):
    """Text the model wrote to the user; streamed by ``item/delta``."""

    type: Literal["agentMessage"] = "agentMessage"
    text: str = ""


class ReasoningItem(ItemBase):
    """The model's visible reasoning; streamed by ``item/delta``."""

    type: Literal["reasoning"] = "reasoning"
    text: str = ""


class ToolCallItem(ItemBase):
    """A tool call that has no richer item of its own."""

    type: Literal["toolCall"] = "toolCall"
    tool: str
    input: dict[str, Any]
    output: str | None = None


class FileChange(Wire):
    """One file a ``fileChange`` item adds, updates or deletes; ``diff`` is a unified diff."""

    path: str
    kind: Literal["add", "update", "delete"]
    diff: str


class FileChangeItem(ItemBase):
    """Edits to files, proposed and then applied, rejected or in conflict."""

    type: Literal["fileChange"] = "fileChange"
    changes: list[FileChange]
    outcome: Literal["applied", "rejected", "conflict"] | None = None


class CommandExecutionItem(ItemBase):
    """A shell command the agent runs in the workspace."""

    type: Literal["commandExecution"] = "commandExecution"
    command: str
    cwd: str
    exit_code: int | None = None
    output: str | None = None


class Todo(Wire):
    """One entry of the agent's todo list."""

    content: str
    status: Literal["pending", "in_progress", "completed"]


class TodoListItem(ItemBase):
    """The agent's todo list as it stands."""

    type: Literal["todoList"] = "todoList"
    todos: list[Todo]


class SubagentItem(ItemBase):
    """Work delegated to a child thread."""

    type: Literal["subagent"] = "subagent"
    child_thread_id: str
    description: str
    output: str | None = Field(None, description="the child's final report, or what it had done when it stopped")


class CompactionItem(ItemBase):
    """A summary that replaced the earlier conversation sent to the model."""

    type: Literal["compaction"] = "compaction"
    summary: str


Item = Annotated[
    Union[
        UserMessageItem,
        AgentMessageItem,
        ReasoningItem,
        ToolCallItem,
        FileChangeItem,
        CommandExecutionItem,
        TodoListItem,
        SubagentItem,
        CompactionItem,
    ],
    Field(discriminator="type"),
]


class Location(Wire):
    """One file an approval touches (PROTOCOL.md section 10)."""

    uri: str
    range: Range


class Approval(Wire):
    """A question the harness asks before a tool acts; ``title`` is short and human."""

    id: str
    turn_id: str
    item_id: str
    kind: Literal["fileChange", "command"]
    title: str
    diff: str | None = None
    command: str | None = None
    uri: str | None = None
    range: Range | None = None
    locations: list[Location] | None = Field(None, description="v2: one entry per file it touches")


ITEM_ADAPTER: TypeAdapter[Item] = TypeAdapter(Item, config=ConfigDict(defer_build=True))
