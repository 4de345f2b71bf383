"""One turn as a small state machine: prepare → call model → run tools → … → finish.

Each step is a method that returns the next step. The transcript (``agent.transcript``) only
grows at points where it is valid to send: an assistant message is committed together with
the results of all its tool calls (or alone when it called none), so a crash or an interrupt
can never leave a ``tool_use`` without its ``tool_result`` in the store. The request names the
system prompt, the tools and the messages; where the prompt-cache breakpoints go is the model
adapter's business.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from agent.dispatch import ToolDispatcher, ToolOutcome
from agent.items import TurnScope
from agent.model import ModelClient, ModelError, ModelRequest, ModelResponse
from agent.protocol import AgentMessageItem, Event, Item, ItemStartedEvent, ReasoningItem, TurnStatus, Usage
from agent.store import Store
from agent.transcript import Message, ToolResultBlock, Transcript, message

log = logging.getLogger(__name__)

Step = Callable[[], Awaitable["Step | None"]]
MAX_ATTEMPTS = 5
MAX_CONTINUATIONS = 3
INTERRUPTED = "Interrupted by the user: this tool call did not finish. Check its effects before redoing it."
INTERNAL_ERROR = ("Not finished: an internal error in agent-lsp stopped the turn during this tool call. Check "
                  "its effects before redoing it.")


@dataclass
class TurnResult:
    status: TurnStatus
    usage: Usage
    error: str | None = None


@dataclass
class LoopConfig:
    model: str
    max_tokens: int
    system: str
    fallback_model: str | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


class ItemSink:
    """Turns streamed text and thinking blocks into ``agentMessage`` / ``reasoning`` items."""

    def __init__(self, scope: TurnScope) -> None:
        self.scope = scope
        self.open: dict[int, Item] = {}

    def block_started(self, index: int, block_type: str) -> None:
        if block_type == "text":
            self.open[index] = self.scope.start(AgentMessageItem(id=self.scope.new_item_id()))
        elif block_type == "thinking":
            self.open[index] = self.scope.start(ReasoningItem(id=self.scope.new_item_id()))

    def text_delta(self, index: int, text: str) -> None:
        item = self.open.get(index)
        if item is not None:
            self.scope.delta(item.id, text)

    def block_finished(self, index: int, block: dict[str, Any]) -> None:
        item = self.open.pop(index, None)
        if item is not None:
            text = block.get("text", block.get("thinking", ""))
            self.scope.complete(item.model_copy(update={"status": "completed", "text": text}))

    def fail_open(self) -> None:
        """A stream that broke: whatever was shown stays visible, marked failed."""
        for item in self.open.values():
            self.scope.complete(item.model_copy(update={"status": "failed"}))
        self.open.clear()


@dataclass
class TurnRunner:
    scope: TurnScope
    store: Store
    model: ModelClient
    dispatcher: ToolDispatcher
    config: LoopConfig
    transcript: Transcript
    usage: Usage = field(default_factory=Usage)
    _response: ModelResponse | None = None
    _continuations: int = 0
    _shrunk: bool = False

    async def run(self) -> TurnResult:
        """Run the turn from the transcript as it stands (the user's message committed last)."""
        step: Step | None = self._call_model
        try:
            while step is not None:
                step = await step()
        except ModelError as exc:
            return TurnResult("failed", self.usage, str(exc))
        return TurnResult("completed", self.usage)

    # --- steps -------------------------------------------------------------------------------

    async def _call_model(self) -> Step | None:
        self._response = await self._stream_with_recovery()
        response = self._response
        content = clean_content(response.content)
        calls = [b for b in content if b["type"] == "tool_use"]
        if response.stop_reason == "max_tokens":
            return self._continue_after_max_tokens(content)
        if calls:
            return self._run_tools
        if content:
            self._commit([{"role": "assistant", "content": content}])
        return None

    async def _run_tools(self) -> Step | None:
        assert self._response is not None
        content = clean_content(self._response.content)
        calls = [b for b in content if b["type"] == "tool_use"]
        assistant = {"role": "assistant", "content": content}
        # Until the results are committed, the calls are recorded as in flight: if the process
        # dies now, the repair tells the model what each one did (agent.recovery).
        secrets = self.scope.secrets.current()
        self.store.begin_calls(self.scope.thread_id, self.scope.turn_id, secrets.redact_json(assistant))
        results: list[dict[str, Any]] = []
        try:
            for call in calls:
                outcome = await self.dispatcher.run(self._call_scope(call["id"]), call)
                results.append(outcome.result_block(call["id"]))
                self.store.call_result(self.scope.thread_id, call["id"], secrets.redact_json(results[-1]))
        except BaseException as exc:
            # every call gets a result, so the transcript stays valid and the model learns what
            # ran: a tool stopped by the interrupt may say what it did so far (a command's output)
            partial = getattr(exc, "outcome", None)
            filler = INTERRUPTED if isinstance(exc, asyncio.CancelledError) else INTERNAL_ERROR
            for call in calls[len(results):]:
                outcome = partial if isinstance(partial, ToolOutcome) else ToolOutcome(filler, True)
                partial = None
                results.append(outcome.result_block(call["id"]))
            self._commit([assistant, {"role": "user", "content": results}])
            raise
        self._commit([assistant, {"role": "user", "content": results}])
        return self._call_model

    def _call_scope(self, call_id: str) -> TurnScope:
        """The turn's scope, noting in the store which item this tool call became."""
        scope, store = self.scope, self.store

        def emit(event: Event) -> Event:
            numbered = scope.emit(event)
            if isinstance(event, ItemStartedEvent):
                store.call_item(scope.thread_id, call_id, event.item.id)
            return numbered

        return replace(scope, emit=emit)

    def _continue_after_max_tokens(self, content: list[dict[str, Any]]) -> Step | None:
        # A tool_use cut off by the limit is half-formed: drop it, keep the text.
        kept = [b for b in content if b["type"] != "tool_use"]
        if not kept or self._continuations >= MAX_CONTINUATIONS:
            if kept:
                self._commit([{"role": "assistant", "content": kept}])
            raise ModelError("bad_request", "the model hit its output limit repeatedly; the turn stopped")
        self._continuations += 1
        self._commit([
            {"role": "assistant", "content": kept},
            {"role": "user", "content": [{"type": "text", "text": "Continue exactly where you stopped."}]},
        ])
        return self._call_model

    # --- recovery ----------------------------------------------------------------------------

    async def _stream_with_recovery(self) -> ModelResponse:
        model = self.config.model
        overloads = 0
        for attempt in range(1, MAX_ATTEMPTS + 1):
            sink = ItemSink(self.scope)
            try:
                response = await self.model.stream(self.build_request(model), sink)
            except asyncio.CancelledError:
                sink.fail_open()
                raise
            except ModelError as exc:
                sink.fail_open()
                if exc.kind == "prompt_too_long" and not self._shrunk:
                    self._shrunk = True
                    shorter = shorten_tool_results(list(self.transcript.messages))
                    if shorter is not None:
                        self.transcript.replace_prefix(len(shorter), shorter, self.scope.turn_id)
                        continue
                if not exc.retryable or attempt == MAX_ATTEMPTS:
                    raise
                overloads += exc.kind == "overloaded"
                if overloads >= 2 and self.config.fallback_model and model != self.config.fallback_model:
                    log.warning("model %s overloaded; falling back to %s", model, self.config.fallback_model)
                    model = self.config.fallback_model
                await self.config.sleep(backoff(attempt, exc.retry_after))
                continue
            self.usage = self.usage.add(response.usage)
            return response
        raise AssertionError("unreachable")

    # --- request building --------------------------------------------------------------------

    def build_request(self, model: str) -> ModelRequest:
        return ModelRequest(model=model, max_tokens=self.config.max_tokens, system=self.config.system,
                            tools=self.dispatcher.schemas(), messages=self.transcript.render())

    def _commit(self, messages: list[dict[str, Any]]) -> None:
        messages = self.scope.secrets.current().redact_json(messages)  # stored and sent: no secrets
        self.transcript.append(self.scope.turn_id, *(message(m) for m in messages))


SHORT_RESULT_CHARS = 400


def shorten_tool_results(messages: list[Message], keep_last: int = 2) -> list[Message] | None:
    """The messages with long tool results cut, leaving the last ``keep_last`` whole, or None
    when nothing is long. Each cut result says so, so the model knows to re-read if needed."""
    changed = False
    out: list[Message] = []
    for index, item in enumerate(messages):
        if index >= len(messages) - keep_last or item.role != "user":
            out.append(item)
            continue
        blocks = []
        for block in item.content:
            text = block.content if isinstance(block, ToolResultBlock) else None
            if isinstance(text, list):
                text = "".join(part.get("text", "") for part in text if isinstance(part, dict))
            if isinstance(block, ToolResultBlock) and isinstance(text, str) and len(text) > SHORT_RESULT_CHARS:
                removed = len(text) - SHORT_RESULT_CHARS
                block = block.model_copy(update={"content": text[:SHORT_RESULT_CHARS] +
                                                 f"\n[shortened by agent-lsp: {removed} characters removed "
                                                 "to fit the context window]"})
                changed = True
            blocks.append(block)
        out.append(item.model_copy(update={"content": blocks}))
    return out if changed else None


def backoff(attempt: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return min(retry_after, 60.0)
    return min(8.0, 0.5 * 2 ** (attempt - 1)) * (0.75 + random.random() / 2)


def clean_content(content: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop blocks the API would refuse to take back (empty or whitespace-only text)."""
    return [b for b in content if not (b["type"] == "text" and not b.get("text", "").strip())]
