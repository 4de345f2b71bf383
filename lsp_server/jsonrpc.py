"""JSON-RPC framing and envelope checks: every request is answered, no input stops the server.

Owns what pygls 2.1 leaves to chance: reading ``Content-Length`` frames from stdio or TCP
(``FrameReader``, replacing ``pygls.io_.run_async``), checking each message before pygls
sees it, and answering what pygls would drop (``RobustProtocol``, ``RobustServer``).

* Headers are read the way vscode-jsonrpc reads them: names case-insensitive (HTTP rules,
  so ``content-length`` is accepted), LF or CRLF line ends, other headers ignored. The
  length is strict: ASCII digits, at most ``MAX_FRAME_BYTES`` (64 MiB).
* A broken frame (no or a bad ``Content-Length``, a header line that is not ``Name:
  value``, bytes before a header) is logged and skipped; the reader resyncs on the next line
  that *ends* with ``Content-Length: <digits>`` wherever it starts (a body has no final
  newline, so the next header follows it on the same line; JSON cannot end a line that way,
  so a skipped body never resyncs falsely).
* An oversized frame is refused unread, then skipped like a broken one, in 64 KiB pieces: a
  real body is discarded piece by piece; a lying length (100 GB and a short body) costs
  nothing and the next frame is served. It is not answered: no id is known.
* A body longer than its JSON (a length that ran into the next frame): ``-32600`` with the
  message's id, and the bytes after the JSON are read again as the next frame. A body
  cut short is invalid JSON. Not UTF-8 or not JSON (``NaN`` too): ``-32700``, id null.
* A batch (a JSON array) gets one ``-32600`` "batches are not supported", id null, and no
  element is run: LSP has no batches. Not an object, ``jsonrpc`` not ``"2.0"``, no string
  ``method``: ``-32600`` with the id when it was valid, else null. An id that is not an
  integer or a string (LSP's ``integer | string``; floats too): ``-32600``, id null.
  ``params`` not an object/array or not fitting the method's type: ``-32602`` naming the
  fields. Notifications are never answered; bad ones are logged.
* Lifecycle: a request before ``initialize``: ``-32002``; a second ``initialize`` or a
  request after ``shutdown``: ``-32600``; notifications then are dropped, except ``exit``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
from collections.abc import Callable
from concurrent.futures import Executor
from threading import Event
from typing import Any, BinaryIO, Protocol

import attrs
import cattrs
from lsprotocol import types as t
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.protocol import (JsonRPCNotification, JsonRPCRequestMessage, JsonRPCResponseMessage,
                            LanguageServerProtocol)

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 64 * 1024 * 1024
LINE_LIMIT = 64 * 1024  # a header line longer than this is garbage; also the discard piece size
PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS, INTERNAL_ERROR = -32700, -32600, -32602, -32603
SERVER_NOT_INITIALIZED = -32002

_HEADER = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*:[ \t]*([^\r\n]*?)[ \t]*\r?\n")
_LENGTH_AT_END = re.compile(rb"content-length[ \t]*:[ \t]*[0-9]+[ \t]*\r?\n\Z", re.IGNORECASE)


class ByteSource(Protocol):
    """What the reader reads from; ``asyncio.StreamReader`` (TCP) is one as it is."""

    async def read(self, n: int) -> bytes:
        """Up to ``n`` bytes, at least one; ``b""`` only at the end of the input."""
        ...


class StdinSource:
    """A binary file (stdin) read in a thread, as pygls does, one ``read1`` at a time."""

    def __init__(self, stream: BinaryIO, executor: Executor) -> None:
        self._read: Callable[[int], bytes] = getattr(stream, "read1", stream.read)
        self._executor = executor

    async def read(self, n: int) -> bytes:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._read, n)


class FrameReader:
    """Splits a byte stream into frame bodies, skipping (and logging) what is not a frame."""

    def __init__(self, source: ByteSource, max_frame: int = MAX_FRAME_BYTES) -> None:
        self._source = source
        self._max_frame = max_frame
        self._buffer = bytearray()
        self._eof = False

    def unread(self, data: bytes) -> None:
        self._buffer[:0] = data

    async def _fill(self) -> bool:
        if self._eof:
            return False
        chunk = await self._source.read(LINE_LIMIT)
        self._eof = not chunk
        self._buffer += chunk
        return bool(chunk)

    def _take(self, n: int) -> bytes:
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    async def _readline(self) -> bytes:
        """One line, or ``LINE_LIMIT`` bytes of a longer one; ``b""`` at the end."""
        while True:
            end = self._buffer.find(b"\n", 0, LINE_LIMIT)
            if end >= 0:
                return self._take(end + 1)
            if len(self._buffer) >= LINE_LIMIT or not await self._fill():
                return self._take(LINE_LIMIT)

    async def _readexactly(self, n: int) -> bytes | None:
        while len(self._buffer) < n:
            if not await self._fill():
                return None
        return self._take(n)

    async def next_body(self) -> bytes | None:
        """The next frame's body; ``None`` when the input ends."""
        headers: dict[bytes, bytes] | None = None  # None: between frames
        skipped, tail, pending = 0, b"", b""
        while True:
            line, pending = pending or await self._readline(), b""
            if not line:
                if skipped or headers is not None:
                    log.warning("Input ended inside a broken frame (%d bytes skipped)", skipped)
                return None
            if headers is None:
                header = _frame_start(tail, line)
                skipped += len(line)
                tail = b"" if line.endswith(b"\n") else (tail + line)[-128:]
                if header is None:
                    continue
                skipped -= len(header)
                if skipped:
                    log.warning("Skipped %d bytes that were not an LSP frame; resynced on %r", skipped, header)
                skipped, tail, line, headers = 0, b"", header, {}
            if not line.strip():
                length = self._length(headers)
                if length is None:
                    headers = None
                    continue
                body = await self._readexactly(length)
                if body is None:
                    log.warning("Input ended %d bytes into a frame of %d", len(self._buffer), length)
                return body
            match = _HEADER.fullmatch(line)
            if match is None:
                log.warning("Skipped a frame with a bad header line %r; expected 'Name: value'", line[:80])
                headers, pending = None, line
                continue
            name = match.group(1).lower()
            if name in headers and headers[name] != match.group(2):
                headers[name] = b"conflicting values"
            else:
                headers[name] = match.group(2)

    def _length(self, headers: dict[bytes, bytes]) -> int | None:
        """The body length the headers announce, or ``None`` (logged) for a broken frame."""
        raw = headers.get(b"content-length")
        if raw is None:
            log.warning("Skipped a frame without a Content-Length header (headers: %s)",
                        b", ".join(headers).decode("latin-1") or "none")
            return None
        if not raw.isdigit():
            log.warning("Skipped a frame with Content-Length %r; it must be a byte count", raw[:40])
            return None
        if len(raw) > 15 or int(raw) > self._max_frame:
            log.error("Refused a frame of %s bytes (the limit is %d); skipping its body up to the "
                      "next Content-Length header", raw[:40].decode(), self._max_frame)
            return None
        return int(raw)


