"""The wire vocabulary of PROTOCOL.md sections 1, 3, 4 and 5, as data only.

Every model here is a pydantic model with snake_case attributes and camelCase wire names
(``to_wire`` / ``model_validate``). Items and events are discriminated unions on ``type``.
Nothing in this module does I/O or holds state; behaviour lives elsewhere in ``agent/``.
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


# --- 4. events -------------------------------------------------------------------------------


class EventBase(Wire):
    """Fields every event has: its thread and its number there."""

    thread_id: str
    seq: int = Field(0, description="per thread, from 1, grows by exactly 1; assigned by the store when "
                                    "the event is committed")


class ThreadStartedEvent(EventBase):
    """A thread was created."""

    type: Literal["thread/started"] = "thread/started"
    thread: Thread


class TurnStartedEvent(EventBase):
    """A turn began."""

    type: Literal["turn/started"] = "turn/started"
    turn: Turn


class ItemStartedEvent(EventBase):
    """An item began, in its first state."""

    type: Literal["item/started"] = "item/started"
    turn_id: str
    item: Item


class ItemDeltaEvent(EventBase):
    """Streamed text appended to an ``agentMessage`` or ``reasoning`` item."""

    type: Literal["item/delta"] = "item/delta"
    turn_id: str
    item_id: str
    text: str


class ItemCompletedEvent(EventBase):
    """An item reached its final state."""

    type: Literal["item/completed"] = "item/completed"
    turn_id: str
    item: Item


class ApprovalRequestedEvent(EventBase):
    """The harness waits for an answer before a tool acts."""

    type: Literal["approval/requested"] = "approval/requested"
    turn_id: str
    approval: Approval


class ApprovalResolvedEvent(EventBase):
    """An approval was answered; the first answer wins."""

    type: Literal["approval/resolved"] = "approval/resolved"
    approval_id: str
    decision: Decision
    source: ApprovalSource
    client_name: str | None = Field(None, description='v2: who answered (the LSP clientInfo.name, '
                                                      '"agent-lsp ask", ...)')


class TurnCompletedEvent(EventBase):
    """A turn stopped, with its final status and token usage."""

    type: Literal["turn/completed"] = "turn/completed"
    turn: Turn
    usage: Usage


CacheMissReason = Literal["tools", "system", "model", "rewritten", "expired"]


class CacheMiss(Wire):
    """Why a request read less of the prompt cache than the previous request left there."""

    reason: CacheMissReason = Field(description="tools, system or model changed; the transcript was rewritten "
                                                "(compaction); or the cache expired after an idle longer "
                                                "than cacheTtl")
    tokens: int = Field(ge=0, description="input tokens that could have been read from the cache and were not")


class TurnUsageEvent(EventBase):
    """What one model request of a turn used and cost (after each request, v2)."""

    type: Literal["turn/usage"] = "turn/usage"
    turn_id: str
    usage: Usage
    cost_usd: float = Field(ge=0, description="this request's cost in US dollars by the price table "
                                              "(setting prices); 0 for a model with no price")
    cache_read_share: float = Field(ge=0, le=1, description="share of this request's input tokens read "
                                                           "from the prompt cache")
    cache_miss: CacheMiss | None = None


class ThreadCompactedEvent(EventBase):
    """The thread's conversation was compacted; the ``compaction`` item precedes it."""

    type: Literal["thread/compacted"] = "thread/compacted"
    item_id: str
    tokens_before: int
    tokens_after: int


class SubagentProgressEvent(EventBase):
    """What a subagent does now, as a short line on its parent's ``subagent`` item (v2)."""

    type: Literal["subagent/progress"] = "subagent/progress"
    item_id: str
    child_thread_id: str
    text: str


class ClientAttachedEvent(EventBase):
    """A surface joined the thread through the agent host (v2): it follows the thread, started a
    turn in it or answered one of its approvals. Not a change of the thread: its order in the
    thread list stays."""

    type: Literal["client/attached"] = "client/attached"
    client_name: str = Field(description='who: the LSP clientInfo.name, "agent-lsp attach", an ACP client\'s name')
    client_id: str = Field(description="one connection to the host; the same name can be attached twice")


