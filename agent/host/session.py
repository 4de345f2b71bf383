"""One client connected to the agent host (``Session``): its handshake, its workspace, the
threads it follows and its presence on them, and the agent protocol it speaks over the socket
(every handler a few lines over the workspace's harness). ``server.HostServer`` accepts the
connection and owns the sessions.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from agent.config import apply_options
from agent.engine.approvals import UnknownApproval
from agent.engine.harness import Harness, NoDirectInput, NothingToCompact, TurnBusy
from agent.engine.titles import recap
from agent.engine.undo import UndoError
from agent.events import Event
from agent.files.hunks import HunkError
from agent.host.place import VERSION, key_proof
from agent.host.rpc import Connection, RpcError
from agent.methods import PROTOCOL_VERSION
from agent.params import (
    ApprovalRespondParams,
    ThreadCompactParams,
    ThreadListParams,
    ThreadResumeParams,
    ThreadStartParams,
    TurnInterruptParams,
    TurnStartParams,
)
from agent.store.sqlite import UnknownThread, new_id

if TYPE_CHECKING:
    from agent.host.server import Hosted, HostServer

log = logging.getLogger(__name__)


class Session:
    """One connected client: its name, its workspace, what it follows."""

    def __init__(self, host: HostServer, connection: Connection) -> None:
        self.host = host
        self.connection = connection
        self.name = "a client"
        self.hosted: Hosted | None = None
        self.everything = False  # workspace/subscribe: every thread's live events
        self.following: dict[str, int] = {}  # thread id -> last seq delivered
        self.client_id = new_id("cli")
        self.attached: set[str] = set()  # threads this client follows or started a turn in
        self.while_running: set[str] = set()  # of those, the ones it is on only while their turn runs
        self.unrelated: set[str] = set()  # threads known not to descend from a followed one
        for method in ("hello", "workspace/open", "workspace/subscribe", "thread/start", "thread/list",
                       "thread/resume", "thread/subscribe", "thread/unsubscribe", "thread/attach", "turn/start", "turn/interrupt",
                       "thread/compact", "approval/respond", "approval/pending", "host/status", "host/stop",
                       "turn/undo", "turn/redo"):
            connection.on(method, self._guarded(getattr(self, "_" + method.replace("/", "_"))))
        connection.on_notification("documents/update", self._document)
        connection.on_notification("editor/diagnostics", self._editor_diagnostics)
        connection.on_notification("settings/update", self._settings)

    def _guarded(self, handler: Any) -> Any:
        async def run(params: Any) -> Any:
            try:
                return await handler(params if isinstance(params, dict) else {})
            except (UnknownThread, UnknownApproval) as exc:
                raise RpcError(-32602, f"unknown id {exc.args[0]!r} in this workspace") from None
            except (NothingToCompact, NoDirectInput, UndoError, HunkError, ValidationError, KeyError, TypeError) as exc:
                raise RpcError(-32602, str(exc)) from None
            except TurnBusy as exc:
                raise RpcError(-32803, str(exc)) from None
        return run

    def leave(self) -> None:
        if self.hosted is not None:
            for thread_id in sorted(self.attached):
                self._detach(thread_id)
            self.hosted.editors.detach(self.connection)
            self.hosted.sessions.discard(self)

    def harness(self) -> Harness:
        if self.hosted is None:
            raise RpcError(-32002, "open a workspace first (workspace/open)")
        return self.hosted.harness

    def _follow_child(self, thread_id: str) -> None:
        assert self.hosted is not None
        try:
            parent = self.hosted.harness.store.lineage(thread_id)[0]
        except UnknownThread:
            return
        while parent is not None and parent not in self.following:
            parent = self.hosted.harness.store.lineage(parent)[0]
        if parent is not None:  # from its start: thread/started is its first event
            self.following[thread_id] = 0
        else:
            self.unrelated.add(thread_id)

    def _attach(self, thread_id: str) -> None:
        """This client is now on the thread: ``client/attached`` once, for every surface to show."""
        self.while_running.discard(thread_id)  # joined on purpose: it stays after the turn
        if thread_id not in self.attached:
            self.attached.add(thread_id)
            self.harness().presence(thread_id, self.client_id, self.name, attached=True)

    def on_turn(self, thread_id: str, started: bool) -> None:
        """An editor is on a thread while its turn runs, unless it joined it on purpose."""
        if self.hosted is None or self.connection.closed.done():
            return
        try:
            if started and thread_id not in self.attached:
                self._attach(thread_id)
                self.while_running.add(thread_id)
            elif not started and thread_id in self.while_running:
                self.while_running.discard(thread_id)
                self._detach(thread_id)
        except UnknownThread:
            pass

    def _detach(self, thread_id: str) -> None:
        if thread_id in self.attached and self.hosted is not None:
            self.attached.discard(thread_id)
            try:
                self.hosted.harness.presence(thread_id, self.client_id, self.name, attached=False)
            except UnknownThread:  # deleted meanwhile: nothing to leave
                pass

    def _check_child(self, thread_id: str) -> None:
        if thread_id not in self.following and self.following and not self.everything and thread_id not in self.unrelated:
            self._follow_child(thread_id)  # a subagent of a followed thread: its events too

    def notice(self, message: str, thread_id: str | None) -> None:
        """A notice about ``thread_id`` (a retry) reaches those who see that thread; one about
        none (the rules file) reaches everyone."""
        if thread_id is not None and not self.everything:
            self._check_child(thread_id)
            if thread_id not in self.following:
                return
        self.connection.notify("notice", {"message": message})

    def deliver(self, event: Event) -> None:
        self._check_child(event.thread_id)
        last = self.following.get(event.thread_id)
        if last is not None:
            if event.seq <= last:  # already replayed by thread/subscribe
                return
            self.following[event.thread_id] = event.seq
        elif not self.everything:
            return
        self.connection.notify("event", event.to_wire())

    # --- handshake and environment -----------------------------------------------------------

    async def _hello(self, params: dict[str, Any]) -> dict[str, Any]:
        self.name = str(params.get("clientName") or "a client")
        return {"version": VERSION, "protocolVersion": PROTOCOL_VERSION, "pid": os.getpid(), "salt": self.host.salt,
                "baseUrl": os.environ.get("ANTHROPIC_BASE_URL")}

    async def _workspace_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("keyProof") != key_proof(self.host.salt):
            raise RpcError(-32001, "the agent host runs with a different ANTHROPIC_API_KEY than this client. Run "
                                   "`agent-lsp host stop` and retry: the next client starts a host with its own.")
        root = str(Path(str(params["root"])).resolve())
        self.leave()
        self.hosted = self.host.hosted(root)
        self.hosted.sessions.add(self)
        if params.get("editor", True):  # a client that lands edits (a terminal client does not)
            self.hosted.editors.attach(self.connection, self.name, list(params.get("documents") or []),
                                       queries=bool(params.get("editorQueries")))
        await self._settings(params.get("settings"))
        return {"workspace": root}

    async def _workspace_subscribe(self, params: dict[str, Any]) -> dict[str, Any]:
        harness = self.harness()
        self.everything = True
        for turn in harness.running_turns():
            self.on_turn(turn.thread_id, started=True)
        return {}

    def _document(self, params: Any) -> None:
        if self.hosted is not None and isinstance(params, dict):
            self.hosted.editors.update(self.connection, params)

    def _editor_diagnostics(self, params: Any) -> None:
        """What an editor's language servers report for a document, into the workspace's sight."""
        if self.hosted is not None and isinstance(params, dict) and isinstance(params.get("uri"), str):
            self.hosted.harness.workspace.sight.publish_uri(params["uri"], params.get("version"),
                                                            params.get("diagnostics") or [])

    async def _settings(self, options: Any) -> None:
        if self.hosted is not None and isinstance(options, dict) and options:
            settings, problems = apply_options(self.host.settings, options)
            self.hosted.harness.update_settings(settings)
            for problem in problems:
                self.connection.notify("notice", {"message": problem})

    # --- the agent protocol ------------------------------------------------------------------

    async def _thread_start(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"thread": self.harness().start_thread(ThreadStartParams.model_validate(params).title).to_wire()}

    async def _thread_list(self, params: dict[str, Any]) -> dict[str, Any]:
        args = ThreadListParams.model_validate(params)
        return {"threads": [t.to_wire() for t in self.harness().list_threads(args.parent_thread_id)]}

    async def _thread_resume(self, params: dict[str, Any]) -> dict[str, Any]:
        args = ThreadResumeParams.model_validate(params)
        resumed = self.harness().resume(args.thread_id, args.after_seq)
        return {"thread": resumed.thread.to_wire(), "items": [i.to_wire() for i in resumed.items],
                "events": [e.to_wire() for e in resumed.events], "itemsComplete": resumed.items_complete}

    async def _thread_subscribe(self, params: dict[str, Any]) -> dict[str, Any]:
        harness = self.harness()
        thread = harness.get_thread(str(params["threadId"]))
        after = int(params.get("afterSeq") or 0)
        stored = harness.store.events_after(thread.id, after)  # sent before any live one
        self.unrelated.clear()  # a new followed thread: its children are no longer unrelated
        self.following[thread.id] = stored[-1].seq if stored else after
        for event in stored:
            self.connection.notify("event", event.to_wire())
        self._attach(thread.id)
        pending = harness.pending_approvals(thread.id)
        result = {"thread": harness.get_thread(thread.id).to_wire(), "pending": [a.to_wire() for a in pending]}
        missed = recap(stored) if after else None  # two lines on what happened while it was away
        return {**result, "recap": missed} if missed else result

    async def _thread_attach(self, params: dict[str, Any]) -> dict[str, Any]:
        """Presence only, for a client that already receives every event (an editor)."""
        self._attach(self.harness().get_thread(str(params["threadId"])).id)
        return {}

    async def _thread_unsubscribe(self, params: dict[str, Any]) -> dict[str, Any]:
        thread_id = str(params.get("threadId"))
        self.following.pop(thread_id, None)
        self._detach(thread_id)
        return {}

    async def _turn_start(self, params: dict[str, Any]) -> dict[str, Any]:
        args = TurnStartParams.model_validate(params)
        turn = self.harness().start_turn(args.thread_id, args.input).turn
        self._attach(args.thread_id)
        return {"turn": turn.to_wire()}

    async def _turn_interrupt(self, params: dict[str, Any]) -> dict[str, Any]:
        args = TurnInterruptParams.model_validate(params)
        self.harness().get_thread(args.thread_id)
        return {"interrupted": await self.harness().interrupt(args.thread_id)}

    async def _thread_compact(self, params: dict[str, Any]) -> dict[str, Any]:
        args = ThreadCompactParams.model_validate(params)
        turn = self.harness().compact(args.thread_id, args.instructions).turn
        self._attach(args.thread_id)
        return {"turn": turn.to_wire()}

    async def _approval_respond(self, params: dict[str, Any]) -> dict[str, Any]:
        args = ApprovalRespondParams.model_validate({k: v for k, v in params.items() if k != "source"})
        source = params.get("source") if params.get("source") in ("codeAction", "request", "message") else "request"
        outcome = self.harness().respond(args.approval_id, args.decision, args.message, source, self.name,
                                         args.hunks)
        return {"outcome": outcome}

    async def _turn_undo(self, params: dict[str, Any]) -> dict[str, Any]:
        thread_id, turn_id = str(params["threadId"]), params.get("turnId")
        return {"undone": [r.to_wire() for r in await self.harness().undo_turn(thread_id, turn_id or None)]}

    async def _turn_redo(self, params: dict[str, Any]) -> dict[str, Any]:
        thread_id, turn_id = str(params["threadId"]), params.get("turnId")
        return {"undone": [r.to_wire() for r in await self.harness().redo_turn(thread_id, turn_id or None)]}

    async def _approval_pending(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"pending": [a.to_wire() for a in self.harness().pending_approvals(params.get("threadId"))]}

    async def _host_status(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"version": VERSION, "pid": os.getpid(), "stateDir": str(self.host.place.state_dir),
                "uptimeSeconds": round(time.monotonic() - self.host.started, 1),
                "socket": str(self.host.place.socket), "log": str(self.host.place.log),
                "clients": sorted(s.name for s in self.host.sessions),
                "workspaces": sorted(self.host.workspaces),
                "runningTurns": [t.id for h in self.host.workspaces.values() for t in h.harness.running_turns()]}

    async def _host_stop(self, params: dict[str, Any]) -> dict[str, Any]:
        asyncio.get_running_loop().call_soon(self.host.stopping.set)
        return {"stopping": True}
