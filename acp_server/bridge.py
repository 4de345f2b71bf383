"""The harness's own thread and event loop, and the calls across to it and back.

ACP's connection runs on the main loop; the harnesses (one per workspace, sharing one store)
run on a loop of their own in a daemon thread. That split is what lets a harness read a
file through the client: ``Documents.get`` is synchronous, so it blocks the harness thread
while the main loop asks the client (``fs/read_text_file``). The main loop never blocks on
the harness thread; it only awaits what it sends there.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class HarnessThread:
    """A daemon thread running an event loop; ``call``/``run`` execute work there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name="agent-lsp-harness", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def on_thread(self) -> bool:
        return threading.current_thread() is self._thread

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the harness loop (it may start tasks there), awaited from another loop."""
        async def run() -> T:
            return fn(*args)

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(run(), self.loop))

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """A coroutine on the harness loop, awaited from another loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


def on_loop(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> Future[T]:
    """Schedule ``coro`` on ``loop`` (the connection's) from the harness thread."""
    return asyncio.run_coroutine_threadsafe(coro, loop)


async def await_on(loop: asyncio.AbstractEventLoop, make: Callable[[], Awaitable[T]]) -> T:
    """From the harness loop: run ``make()`` on ``loop`` and await its result without blocking."""
    async def run() -> T:
        return await make()

    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(run(), loop))
