"""A running turn as a front-end holds it: a handle, its final report, and a cancel scope.

``TurnHandle`` is what ``Harness.start_turn`` returns: the ``Turn`` as started, ``result()``
(the turn's final report once it has ended) and ``cancel()``. Cancelling goes through a
``CancelScope``, which cancels the work it covers and every child scope opened under it (a
subagent's turn, say), children first, so a cancel cascades to whatever the turn started.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from agent.protocol import Turn, TurnStatus, Usage


@dataclass(frozen=True)
class TurnReport:
    """How a turn ended: the ``turn/completed`` event's turn status, usage and error."""

    status: TurnStatus
    usage: Usage = field(default_factory=Usage)
    error: str | None = None


class CancelScope:
    """Cancels a task and, first, every child scope opened under it."""

    def __init__(self, task: asyncio.Task[object] | None = None, parent: CancelScope | None = None) -> None:
        self.task = task
        self.children: list[CancelScope] = []
        self.cancelled = False
        if parent is not None:
            parent.children.append(self)

    def child(self, task: asyncio.Task[object] | None = None) -> CancelScope:
        return CancelScope(task, self)

    def cancel(self) -> None:
        self.cancelled = True
        for child in list(self.children):
            child.cancel()
        if self.task is not None and not self.task.done():
            self.task.cancel()

    async def wait(self) -> None:
        """Until the task and every child's task have finished."""
        for child in list(self.children):
            await child.wait()
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)


async def settle(futures: Iterable[asyncio.Future[Any]]) -> bool:
    """Wait until every future is done, through any number of cancels of the waiting task (a
    second Stop during a clean-up must not cut the clean-up short); True when the waiting task
    was cancelled meanwhile, so the caller can raise it afterwards."""
    pending = {f for f in futures if not f.done()}
    interrupted = False
    while pending:
        try:
            _, pending = await asyncio.wait(pending)
        except asyncio.CancelledError:
            interrupted = True
    return interrupted


@dataclass
class TurnHandle:
    turn: Turn
    scope: CancelScope
    _report: asyncio.Future[TurnReport]

    @property
    def id(self) -> str:
        return self.turn.id

    @property
    def thread_id(self) -> str:
        return self.turn.thread_id

    def done(self) -> bool:
        return self._report.done()

    async def result(self) -> TurnReport:
        """The turn's final report, once ``turn/completed`` is stored."""
        return await asyncio.shield(self._report)

    def cancel(self) -> None:
        self.scope.cancel()

    async def settled(self) -> TurnReport:
        """The final report, waited for through any cancel of the waiting task."""
        await settle([self._report])
        return self._report.result()
