"""What a front-end holds to work through the agent host: ``HostClient``.

``HostClient.open`` connects to (or starts) the state directory's host, checks that both run
the same version, the same ``ANTHROPIC_BASE_URL`` and the same API key (proved with an HMAC,
never sent), opens the workspace with the editor's open documents, and then offers the
harness's API over the socket: threads, turns, approvals, compaction, subscriptions. Reads that
need no host (a thread's items, pending approvals) go straight to the shared store, so they stay
synchronous. Events arrive through ``on_event``; an editor lends ``apply`` for the host's
``editor/apply`` requests. When the connection drops, ``reconnect`` re-registers everything.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.config import Settings
from agent.host.place import VERSION, HostPlace, connect, key_proof
from agent.host.rpc import Connection, RemoteError
from agent.events import EVENT_ADAPTER, Event
from agent.protocol import ITEM_ADAPTER, Approval, Decision, InputPart, Item, Thread, Turn
from agent.store.sqlite import ResumePage, Store, UnknownThread

if TYPE_CHECKING:  # the harness is imported only where it runs (not in a client of the host)
    from agent.engine.harness import Resumed
    from agent.files.changes import ApplyResult, ChangeSet

log = logging.getLogger(__name__)


class HostMismatch(RuntimeError):
    """The running host cannot serve this client; the message says what to do."""


class HostClient:
    def __init__(self, place: HostPlace, root: Path, name: str, settings: Settings) -> None:
        self.place = place
        self.root = root.resolve()
        self.name = name
        self.settings = settings
        self.store = Store(place.state_dir / "threads.sqlite3")
        self.connection: Connection | None = None
        self.documents: Callable[[], list[dict[str, Any]]] = lambda: []
        self.apply: Callable[[ChangeSet], Awaitable[ApplyResult]] | None = None
        self.query: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]] | None = None  # editor/query (issue 20)
        self._diagnostics: dict[str, dict[str, Any]] = {}  # uri -> the editor's last report, re-sent on reconnect
        self._events: list[Callable[[Event], None]] = []
        self._notices: list[Callable[[str], None]] = []
        self._lost: list[Callable[[], None]] = []
        self._everything = False
        self._following: dict[str, int] = {}
        self._attached: set[str] = set()  # threads this client asked to be shown on (thread/attach)
        self._connecting: asyncio.Task[None] | None = None
        self._closing = False

    @classmethod
    async def open(cls, state_dir: Path, root: Path, name: str, settings: Settings, *,
                   documents: Callable[[], list[dict[str, Any]]] | None = None,
                   apply: Callable[[ChangeSet], Awaitable[ApplyResult]] | None = None) -> HostClient:
        client = cls(HostPlace(state_dir), root, name, settings)
        if documents is not None:
            client.documents = documents
        client.apply = apply
        await client.reconnect()
        return client

    async def reconnect(self) -> None:
        """(Re)connect, starting a host if none runs, and register this client again."""
        connection = await connect(self.place, self.name, idle_timeout=self.settings.host_idle_timeout)
        connection.on_notification("event", self._event)
        connection.on_notification("notice", lambda p: [n(str((p or {}).get("message", ""))) for n in self._notices])
        connection.on("editor/apply", self._editor_apply)
        connection.on("editor/query", self._editor_query)
        connection.on("ping", self._pong)
        hello = await connection.request("hello", {"clientName": self.name, "version": VERSION})
        if hello.get("version") != VERSION:
            connection.close()
            raise HostMismatch(f"the agent host running for {self.place.state_dir} is version {hello.get('version')}, "
                               f"this client is {VERSION}: stop it with `agent-lsp host stop` (the next client "
                               "starts a new one)")
        if (hello.get("baseUrl") or None) != (os.environ.get("ANTHROPIC_BASE_URL") or None):
            connection.close()
            raise HostMismatch(f"the agent host uses ANTHROPIC_BASE_URL={hello.get('baseUrl')!r}, this client "
                               f"{os.environ.get('ANTHROPIC_BASE_URL')!r}: stop the host with `agent-lsp host stop` "
                               "so that the next client starts one with its environment")
        try:
            await connection.request("workspace/open", {"root": str(self.root), "documents": self.documents(),
                                                        "editor": self.apply is not None,
                                                        "editorQueries": self.query is not None,
                                                        "keyProof": key_proof(str(hello["salt"])),
                                                        "settings": self.settings.to_options()})
        except RemoteError as exc:
            connection.close()
            raise HostMismatch(exc.message) from None
        self.connection = connection
        for report in list(self._diagnostics.values()):
            connection.notify("editor/diagnostics", report)
        if self._everything:
            await connection.request("workspace/subscribe", {})
        for thread_id, last in list(self._following.items()):
            await connection.request("thread/subscribe", {"threadId": thread_id, "afterSeq": last})
        for thread_id in sorted(self._attached - set(self._following)):
            await connection.request("thread/attach", {"threadId": thread_id})
        connection.closed.add_done_callback(lambda _: self._closing or [callback() for callback in list(self._lost)])

    def close(self) -> None:
        self._closing = True
        if self.connection is not None:
            self.connection.close()
        self.store.close()

    async def connected(self) -> Connection:
        """The live connection, (re)connecting once for every caller waiting at the same time."""
        if self.connection is None or self.connection.closed.done():
            if self._connecting is None or self._connecting.done():
                self._connecting = asyncio.ensure_future(self.reconnect())
            await asyncio.shield(self._connecting)
        assert self.connection is not None
        return self.connection

    async def _call(self, method: str, params: dict[str, Any]) -> Any:
        return await (await self.connected()).request(method, params)

    # --- events ------------------------------------------------------------------------------

    def on_event(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        self._events.append(callback)
        return lambda: self._events.remove(callback)

    def on_notice(self, callback: Callable[[str], None]) -> Callable[[], None]:
        self._notices.append(callback)
        return lambda: self._notices.remove(callback)

    def on_lost(self, callback: Callable[[], None]) -> None:
        """Called when the connection to the host drops."""
        self._lost.append(callback)

    def _event(self, params: Any) -> None:
        event = EVENT_ADAPTER.validate_python(params)
        if event.thread_id in self._following:
            self._following[event.thread_id] = max(self._following[event.thread_id], event.seq)
        for callback in list(self._events):
            try:
                callback(event)
            except Exception:
                log.exception("event subscriber failed on %s", event.type)

    async def subscribe_workspace(self) -> None:
        """Every live event of every thread of the workspace (what an editor shows)."""
        self._everything = True
        await self._call("workspace/subscribe", {})

    async def follow(self, thread_id: str, after_seq: int = 0) -> tuple[Thread, list[Approval]]:
        """The thread's events after ``after_seq`` (then live), and its pending approvals."""
        self._following[thread_id] = after_seq
        result = await self._call("thread/subscribe", {"threadId": thread_id, "afterSeq": after_seq})
        return Thread.model_validate(result["thread"]), [Approval.model_validate(a) for a in result["pending"]]

    async def attach(self, thread_id: str) -> None:
        """Be shown on the thread (``client/attached``), also after a reconnect, for a client
        that already receives its events (an editor showing the thread)."""
        self._attached.add(thread_id)
        await self._call("thread/attach", {"threadId": thread_id})

    async def detach(self, thread_id: str) -> None:
        self._attached.discard(thread_id)
        self._following.pop(thread_id, None)
        await self._call("thread/unsubscribe", {"threadId": thread_id})

    async def _pong(self, params: Any) -> dict[str, Any]:
        return {}

    async def _editor_apply(self, params: Any) -> dict[str, Any]:
        if self.apply is None:
            return {"outcome": "conflict", "detail": f"{self.name} takes no edits"}
        from agent.host.editors import change_set

        result = await self.apply(change_set(params))
        return {"outcome": result.outcome, "detail": result.detail}

    def document_changed(self, uri: str, version: int | None, text: str | None) -> None:
        """Tell the host an open document changed (``text`` None: it was closed)."""
        if self.connection is not None:
            self.connection.notify("documents/update", {"uri": uri, "version": version, "text": text})

    def editor_diagnostics(self, uri: str, version: int | None, diagnostics: list[Any]) -> None:
        """Tell the host what the editor's language servers report for a document."""
        report = {"uri": uri, "version": version, "diagnostics": diagnostics}
        self._diagnostics[uri] = report  # an empty report too: it says the editor checks this file
        if self.connection is not None:
            self.connection.notify("editor/diagnostics", report)

    async def _editor_query(self, params: Any) -> dict[str, Any]:
        if self.query is None:
            raise RemoteError(-32601, f"{self.name} answers no editor queries")
        return await self.query(params if isinstance(params, dict) else {})

    def update_settings(self, settings: Settings) -> None:
        self.settings = settings
        if self.connection is not None:
            self.connection.notify("settings/update", settings.to_options())

    # --- the harness's API over the socket ---------------------------------------------------

    async def start_thread(self, title: str | None = None) -> Thread:
        return Thread.model_validate((await self._call("thread/start", {"title": title}))["thread"])

    async def start_turn(self, thread_id: str, parts: list[InputPart]) -> Turn:
        wire = [p.to_wire() for p in parts]
        return Turn.model_validate((await self._call("turn/start", {"threadId": thread_id, "input": wire}))["turn"])

    async def compact(self, thread_id: str, instructions: str | None = None) -> Turn:
        result = await self._call("thread/compact", {"threadId": thread_id, "instructions": instructions})
        return Turn.model_validate(result["turn"])

    async def interrupt(self, thread_id: str) -> bool:
        return bool((await self._call("turn/interrupt", {"threadId": thread_id}))["interrupted"])

    async def respond(self, approval_id: str, decision: Decision, message: str | None = None,
                      source: str = "request", client_name: str | None = None,
                      hunks: list[int] | None = None) -> str:
        """Answer an approval (the host names this client as the one who answered)."""
        params: dict[str, Any] = {"approvalId": approval_id, "decision": decision, "message": message,
                                  "source": source}
        if hunks is not None:
            params["hunks"] = hunks
        result = await self._call("approval/respond", params)
        return str(result["outcome"])

    async def undo_turn(self, thread_id: str, turn_id: str | None = None) -> list[dict]:
        """Undo a turn's file changes (the thread's last turn that changed files without ``turn_id``);
        one ``{path, outcome, reason?}`` per file."""
        return list((await self._call("turn/undo", {"threadId": thread_id, "turnId": turn_id}))["undone"])

    async def redo_turn(self, thread_id: str, turn_id: str | None = None) -> list[dict]:
        """Redo an undone turn (the last one undone without ``turn_id``)."""
        return list((await self._call("turn/redo", {"threadId": thread_id, "turnId": turn_id}))["undone"])

    async def status(self) -> dict[str, Any]:
        return dict(await self._call("host/status", {}))

    # --- reads from the shared store ---------------------------------------------------------

    def get_thread(self, thread_id: str) -> Thread:
        thread = self.store.get_thread(thread_id)
        if self.store.thread_workspace(thread_id) != str(self.root):
            raise UnknownThread(thread_id)
        return thread

    def memory(self, thread_id: str) -> tuple[str | None, int]:
        """The session note, read from the shared store."""
        self.get_thread(thread_id)
        note = self.store.thread_state(thread_id).memory
        return (note.note, note.updated_at_seq) if note else (None, 0)

    def list_threads(self, parent_thread_id: str | None = None) -> list[Thread]:
        if parent_thread_id is not None:
            self.get_thread(parent_thread_id)
        return self.store.list_threads(str(self.root), parent_thread_id)

    def pending_approvals(self, thread_id: str | None = None) -> list[Approval]:
        return self.store.pending_approvals(str(self.root), thread_id)

    def resume_page(self, thread_id: str, after_seq: int = 0, limit: int | None = None) -> ResumePage:
        self.get_thread(thread_id)
        return self.store.resume_page(thread_id, after_seq, limit)

    def items(self, thread_id: str) -> list[Item]:
        self.get_thread(thread_id)
        return self.store.items(thread_id)

    def resume(self, thread_id: str, after_seq: int = 0) -> Resumed:
        return resumed(self.resume_page(thread_id, after_seq))

    async def shutdown(self) -> None:
        """Leave the host (its turns go on without this client)."""
        self.close()


async def stop_host(state_dir: Path) -> bool:
    """Ask the state directory's host to stop; False when none runs."""
    place = HostPlace(state_dir)
    try:
        connection = await connect(place, "agent-lsp host stop", start=False)
    except ConnectionRefusedError:
        return False
    try:
        await connection.request("hello", {"clientName": "agent-lsp host stop", "version": VERSION})
        await connection.request("host/stop", {})
        await asyncio.wait_for(connection.closed, 10)
    finally:
        connection.close()
    return True


def resumed(page: ResumePage) -> Resumed:
    """A wire resume page, typed."""
    from agent.engine.harness import Resumed

    return Resumed(page.thread, [ITEM_ADAPTER.validate_python(i) for i in page.items],
                   [EVENT_ADAPTER.validate_python(e) for e in page.events], page.items_complete)


async def host_status(state_dir: Path) -> dict[str, Any] | None:
    """What the state directory's host says of itself, or None when none runs."""
    try:
        connection = await connect(HostPlace(state_dir), "agent-lsp host status", start=False)
    except ConnectionRefusedError:
        return None
    try:
        await connection.request("hello", {"clientName": "agent-lsp host status", "version": VERSION})
        return dict(await connection.request("host/status", {}))
    finally:
        connection.close()
