"""Context accounting: about how many input tokens the next request will send, before it goes.

The API says exactly how many a request took (``input_tokens + cache_read_input_tokens +
cache_creation_input_tokens``); what was added to the transcript since is estimated from its
size. ``ContextMeter`` keeps the last measurement with the number of transcript messages it
covered (stored in the thread's state, so a resumed thread knows its size without a request),
and ``estimate`` adds the newer messages at a conservative characters-per-token rate. With no
measurement (a new or just-compacted thread) the whole request is estimated the same way.
The token-counting endpoint is not used: the estimate errs high, and when the API still says
"prompt is too long" the loop compacts reactively.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent.model.base import ModelRequest
from agent.protocol import Usage

if TYPE_CHECKING:
    from agent.context.transcript import Transcript

CHARS_PER_TOKEN = 3.2  # English prose runs near 4; code, JSON and tool output fewer
DEFAULT_WINDOW = 200_000
RESERVE = 13_000  # room for the compaction request itself and the estimate's error
WINDOWS = {"[1m]": 1_000_000}  # model-name markers of larger windows


def context_window(model: str, configured: int | None) -> int:
    if configured is not None:
        return configured
    return next((size for marker, size in WINDOWS.items() if marker in model), DEFAULT_WINDOW)


def auto_compact_at(model: str, window: int | None, max_tokens: int, configured: int | None) -> int:
    """The input size at which the harness compacts before sending (setting autoCompactAt)."""
    if configured is not None:
        return configured
    size = context_window(model, window)
    reserve = min(RESERVE, size // 10)
    return max(size // 4, size - max_tokens - reserve)


def estimate_tokens(value: Any) -> int:
    """Tokens of a JSON-able value, erring high."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return int(len(text) / CHARS_PER_TOKEN) + 1


def request_tokens(request: ModelRequest) -> int:
    """The whole request, estimated: system prompt, tools and messages."""
    return estimate_tokens(request.system) + estimate_tokens(request.tools) + estimate_tokens(request.messages)


@dataclass(frozen=True)
class Measurement:
    """What the API counted for a request, and how many transcript messages it held."""

    tokens: int
    messages: int


class ContextMeter:
    def __init__(self, last: Measurement | None = None) -> None:
        self.last = last

    def measured(self, usage: Usage, messages: int) -> Measurement:
        total = usage.input_tokens + usage.cache_read_tokens + usage.cache_creation_tokens
        self.last = Measurement(total, messages)
        return self.last

    def reset(self) -> None:
        """The transcript was rewritten (compaction): the next estimate starts from scratch."""
        self.last = None

    def estimate(self, request: ModelRequest, transcript: Transcript) -> int:
        """Tokens ``request`` (built from ``transcript``) will send."""
        last = self.last
        messages = transcript.messages
        if last is None or last.messages > len(messages):
            return request_tokens(request)
        return last.tokens + estimate_tokens([m.wire() for m in messages[last.messages:]])
