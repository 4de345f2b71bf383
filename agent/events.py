"""The wire events of PROTOCOL.md section 4, as data only: what happened to a thread, numbered.

Each event is a ``Wire`` model on ``EventBase`` (its thread and its ``seq`` there) with a ``type``
literal; ``Event`` joins them in a discriminated union and ``EVENT_ADAPTER`` parses one. The
items, approvals and other vocabulary they carry are in ``agent/protocol.py``. Nothing here does
I/O or holds state: ``agent/engine/events.py`` is what commits and publishes them.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import ConfigDict, Field, TypeAdapter

from agent.protocol import Approval, ApprovalSource, Decision, Item, Thread, Turn, Usage, Wire


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
