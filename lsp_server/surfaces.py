"""Standard LSP surfaces fed by harness events: work-done progress, approval diagnostics,
and approvals asked with ``window/showMessageRequest``.

Both are event subscribers: they never change the harness, they only draw it. Progress
follows PROTOCOL.md section 6 (begin "Agent", a report at each item start and each
approval, end with a one-line summary; cancel interrupts the turn).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lsprotocol import types as t
from pygls.capabilities import get_capability

from agent import (
    ApprovalRequestedEvent,
    ApprovalResolvedEvent,
    Decision,
    Event,
    ItemStartedEvent,
    Turn,
    TurnCompletedEvent,
    UnknownApproval,
    item_title,
)
from lsp_server import convert

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

    from agent import Harness

log = logging.getLogger(__name__)

Token = str | int


@dataclass
class _TurnProgress:
    token: Token
    thread_id: str
    ready: bool = False
    queued: list[t.WorkDoneProgressReport | t.WorkDoneProgressEnd] = field(default_factory=list)


class ProgressTracker:
    """One work-done progress per turn, on the client's token or one the server creates."""

    def __init__(self, server: LanguageServer, interrupt: Callable[[str], None]) -> None:
        self._server = server
        self._interrupt = interrupt
        self._turns: dict[str, _TurnProgress] = {}

    def client_supports(self) -> bool:
        return bool(get_capability(self._server.client_capabilities, "window.work_done_progress", False))

    def start(self, turn: Turn, token: Token | None) -> None:
        if token is None:
            if not self.client_supports():
                return
            token = f"agent-lsp/{turn.id}"
            progress = self._turns[turn.id] = _TurnProgress(token, turn.thread_id)
            asyncio.ensure_future(self._create_then_begin(turn.id, progress))
            return
        progress = self._turns[turn.id] = _TurnProgress(token, turn.thread_id)
        self._begin(progress)

    async def _create_then_begin(self, turn_id: str, progress: _TurnProgress) -> None:
        try:
            await self._server.work_done_progress.create_async(progress.token)
        except Exception:  # the client refused: no progress for this turn
            log.warning("client refused work-done progress token %s", progress.token)
            self._turns.pop(turn_id, None)
            return
        self._begin(progress)

    def _begin(self, progress: _TurnProgress) -> None:
        wdp = self._server.work_done_progress
        future = wdp.tokens.setdefault(progress.token, Future())
        loop = asyncio.get_running_loop()
        future.add_done_callback(lambda f: loop.call_soon_threadsafe(self._cancelled, progress, f))
        wdp.begin(progress.token, t.WorkDoneProgressBegin(title="Agent", cancellable=True, message="Starting"))
        progress.ready = True
        for value in progress.queued:
            self._send(progress, value)
        progress.queued.clear()

    def _cancelled(self, progress: _TurnProgress, future: Future[object]) -> None:
        if future.cancelled():
            self._interrupt(progress.thread_id)

    def _send(self, progress: _TurnProgress, value: t.WorkDoneProgressReport | t.WorkDoneProgressEnd) -> None:
        if not progress.ready:
            progress.queued.append(value)
            return
        wdp = self._server.work_done_progress
        if isinstance(value, t.WorkDoneProgressEnd):
            wdp.end(progress.token, value)
            wdp.tokens.pop(progress.token, None)
        else:
            wdp.report(progress.token, value)

    def on_event(self, event: Event) -> None:
        turn_id = getattr(event, "turn_id", None)
        if isinstance(event, TurnCompletedEvent):
            progress = self._turns.pop(event.turn.id, None)
            if progress is not None:
                self._send(progress, t.WorkDoneProgressEnd(message=convert.turn_summary(event)))
            return
        progress = self._turns.get(turn_id) if turn_id else None
        if progress is None:
            return
        if isinstance(event, ItemStartedEvent):
            message = item_title(event.item)
            if message:
                self._send(progress, t.WorkDoneProgressReport(message=message))
        elif isinstance(event, ApprovalRequestedEvent):
            self._send(progress, t.WorkDoneProgressReport(message=f"Waiting for approval: {event.approval.title}"))


class ApprovalDiagnostics:
    """Publishes a diagnostic on each range a pending file-change approval would touch,
    redrawn from the harness's pending approvals whenever one is asked, answered or expires."""

    def __init__(self, server: LanguageServer, harness: Harness) -> None:
        self._server = server
        self._harness = harness
        self._published: set[str] = set()

    def on_event(self, event: Event) -> None:
        if isinstance(event, (ApprovalRequestedEvent, ApprovalResolvedEvent, TurnCompletedEvent)):
            self.refresh()

    def refresh(self) -> None:
        by_uri: dict[str, list[t.Diagnostic]] = {}
        for approval in self._harness.pending_approvals():
            for uri, diagnostic in convert.approval_diagnostics(approval):
                by_uri.setdefault(uri, []).append(diagnostic)
        for uri in self._published | set(by_uri):
            self._server.text_document_publish_diagnostics(
                t.PublishDiagnosticsParams(uri=uri, diagnostics=by_uri.get(uri, []))
            )
        self._published = set(by_uri)


MESSAGE_CHOICES: dict[str, Decision] = {
    "Approve": "approve", "Approve for session": "approveForSession", "Reject": "reject"}


class MessageApprovals:
    """With ``approvalUi: "message"``, also asks each approval with ``window/showMessageRequest``
    for editors without a shim. Whichever surface answers first wins; a late answer here
    changes nothing."""

    def __init__(self, server: LanguageServer, harness: Harness) -> None:
        self._server = server
        self._harness = harness
        self._tasks: set[asyncio.Task[None]] = set()

    def on_event(self, event: Event) -> None:
        if isinstance(event, ApprovalRequestedEvent) and self._harness.settings.approval_ui == "message":
            task = asyncio.ensure_future(self._ask(event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _ask(self, event: ApprovalRequestedEvent) -> None:
        approval = event.approval
        detail = approval.command or approval.title
        params = t.ShowMessageRequestParams(
            type=t.MessageType.Info, message=f"The agent asks: {detail}",
            actions=[t.MessageActionItem(title=title) for title in MESSAGE_CHOICES])
        try:
            choice = await self._server.window_show_message_request_async(params)
        except Exception:  # the client cannot show it; the other surfaces still can
            log.warning("window/showMessageRequest failed for approval %s", approval.id, exc_info=True)
            return
        if choice is None:
            return  # dismissed: the approval stays pending for the other surfaces
        decision = MESSAGE_CHOICES.get(choice.title)
        if decision is not None:
            try:  # a late answer, after another surface's, changes nothing
                self._harness.respond(approval.id, decision, None, "message", self._client_name())
            except UnknownApproval:
                pass

    def _client_name(self) -> str | None:
        return getattr(self._server, "client_name", None)
