"""A fake Anthropic Messages API on 127.0.0.1, for tests that drive the real ``anthropic`` SDK.

Owns the scripted server: a stdlib ``ThreadingHTTPServer`` (HTTP/1.1, chunked SSE) that answers
``POST /v1/messages`` (streaming or not) and ``POST /v1/messages/count_tokens``. Each messages
request is validated first (rules in ``agent.testing.rules``); an invalid one is recorded
in ``violations`` and answered 400 without consuming a step. A valid one consumes the next
scripted step: ``Reply``, ``HttpError``, ``StreamError``, ``Disconnect`` or ``Stall`` (or a
callable that builds one from the request body). Prompt caching is simulated so usage shows
cache reads and writes. ``python tests/fake_anthropic.py --script steps.json --port-file F``
serves a JSON script for non-Python tests. Nothing is logged to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import socket
import sys
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Union
from urllib.parse import urlsplit

from agent.testing.kit import text, thinking, tool_use  # noqa: F401  (the blocks scripts are made of)
from agent.testing.rules import PromptCache, check_request, estimate_tokens, input_tokens

Block = dict[str, Any]
Frame = tuple[str, dict[str, Any]]


@dataclass
class Reply:
    """A model answer. ``stop_reason`` None means "tool_use" if any tool_use block, else "end_turn"."""

    content: list[Block]
    stop_reason: str | None = None
    usage: dict[str, int] | None = None  # overrides the simulated usage, key by key
    chunk: int = 7  # characters per text/thinking/input_json delta


@dataclass
class HttpError:
    status: int
    error_type: str
    message: str
    retry_after: float | None = None


@dataclass
class StreamError:
    """Stream ``after_frames`` SSE frames of ``reply``, then an ``event: error`` frame, then end."""

    reply: Reply
    after_frames: int
    error_type: str = "overloaded_error"
    message: str = "Overloaded"


@dataclass
class Disconnect:
    """Stream ``after_frames`` frames, then close the socket mid-body (no final chunk)."""

    reply: Reply
    after_frames: int


@dataclass
class Stall:
    """Stream ``after_frames`` frames, block until ``release_stalls()`` (then finish) or ``stop()``."""

    reply: Reply
    after_frames: int


Step = Union[Reply, HttpError, StreamError, Disconnect, Stall]


@dataclass
class RecordedRequest:
    """One POST /v1/messages as received. ``usage`` is the input-side usage served ({} if none)."""

    index: int
    body: dict[str, Any]
    headers: dict[str, str]  # lower-cased names
    usage: dict[str, int] = field(default_factory=dict)
    step: Step | None = None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeAnthropic

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client hanging up mid-stream is routine here


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def setup(self) -> None:
        super().setup()
        self.server.fake._connections.add(self.connection)

    def finish(self) -> None:
        self.server.fake._connections.discard(self.connection)
        super().finish()

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        path = urlsplit(self.path).path
        try:
            if path == "/v1/messages":
                self.server.fake._messages(self, body, headers)
            elif path == "/v1/messages/count_tokens":
                self.server.fake._count_tokens(self, body, headers)
            else:
                self.error(404, "not_found_error", f"Not found: POST {path}")
        except OSError:
            self.close_connection = True

    def do_GET(self) -> None:
        self.error(404, "not_found_error", f"Not found: GET {urlsplit(self.path).path}")

    def head(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in {"request-id": f"req_{uuid.uuid4().hex[:24]}", **headers}.items():
            self.send_header(name, value)
        self.end_headers()

    def send_json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.head(status, {"content-type": "application/json", "content-length": str(len(data)), **(headers or {})})
        self.wfile.write(data)

    def error(self, status: int, error_type: str, message: str, headers: dict[str, str] | None = None) -> None:
        request_id = f"req_{uuid.uuid4().hex[:24]}"
        self.send_json(status, {"type": "error", "error": {"type": error_type, "message": message},
                                "request_id": request_id}, {"request-id": request_id, **(headers or {})})

    def start_sse(self) -> None:
        self.head(200, {"content-type": "text/event-stream", "cache-control": "no-cache",
                        "transfer-encoding": "chunked"})

    def frame(self, event: str, data: dict[str, Any]) -> None:
        chunk = f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))

    def end_sse(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    def abort(self) -> None:
        """Drop the connection without finishing the chunked body."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def _pieces(s: str, size: int) -> list[str]:
    size = size if size > 0 else max(len(s), 1)
    return [s[i:i + size] for i in range(0, len(s), size)]


def _block_frames(block: Block, chunk: int) -> tuple[Block, list[Block]]:
    """The content_block_start payload and the deltas that rebuild ``block``."""
    kind = block.get("type")
    if kind == "text":
        return {"type": "text", "text": ""}, [{"type": "text_delta", "text": p} for p in _pieces(block["text"], chunk)]
    if kind == "tool_use":
        deltas = [{"type": "input_json_delta", "partial_json": p}
                  for p in _pieces(json.dumps(block["input"]), chunk)]
        return {**block, "input": {}}, deltas
    if kind == "thinking":
        deltas = [{"type": "thinking_delta", "thinking": p} for p in _pieces(block["thinking"], chunk)]
        return {"type": "thinking", "thinking": "", "signature": ""}, [
            *deltas, {"type": "signature_delta", "signature": block["signature"]}]
    return block, []