def _frame_start(tail: bytes, line: bytes) -> bytes | None:
    """The header line at which a frame starts in ``line`` (``tail``: the end of the previous
    piece of the same long line), or ``None`` if ``line`` holds no frame start."""
    if not line.endswith(b"\n") or not line.strip():
        return None
    if not tail and (header := _HEADER.fullmatch(line)):
        name = header.group(1).lower()  # "xyzContent-Length: 5" is garbage before a header
        if name == b"content-length" or not name.endswith(b"content-length"):
            return line
    window = (tail + line)[-256:]
    match = _LENGTH_AT_END.search(window)
    return window[match.start():] if match else None


def _wire_path(problem: str) -> str:
    """``... @ message.params.text_document`` -> ``... @ message.params.textDocument``."""
    what, at, path = problem.rpartition(" @ ")
    return what + at + re.sub(r"_([a-z])", lambda m: m.group(1).upper(), path) if at else problem


def _json_kind(value: Any) -> str:
    kinds = {bool: "a boolean", int: "an integer", float: "a floating-point number", str: "a string",
             list: "an array", dict: "an object", type(None): "null"}
    return kinds.get(type(value), type(value).__name__)


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class RobustProtocol(LanguageServerProtocol):
    """Reads frame bodies itself (``handle_body``) and hands pygls only well-formed messages."""

    def __init__(self, server: Any, converter: cattrs.Converter) -> None:
        super().__init__(server, converter)
        self._initialize_received = False

    def reply_error(self, msg_id: int | str | None, code: int, message: str) -> None:
        log.warning("Answered %s with %d: %s", msg_id, code, message)
        self._send_data({"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}})

    def handle_body(self, body: bytes) -> bytes:
        """Handle one frame body; returns the bytes that belong to the next frame, if any."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.reply_error(None, PARSE_ERROR, f"Parse error: the message body is not UTF-8 ({exc.reason} "
                             f"at byte {exc.start}); LSP messages are UTF-8 encoded JSON")
            return b""
        try:
            value = json.loads(text, parse_constant=_no_constants)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
            if isinstance(exc, json.JSONDecodeError) and exc.msg == "Extra data":
                return self._overlong(body, text, exc.pos)
            self.reply_error(None, PARSE_ERROR, f"Parse error: {exc}; send one JSON object per frame")
            return b""
        try:
            self.handle_value(value)
        except BrokenPipeError:
            raise
        except Exception as exc:
            log.exception("Failed to handle a message")
            msg_id = value.get("id") if isinstance(value, dict) and "method" in value else None
            if _valid_id(msg_id):
                self.reply_error(msg_id, INTERNAL_ERROR, f"Internal error: {exc}")
        return b""

    def _overlong(self, body: bytes, text: str, end: int) -> bytes:
        """The JSON ended before the body did: most likely a Content-Length that ran into the
        next frame. Refuse the message and give back the rest, to be read as the next frame."""
        first = json.loads(text[:end])
        msg_id = first.get("id") if isinstance(first, dict) else None
        self.reply_error(msg_id if _valid_id(msg_id) else None, INVALID_REQUEST,
                         f"Invalid Request: the Content-Length header said {len(body)} bytes but the JSON "
                         f"message ends after {len(text[:end].encode())}; the message was not run. Count "
                         "the body's bytes in UTF-8.")
        return text[end:].encode()

    def handle_value(self, value: Any) -> None:
        """Check a parsed message's envelope and the server's state, then let pygls run it."""
        if isinstance(value, list):
            self.reply_error(None, INVALID_REQUEST, "Invalid Request: batches are not supported by LSP; "
                             "send each message in its own Content-Length frame")
            return
        if not isinstance(value, dict):
            self.reply_error(None, INVALID_REQUEST, f"Invalid Request: a message must be a JSON object, "
                             f"got {_json_kind(value)}")
            return
        has_id, msg_id = "id" in value, value.get("id")
        method = value.get("method")
        if has_id and not _valid_id(msg_id):
            if "method" not in value:
                log.warning("Ignored a response with the invalid id %r: %s", msg_id, str(value)[:200])
                return
            self.reply_error(None, INVALID_REQUEST, f"Invalid Request: the id must be an integer or a "
                             f"string, got {_json_kind(msg_id)}")
            return
        answer_id = msg_id if has_id else None
        if value.get("jsonrpc") != "2.0":  # answered unless it is a notification
            got = f"got {value['jsonrpc']!r}" if "jsonrpc" in value else "it is missing"
            self._refuse(has_id or not isinstance(method, str), answer_id, INVALID_REQUEST,
                         f'Invalid Request: "jsonrpc" must be "2.0", {got}', value)
            return
        if "method" not in value and has_id and ("result" in value or "error" in value):
            self._handle_client_response(value)
            return
        if not isinstance(method, str):
            what = "has no method" if method is None else f"has {_json_kind(method)} as its method"
            self.reply_error(answer_id, INVALID_REQUEST, f"Invalid Request: the message {what}; a request "
                             'needs "method" (a string) and "id", a response "id" and "result" or "error"')
            return
        if self._state_refuses(has_id, answer_id, method):
            return
        params = value.get("params")
        if params is not None and not isinstance(params, (dict, list)):
            self._refuse(has_id, answer_id, INVALID_PARAMS, f"Invalid params for {method}: params must be "
                         f"an object or an array, got {_json_kind(params)}", value)
            return
        message = self._structure(has_id, answer_id, method, value)
        if message is None:
            return
        if method == t.INITIALIZE:
            self._initialize_received = True
        if method == t.WORKSPACE_EXECUTE_COMMAND and message.params.command not in self.fm.commands:
            self.reply_error(answer_id, INVALID_PARAMS, f"Unknown command {message.params.command!r}; this "
                             f"server's commands are {', '.join(sorted(self.fm.commands)) or 'none yet'}")
            return
        self.handle_message(message)

    def _refuse(self, answer: bool, msg_id: Any, code: int, message: str, value: Any = None) -> None:
        if answer:
            self.reply_error(msg_id, code, message)
        else:
            log.warning("Ignored a notification: %s%s", message, f" ({str(value)[:200]})" if value else "")

    def _state_refuses(self, has_id: bool, msg_id: Any, method: str) -> bool:
        if method == t.EXIT and not has_id:
            return False
        if self._shutdown:
            code, why = INVALID_REQUEST, f"Invalid Request: shutdown was received; {method} is not run, send exit"
        elif method == t.INITIALIZE and self._initialize_received:
            code, why = INVALID_REQUEST, "Invalid Request: initialize was already received; send it only once"
        elif method != t.INITIALIZE and not self._initialize_received:
            code, why = SERVER_NOT_INITIALIZED, f"Server not initialized: send the initialize request before {method}"
        else:
            return False
        self._refuse(has_id, msg_id, code, why)
        return True

    def _structure(self, has_id: bool, msg_id: Any, method: str, value: dict[str, Any]) -> Any:
        message_type = self.get_message_type(method)
        if message_type is None:
            message_type = JsonRPCRequestMessage if has_id else JsonRPCNotification
            value = {k: value[k] for k in ("id", "jsonrpc", "method", "params") if k in value}
            value.setdefault("params", None)
        is_request = attrs.has(message_type) and "id" in attrs.fields_dict(message_type)
        if is_request != has_id:
            kind = "a request; send it with an id" if is_request else "a notification; send it without an id"
            self._refuse(has_id, msg_id, INVALID_REQUEST, f"Invalid Request: {method} is {kind}", value)
            return None
        try:
            return self._converter.structure(value, message_type)
        except Exception as exc:
            if isinstance(exc, cattrs.BaseValidationError):
                problems = "; ".join(_wire_path(line) for line in cattrs.transform_error(exc, path="message"))
            else:
                problems = str(exc)
            self._refuse(has_id, msg_id, INVALID_PARAMS, f"Invalid params for {method}: {problems}", value)
            return None

    def _handle_client_response(self, value: dict[str, Any]) -> None:
        msg_id = value["id"]
        result_type = self._result_types.pop(msg_id, None)
        message_type = t.ResponseErrorMessage if "error" in value else (result_type or JsonRPCResponseMessage)
        try:
            message = self._converter.structure(value, message_type)
        except Exception as exc:
            log.warning("The client's response to %r could not be read: %s", msg_id, exc)
            error = t.ResponseError(code=PARSE_ERROR, message=f"the client's response could not be read: {exc}")
            self._handle_response(msg_id, None, error)
            return
        self.handle_message(message)


async def serve_frames(stop_event: Event, frames: FrameReader, protocol: RobustProtocol) -> None:
    """The message loop: read a frame, handle it, until the input ends or the server stops."""
    while not stop_event.is_set():
        body = await frames.next_body()
        if body is None:
            break
        leftover = protocol.handle_body(body)
        if leftover:
            frames.unread(leftover)


class RobustServer(LanguageServer):
    """A ``LanguageServer`` whose stdio and TCP transports read frames with ``FrameReader``."""

    protocol: RobustProtocol

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        self._stop_event = Event()
        frames = FrameReader(StdinSource(stdin or sys.stdin.buffer, self.thread_pool))
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        try:
            asyncio.run(serve_frames(self._stop_event, frames, self.protocol))
        except BrokenPipeError:
            log.error("Connection to the client is lost; shutting down")
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.shutdown()

    def start_tcp(self, host: str, port: int) -> None:
        self._stop_event = stop_event = Event()

        async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.protocol.set_writer(writer)  # type: ignore[arg-type]
            await serve_frames(stop_event, FrameReader(reader), self.protocol)
            self.shutdown()

        async def listen() -> None:
            self._server = await asyncio.start_server(connection, host, port)
            async with self._server:
                await self._server.serve_forever()

        try:
            asyncio.run(listen())
        except asyncio.CancelledError:
            log.debug("TCP server cancelled")
