"""A test kit for the harness: a scripted model, an injected clock, waiting on events.

``ScriptedModel`` is a ``ModelClient`` that plays scripted steps through the ``StreamSink``
the way ``agent.model.anthropic_api.AnthropicModel`` does (``block_started``, one ``text_delta``
per chunk of text or thinking, ``block_finished`` with the whole block), and checks every
request with the same rules as the fake HTTP API (``agent.testing.rules``) after rendering
it to the JSON body the SDK would send. Usage is simulated like the fake's (input tokens
estimated from the body, prompt-cache reads and writes). Steps: ``Reply``, ``Fail`` (a
``ModelError`` of any kind, with an optional retry-after), ``Broken`` (the stream breaks
after some blocks), ``Stall`` (the adapter's idle timeout, raised at once) and ``Hold`` (a
stream that stays open until the turn is cancelled or ``release()`` is called).

``FakeClock`` is injected where the loop sleeps (``Harness(sleep=clock.sleep)``): time moves
on at once and every sleep is recorded. ``Recorder`` subscribes to a harness's events and
lets a test ``await recorder.until("approval/requested")`` or ``wait_until(predicate)``,
woken by each event, never by polling. Nothing here imports pytest.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union, get_args

from agent.model.base import ErrorKind, ModelError, ModelRequest, ModelResponse, StreamSink
from agent.events import Event
from agent.protocol import TextPart, Usage
from agent.testing.rules import PromptCache, check_request, estimate_tokens, input_tokens

if TYPE_CHECKING:
    from agent.engine.harness import Harness

Block = dict[str, Any]
SDK_HEADERS = {"x-api-key": "scripted-model", "anthropic-version": "2023-06-01"}


def text(s: str) -> Block:
    return {"type": "text", "text": s}


def tool_use(name: str, input: dict[str, Any], id: str | None = None) -> Block:  # noqa: A002
    return {"type": "tool_use", "id": id or f"toolu_{uuid.uuid4().hex[:24]}", "name": name, "input": input}


def thinking(s: str, signature: str | None = None) -> Block:
    return {"type": "thinking", "thinking": s, "signature": signature or f"sig_{uuid.uuid4().hex[:16]}"}


# --- steps -----------------------------------------------------------------------------------

@dataclass
class Reply:
    """A model answer. ``stop_reason`` None means "tool_use" if any tool_use block, else "end_turn"."""

    content: list[Block]
    stop_reason: str | None = None
    usage: dict[str, int] | None = None  # overrides the simulated usage, key by key (API names)
    chunk: int = 7  # characters per text/thinking delta


@dataclass
class Fail:
    """The call fails before any block arrives, as the adapter classifies an HTTP error."""

    kind: ErrorKind
    message: str = "scripted failure"
    retry_after: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in get_args(ErrorKind):
            kinds = list(get_args(ErrorKind))
            raise ValueError(f"Fail kind {self.kind!r} is not a ModelError kind; use one of {kinds}")


@dataclass
class Broken:
    """Stream ``after_blocks`` whole blocks of ``reply``, then start the next one with ``chunks``
    deltas (None: do not start it), then fail as a broken stream does."""

    reply: Reply
    after_blocks: int = 0
    chunks: int | None = 1
    message: str = "the model stream broke: RemoteProtocolError('peer closed connection')"
    kind: ErrorKind = "stream"


@dataclass
class Stall:
    """Like ``Broken``, failing as the adapter's idle timeout does, without waiting for it."""

    reply: Reply
    after_blocks: int = 0
    chunks: int | None = 1


@dataclass
class Hold:
    """Like ``Broken``, but the stream stays open until the caller is cancelled or
    ``ScriptedModel.release()`` is called (then the rest of the reply is streamed)."""

    reply: Reply
    after_blocks: int = 0
    chunks: int | None = 1


Step = Union[Reply, Fail, Broken, Stall, Hold]
StepSource = Union[Step, Callable[[dict[str, Any]], Step]]


@dataclass
class ScriptedRequest:
    """One request as the API would have received it, and what answered it."""

    index: int
    body: dict[str, Any]
    usage: dict[str, int] = field(default_factory=dict)  # input-side usage, API names
    step: Step | None = None


def render_body(request: ModelRequest) -> dict[str, Any]:
    """The JSON body the SDK sends for ``request``: the adapter's own rendering, cache
    breakpoints included, as JSON only (no objects shared with the harness)."""
    from agent.model.anthropic_api import request_body

    return json.loads(json.dumps(request_body(request)))


