"""JSON-RPC 2.0 between the agent host and its clients: one JSON object per line on a stream.

``Connection`` wraps an asyncio stream pair. Either side may send requests and notifications;
``request`` waits for the answer (a ``RemoteError`` carries the other side's code and message),
handlers registered with ``on`` answer the other side's requests (their exceptions become error
answers: ``RpcError`` with its code, anything else -32603). ``closed`` resolves when the other
side goes away; every request still waiting then fails with ``ConnectionLost``. Lines are capped
(``MAX_LINE``) so a client cannot make the host buffer without bound.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

MAX_LINE = 64 * 1024 * 1024
Handler = Callable[[Any], Awaitable[Any]]


class RpcError(Exception):
    """An error to answer with: a JSON-RPC code and a message a person can act on."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class RemoteError(RpcError):
    """The other side answered a request with an error."""


class ConnectionLost(ConnectionError):
    """The other side went away before answering."""


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str = "peer") -> None:
        self._reader = reader
        self._writer = writer
        self.name = name
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._handlers: dict[str, Handler] = {}
        self._notifications: dict[str, Callable[[Any], None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._reading = asyncio.ensure_future(self._read())

    def on(self, method: str, handler: Handler) -> None:
        """Answer the other side's ``method`` requests with ``handler(params)``."""
        self._handlers[method] = handler

    def on_notification(self, method: str, handler: Callable[[Any], None]) -> None:
        self._notifications[method] = handler

    async def request(self, method: str, params: Any = None, timeout: float | None = None) -> Any:
        if self.closed.done():
            raise ConnectionLost(f"{self.name} is gone")
        ident = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = future
        self._send({"jsonrpc": "2.0", "id": ident, "method": method, "params": params})
        try:
            return await asyncio.wait_for(future, timeout) if timeout else await future
        finally:
            self._waiting.pop(ident, None)

    def notify(self, method: str, params: Any = None) -> None:
        if not self.closed.done():
            self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def close(self) -> None:
        if not self._writer.is_closing():
            self._writer.close()
        self._reading.cancel()
        self._lost()

    def _send(self, message: dict[str, Any]) -> None:
        try:
            self._writer.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
        except (ConnectionError, RuntimeError):
            self._lost()

    async def _read(self) -> None:
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                if len(line) > MAX_LINE:
                    log.warning("dropping a %d-byte message from %s", len(line), self.name)
                    continue
                try:
                    message = json.loads(line)
                except ValueError:
                    self._send({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "not JSON"}})
                    continue
                self._dispatch(message)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass  # ValueError: a line over the stream's limit; the peer is broken
        finally:
            self._lost()

    def _dispatch(self, message: Any) -> None:
        if not isinstance(message, dict):
            return
        if "method" in message:
            method = message["method"]
            if "id" in message:
                task = asyncio.ensure_future(self._answer(message["id"], method, message.get("params")))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            elif method in self._notifications:
                try:
                    self._notifications[method](message.get("params"))
                except Exception:  # a broken handler must not stop the connection
                    log.exception("notification %s from %s failed", method, self.name)
            return
        future = self._waiting.get(message.get("id"))  # type: ignore[arg-type]
        if future is None or future.done():
            return
        if "error" in message:
            error = message["error"] or {}
            future.set_exception(RemoteError(int(error.get("code", -32603)), str(error.get("message", "error"))))
        else:
            future.set_result(message.get("result"))

    async def _answer(self, ident: Any, method: str, params: Any) -> None:
        handler = self._handlers.get(method)
        try:
            if handler is None:
                raise RpcError(-32601, f"unknown method {method!r}")
            result = await handler(params)
        except RpcError as exc:
            self._send({"jsonrpc": "2.0", "id": ident, "error": {"code": exc.code, "message": exc.message}})
            return
        except Exception as exc:
            log.exception("request %s from %s failed", method, self.name)
            self._send({"jsonrpc": "2.0", "id": ident, "error": {"code": -32603, "message": f"{type(exc).__name__}: {exc}"}})
            return
        self._send({"jsonrpc": "2.0", "id": ident, "result": result})

    def _lost(self) -> None:
        if self.closed.done():
            return
        self.closed.set_result(None)
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(ConnectionLost(f"{self.name} went away"))
        for task in list(self._tasks):
            task.cancel()
