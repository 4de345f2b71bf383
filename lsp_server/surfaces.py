"""Standard LSP surfaces fed by harness events: work-done progress, approval diagnostics,
approvals asked with ``window/showMessageRequest``, the harness's notices (retries logged,
fallbacks shown), and what plain clients see of a turn
asked by a command (``PlainSurfaces``: a message when it starts and when it waits for
approval if the client shows no ``$/progress``, and at its end a message and an answer
diagnostic on the asking line).

Both are event subscribers: they never change the harness, they only draw it. A short turn in
the agent host can end before ``turn/start``'s reply registers it: ``EarlyEvents`` keeps its end
and answer for the tracker that registers it just after. Progress
follows PROTOCOL.md section 6 (begin "Agent", a report at each item start and each
approval, end with a one-line summary; cancel interrupts the turn).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lsprotocol import types as t
from pygls.capabilities import get_capability

from agent import (
    AgentMessageItem,
    ApprovalRequestedEvent,
    ApprovalResolvedEvent,
    Decision,
    Event,
    ItemCompletedEvent,
    ItemStartedEvent,
    Turn,
    TurnCompletedEvent,
    RemoteError,
    UnknownApproval,
    item_title,
)
from lsp_server import convert

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

    from lsp_server.runtime import Agent

log = logging.getLogger(__name__)

Token = str | int


class EarlyEvents:
    """What happened to turns before the front-end learned their id. Through the agent host a
    short turn's events can arrive before ``turn/start``'s reply: its end and its answer are
    kept here (the last few turns only) for the tracker that registers the turn just after."""

    def __init__(self, keep: int = 32) -> None:
        self._keep = keep
        self._ended: OrderedDict[str, TurnCompletedEvent] = OrderedDict()
        self._answers: OrderedDict[str, str] = OrderedDict()

    def note(self, event: Event) -> None:
        if isinstance(event, TurnCompletedEvent):
            self._put(self._ended, event.turn.id, event)
        elif (isinstance(event, ItemCompletedEvent) and isinstance(event.item, AgentMessageItem)
              and event.item.text.strip()):
            self._put(self._answers, event.turn_id, event.item.text)

    def _put(self, kept: OrderedDict[str, object], key: str, value: object) -> None:
        kept[key] = value
        kept.move_to_end(key)
        while len(kept) > self._keep:
            kept.popitem(last=False)

    def ended(self, turn_id: str) -> TurnCompletedEvent | None:
        return self._ended.pop(turn_id, None)

    def answer(self, turn_id: str) -> str:
        return self._answers.pop(turn_id, "")


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
        self._early = EarlyEvents()

    def client_supports(self) -> bool:
        return bool(get_capability(self._server.client_capabilities, "window.work_done_progress", False))

    def start(self, turn: Turn, token: Token | None) -> None:
        if self._early.ended(turn.id) is not None:
            return  # it ended before its reply came: no progress that would never end
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
            else:
                self._early.note(event)
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

    def __init__(self, server: LanguageServer, harness: Agent) -> None:
        self._server = server
        self._harness = harness
        self._published: set[str] = set()
        self._answers: dict[str, t.Diagnostic] = {}  # the last answer asked from each document

    def on_event(self, event: Event) -> None:
        if isinstance(event, (ApprovalRequestedEvent, ApprovalResolvedEvent, TurnCompletedEvent)):
            self.refresh()

    def set_answer(self, uri: str, diagnostic: t.Diagnostic | None) -> None:
        if diagnostic is None:
            self._answers.pop(uri, None)
        else:
            self._answers[uri] = diagnostic
        self.refresh()

    def refresh(self) -> None:
        by_uri: dict[str, list[t.Diagnostic]] = {uri: [d] for uri, d in self._answers.items()}
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

    def __init__(self, server: LanguageServer, harness: Agent) -> None:
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
                await self._harness.respond(approval.id, decision, None, "message", self._client_name())
            except (UnknownApproval, RemoteError):
                pass

    def _client_name(self) -> str | None:
        return getattr(self._server, "client_name", None)


def notice_shower(server: LanguageServer) -> Callable[[str], None]:
    """How the harness's notices reach the editor: a retry of a model request as a log
    message (they come in bursts and fix themselves), anything else (a fallback to another
    model, a broken rules file) as a warning the user sees."""

    def show(message: str) -> None:
        if ", retrying in " in message:
            server.window_log_message(t.LogMessageParams(type=t.MessageType.Info, message=f"agent-lsp: {message}"))
        else:
            server.window_show_message(t.ShowMessageParams(type=t.MessageType.Warning, message=message))

    return show


@dataclass
class _Origin:
    uri: str | None
    line: int | None
    answer: str = ""


class PlainSurfaces:
    """What a client that drops ``agent/event`` sees of a turn a command started: at most a
    message at the start and one per approval (only without ``$/progress``), then at the end a
    short message naming the chat file and, on the asking line, an answer diagnostic."""

    def __init__(self, server: LanguageServer, diagnostics: ApprovalDiagnostics,
                 progress: Callable[[], bool], chat_rel: Callable[[str], str | None]) -> None:
        self._server = server
        self._diagnostics = diagnostics
        self._progress = progress
        self._chat_rel = chat_rel
        self._turns: dict[str, _Origin] = {}
        self._early = EarlyEvents()

    def _show(self, message: str) -> None:
        self._server.window_show_message(t.ShowMessageParams(type=t.MessageType.Info, message=message))

    def started(self, turn: Turn, uri: str | None = None, line: int | None = None) -> None:
        origin = _Origin(uri, line, self._early.answer(turn.id))
        if uri is not None:
            self._diagnostics.set_answer(uri, None)
        ended = self._early.ended(turn.id)
        if ended is not None:  # a short turn's events came before turn/start's reply
            self._end(ended, origin)
            return
        self._turns[turn.id] = origin
        if not self._progress():
            self._show("Agent: working on it" + self._where(turn.thread_id))

    def _where(self, thread_id: str) -> str:
        rel = self._chat_rel(thread_id)
        return f" (chat: {rel})" if rel else ""

    def on_event(self, event: Event) -> None:
        origin = self._turns.get(getattr(event, "turn_id", None) or "")
        if isinstance(event, TurnCompletedEvent):
            origin = self._turns.pop(event.turn.id, None)
            if origin is not None:
                self._end(event, origin)
            else:
                self._early.note(event)
        elif origin is None:
            self._early.note(event)
        elif isinstance(event, ItemCompletedEvent) and isinstance(event.item, AgentMessageItem):
            if event.item.text.strip():
                origin.answer = event.item.text
        elif isinstance(event, ApprovalRequestedEvent) and not self._progress():
            self._show(f"Agent waits for your approval: {event.approval.title}. Run the code action "
                       f"\"Approve agent edit\" on the changed line or in the chat file{self._where(event.thread_id)}")

    def _end(self, event: TurnCompletedEvent, origin: _Origin) -> None:
        summary = convert.turn_summary(event)
        answer = origin.answer if event.turn.status == "completed" else summary
        self._show(convert.turn_end_message(summary, answer, self._chat_rel(event.thread_id)))
        if origin.uri is not None and origin.line is not None:
            self._diagnostics.set_answer(origin.uri, convert.answer_diagnostic(origin.line, answer or summary))