class ScriptedModel:
    """A ``ModelClient`` that answers from a script and checks every request it gets."""

    def __init__(self, *steps: StepSource, idle_timeout_s: float = 90.0) -> None:
        self.requests: list[ScriptedRequest] = []
        self.violations: list[str] = []
        self.idle_timeout_s = idle_timeout_s
        self._queue: deque[StepSource] = deque(steps)
        self._cache = PromptCache()
        self._released: asyncio.Event | None = None
        self.context_window: int | None = None  # requests over it fail as "prompt is too long"
        self.overflows: list[int] = []

    def script(self, *steps: StepSource) -> None:
        """Queue steps; each valid request consumes the next one (a callable gets the body)."""
        self._queue.extend(steps)

    @property
    def pending(self) -> int:
        return len(self._queue)

    def release(self) -> None:
        """Let every ``Hold`` step, now or later, stream the rest of its reply."""
        self._release_event().set()

    def assert_valid(self) -> None:
        if self.violations:
            raise AssertionError(f"the scripted model saw {len(self.violations)} invalid request(s):\n"
                                 + "\n".join(f"  - {v}" for v in self.violations))

    def discard(self) -> int:
        """Drop the steps not used (a test that scripts spares); returns how many."""
        left = len(self._queue)
        self._queue.clear()
        return left

    def assert_all_used(self) -> None:
        if self._queue:
            raise AssertionError(f"{len(self._queue)} scripted step(s) were never requested: "
                                 f"{[_describe(s) for s in self._queue]}. Remove them or make the test reach them.")

    async def stream(self, request: ModelRequest, sink: StreamSink) -> ModelResponse:
        record = ScriptedRequest(len(self.requests), {})
        self.requests.append(record)
        try:
            record.body = render_body(request)
        except (TypeError, ValueError) as exc:
            return self._refuse(record, [f"body: not JSON the SDK could send: {exc}"])
        problems = check_request(record.body, SDK_HEADERS)
        if problems:
            return self._refuse(record, problems)
        size = input_tokens(record.body)
        if self.context_window is not None and size > self.context_window:
            self.overflows.append(size)  # as the real API: refused, nothing processed, no step used
            raise ModelError("prompt_too_long", f"prompt is too long: {size} tokens > {self.context_window} maximum")
        if not self._queue:
            failure = f"unexpected request #{record.index}: nothing scripted"
            self.violations.append(failure)
            raise ModelError("bad_request", failure)
        entry = self._queue.popleft()
        try:
            step = entry(record.body) if callable(entry) else entry
        except Exception as exc:  # a broken script is the test's bug; report it like one
            failure = f"request #{record.index}: scripted step raised {exc!r}"
            self.violations.append(failure)
            raise ModelError("bad_request", failure) from exc
        record.step = step
        if isinstance(step, Fail):  # an HTTP error processes (and caches) nothing
            raise ModelError(step.kind, step.message, retry_after=step.retry_after)
        usage, keys = self._cache.price(record.body)
        self._cache.write(keys)
        record.usage = usage
        return await self._play(step, request.model, usage, sink)

    def _refuse(self, record: ScriptedRequest, problems: list[str]) -> ModelResponse:
        self.violations += [f"request #{record.index}: {p}" for p in problems]
        raise ModelError("bad_request", "the model API refused the request (400): " + "; ".join(problems))

    async def _play(self, step: Reply | Broken | Stall | Hold, model: str, usage: dict[str, int],
                    sink: StreamSink) -> ModelResponse:
        reply = step if isinstance(step, Reply) else step.reply
        if isinstance(step, Reply):
            _stream(reply, sink, len(reply.content), None)
        else:
            _stream(reply, sink, step.after_blocks, step.chunks)
            if isinstance(step, Broken):
                raise ModelError(step.kind, step.message)
            if isinstance(step, Stall):
                raise ModelError("stream", f"the model stream stalled for {self.idle_timeout_s:g} s")
            await self._release_event().wait()
            _finish_held(reply, sink, step.after_blocks, step.chunks)
        stop = reply.stop_reason or ("tool_use" if any(b["type"] == "tool_use" for b in reply.content) else "end_turn")
        full = {"output_tokens": max(1, estimate_tokens(reply.content)), **usage, **(reply.usage or {})}
        return ModelResponse(
            content=[dict(b) for b in reply.content], stop_reason=stop, model=model,
            usage=Usage(input_tokens=full.get("input_tokens", 0), output_tokens=full["output_tokens"],
                        cache_read_tokens=full.get("cache_read_input_tokens", 0),
                        cache_creation_tokens=full.get("cache_creation_input_tokens", 0)))

    def _release_event(self) -> asyncio.Event:
        if self._released is None:
            self._released = asyncio.Event()
        return self._released


