"""A fake Messages API that answers in constant time, for timing the clients, not the fake.

Unlike tests/fake_anthropic.py it never parses or validates a request body (that would grow
with the transcript and be counted against the client): it reads the bytes, notes when the
request arrived and whether it offers the planned tool, and streams a canned reply. A request
that offers the tool gets a ``tool_use`` of it while ``trips`` last, then a final text; any
other request (a client's side requests: titles, summaries) gets a short text. Runs in a
thread of the benchmark process, which is idle while it waits on the measured subprocess.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Plan:
    tool: str = "read_file"
    tool_input: dict[str, Any] = field(default_factory=lambda: {"path": "calc.py"})
    trips: int = 0
    arrivals: list[float] = field(default_factory=list)  # perf_counter() of each planned request
    first_any: float | None = None  # the first request of any kind
    served: int = 0


def _sse(events: list[tuple[str, dict[str, Any]]]) -> bytes:
    return b"".join(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events)


def _reply(blocks: list[dict[str, Any]], stop: str, serial: int) -> bytes:
    usage = {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": {
        "id": f"msg_{serial}", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": usage}})]
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            events += [("content_block_start", {"type": "content_block_start", "index": index,
                                                "content_block": {"type": "text", "text": ""}}),
                       ("content_block_delta", {"type": "content_block_delta", "index": index,
                                                "delta": {"type": "text_delta", "text": block["text"]}})]
        else:
            events += [("content_block_start", {"type": "content_block_start", "index": index, "content_block": {
                           "type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}}),
                       ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": {
                           "type": "input_json_delta", "partial_json": json.dumps(block["input"])}})]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events += [("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                                  "usage": {"output_tokens": 5}}),
               ("message_stop", {"type": "message_stop"})]
    return _sse(events)


class ConstantFake:
    """``with ConstantFake() as fake: fake.plan = Plan(trips=50); ... fake.url``."""

    def __init__(self) -> None:
        self.plan = Plan()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()  # headers and body are separate writes: no Nagle delay between them
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:  # noqa: N802
                now = time.perf_counter()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not self.path.startswith("/v1/messages") or "count_tokens" in self.path:
                    self._json({"input_tokens": 10} if "count_tokens" in self.path else {})
                    return
                payload, streamed = fake.answer(body, now)
                if not streamed:
                    self._json(payload)
                    return
                raw = payload
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:  # noqa: N802
                self._json({"data": [], "has_more": False})

            def do_HEAD(self) -> None:  # noqa: N802
                self._json({})

            def _json(self, value: Any) -> None:
                raw = json.dumps(value).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def answer(self, body: bytes, now: float) -> tuple[Any, bool]:
        with self._lock:
            plan = self.plan
            plan.served += 1
            if plan.first_any is None:
                plan.first_any = now
            streamed = b'"stream":true' in body or b'"stream": true' in body
            planned = f'"name":"{plan.tool}"'.encode() in body or f'"name": "{plan.tool}"'.encode() in body
            if planned:
                plan.arrivals.append(now)
            if planned and plan.trips > 0:
                plan.trips -= 1
                blocks = [{"type": "text", "text": "Checking."},
                          {"type": "tool_use", "id": f"toolu_{plan.served:06d}", "name": plan.tool,
                           "input": plan.tool_input}]
                stop = "tool_use"
            else:
                blocks, stop = [{"type": "text", "text": "All good."}], "end_turn"
        if streamed:
            return _reply(blocks, stop, plan.served), True
        return {"id": f"msg_{plan.served}", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
                "content": [{"type": "text", "text": "All good."}], "stop_reason": "end_turn",
                "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 5}}, False

    def __enter__(self) -> ConstantFake:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
