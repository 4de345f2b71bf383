"""The wire vocabulary of PROTOCOL.md sections 1, 3, 4 and 5, as data only.

Every model here is a pydantic model with snake_case attributes and camelCase wire names
(``to_wire`` / ``model_validate``). Items and events are discriminated unions on ``type``.
Nothing in this module does I/O or holds state; behaviour lives elsewhere in ``agent/``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel

from agent.workspace import ToolError, check_uri


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
    line: int = Field(ge=0)
    character: int = Field(ge=0)


class Range(Wire):
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
    id: str
    title: str
    created_at: str
    updated_at: str
    status: ThreadStatus = "idle"
    last_seq: int = 0


class Turn(Wire):
    id: str
    thread_id: str
    status: TurnStatus = "running"
    error: str | None = None


class Usage(Wire):
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
    type: Literal["selection"] = "selection"
    uri: DocumentUri
    range: Range


class DiagnosticPart(Wire):
    type: Literal["diagnostic"] = "diagnostic"
    uri: DocumentUri
    diagnostic: dict[str, Any]


InputPart = Annotated[Union[TextPart, SelectionPart, DiagnosticPart], Field(discriminator="type")]


# --- 5. items --------------------------------------------------------------------------------


class ItemBase(Wire):
    id: str
    status: ItemStatus = "inProgress"


class UserMessageItem(ItemBase):
    type: Literal["userMessage"] = "userMessage"
    content: list[InputPart]


class AgentMessageItem(ItemBase):
    type: Literal["agentMessage"] = "agentMessage"
    text: str = ""


class ReasoningItem(ItemBase):
    type: Literal["reasoning"] = "reasoning"
    text: str = ""


class ToolCallItem(ItemBase):
    type: Literal["toolCall"] = "toolCall"
    tool: str
    input: dict[str, Any]
    output: str | None = None


class FileChange(Wire):
    path: str
    kind: Literal["add", "update", "delete"]
    diff: str


class FileChangeItem(ItemBase):
    type: Literal["fileChange"] = "fileChange"
    changes: list[FileChange]
    outcome: Literal["applied", "rejected", "conflict"] | None = None


class CommandExecutionItem(ItemBase):
    type: Literal["commandExecution"] = "commandExecution"
    command: str
    cwd: str
    exit_code: int | None = None
    output: str | None = None


class Todo(Wire):
    content: str
    status: Literal["pending", "in_progress", "completed"]


class TodoListItem(ItemBase):
    type: Literal["todoList"] = "todoList"
    todos: list[Todo]


class SubagentItem(ItemBase):
    type: Literal["subagent"] = "subagent"
    child_thread_id: str
    description: str


class CompactionItem(ItemBase):
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
    id: str
    turn_id: str
    item_id: str
    kind: Literal["fileChange", "command"]
    title: str
    diff: str | None = None
    command: str | None = None
    uri: str | None = None
    range: Range | None = None
    locations: list[Location] | None = None  # v2: one per file it touches


# --- 4. events -------------------------------------------------------------------------------


class EventBase(Wire):
    thread_id: str
    seq: int = 0  # assigned by the store when the event is committed


class ThreadStartedEvent(EventBase):
    type: Literal["thread/started"] = "thread/started"
    thread: Thread


class TurnStartedEvent(EventBase):
    type: Literal["turn/started"] = "turn/started"
    turn: Turn


class ItemStartedEvent(EventBase):
    type: Literal["item/started"] = "item/started"
    turn_id: str
    item: Item


class ItemDeltaEvent(EventBase):
    type: Literal["item/delta"] = "item/delta"
    turn_id: str
    item_id: str
    text: str


class ItemCompletedEvent(EventBase):
    type: Literal["item/completed"] = "item/completed"
    turn_id: str
    item: Item


class ApprovalRequestedEvent(EventBase):
    type: Literal["approval/requested"] = "approval/requested"
    turn_id: str
    approval: Approval


class ApprovalResolvedEvent(EventBase):
    type: Literal["approval/resolved"] = "approval/resolved"
    approval_id: str
    decision: Decision
    source: ApprovalSource
    client_name: str | None = None  # v2: who answered (LSP clientInfo.name, "agent-lsp ask", ...)


class TurnCompletedEvent(EventBase):
    type: Literal["turn/completed"] = "turn/completed"
    turn: Turn
    usage: Usage


class ThreadCompactedEvent(EventBase):
    type: Literal["thread/compacted"] = "thread/compacted"
    item_id: str
    tokens_before: int
    tokens_after: int


Event = Annotated[
    Union[
        ThreadStartedEvent,
        TurnStartedEvent,
        ItemStartedEvent,
        ItemDeltaEvent,
        ItemCompletedEvent,
        ApprovalRequestedEvent,
        ApprovalResolvedEvent,
        TurnCompletedEvent,
        ThreadCompactedEvent,
    ],
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event, config=ConfigDict(defer_build=True))
ITEM_ADAPTER: TypeAdapter[Item] = TypeAdapter(Item, config=ConfigDict(defer_build=True))


# --- 3. request params and results -----------------------------------------------------------


class ThreadStartParams(Wire):
    title: str | None = None


class ThreadListParams(Wire):
    pass


class ThreadResumeParams(Wire):
    thread_id: str
    after_seq: int = Field(default=0, ge=0, le=2**62)


class TurnStartParams(Wire):
    thread_id: str
    input: list[InputPart] = Field(min_length=1)
    work_done_token: str | int | None = None


class TurnInterruptParams(Wire):
    thread_id: str


class ApprovalRespondParams(Wire):
    approval_id: str
    decision: Decision
    message: str | None = None