def _pieces(s: str, size: int) -> list[str]:
    size = size if size > 0 else max(len(s), 1)
    return [s[i:i + size] for i in range(0, len(s), size)] or [""]


def _deltas(block: Block, chunk: int) -> list[str]:
    if block["type"] == "text":
        return _pieces(block["text"], chunk)
    if block["type"] == "thinking":
        return _pieces(block["thinking"], chunk)
    return []  # tool inputs are assembled whole, as the adapter does


def _stream(reply: Reply, sink: StreamSink, blocks: int, chunks: int | None) -> None:
    """Stream ``blocks`` whole blocks, then start the next with ``chunks`` deltas (None: not at all)."""
    for index, block in enumerate(reply.content[:blocks]):
        sink.block_started(index, block["type"])
        for piece in _deltas(block, reply.chunk):
            sink.text_delta(index, piece)
        sink.block_finished(index, dict(block))
    if chunks is not None and blocks < len(reply.content):
        block = reply.content[blocks]
        sink.block_started(blocks, block["type"])
        for piece in _deltas(block, reply.chunk)[:chunks]:
            sink.text_delta(blocks, piece)


def _finish_held(reply: Reply, sink: StreamSink, blocks: int, chunks: int | None) -> None:
    """The rest of a held reply, once released."""
    if chunks is not None and blocks < len(reply.content):
        block = reply.content[blocks]
        for piece in _deltas(block, reply.chunk)[chunks:]:
            sink.text_delta(blocks, piece)
        sink.block_finished(blocks, dict(block))
        blocks += 1
    for index, block in enumerate(reply.content[blocks:], start=blocks):
        sink.block_started(index, block["type"])
        for piece in _deltas(block, reply.chunk):
            sink.text_delta(index, piece)
        sink.block_finished(index, dict(block))


def _describe(entry: StepSource) -> str:
    return "callable" if callable(entry) else type(entry).__name__


# --- time ------------------------------------------------------------------------------------

class FakeClock:
    """``time()`` and ``sleep()`` where sleeping moves time on at once and is recorded."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"cannot sleep a negative time ({seconds} s); the caller computed a bad delay")
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)  # still a point where the task can be cancelled


# --- waiting on events -----------------------------------------------------------------------

class Recorder:
    """Every event from an ``EventLog``-like source (``subscribe(callback) -> unsubscribe``),
    with waits that wake on each new event."""

    def __init__(self, log: Any) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._unsubscribe: Callable[[], None] = log.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        self.events.append(event)
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            self._changed.set()
        else:
            self._loop.call_soon_threadsafe(self._changed.set)

    def close(self) -> None:
        self._unsubscribe()

    def of_type(self, kind: str) -> list[Any]:
        return [e for e in self.events if e.type == kind]

    def items(self, kind: str) -> list[Any]:
        """Final states of the items of one type, in order."""
        return [e.item for e in self.of_type("item/completed") if e.item.type == kind]

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Return once ``predicate()`` holds, checking it after each event; TimeoutError if it
        does not hold within ``timeout`` seconds."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            seen = [e.type for e in self.events[-10:]]
            raise TimeoutError(f"the condition did not hold within {timeout:g} s; last events: {seen}") from None

    async def until(self, kind: str, count: int = 1, timeout: float = 10.0) -> Any:
        """The ``count``-th event of type ``kind``, once it has happened."""
        await self.wait_until(lambda: len(self.of_type(kind)) >= count, timeout)
        return self.of_type(kind)[count - 1]


class HarnessRecorder(Recorder):
    """A ``Recorder`` on a harness, with a helper that runs one turn to its end."""

    def __init__(self, harness: Harness) -> None:
        super().__init__(harness.log)
        self.harness = harness

    async def turn(self, prompt: str, thread_id: str | None = None) -> Any:
        """Start a turn (on a new thread unless given one); its ``turn/completed`` event."""
        thread_id = thread_id or self.harness.start_thread("test").id
        turn = self.harness.start_turn(thread_id, [TextPart(text=prompt)])
        await self.harness.wait(thread_id)
        return next(e for e in self.of_type("turn/completed") if e.turn.id == turn.id)
