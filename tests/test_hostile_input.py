"""Malformed and hostile JSON-RPC input to ``agent-lsp serve``: every request is answered
with the right error, nothing else is answered, and the server keeps serving.

Each row sends raw bytes followed at once by a probe request (``agent/thread/list``), then
reads frames until the probe is answered: the answers read before it must be exactly the
row's expected one. One server serves every row that leaves it serving; the lifecycle rows
(before ``initialize``, after ``shutdown``) and the TCP transport get their own.
"""

from __future__ import annotations

import itertools
import json
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from editor import server_env

TIMEOUT = 10.0
DUMMY_API = "http://127.0.0.1:9"  # no model call is made; nothing listens there


def frame(message: Any, header: bytes = b"Content-Length: %d\r\n\r\n") -> bytes:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    return (header % len(body) if b"%d" in header else header) + body


def req(msg_id: Any, method: str, params: Any = None, **extra: Any) -> dict[str, Any]:
    message = {"jsonrpc": "2.0", "id": msg_id, "method": method, **extra}
    return message if params is None else {**message, "params": params}


def note(method: str, params: Any = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, **({} if params is None else {"params": params})}


class RawServer:
    """``agent-lsp serve`` in a subprocess, written to in raw bytes, read frame by frame."""

    def __init__(self, root: Path, tcp: bool = False) -> None:
        (root / "ws").mkdir(parents=True, exist_ok=True)
        self.root = root
        self.log = root / "stderr.log"
        command = [sys.executable, "-m", "lsp_server", "serve", "--log-level", "INFO"]
        self.port = _free_port() if tcp else None
        if self.port:
            command += ["--tcp", f"127.0.0.1:{self.port}"]
        with self.log.open("wb") as stderr:
            self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                                         cwd=root / "ws", env=server_env(DUMMY_API, root / "state"))
        self.sock = _connect(self.port, self.proc) if self.port else None
        self.buffer = b""
        self.ids = itertools.count(1000)

    def send(self, data: bytes) -> None:
        if self.sock:
            self.sock.sendall(data)
        else:
            assert self.proc.stdin is not None
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def read_message(self, deadline: float) -> dict[str, Any]:
        fd = self.sock.fileno() if self.sock else self.proc.stdout.fileno()  # type: ignore[union-attr]
        while (message := self._parse()) is None:
            remaining = deadline - time.monotonic()
            ready = select.select([fd], [], [], max(remaining, 0))[0]
            if not ready:
                raise TimeoutError(f"no answer from the server; its log:\n{self.log.read_text()[-3000:]}")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise EOFError(f"the server closed its output; its log:\n{self.log.read_text()[-3000:]}")
            self.buffer += chunk
        return message

    def _parse(self) -> dict[str, Any] | None:
        head, sep, rest = self.buffer.partition(b"\r\n\r\n")
        if not sep:
            return None
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        if len(rest) < length:
            return None
        self.buffer = rest[length:]
        return json.loads(rest[:length])

    def answers_until(self, msg_id: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The responses read before the one to ``msg_id``, and that one."""
        deadline, before = time.monotonic() + TIMEOUT, []
        while True:
            message = self.read_message(deadline)
            if "method" in message:  # a notification or request from the server
                continue
            if message.get("id") == msg_id:
                return before, message
            before.append(message)

    def request(self, method: str, params: Any = None) -> dict[str, Any]:
        msg_id = next(self.ids)
        self.send(frame(req(msg_id, method, params)))
        before, answer = self.answers_until(msg_id)
        assert before == []
        return answer

    def initialize(self) -> None:
        params = {"processId": None, "rootUri": (self.root / "ws").as_uri(), "capabilities": {}}
        assert "capabilities" in self.request("initialize", params)["result"]
        self.send(frame(note("initialized", {})))

    def close(self) -> None:
        if self.sock:
            self.sock.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream:
                stream.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _connect(port: int, proc: subprocess.Popen[bytes]) -> socket.socket:
    deadline = time.monotonic() + TIMEOUT
    while True:  # the server is listening once a connect succeeds; retry until then
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        except ConnectionRefusedError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise


def check(server: RawServer, data: bytes, expected: tuple[Any, ...] | None, says: str = "",
          probe: str = "agent/thread/list", probe_code: int | None = None) -> None:
    """Send ``data`` then a probe; the answers before the probe's must be ``expected``."""
    probe_id = next(server.ids)
    server.send(data + frame(req(probe_id, probe, {})))
    before, answer = server.answers_until(probe_id)
    if expected is None:
        assert before == []
    else:
        assert len(before) == 1, before
        kind, msg_id, *code = expected
        assert before[0]["id"] == msg_id and kind in before[0], before[0]
        if kind == "error":
            assert before[0]["error"]["code"] == code[0], before[0]
            assert says.lower() in before[0]["error"]["message"].lower(), before[0]
    if probe_code is None:
        assert "result" in answer, answer
    else:
        assert answer["error"]["code"] == probe_code, answer


def err(msg_id: Any, code: int) -> tuple[Any, ...]:
    return ("error", msg_id, code)


def ok(msg_id: Any) -> tuple[Any, ...]:
    return ("result", msg_id)


LIST = "agent/thread/list"
ACTION = "textDocument/codeAction"
EXECUTE = "workspace/executeCommand"
VALID = json.dumps(req(70, LIST, {})).encode()
NESTED = b"[" * 100_000 + b"]" * 100_000

ROWS: list[tuple[str, bytes, tuple[Any, ...] | None, str]] = [
    # bodies
    ("invalid JSON", frame(b'{"jsonrpc": "2.0", "id": 1, "method":'), err(None, -32700), "parse error"),
    ("not UTF-8", frame(b'{"jsonrpc":"2.0","id":2,"method":"x\xff\xfe"}'), err(None, -32700), "utf-8"),
    ("NaN", frame(b'{"jsonrpc":"2.0","id":3,"method":"agent/thread/list","params":{"a":NaN}}'),
     err(None, -32700), "NaN"),
    ("nested too deep", frame(NESTED), err(None, -32700), "parse error"),
    ("empty body", frame(b""), err(None, -32700), ""),
    ("batch", frame([req(4, LIST, {}), req(5, LIST, {})]), err(None, -32600), "batches are not supported"),
    ("empty batch", frame([]), err(None, -32600), "batch"),
    ("a number", frame(42), err(None, -32600), "JSON object"),
    ("a string", frame("hello"), err(None, -32600), "JSON object"),
    ("null", frame(None), err(None, -32600), "JSON object"),
    ("empty object", frame({}), err(None, -32600), ""),
    # ids
    *[(f"id {label}", frame(req(bad, LIST, {})), err(None, -32600), "integer or a string")
      for label, bad in [("object", {"a": 1}), ("array", [1]), ("bool", True), ("float", 1.5),
                         ("integral float", 7.0), ("null", None)]],
    # envelopes
    ("no jsonrpc", frame({"id": 8, "method": LIST}), err(8, -32600), '"jsonrpc" must be "2.0", it is missing'),
    ("jsonrpc 1.0", frame({"jsonrpc": "1.0", "id": 9, "method": LIST}), err(9, -32600), "2.0"),
    ("method a number", frame(req(10, 5)), err(10, -32600), "method"),  # type: ignore[arg-type]
    ("no method", frame({"jsonrpc": "2.0", "id": 11}), err(11, -32600), "no method"),
    ("no method, no id", frame({"jsonrpc": "2.0", "method": None}), err(None, -32600), "no method"),
    ("unknown method", frame(req(12, "agent/nope", {})), err(12, -32601), "agent/nope"),
    ("notification as a request", frame(req(13, "initialized", {})), err(13, -32600), "notification"),
    ("second initialize", frame(req(14, "initialize", {"processId": None, "capabilities": {}})),
     err(14, -32600), "send it only once"),
    ("extra top-level key", frame(req(15, LIST, {}, extra=1)), ok(15), ""),
    ("string id", frame(req("s-16", LIST, {})), ok("s-16"), ""),
    # params
    ("params a string", frame(req(20, LIST, "oops")), err(20, -32602), "object or an array"),
    ("codeAction missing fields", frame(req(21, ACTION, {"textDocument": {"uri": "file:///x.py"}})),
     err(21, -32602), "range"),
    ("codeAction params wrong type", frame(req(22, ACTION, [1, 2])), err(22, -32602), "params.textDocument"),
    ("codeAction null params", frame(req(23, ACTION, None)), err(23, -32602), ACTION),
    ("unknown command", frame(req(24, EXECUTE, {"command": "nope.cmd", "arguments": []})),
     err(24, -32602), "Unknown command 'nope.cmd'; this server's commands are agent.approve"),
    ("command arguments a string", frame(req(25, EXECUTE, {"command": "agent.fix", "arguments": "x"})),
     err(25, -32602), "agent.fix expects"),
    ("command arguments a number", frame(req(29, EXECUTE, {"command": "agent.fix", "arguments": 5})),
     err(29, -32602), "arguments"),
    ("agent.fix bad arguments", frame(req(26, EXECUTE, {"command": "agent.fix", "arguments": [1]})),
     err(26, -32602), "agent.fix expects"),
    ("agent.ask no prompt", frame(req(27, EXECUTE, {"command": "agent.ask", "arguments": [{}]})),
     err(27, -32602), "prompt"),
    ("turn/start missing fields", frame(req(28, "agent/turn/start", {})), err(28, -32602), "threadId"),
    # notifications and client responses: never answered
    ("didOpen params garbage", frame(note("textDocument/didOpen", "garbage")), None, ""),
    ("didOpen params wrong shape", frame(note("textDocument/didOpen", {"textDocument": 5})), None, ""),
    ("didChange empty params", frame(note("textDocument/didChange", {})), None, ""),
    ("cancel without id", frame(note("$/cancelRequest", {})), None, ""),
    ("unknown notification", frame(note("$/nope", {"x": 1})), None, ""),
    ("request method as notification", frame(note("shutdown")), None, ""),
    ("notification jsonrpc 1.0", frame({"jsonrpc": "1.0", "method": "initialized"}), None, ""),
    ("response to nothing", frame({"jsonrpc": "2.0", "id": 99, "result": {}}), None, ""),
    ("error response, id null", frame({"jsonrpc": "2.0", "id": None, "error": {"code": 1, "message": "x"}}),
     None, ""),
    # frames
    ("lowercase header", frame(VALID, b"content-length: %d\r\n\r\n"), ok(70), ""),
    ("LF-only header lines", frame(VALID, b"Content-Length: %d\n\n"), ok(70), ""),
    ("Content-Type first", frame(VALID, b"Content-Type: application/vscode-jsonrpc\r\nContent-Length: %d\r\n\r\n"),
     ok(70), ""),
    ("no Content-Length", frame(VALID, b"Content-Type: application/json\r\n\r\n"), None, ""),
    ("no headers at all", b"\r\n" + VALID, None, ""),
    ("Content-Length not a number", frame(VALID, b"Content-Length: abc\r\n\r\n"), None, ""),
    ("negative Content-Length", frame(VALID, b"Content-Length: -5\r\n\r\n"), None, ""),
    ("conflicting Content-Lengths", frame(VALID, b"Content-Length: %d\r\nContent-Length: 3\r\n\r\n"), None, ""),
    ("bad header line", frame(VALID, b"Content-Length: %d\r\nnot a header\r\n\r\n"), None, ""),
    ("garbage line before a header", b"hello there\r\n" + frame(VALID), ok(70), ""),
    ("garbage before a header, same line", b"\x00\x01garbage" + frame(VALID), ok(70), ""),
    ("letters before a header, same line", b"garbage" + frame(VALID), ok(70), ""),
    ("overlong header line", b"X" * 200_000 + b"\r\n" + frame(VALID), ok(70), ""),
    ("Content-Length too small", frame(VALID, b"Content-Length: 10\r\n\r\n"), err(None, -32700), ""),
    ("Content-Length too large", frame(VALID, b"Content-Length: %d\r\n\r\n" % (len(VALID) + 5)),
     err(70, -32600), "Content-Length"),
    ("Content-Length of 100 GB", frame(VALID, b"Content-Length: 107374182400\r\n\r\n"), None, ""),
    ("Content-Length of 10^60", frame(VALID, b"Content-Length: 1" + b"0" * 60 + b"\r\n\r\n"), None, ""),
    ("64 MiB + 1 declared, short body", frame(VALID, b"Content-Length: 67108865\r\n\r\n"), None, ""),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawServer]:
    srv = RawServer(tmp_path_factory.mktemp("hostile"))
    srv.initialize()
    yield srv
    srv.close()


@pytest.mark.parametrize(("data", "expected", "says"), [row[1:] for row in ROWS], ids=[row[0] for row in ROWS])
def test_hostile_input_is_answered_and_the_server_keeps_serving(
        server: RawServer, data: bytes, expected: tuple[Any, ...] | None, says: str) -> None:
    check(server, data, expected, says)


def test_a_real_frame_above_the_limit_is_discarded_without_being_held_in_memory(server: RawServer) -> None:
    head = b'{"jsonrpc":"2.0","id":80,"method":"agent/thread/list","params":{"pad":"'
    size = 64 * 1024 * 1024 + 1
    body = head + b"x" * (size - len(head) - 3) + b'"}}'
    peak_before = _peak_memory(server.proc.pid)
    check(server, frame(body), None)
    assert _peak_memory(server.proc.pid) - peak_before < 32 * 1024 * 1024
    assert "Refused a frame of 67108865 bytes" in server.log.read_text()


def _peak_memory(pid: int) -> int:
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        pytest.skip("needs /proc to read the server's peak memory")
    line = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def test_lifecycle_errors_before_initialize_and_after_shutdown(tmp_path: Path) -> None:
    srv = RawServer(tmp_path)
    try:
        for method in (LIST, ACTION, "agent/nope"):
            check(srv, frame(req(1, method, {})), err(1, -32002), "send the initialize request", probe_code=-32002)
        check(srv, frame(note("textDocument/didOpen", {"textDocument": 5})), None, probe_code=-32002)
        check(srv, frame(req(2, "initialize", {"capabilities": 5})), err(2, -32602), "initialize",
              probe_code=-32002)
        srv.initialize()
        assert srv.request("shutdown")["result"] is None
        check(srv, frame(req(3, LIST, {})), err(3, -32600), "shutdown was received", probe_code=-32600)
        check(srv, frame(note("initialized", {})), None, probe_code=-32600)
        srv.send(frame(note("exit")))
        assert srv.proc.wait(timeout=TIMEOUT) == 0
    finally:
        srv.close()


def test_the_tcp_transport_resyncs_too(tmp_path: Path) -> None:
    srv = RawServer(tmp_path, tcp=True)
    try:
        srv.initialize()
        check(srv, b"garbage\r\n" + frame(VALID, b"content-length: %d\n\n"), ok(70))
        check(srv, frame(VALID, b"Content-Length: 107374182400\r\n\r\n"), None)
        check(srv, frame(b"{oops"), err(None, -32700))
    finally:
        srv.close()
