"""Pending approvals: asked once, answered once, from whichever surface answers first.

``ApprovalBroker.ask`` records the approval (``approval/requested``, with every place it
touches in ``approval.locations``) and waits; ``respond`` resolves it (``approval/resolved``,
naming the surface and the client that answered, committed before it returns) or reports
that another answer already won. Interrupting a turn cancels its waits and resolves them
``reject`` by ``policy``. What is pending is read from the store (``Store.pending_approvals``),
so every process sharing it can draw the same approvals; the waiting itself lives in the
process that runs the turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from agent.events import ApprovalRequestedEvent, ApprovalResolvedEvent, Event
from agent.protocol import Approval, ApprovalSource, Decision


class UnknownApproval(LookupError):
    """No approval with this id was ever asked in this workspace."""


@dataclass(frozen=True)
class Answer:
    decision: Decision
    message: str | None
    source: ApprovalSource


class ApprovalBroker:
    def __init__(self, emit: Callable[[Event], Event],
                 status: Callable[[str], str | None] = lambda _: None) -> None:
        """``status`` gives how a stored approval stands (``pending``, ``resolved``, ``expired``;
        None when it was never asked), in whichever process asked it."""
        self._emit = emit
        self._status = status
        self._waiting: dict[str, tuple[str, asyncio.Future[Answer]]] = {}
        self._hunks: dict[str, list[int]] = {}  # approval id -> the hunks approved, when not all

    async def ask(self, thread_id: str, approval: Approval) -> Answer:
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting[approval.id] = (thread_id, future)
        try:
            self._emit(ApprovalRequestedEvent(thread_id=thread_id, turn_id=approval.turn_id, approval=approval))
            return await future
        except asyncio.CancelledError:
            if future.cancelled() or not future.done():  # interrupted: no surface should still offer it
                future.cancel()
                self._emit(ApprovalResolvedEvent(thread_id=thread_id, approval_id=approval.id,
                                                 decision="reject", source="policy"))
            raise
        finally:
            self._waiting.pop(approval.id, None)

    def respond(self, approval_id: str, decision: Decision, message: str | None, source: ApprovalSource,
                client_name: str | None = None, hunks: list[int] | None = None) -> str:
        """``"resolved"`` for the first answer, ``"alreadyResolved"`` for any later one. ``hunks``
        (with ``approve``): only those hunks of the diff are approved (``take_hunks``)."""
        entry = self._waiting.get(approval_id)
        if entry is None or entry[1].done():
            if entry is not None or self._status(approval_id) in ("resolved", "expired"):
                return "alreadyResolved"
            raise UnknownApproval(approval_id)  # never asked, or asked by another live process
        thread_id, future = entry
        if hunks is not None:
            self._hunks[approval_id] = sorted(set(hunks))
        self._emit(ApprovalResolvedEvent(thread_id=thread_id, approval_id=approval_id, decision=decision,
                                         source=source, client_name=client_name))
        future.set_result(Answer(decision, message, source))
        return "resolved"

    def take_hunks(self, approval_id: str) -> list[int] | None:
        """The hunks an answer approved (None: the whole change), taken once."""
        return self._hunks.pop(approval_id, None)
