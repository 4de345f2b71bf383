"""The model transcript of one thread: typed messages, in memory and in the store together.

A ``Transcript`` owns both copies of what the model has been told: the list the loop sends and
the ``messages`` rows of the store. Every change goes through it and lands in one
transaction, in units that are valid to send (an assistant message with the results of all its
tool calls), so the two never disagree and a crash never leaves half a unit. ``render`` gives
the request's ``messages`` (consecutive same-role messages joined, as the API wants); where the
prompt-cache breakpoints go is the model adapter's business, not the transcript's.
``replace_prefix`` swaps the oldest messages for new ones in one transaction: what compaction
does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

if TYPE_CHECKING:
    from agent.store import Store


class Block(BaseModel):
    """A content block as the Messages API spells it (snake_case, ``type`` first)."""

    model_config = ConfigDict(frozen=True, extra="allow", defer_build=True)

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class TextBlock(Block):
    type: Literal["text"] = "text"
    text: str


class ThinkingBlock(Block):
    type: Literal["thinking"] = "thinking"
    thinking: str
    signature: str = ""


class RedactedThinkingBlock(Block):
    type: Literal["redacted_thinking"] = "redacted_thinking"
    data: str


class ToolUseBlock(Block):
    type: Literal["tool_use"] = "tool_use"
    id: str
    name: str
    input: dict[str, Any]


class ToolResultBlock(Block):
    type: Literal["tool_result"] = "tool_result"
    tool_use_id: str
    content: str | list[dict[str, Any]]
    is_error: bool | None = None


ContentBlock = Annotated[
    Union[TextBlock, ThinkingBlock, RedactedThinkingBlock, ToolUseBlock, ToolResultBlock],
    Field(discriminator="type"),
]


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    role: Literal["user", "assistant"]
    content: list[ContentBlock]

    @classmethod
    def user_text(cls, text: str) -> Message:
        return cls(role="user", content=[TextBlock(text=text)])

    def wire(self) -> dict[str, Any]:
        return {"role": self.role, "content": [block.wire() for block in self.content]}

    def tool_uses(self) -> list[ToolUseBlock]:
        return [block for block in self.content if isinstance(block, ToolUseBlock)]


MESSAGE_ADAPTER: TypeAdapter[Message] = TypeAdapter(Message)


def message(raw: dict[str, Any]) -> Message:
    """A stored or API-shaped message dict as a typed ``Message`` (string content allowed)."""
    content = raw.get("content")
    if isinstance(content, str):
        raw = {"role": raw.get("role"), "content": [{"type": "text", "text": content}]}
    return MESSAGE_ADAPTER.validate_python(raw)


class Transcript:
    """One thread's messages; appends and prefix replacements commit before they show."""

    def __init__(self, store: Store, thread_id: str, messages: list[Message] | None = None) -> None:
        self._store = store
        self.thread_id = thread_id
        self._messages: list[Message] = list(messages or [])
        self._rendered: list[dict[str, Any]] | None = None

    @classmethod
    def load(cls, store: Store, thread_id: str) -> Transcript:
        return cls(store, thread_id, [message(raw) for raw in store.messages(thread_id)])

    @property
    def messages(self) -> tuple[Message, ...]:
        return tuple(self._messages)

    def __len__(self) -> int:
        return len(self._messages)

    def append(self, turn_id: str, *messages: Message) -> None:
        """Commit a valid unit (e.g. an assistant message and its tool results), then keep it."""
        self._store.append_messages(self.thread_id, turn_id, [m.wire() for m in messages])
        self._messages.extend(messages)
        self._rendered = None

    def replace_prefix(self, count: int, replacement: list[Message], turn_id: str) -> None:
        """Swap the first ``count`` messages for ``replacement``, in one transaction."""
        if not 0 <= count <= len(self._messages):
            raise ValueError(f"cannot replace {count} of {len(self._messages)} messages")
        self._store.replace_messages_prefix(self.thread_id, turn_id, count, [m.wire() for m in replacement])
        self._messages[:count] = replacement
        self._rendered = None

    def render(self) -> list[dict[str, Any]]:
        """The request's ``messages``: wire dicts, consecutive same-role messages joined (an
        interrupted or repaired turn can leave two user messages in a row)."""
        if self._rendered is None:
            merged: list[dict[str, Any]] = []
            for item in self._messages:
                wire = item.wire()
                if merged and merged[-1]["role"] == wire["role"]:
                    merged[-1] = {"role": wire["role"], "content": merged[-1]["content"] + wire["content"]}
                else:
                    merged.append(wire)
            self._rendered = merged
        return [dict(m) for m in self._rendered]
