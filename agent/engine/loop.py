"""One turn as a small state machine: prepare → call model → run tools → … → finish.

Each step is a method that returns the next step. The transcript (``agent.context.transcript``) only
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
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from agent.context.memory import Observer
from agent.context.compaction import Rebuilder, summary_request, summary_text, trimmed
from agent.context.budget import CHARS_PER_TOKEN, ContextMeter, Measurement, request_tokens
from agent.engine.dispatch import ToolDispatcher, ToolOutcome
from agent.engine.items import TurnScope
from agent.engine.turns import settle
from agent.model.base import ModelClient, ModelError, ModelRequest, ModelResponse, QuietSink
from agent.model.pricing import Price, Prefix, cache_read_share, cost_usd, digest, price_for
from agent.events import (
    Event,
    ItemStartedEvent,
    ThreadCompactedEvent,
    TurnUsageEvent,
)
from agent.protocol import (
    AgentMessageItem,
    CompactionItem,
    Item,
    ReasoningItem,
    TurnStatus,
    Usage,
)
from agent.store.sqlite import Store
from agent.context.transcript import Transcript, message

log = logging.getLogger(__name__)

Step = Callable[[], Awaitable["Step | None"]]
MAX_ATTEMPTS = 5
MAX_CONTINUATIONS = 3
INTERRUPTED = "Interrupted by the user: this tool call did not finish. Check its effects before redoing it."
MAX_THRASHING = 3
REINJECT_SHARE = 0.15  # of the context before compaction, for re-attached files and user messages
THRASHING = ("the context filled up again right after each of 3 compactions in a row, so the work no longer "
             "fits the model's context window. Split the task into smaller steps in a new thread, read files "
             "in parts, or raise contextWindow/autoCompactAt if the model allows a larger window.")
CLOSING_MID_TURN = "Continue the task from where it stopped; the todo list and files above are current."
CLOSING_MANUAL = "(The user compacted the conversation; wait for their next message.)"
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
    context_window: int = 200_000
    auto_compact_at: int = 180_000
    compact_instructions: str | None = None
    cache_ttl: str = "5m"
    prices: Mapping[str, Price] | None = None
    notice: Callable[[str], None] | None = None  # tells every surface of a retry or a fallback


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
    meter: ContextMeter = field(default_factory=ContextMeter)
    rebuilder: Rebuilder | None = None
    hidden_tools: frozenset[str] = frozenset()  # spawn_agent at the subagent depth limit
    observer: Observer | None = None  # the background session note (agent.context.memory)
    usage: Usage = field(default_factory=Usage)
    _response: ModelResponse | None = None
    _continuations: int = 0
    _reacted: bool = False
    _thrashing: int = 0  # compactions in a row with the context refilled at once
    _responses_since_compaction: int = 2

    async def run(self, first: str = "model") -> TurnResult:
        """Run the turn from the transcript as it stands (the user's message committed last);
        ``first="compact"`` runs only a compaction (``agent/thread/compact``)."""
        step: Step | None = self._call_model if first == "model" else self._compact_only
        try:
            while step is not None:
                step = await step()
        except ModelError as exc:
            return TurnResult("failed", self.usage, str(exc))
        return TurnResult("completed", self.usage)

    # --- steps -------------------------------------------------------------------------------

    async def _call_model(self) -> Step | None:
        request = self.build_request(self.config.model)
        if self.meter.estimate(request, self.transcript) >= self.config.auto_compact_at:
            await self._compact("auto")  # at a valid point: every unit before it is committed
            return self._call_model  # measured again: a context that refills at once compacts again
        try:
            self._response = await self._stream_with_recovery(self.build_request, ItemSink(self.scope))
        except ModelError as exc:
            if exc.kind != "prompt_too_long" or self._reacted:
                raise
            self._reacted = True  # the estimate was short: compact once, then try again
            await self._compact("reactive")
            return self._call_model
        self._reacted = False
        self._responses_since_compaction += 1
        self._measured(self._response.usage)
        if self.observer is not None:  # the transcript is as that request sent it
            used = self._response.usage
            self.observer.after_response(self.scope.thread_id, self.build_request(self.config.model),
                                         len(self.transcript), used.input_tokens + used.cache_read_tokens
                                         + used.cache_creation_tokens)
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
        # dies now, the repair tells the model what each one did (agent.engine.recovery).
        secrets = self.scope.secrets.current()
        self.store.begin_calls(self.scope.thread_id, self.scope.turn_id, secrets.redact_json(assistant))
        results: list[dict[str, Any]] = []
        # several spawn_agent calls run at once (the subagents' limit applies); the results keep
        # the order of the calls
        parallel = {c["id"]: asyncio.ensure_future(self._guarded(c, assistant)) for c in calls
                    if c["name"] == "spawn_agent"} if sum(c["name"] == "spawn_agent" for c in calls) > 1 else {}
        try:
            for call in calls:
                task = parallel.get(call["id"])
                # shielded: a subagent's wrapper turns its own cancel into an outcome, which must
                # not swallow the cancel of this turn
                outcome = await asyncio.shield(task) if task else await self.dispatcher.run(self._call_scope(call["id"], assistant),
                                                                            call)
                results.append(outcome.result_block(call["id"]))
                self.store.call_result(self.scope.thread_id, call["id"], secrets.redact_json(results[-1]))
        except BaseException as exc:
            # every call gets a result, so the transcript stays valid and the model learns what
            # ran: a tool stopped by the interrupt may say what it did so far (a command's output)
            partial = getattr(exc, "outcome", None)
            filler = INTERRUPTED if isinstance(exc, asyncio.CancelledError) else INTERNAL_ERROR
            running = [parallel[c["id"]] for c in calls[len(results):] if c["id"] in parallel]
            for task in running:  # every subagent still running or queued stops, and is stored, first
                task.cancel()
            await settle(running)
            for call in calls[len(results):]:
                task = parallel.get(call["id"])
                if task is not None:
                    outcome = _outcome_of(task)
                else:
                    outcome = partial if isinstance(partial, ToolOutcome) else ToolOutcome(filler, True)
                    partial = None
                results.append(outcome.result_block(call["id"]))
            self._commit([assistant, {"role": "user", "content": results}])
            raise
        self._commit([assistant, {"role": "user", "content": results}])
        return self._call_model

    async def _guarded(self, call: dict[str, Any], assistant: dict[str, Any]) -> ToolOutcome:
        """A call run as its own task: an interrupt gives its outcome instead of raising."""
        try:
            return await self.dispatcher.run(self._call_scope(call["id"], assistant), call)
        except asyncio.CancelledError as exc:
            partial = getattr(exc, "outcome", None)
            return partial if isinstance(partial, ToolOutcome) else ToolOutcome(INTERRUPTED, True)

    def _call_scope(self, call_id: str, assistant: dict[str, Any] | None = None) -> TurnScope:
        """The turn's scope, noting in the store which item this tool call became."""
        scope, store = self.scope, self.store

        def emit(event: Event) -> Event:
            numbered = scope.emit(event)
            if isinstance(event, ItemStartedEvent):
                store.call_item(scope.thread_id, call_id, event.item.id)
            return numbered

        fork_base = (lambda: (self.transcript.render(), assistant)) if assistant is not None else None
        return replace(scope, emit=emit, fork_base=fork_base)

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

    async def _stream_with_recovery(self, build: Callable[[str], ModelRequest],
                                    sink: ItemSink | QuietSink) -> ModelResponse:
        model = self.config.model
        overloads = 0
        for attempt in range(1, MAX_ATTEMPTS + 1):
            request = build(model)
            try:
                response = await self.model.stream(request, sink)
            except asyncio.CancelledError:
                sink.fail_open()
                raise
            except ModelError as exc:
                sink.fail_open()
                if not exc.retryable or attempt == MAX_ATTEMPTS:
                    raise
                overloads += exc.kind == "overloaded"
                delay = backoff(attempt, exc.retry_after)
                if overloads >= 2 and self.config.fallback_model and model != self.config.fallback_model:
                    log.warning("model %s overloaded; falling back to %s", model, self.config.fallback_model)
                    self._notice(f"{model} is overloaded, falling back to {self.config.fallback_model}")
                    model = self.config.fallback_model
                self._notice(retry_notice(exc.kind, delay, attempt + 1))
                await self.config.sleep(delay)
                continue
            self.usage = self.usage.add(response.usage)
            self._report_usage(request, response)
            return response
        raise AssertionError("unreachable")

    def _notice(self, message: str) -> None:
        if self.config.notice is not None:
            try:
                self.config.notice(message)
            except Exception:  # a surface that cannot show it never stops the turn
                log.exception("notice failed: %s", message)

    def _report_usage(self, request: ModelRequest, response: ModelResponse) -> None:
        """``turn/usage``: the request's tokens, its cost, and why it missed the cache, if it did."""
        usage = response.usage
        model = response.model or request.model
        prefix = Prefix(model=request.model, tools=digest(request.tools), system=digest(request.system),
                        rewrites=self.transcript.rewrites)
        miss = self.transcript.watch.observe(prefix, usage, self.config.cache_ttl)
        self.scope.emit(TurnUsageEvent(
            thread_id=self.scope.thread_id, turn_id=self.scope.turn_id, usage=usage,
            cost_usd=cost_usd(usage, price_for(model, self.config.prices), self.config.cache_ttl),
            cache_read_share=cache_read_share(usage), cache_miss=miss))

    # --- compaction --------------------------------------------------------------------------

    async def _compact_only(self) -> Step | None:
        await self._compact("manual")
        return None

    async def _compact(self, reason: str) -> None:
        """Summarize cache-safely, swap the transcript for the rebuilt context in one
        transaction, and show it (a ``compaction`` item, then ``thread/compacted``)."""
        assert self.rebuilder is not None
        if self._responses_since_compaction < 2:
            self._thrashing += 1
        else:
            self._thrashing = 1
        if self._thrashing > MAX_THRASHING:
            raise ModelError("context_loop", THRASHING)
        base = self.build_request(self.config.model)
        before = self.meter.estimate(base, self.transcript)
        summary_tokens = max(1024, min(self.config.max_tokens, self.config.context_window // 10))
        with self.scope.item(CompactionItem(id=self.scope.new_item_id(), summary="")) as handle:
            request = summary_request(base, self.config.compact_instructions, summary_tokens)
            response: ModelResponse | None = None
            # a fresh session note is the summary: no request (manual instructions ask anew)
            noted = (await self.observer.fresh(self.scope.thread_id, len(self.transcript))
                     if self.observer is not None and not self.config.compact_instructions else None)
            for keep in (1.0, 0.5, 0.25) if noted is None else ():  # even the summary may not fit after a reactive overflow
                attempt = request if keep == 1.0 else trimmed(request, keep)
                try:
                    response = await self._stream_with_recovery(
                        lambda model: replace(attempt, model=model), QuietSink())
                    break
                except ModelError as exc:
                    if exc.kind != "prompt_too_long":
                        raise ModelError(exc.kind, f"compaction failed: {exc}. The thread is intact; try "
                                         "again, or start a new thread for the rest of the task.") from exc
            if response is None and noted is None:
                raise ModelError("prompt_too_long", "compaction failed: even the newest quarter of the "
                                 "conversation does not fit the context window with the summary request. "
                                 "Start a new thread, or raise contextWindow if the model allows more.")
            summary = noted or summary_text(response.content if response is not None else [])
            if not summary:
                raise ModelError("bad_request", "compaction failed: the model wrote no summary. Try again, "
                                 "with instructions (agent/thread/compact) if it keeps happening.")
            closing = CLOSING_MANUAL if reason == "manual" else CLOSING_MID_TURN
            message = self.rebuilder.message(self.scope.thread_id, summary,
                                             int(before * CHARS_PER_TOKEN * REINJECT_SHARE), closing)
            self.transcript.replace_prefix(len(self.transcript), [message], self.scope.turn_id)
            if self.observer is not None:
                self.observer.forget(self.scope.thread_id)
            self.meter.reset()
            self._persist_measurement(None)
            after = request_tokens(self.build_request(self.config.model))
            handle.finish(status="completed", summary=summary)
        self._responses_since_compaction = 0
        self.scope.emit(ThreadCompactedEvent(thread_id=self.scope.thread_id, item_id=handle.id,
                                             tokens_before=before, tokens_after=after))

    def _measured(self, usage: Usage) -> None:
        self._persist_measurement(self.meter.measured(usage, len(self.transcript)))

    def _persist_measurement(self, measured: Measurement | None) -> None:
        tokens, count = (measured.tokens, measured.messages) if measured else (None, None)
        self.store.update_state(self.scope.thread_id, lambda state: state.model_copy(
            update={"measured_tokens": tokens, "measured_messages": count}))

    # --- request building --------------------------------------------------------------------

    def build_request(self, model: str) -> ModelRequest:
        return ModelRequest(model=model, max_tokens=self.config.max_tokens, system=self.config.system,
                            tools=self.dispatcher.schemas(self.hidden_tools), messages=self.transcript.render(),
                            cache_ttl=self.config.cache_ttl)

    def _commit(self, messages: list[dict[str, Any]]) -> None:
        messages = self.scope.secrets.current().redact_json(messages)  # stored and sent: no secrets
        self.transcript.append(self.scope.turn_id, *(message(m) for m in messages))


def _outcome_of(task: asyncio.Future[ToolOutcome]) -> ToolOutcome:
    """What a finished parallel call tells the model, however it ended."""
    if task.cancelled():
        return ToolOutcome(INTERRUPTED, True)
    if task.exception() is not None:
        log.error("a parallel tool call failed", exc_info=task.exception())
        return ToolOutcome(INTERNAL_ERROR, True)
    return task.result()


def backoff(attempt: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return min(retry_after, 60.0)
    return min(8.0, 0.5 * 2 ** (attempt - 1)) * (0.75 + random.random() / 2)


RETRY_REASONS = {"overloaded": "model overloaded", "rate_limit": "rate limited by the API",
                 "server": "the API had a server error", "connection": "could not reach the API",
                 "stream": "the model's stream broke off", "timeout": "the model stopped answering"}


def retry_notice(kind: str, delay: float, attempt: int) -> str:
    """'model overloaded, retrying in 4 s (attempt 2 of 5)'."""
    wait = f"{delay:.0f} s" if delay >= 1 else f"{delay:.1f} s"
    return f"{RETRY_REASONS.get(kind, 'the request failed')}, retrying in {wait} (attempt {attempt} of {MAX_ATTEMPTS})"


def clean_content(content: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop blocks the API would refuse to take back (empty or whitespace-only text)."""
    return [b for b in content if not (b["type"] == "text" and not b.get("text", "").strip())]
