"""The ACP agent: each handler is a few lines over the harness (``agent``'s public API).

A session is a thread. Harnesses are per workspace (the session's ``cwd``) and live on the
harness thread (``bridge``); their events become ``session/update``s (``convert``) that one
sender task writes in order, so a prompt's answer always follows its last update. An
approval becomes ``session/request_permission``; when another surface answers first, the
request has lost: the late answer is ignored (the harness says ``alreadyResolved``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acp import PROTOCOL_VERSION, RequestError
from acp import schema as s

from agent import (ApprovalRequestedEvent, ApprovalResolvedEvent, Event, Harness, Settings, Store, Thread, TurnBusy,
                   UnknownThread, Workspace)
from acp_server import convert
from acp_server.bridge import HarnessThread
from acp_server.files import ClientApplier, ClientDocuments

log = logging.getLogger(__name__)


@dataclass
class Session:
    id: str
    root: Path
    harness: Harness
    live: convert.LiveUpdates
    cancelling: bool = False


def _invalid(message: str) -> RequestError:
    return RequestError(-32602, message)


class AcpAgent:
    def __init__(self, harnesses: HarnessThread, settings: Settings, version: str) -> None:
        self.bridge = harnesses
        self.settings = settings
        self.version = version
        self.conn: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.client_name: str | None = None
        self.fs_read = self.fs_write = False
        self.sessions: dict[str, Session] = {}
        self.active: dict[Path, str] = {}  # the session opened or prompted last in each workspace
        self._harnesses: dict[Path, Harness] = {}  # touched on the harness thread only
        self._store: Store | None = None
        self._outbox: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._sender: asyncio.Task[None] | None = None
        self._asking: dict[str, str] = {}  # approval id -> its tool call (item) id, while the client is asked
        self._tasks: set[asyncio.Task[Any]] = set()

    def on_connect(self, conn: Any) -> None:
        self.conn = conn
        self.loop = asyncio.get_running_loop()
        self._sender = self.loop.create_task(self._send_updates())

    # --- ACP methods -------------------------------------------------------------------------

    async def initialize(self, protocol_version: int, client_capabilities: s.ClientCapabilities | None = None,
                         client_info: s.Implementation | None = None, **_: Any) -> s.InitializeResponse:
        self.client_name = client_info.name if client_info else None
        fs = client_capabilities.fs if client_capabilities else None
        self.fs_read, self.fs_write = bool(fs and fs.read_text_file), bool(fs and fs.write_text_file)
        return s.InitializeResponse(  # we speak version 1 only; a client that cannot will disconnect
            protocol_version=PROTOCOL_VERSION, agent_info=s.Implementation(name="agent-lsp", version=self.version),
            agent_capabilities=s.AgentCapabilities(
                load_session=True, prompt_capabilities=s.PromptCapabilities(embedded_context=True),
                session_capabilities=s.SessionCapabilities(list=s.SessionListCapabilities(),
                                                           resume=s.SessionResumeCapabilities())))

    async def authenticate(self, method_id: str, **_: Any) -> s.AuthenticateResponse:
        return s.AuthenticateResponse()

    async def new_session(self, cwd: str, mcp_servers: list[Any] | None = None, **_: Any) -> s.NewSessionResponse:
        session, _updates = await self.bridge.call(self._open, self._root(cwd), None, False)
        return s.NewSessionResponse(session_id=session.id, modes=self._modes(session))

    async def load_session(self, cwd: str, session_id: str, mcp_servers: list[Any] | None = None,
                           **_: Any) -> s.LoadSessionResponse:
        await self.bridge.call(self._open, self._root(cwd), session_id, True)
        await self._outbox.join()  # the whole thread is replayed before the answer
        return s.LoadSessionResponse(modes=self._modes(self.sessions[session_id]))

    async def resume_session(self, cwd: str, session_id: str, mcp_servers: list[Any] | None = None,
                             **_: Any) -> s.ResumeSessionResponse:
        await self.bridge.call(self._open, self._root(cwd), session_id, False)
        return s.ResumeSessionResponse(modes=self._modes(self.sessions[session_id]))

    async def list_sessions(self, cwd: str | None = None, cursor: str | None = None, **_: Any) -> s.ListSessionsResponse:
        roots = [self._root(cwd)] if cwd else list(self._harnesses)
        found = await self.bridge.call(lambda: [(r, t) for r in roots for t in self._harness(r).list_threads()])
        return s.ListSessionsResponse(sessions=[convert.session_info(thread, root) for root, thread in found])

    async def set_session_mode(self, session_id: str, mode_id: str, **_: Any) -> s.SetSessionModeResponse:
        session = self._session(session_id)
        if mode_id not in convert.MODES:
            raise _invalid(f"unknown mode {mode_id!r}; use one of: {', '.join(convert.MODES)}")
        harness = session.harness
        await self.bridge.call(lambda: harness.update_settings(harness.settings.model_copy(update={"permission_mode": mode_id})))
        for other in [x for x in self.sessions.values() if x.harness is harness]:  # the mode is the workspace's
            self._post(other.id, s.CurrentModeUpdate(session_update="current_mode_update", current_mode_id=mode_id))
        await self._outbox.join()
        return s.SetSessionModeResponse()

    async def prompt(self, prompt: list[Any], session_id: str, **_: Any) -> s.PromptResponse:
        session = self._session(session_id)
        try:
            parts = convert.prompt_parts(prompt)
        except ValueError as exc:
            raise _invalid(str(exc)) from None
        session.cancelling = False
        self.active[session.root] = session_id
        try:
            handle = await self.bridge.call(session.harness.start_turn, session_id, parts)
        except TurnBusy as exc:
            raise RequestError(-32600, str(exc)) from None
        report = await self.bridge.run(handle.result())
        await self._outbox.join()  # every update of the turn is out before the answer
        reason = convert.stop_reason(report)
        if reason is None:
            raise RequestError(-32603, f"the turn failed: {report.error}", {"error": report.error})
        return s.PromptResponse(stop_reason=reason)

    async def cancel(self, session_id: str, **_: Any) -> None:
        session = self.sessions.get(session_id)
        if session is not None:
            session.cancelling = True  # the client answers our pending requests "cancelled" next
            await self.bridge.run(session.harness.interrupt(session_id))

    # --- the harness thread ------------------------------------------------------------------

    def _harness(self, root: Path) -> Harness:
        harness = self._harnesses.get(root)
        if harness is None:
            if self._store is None:
                self._store = Store.open_default(self.settings.state_dir)
            assert self.loop is not None
            session_for = lambda: self.active.get(root)  # noqa: E731
            documents = ClientDocuments(self.loop, self.conn, session_for, self.bridge.on_thread) if self.fs_read else None
            applier = ClientApplier(self.loop, self.conn, session_for, self.fs_read) if self.fs_write else None
            harness = Harness(Workspace(root, documents), self._store, self.settings, applier=applier)
            harness.on_event(self._on_event)
            harness.on_notice(lambda text, thread_id: log.warning("%s", text))
            self._harnesses[root] = harness
        return harness

    def _open(self, root: Path, thread_id: str | None, replay: bool) -> tuple[Session, list[Any]]:
        """Start or find the thread, make it a session and, for a load, queue its replay:
        all in one step on the harness thread, so no event falls between replay and live."""
        harness = self._harness(root)
        try:
            thread: Thread = harness.start_thread() if thread_id is None else harness.get_thread(thread_id)
        except UnknownThread:
            raise _invalid(f"no session {thread_id!r} in {root}; session/list shows the sessions of a cwd") from None
        self.active[harness.workspace.root] = thread.id  # the client's files are read for this session
        read = self._reader(harness)
        session = Session(thread.id, harness.workspace.root, harness, convert.LiveUpdates(harness.workspace.root, read))
        updates = [u for item in harness.resume(thread.id).items for u in convert.replay(item, session.root, read)] if replay else []
        self.sessions[thread.id] = session
        for update in updates:
            self._post_threadsafe(thread.id, update)
        return session, updates

    @staticmethod
    def _reader(harness: Harness) -> convert.Read:
        def read(path: Path) -> str | None:
            try:
                text = harness.workspace.read(path)
            except Exception:
                return None
            return text.text if text.exists else None

        return read

    def _on_event(self, event: Event) -> None:
        session = self.sessions.get(event.thread_id)
        if session is None:
            return
        for update in session.live.updates(event):
            self._post_threadsafe(session.id, update)
        if isinstance(event, (ApprovalRequestedEvent, ApprovalResolvedEvent)):
            self._post_threadsafe(session.id, event)

    # --- the connection's loop ---------------------------------------------------------------

    def _post_threadsafe(self, session_id: str, update: Any) -> None:
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self._post, session_id, update)

    def _post(self, session_id: str, update: Any) -> None:
        self._outbox.put_nowait((session_id, update))

    async def _send_updates(self) -> None:
        while True:
            session_id, update = await self._outbox.get()
            try:
                if isinstance(update, ApprovalRequestedEvent):
                    self._spawn(self._ask(self.sessions[session_id], update))
                elif isinstance(update, ApprovalResolvedEvent):
                    self._lost(session_id, update)
                else:
                    await self.conn.session_update(session_id=session_id, update=update)
            except Exception:
                log.exception("could not send an update to session %s", session_id)
            finally:
                self._outbox.task_done()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _ask(self, session: Session, event: ApprovalRequestedEvent) -> None:
        approval = event.approval
        self._asking[approval.id] = approval.item_id
        tool_call = s.ToolCallUpdate(tool_call_id=approval.item_id, title=approval.title, status="pending")
        try:
            answer = await self.conn.request_permission(session_id=session.id, tool_call=tool_call,
                                                        options=convert.permission_options())
            decision = convert.decision(answer.outcome)
        except Exception as exc:
            log.warning("session/request_permission failed: %s", exc)
            decision = None
        if self._asking.pop(approval.id, None) is None:
            return  # answered on another surface first: this answer lost
        if decision is None and session.cancelling:
            return  # the interrupt declines it
        message = None if decision else f"The user dismissed the request in {self.client_name or 'the ACP client'}."
        try:
            await self.bridge.call(session.harness.respond, approval.id, decision or "reject", message,
                                   "request", self.client_name)
        except Exception as exc:
            log.warning("could not answer approval %s: %s", approval.id, exc)

    def _lost(self, session_id: str, event: ApprovalResolvedEvent) -> None:
        """Another surface answered an approval we are still asking about; record it."""
        item_id = self._asking.pop(event.approval_id, None)
        if item_id is None:
            return
        who = event.client_name or event.source
        log.info("approval %s was answered by %s (%s); the pending request lost", event.approval_id, who, event.decision)
        self._spawn(self.conn.session_update(session_id=session_id, update=s.ToolCallProgress(
            session_update="tool_call_update", tool_call_id=item_id,
            field_meta={"agentLsp": {"approvalAnsweredElsewhere": {"by": who, "decision": event.decision}}})))

    # --- helpers -----------------------------------------------------------------------------

    def _root(self, cwd: str) -> Path:
        root = Path(cwd)
        if not root.is_absolute() or not root.is_dir():
            raise _invalid(f"cwd {cwd!r} must be an absolute path to an existing directory")
        return root.resolve()

    def _session(self, session_id: str) -> Session:
        session = self.sessions.get(session_id)
        if session is None:
            raise _invalid(f"unknown session {session_id!r}; create it with session/new or open it with session/load")
        return session

    def _modes(self, session: Session) -> s.SessionModeState:
        return convert.modes(session.harness.settings.permission_mode)

    async def shutdown(self) -> None:
        for harness in list(self._harnesses.values()):
            await self.bridge.run(harness.shutdown())
        if self._sender is not None:
            self._sender.cancel()
