"""Pending approvals: asked once, answered once, from whichever surface answers first.

``ApprovalBroker.ask`` records the approval (``approval/requested``) and waits; ``respond``
resolves it (``approval/resolved``, committed before it returns) or reports that another
answer already won. Interrupting a turn cancels its waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.protocol import (
    Approval,
    ApprovalRequestedEvent,
    ApprovalResolvedEvent,
    ApprovalSource,
    Decision,
    Event,
    Range,
)


class UnknownApproval(LookupError):
    """No approval with this id was ever asked in this server."""


@dataclass(frozen=True)
class Answer:
    decision: Decision
    message: str | None
    source: ApprovalSource


@dataclass
class Pending:
    thread_id: str
    approval: Approval
    future: asyncio.Future[Answer]
    # every (uri, range) the approval touches; the wire Approval names only the first
    locations: list[tuple[str, Range]] = field(default_factory=list)

    def places(self) -> list[tuple[str, Range]]:
        if self.locations:
            return self.locations
        approval = self.approval
        return [(approval.uri, approval.range)] if approval.uri and approval.range else []


class ApprovalBroker:
    def __init__(self, emit: Callable[[Event], Event]) -> None:
        self._emit = emit
        self._pending: dict[str, Pending] = {}
        self._answered: set[str] = set()
        self.on_change: list[Callable[[], None]] = []

    def pending(self) -> list[Pending]:
        return list(self._pending.values())

    def get(self, approval_id: str) -> Pending | None:
        return self._pending.get(approval_id)

    async def ask(self, thread_id: str, approval: Approval,
                  locations: list[tuple[str, Range]] | None = None) -> Answer:
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._pending[approval.id] = Pending(thread_id, approval, future, locations or [])
        try:
            self._emit(ApprovalRequestedEvent(thread_id=thread_id, turn_id=approval.turn_id, approval=approval))
            self._changed()
            return await future
        except asyncio.CancelledError:
            if future.cancelled() or not future.done():  # interrupted: no surface should still offer it
                self._emit(ApprovalResolvedEvent(thread_id=thread_id, approval_id=approval.id,
                                                 decision="reject", source="policy"))
            raise
        finally:
            if self._pending.pop(approval.id, None) is not None:
                self._answered.add(approval.id)
                self._changed()

    def respond(
        self, approval_id: str, decision: Decision, message: str | None, source: ApprovalSource
    ) -> str:
        """``"resolved"`` for the first answer, ``"alreadyResolved"`` for any later one."""
        pending = self._pending.get(approval_id)
        if pending is None or pending.future.done():
            if pending is not None or approval_id in self._answered:
                return "alreadyResolved"
            raise UnknownApproval(approval_id)
        self._emit(
            ApprovalResolvedEvent(
                thread_id=pending.thread_id, approval_id=approval_id, decision=decision, source=source
            )
        )
        pending.future.set_result(Answer(decision, message, source))
        return "resolved"

    def _changed(self) -> None:
        for callback in list(self.on_change):
            callback()
