"""The model behind a small interface: one streamed request in, one response out.

The loop only sees ``ModelRequest``, ``ModelResponse``, ``StreamSink`` and ``ModelError``;
the Anthropic SDK lives in ``agent.model.anthropic_api`` and is imported only when a turn first
needs it, so nothing on the path to ``initialize`` pays for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from agent.protocol import Usage

ErrorKind = Literal[
    "auth", "overloaded", "rate_limit", "server", "connection", "stream", "prompt_too_long",
    "bad_request", "timeout", "context_loop",
]


@dataclass(frozen=True)
class ModelRequest:
    """What the loop asks: plain API shapes, no provider-specific markers (cache breakpoints
    are the adapter's; see ``agent.model.anthropic_api.request_body``)."""

    model: str
    max_tokens: int
    system: str
    tools: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    cache_ttl: str = "5m"  # how long the prompt-cache entries it writes live: "5m" or "1h"


@dataclass
class ModelResponse:
    content: list[dict[str, Any]]
    stop_reason: str | None
    usage: Usage = field(default_factory=Usage)
    model: str = ""


class StreamSink(Protocol):
    """Receives the stream as it arrives; ``index`` is the content block's index."""

    def block_started(self, index: int, block_type: str) -> None: ...

    def text_delta(self, index: int, text: str) -> None: ...

    def block_finished(self, index: int, block: dict[str, Any]) -> None: ...


class ModelError(Exception):
    """A failed model call, classified so recovery can decide what to do."""

    def __init__(self, kind: ErrorKind, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.kind in ("overloaded", "rate_limit", "server", "connection", "stream", "timeout")


class ModelClient(Protocol):
    async def stream(self, request: ModelRequest, sink: StreamSink) -> ModelResponse: ...


NO_KEY_MESSAGE = (
    "No Anthropic API key is set. Set ANTHROPIC_API_KEY in the environment agent-lsp runs in "
    "(for example `export ANTHROPIC_API_KEY=sk-ant-...`); for an editor, set it where the "
    "editor is started, then restart the language server."
)


class QuietSink:
    """For requests whose text is not shown as it streams (the compaction summary)."""

    def block_started(self, index: int, block_type: str) -> None:
        pass

    def text_delta(self, index: int, text: str) -> None:
        pass

    def block_finished(self, index: int, block: dict[str, Any]) -> None:
        pass

    def fail_open(self) -> None:
        pass
