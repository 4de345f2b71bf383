"""The model transcript of one thread: typed messages, in memory and in the store together.

A ``Transcript`` owns both copies of what the model has been told: the list the loop sends and
the ``messages`` rows of the store. Every change goes through it and lands in one
transaction, in units that are valid to send (an assistant message with the results of all its
tool calls), so the two never disagree and a crash never leaves half a unit. ``render`` gives
the request's ``messages`` (consecutive same-role messages joined, as the API wants); where the
prompt-cache breakpoints go is the model adapter's business, not the transcript's.
``replace_prefix`` swaps the oldest messages for new ones in one transaction: what compaction
does.

A loaded thread's transcript stays in memory: ``load`` hands back the instance the store
already holds for the thread unless the stored transcript changed since (its revision, one
indexed read), so a warm turn does not re-read and re-validate every message. ``render`` is
kept up to date as messages are appended (the new messages only), and its dicts are shared
between requests: the adapter reuses their serialized JSON, so nobody may change them in place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from agent.model.pricing import CacheWatch

if TYPE_CHECKING:
    from agent.store.sqlite import Store


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


LOADED_LIMIT = 16  # transcripts of this many threads stay in memory per store


class Transcript:
    """One thread's messages; appends and prefix replacements commit before they show."""

    def __init__(self, store: Store, thread_id: str, messages: list[Message] | None = None,
                 revision: int = -1) -> None:
        self._store = store
        self.thread_id = thread_id
        self._messages: list[Message] = list(messages or [])
        self._rendered: list[dict[str, Any]] = []
        self._revision = revision  # the store's transcript revision this copy matches (-1: unknown)
        self.rewrites = 0  # prefix replacements (compactions) so far: a cache-miss reason, "rewritten"
        self.watch = CacheWatch(load=lambda: store.cache_watch(thread_id),  # what the previous request
                                save=lambda body: store.set_cache_watch(thread_id, body))  # left cached
        self._render_from(0)

    @classmethod
    def load(cls, store: Store, thread_id: str) -> Transcript:
        """The thread's transcript: the one kept in memory if the store's is unchanged since."""
        revision = store.transcript_revision(thread_id)  # read first: a later change reloads
        loaded = store.loaded_transcripts
        cached = loaded.get(thread_id)
        if isinstance(cached, Transcript) and cached._revision == revision >= 0:
            loaded.move_to_end(thread_id)
            return cached
        transcript = cls(store, thread_id, [message(raw) for raw in store.messages(thread_id)], revision)
        transcript.rewrites = store.transcript_rewrites(thread_id)
        if isinstance(cached, Transcript):
            transcript.watch = cached.watch
        loaded[thread_id] = transcript
        loaded.move_to_end(thread_id)
        while len(loaded) > LOADED_LIMIT:
            loaded.popitem(last=False)
        return transcript

    @property
    def messages(self) -> tuple[Message, ...]:
        return tuple(self._messages)

    def __len__(self) -> int:
        return len(self._messages)

    def append(self, turn_id: str, *messages: Message) -> None:
        """Commit a valid unit (e.g. an assistant message and its tool results), then keep it."""
        wires = [m.wire() for m in messages]
        revision = self._store.append_messages(self.thread_id, turn_id, wires)
        self._follow(revision)
        self._messages.extend(messages)
        for wire in wires:
            self._render_one(wire)

    def replace_prefix(self, count: int, replacement: list[Message], turn_id: str) -> None:
        """Swap the first ``count`` messages for ``replacement``, in one transaction."""
        if not 0 <= count <= len(self._messages):
            raise ValueError(f"cannot replace {count} of {len(self._messages)} messages")
        revision = self._store.replace_messages_prefix(self.thread_id, turn_id, count,
                                                       [m.wire() for m in replacement])
        self._follow(revision)
        self._messages[:count] = replacement
        self.rewrites += 1
        self._rendered = []
        self._render_from(0)

    def render(self) -> list[dict[str, Any]]:
        """The request's ``messages``: wire dicts, consecutive same-role messages joined (an
        interrupted or repaired turn can leave two user messages in a row). A new list of
        shared dicts: read them, never change them."""
        return list(self._rendered)

    def _follow(self, revision: int | None) -> None:
        """Keep the revision only if this commit was the next change (no other writer between)."""
        if revision is None or self._revision < 0 or revision != self._revision + 1:
            self._revision = -1
        else:
            self._revision = revision

    def _render_from(self, start: int) -> None:
        for item in self._messages[start:]:
            self._render_one(item.wire())

    def _render_one(self, wire: dict[str, Any]) -> None:
        rendered = self._rendered
        if rendered and rendered[-1]["role"] == wire["role"]:  # a new dict: the old one is shared
            rendered[-1] = {"role": wire["role"], "content": rendered[-1]["content"] + wire["content"]}
        else:
            rendered.append(wire)