def _stop_reason(reply: Reply) -> str:
    return reply.stop_reason or ("tool_use" if any(b.get("type") == "tool_use" for b in reply.content) else "end_turn")


def _message(reply: Reply, model: str, usage: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant", "model": model,
            "content": [dict(b) for b in reply.content], "stop_reason": _stop_reason(reply),
            "stop_sequence": None, "usage": usage}


def reply_frames(reply: Reply, model: str, usage: dict[str, Any]) -> list[Frame]:
    """The SSE frames (event name, data) the real API would send for ``reply``."""
    start = {**_message(reply, model, {**usage, "output_tokens": 1}), "content": [], "stop_reason": None}
    frames: list[Frame] = [("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(reply.content):
        opening, deltas = _block_frames(block, reply.chunk)
        frames.append(("content_block_start", {"type": "content_block_start", "index": index,
                                               "content_block": opening}))
        if index == 0:
            frames.append(("ping", {"type": "ping"}))
        frames += [("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
                   for delta in deltas]
        frames.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    if not reply.content:
        frames.append(("ping", {"type": "ping"}))
    frames.append(("message_delta", {"type": "message_delta", "usage": usage,
                                     "delta": {"stop_reason": _stop_reason(reply), "stop_sequence": None}}))
    frames.append(("message_stop", {"type": "message_stop"}))
    return frames


class FakeAnthropic:
    """The scripted server. Use as a context manager, or call ``start()`` / ``stop()``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.url = ""
        self.requests: list[RecordedRequest] = []
        self.count_requests: list[RecordedRequest] = []
        self.violations: list[str] = []
        self.context_window: int | None = None  # requests over it get the real API's 400
        self.overflows: list[int] = []  # the input size of each request refused as too long
        self._address = (host, port)
        self._queue: deque[Step | Callable[[dict[str, Any]], Step]] = deque()
        self._cond = threading.Condition()
        self._cache = PromptCache()
        self._stall_generation = 0
        self._stalled = 0
        self._stopping = False
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FakeAnthropic:
        self._server = _Server(self._address, _Handler)
        self._server.fake = self
        self.url = f"http://{self._address[0]}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            for connection in list(self._connections):  # idle keep-alive or stalled streams
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def script(self, *steps: Step | Callable[[dict[str, Any]], Step]) -> None:
        """Queue steps; each valid messages request consumes the next one (a callable gets the body)."""
        with self._cond:
            self._queue.extend(steps)

    @property
    def pending(self) -> int:
        """Steps scripted but not yet consumed."""
        with self._cond:
            return len(self._queue)

    def wait_for_requests(self, n: int, timeout: float = 10.0) -> None:
        """Block until at least ``n`` messages requests have arrived (valid or not)."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.requests) >= n, timeout):
                raise TimeoutError(f"expected {n} requests to the fake Anthropic API, got {len(self.requests)}")

    def wait_for_stall(self, timeout: float = 10.0) -> None:
        """Block until a ``Stall`` step is holding a stream open."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._stalled > 0, timeout):
                raise TimeoutError("no Stall step is holding a stream")

    def release_stalls(self) -> None:
        """Let every stream currently held by a ``Stall`` finish."""
        with self._cond:
            self._stall_generation += 1
            self._cond.notify_all()

    def assert_valid(self) -> None:
        if self.violations:
            raise AssertionError(f"the fake Anthropic API saw {len(self.violations)} invalid request(s):\n"
                                 + "\n".join(f"  - {v}" for v in self.violations))

    def _messages(self, handler: _Handler, body: Any, headers: dict[str, str]) -> None:
        with self._cond:
            record = RecordedRequest(len(self.requests), body if isinstance(body, dict) else {}, headers)
            problems = check_request(body, headers)
            failure: str | None = None
            size = input_tokens(body) if not problems and self.context_window else 0
            if problems:
                self.violations += [f"request #{record.index}: {p}" for p in problems]
            elif self.context_window and size > self.context_window:
                self.overflows.append(size)  # the real API refuses it and processes nothing
            elif not self._queue:
                failure = f"unexpected request #{record.index}: nothing scripted"
                self.violations.append(failure)
            else:
                entry = self._queue.popleft()
                try:
                    record.step = entry(body) if callable(entry) else entry
                except Exception as exc:  # a broken script is the test's bug; report it like one
                    failure = f"request #{record.index}: scripted step raised {exc!r}"
                    self.violations.append(failure)
                if record.step is not None and not isinstance(record.step, HttpError):
                    usage, keys = self._cache.price(body)  # an HTTP error processes (and caches) nothing
                    self._cache.write(keys)
                    record.usage = {**usage, **(_reply_of(record.step).usage or {})}
            self.requests.append(record)
            self._cond.notify_all()
        if problems:
            handler.error(400, "invalid_request_error", "; ".join(problems), {"x-should-retry": "false"})
        elif size and self.context_window and size > self.context_window:
            handler.error(400, "invalid_request_error",
                          f"prompt is too long: {size} tokens > {self.context_window} maximum")
        elif failure or record.step is None:
            handler.error(500, "api_error", failure or "no step", {"x-should-retry": "false"})
        else:
            self._serve(handler, record.step, record.body, record.usage)

    def _count_tokens(self, handler: _Handler, body: Any, headers: dict[str, str]) -> None:
        with self._cond:
            index = len(self.count_requests)
            self.count_requests.append(RecordedRequest(index, body if isinstance(body, dict) else {}, headers))
            problems = check_request(body, headers, count_tokens=True)
            self.violations += [f"count_tokens request #{index}: {p}" for p in problems]
        if problems:
            handler.error(400, "invalid_request_error", "; ".join(problems), {"x-should-retry": "false"})
        else:
            handler.send_json(200, {"input_tokens": input_tokens(body)})

    def _serve(self, handler: _Handler, step: Step, body: dict[str, Any], usage: dict[str, int]) -> None:
        if isinstance(step, HttpError):
            extra: dict[str, str] = {}
            if step.retry_after is not None:
                extra = {"retry-after": f"{step.retry_after:g}", "retry-after-ms": f"{step.retry_after * 1000:g}"}
            handler.error(step.status, step.error_type, step.message, extra)
            return
        reply = _reply_of(step)
        full_usage = {"output_tokens": max(1, estimate_tokens(reply.content)), **usage}
        model = str(body["model"])
        if not body.get("stream"):
            if isinstance(step, Disconnect):
                handler.abort()
            elif isinstance(step, StreamError):
                handler.error(529 if step.error_type == "overloaded_error" else 500, step.error_type, step.message)
            elif not isinstance(step, Stall) or self._hold():
                handler.send_json(200, _message(reply, model, full_usage))
            else:
                handler.abort()
            return
        frames = reply_frames(reply, model, full_usage)
        cut = len(frames) if isinstance(step, Reply) else step.after_frames
        handler.start_sse()
        for event, data in frames[:cut]:
            handler.frame(event, data)
        if isinstance(step, StreamError):
            handler.frame("error", {"type": "error", "error": {"type": step.error_type, "message": step.message}})
        elif isinstance(step, Disconnect):
            handler.abort()
            return
        elif isinstance(step, Stall):
            if not self._hold():
                handler.abort()
                return
            for event, data in frames[cut:]:
                handler.frame(event, data)
        handler.end_sse()

    def _hold(self) -> bool:
        """Block a Stall until released (True) or the server stops (False)."""
        with self._cond:
            generation = self._stall_generation
            self._stalled += 1
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._stall_generation != generation or self._stopping)
            self._stalled -= 1
            return not self._stopping


def _reply_of(step: Step) -> Reply:
    assert not isinstance(step, HttpError)
    return step if isinstance(step, Reply) else step.reply


# ---------------------------------------------------------------- JSON scripts and __main__


def _content(items: list[Any]) -> list[Block]:
    """Script content: a bare string is a text block; a tool_use without an id gets one."""
    blocks = [text(item) if isinstance(item, str) else dict(item) for item in items]
    return [tool_use(b["name"], b.get("input", {}), b.get("id")) if b.get("type") == "tool_use" else b for b in blocks]


def _reply(spec: dict[str, Any]) -> Reply:
    return Reply(**{**spec, "content": _content(spec.get("content", []))})


def load_steps(specs: list[dict[str, Any]]) -> list[Step]:
    """Steps from JSON: {"reply": {...}}, {"http_error": {...}}, {"stream_error": {"reply": {...}, ...}},
    {"disconnect": {"reply": ..., "after_frames": n}}, {"stall": {...}}."""
    wrapped = {"stream_error": StreamError, "disconnect": Disconnect, "stall": Stall}
    steps: list[Step] = []
    for spec in specs:
        [(kind, args)] = spec.items()
        if kind == "reply":
            steps.append(_reply(args))
        elif kind == "http_error":
            steps.append(HttpError(**args))
        elif kind in wrapped:
            steps.append(wrapped[kind](**{**args, "reply": _reply(args["reply"])}))
        else:
            raise ValueError(f"unknown step kind {kind!r}")
    return steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a scripted fake Anthropic API until SIGTERM.")
    parser.add_argument("--script", type=Path, required=True, help="JSON list of steps")
    parser.add_argument("--port-file", type=Path, required=True, help="where to write the base URL")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    with FakeAnthropic(port=args.port) as fake:
        fake.script(*load_steps(json.loads(args.script.read_text())))
        partial = args.port_file.with_name(args.port_file.name + ".tmp")
        partial.write_text(fake.url)
        partial.replace(args.port_file)  # readers never see half a URL
        done.wait()
    for violation in fake.violations:
        print(violation, file=sys.stderr)
    return 1 if fake.violations else 0


if __name__ == "__main__":
    sys.exit(main())
