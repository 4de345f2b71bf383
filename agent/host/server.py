"""The agent host: one process per state directory that runs every turn of its user's workspaces.

Clients (``agent-lsp serve``, ``agent-lsp attach``) connect to its Unix socket, say hello
(versions compared; the API key is never sent: the client proves it has the same one with an
HMAC over a salt the host picks), open a workspace (registering their open documents and what
they can do) and then use the agent protocol of PROTOCOL.md sections 3-5 over the socket, plus
``thread/subscribe`` (every event after a seq, once, in order, then live ones, and the pending
approvals) and ``workspace/subscribe`` (live events of every thread). Presence: a client is on a
thread (``client/attached``, then ``client/detached`` when it leaves) once it follows it, starts a
turn in it or asks ``thread/attach``; an editor (a ``workspace/subscribe`` client) is also on every
thread with a running turn, since it shows that turn's approvals. A turn outlives the
client that started it; an approval waits for whichever client answers first, and the answer
names the client. A client that stops answering pings (``HEARTBEAT_S``) is dropped. The host exits
on its own after ``idle_timeout`` seconds with no client and no running turn. Each
connection is a ``session.Session``; this module accepts them and owns the workspaces.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from agent.config import resolve_settings
from agent.engine.harness import Harness
from agent.events import Event, TurnCompletedEvent, TurnStartedEvent
from agent.files.sight import EditorSight
from agent.files.workspace import Workspace
from agent.host.editors import EditorRegistry, HostApplier
from agent.host.place import VERSION, HostPlace, peer_uid
from agent.host.rpc import MAX_LINE, Connection, RpcError
from agent.host.session import Session
from agent.store.sqlite import Store

log = logging.getLogger(__name__)
DEFAULT_IDLE_S = 600.0
HEARTBEAT_S = 15.0  # a client answers a ping within this long, or it is dropped


@dataclass
class Hosted:
    """One workspace served by the host: its harness and the editors attached to it."""

    harness: Harness
    editors: EditorRegistry
    sessions: set[Session] = field(default_factory=set)


class HostServer:
    def __init__(self, place: HostPlace, idle_timeout: float = DEFAULT_IDLE_S) -> None:
        self.place = place
        self.idle_timeout = idle_timeout
        self.salt = secrets.token_hex(16)
        self.settings, self.problems = resolve_settings(None)
        self.store = Store(place.state_dir / "threads.sqlite3")
        self.workspaces: dict[str, Hosted] = {}
        self.sessions: set[Session] = set()
        self.started = time.monotonic()
        self._idle_since = time.monotonic()
        self.stopping = asyncio.Event()
        self.heartbeat_s = float(os.environ.get("AGENT_LSP_HOST_HEARTBEAT", HEARTBEAT_S))

    async def serve(self) -> None:
        if self.place.socket.exists():  # left by a host that died: we hold the lock now
            self.place.socket.unlink()
        old = os.umask(0o177)
        try:  # bound by its name in the state dir (the host's working directory): no path length limit
            os.chdir(self.place.state_dir)
            server = await asyncio.start_unix_server(self._accept, path=self.place.socket.name, limit=MAX_LINE)
        finally:
            os.umask(old)
        os.chmod(self.place.socket, 0o600)
        log.info("agent host %s (pid %d) listening on %s", VERSION, os.getpid(), self.place.socket)
        self.store.detach_everyone()  # surfaces a dead host left attached
        watcher = asyncio.ensure_future(self._watch_idle())
        try:
            await self.stopping.wait()
        finally:
            watcher.cancel()
            server.close()
            for session in list(self.sessions):
                session.connection.close()
            for hosted in self.workspaces.values():
                await hosted.harness.shutdown()
            if self.place.socket.exists():
                self.place.socket.unlink()

    def busy(self) -> bool:
        return bool(self.sessions) or any(h.harness.running_turns() for h in self.workspaces.values())

    async def _watch_idle(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.idle_timeout / 4))
            if self.busy():
                self._idle_since = time.monotonic()
            elif time.monotonic() - self._idle_since >= self.idle_timeout:
                log.info("idle for %.0f s: the host exits", self.idle_timeout)
                self.stopping.set()
                return

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock: socket.socket | None = writer.get_extra_info("socket")
        uid = peer_uid(sock) if sock is not None else None
        if uid is not None and uid != os.getuid():
            log.warning("refused a connection from uid %s (the host serves uid %d only)", uid, os.getuid())
            writer.close()
            return
        session = Session(self, Connection(reader, writer, "client"))
        self.sessions.add(session)
        self._idle_since = time.monotonic()
        heartbeat = asyncio.ensure_future(self._heartbeat(session))
        try:
            await session.connection.closed
        finally:
            heartbeat.cancel()
            session.leave()
            self.sessions.discard(session)
            self._idle_since = time.monotonic()

    async def _heartbeat(self, session: Session) -> None:
        """A client that stops answering is dropped, so nothing waits on it (a turn never does)."""
        while not session.connection.closed.done():
            await asyncio.sleep(self.heartbeat_s)
            try:
                await session.connection.request("ping", {}, timeout=self.heartbeat_s)
            except (TimeoutError, ConnectionError, RpcError):
                log.warning("dropping %s: it stopped answering", session.name)
                session.connection.close()
                return

    def hosted(self, root: str) -> Hosted:
        if root not in self.workspaces:
            editors = EditorRegistry()
            harness = Harness(Workspace(Path(root), editors, EditorSight(editors.ask)), self.store, self.settings,
                              applier=HostApplier(editors))
            hosted = self.workspaces[root] = Hosted(harness, editors)
            harness.on_event(lambda event, h=hosted: self._publish(h, event))
            harness.on_notice(lambda message, thread_id, h=hosted: [s.notice(message, thread_id)
                                                                   for s in list(h.sessions)])
        return self.workspaces[root]

    def _publish(self, hosted: Hosted, event: Event) -> None:
        for session in list(hosted.sessions):
            session.deliver(event)
        if isinstance(event, (TurnStartedEvent, TurnCompletedEvent)):  # an editor is on a running turn
            started = isinstance(event, TurnStartedEvent)
            for session in list(hosted.sessions):
                if session.everything:  # after this event reached everyone, so seqs stay in order
                    asyncio.get_running_loop().call_soon(session.on_turn, event.thread_id, started)