class ClientDetachedEvent(EventBase):
    """A surface left the thread (unsubscribed, disconnected, or dropped for not answering)."""

    type: Literal["client/detached"] = "client/detached"
    client_name: str
    client_id: str


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
        TurnUsageEvent,
        SubagentProgressEvent,
        ClientAttachedEvent,
        ClientDetachedEvent,
    ],
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event, config=ConfigDict(defer_build=True))
ITEM_ADAPTER: TypeAdapter[Item] = TypeAdapter(Item, config=ConfigDict(defer_build=True))


# --- 3. request params and results -----------------------------------------------------------


class ThreadStartParams(Wire):
    """Params of ``agent/thread/start``."""

    title: str | None = None


class ThreadListParams(Wire):
    """Params of ``agent/thread/list``: with ``parentThreadId``, that thread's subagents."""

    parent_thread_id: str | None = None


class ThreadResumeParams(Wire):
    """Params of ``agent/thread/resume``."""

    thread_id: str
    after_seq: int = Field(default=0, ge=0, le=2**62)
    limit: int | None = Field(default=None, ge=1, le=100_000,
                              description="at most this many events in the reply; when more remain, the "
                                          "result's nextAfterSeq is the afterSeq of the next page")


class TurnStartParams(Wire):
    """Params of ``agent/turn/start``."""

    thread_id: str
    input: list[InputPart] = Field(min_length=1)
    work_done_token: str | int | None = None


class ThreadSubscribeParams(Wire):
    """``agent/thread/subscribe``: every event after ``afterSeq``, once and in order, then live ones."""

    thread_id: str
    after_seq: int = Field(default=0, ge=0, le=2**62)


class ThreadMemoryParams(Wire):
    """``agent/thread/memory``: the background observer's session note of a thread."""

    thread_id: str


class ThreadUnsubscribeParams(Wire):
    """``agent/thread/unsubscribe``: stop following a thread."""

    thread_id: str


class ThreadCompactParams(Wire):
    """``agent/thread/compact``: compact the thread's context now, optionally guided."""

    thread_id: str
    instructions: str | None = None


class TurnInterruptParams(Wire):
    """Params of ``agent/turn/interrupt``."""

    thread_id: str


class ApprovalRespondParams(Wire):
    """Params of ``agent/approval/respond``."""

    approval_id: str
    decision: Decision
    message: str | None = None
    hunks: list[int] | None = Field(
        None, description="v2, with decision approve: only these hunks of the approval's diff (0-based, in diff "
                          "order across files) are applied; the others are rejected and the model is told which")


class TurnUndoParams(Wire):
    """``agent/turn/undo`` and ``agent/turn/redo``: a turn of the thread (v2)."""

    thread_id: str
    turn_id: str


class FileUndoResult(Wire):
    """What undo or redo did to one file: all the turn's hunks, some (the rest changed since), or none."""

    path: str
    outcome: Literal["reverted", "partly", "skipped"]
    reason: str | None = None


class TurnUndoResult(Wire):
    """Result of ``agent/turn/undo`` and ``agent/turn/redo``."""

    undone: list[FileUndoResult]


# --- 10. the editor's own language intelligence (issue 20) -----------------------------------

EditorQueryKind = Literal["definition", "references", "workspaceSymbols", "hover"]


class EditorDiagnosticsParams(Wire):
    """``agent/editor/diagnostics`` (client → server): every diagnostic the editor shows for a
    document, from every source but agent-lsp itself; the full set each time (empty clears it)."""

    uri: str
    version: int | None = Field(default=None, description="the document version they were published for")
    diagnostics: list[dict[str, Any]] = Field(description="LSP Diagnostic objects: range, severity, code, source, "
                                                          "message")


class EditorQueryParams(Wire):
    """``agent/editor/query`` (server → client, to clients announcing
    ``experimental.agentLsp.editorQueries``): answered from the editor's other language servers as
    ``{results: [{uri, range, text?}]}`` (hover: ``text`` is the hover's text; workspaceSymbols:
    the symbol's name and kind)."""

    kind: EditorQueryKind
    uri: str | None = None
    position: Position | None = Field(default=None, description="0-based line, UTF-16 character")
    query: str | None = Field(default=None, description="workspaceSymbols: the name searched for")
