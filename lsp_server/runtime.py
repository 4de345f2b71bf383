"""Everything that exists once the client has said who it is and where it works.

Imported only after ``initialize`` has been answered (see ``server.py``), so the harness,
pydantic models and SQLite never delay the editor's handshake. ``build_runtime`` resolves
settings, opens the store, builds the harness with the editor's documents and applier,
wires the event subscribers, and registers the ``agent/*`` methods and commands.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types as t

from agent import (EditorSight, Event, HostPlace, Harness, HostClient, LocalAgent, Settings, Store, Workspace, apply_options,
                   default_state_dir, prewarm, resolve_settings, uri_to_path)
from lsp_server import convert, methods
from lsp_server.editor import LspApplier, LspDocuments
from lsp_server.intel import answerer
from lsp_server.chatfile import ChatFiles
from lsp_server.quirks import Nudger, identify, log_notifier
from lsp_server.surfaces import ApprovalDiagnostics, MessageApprovals, PlainSurfaces, ProgressTracker, notice_shower
from lsp_server.undo_actions import UndoActions

if TYPE_CHECKING:
    from lsp_server.server import AgentServer


Agent = LocalAgent | HostClient  # the harness in this process, or in the agent host


@dataclass
class Runtime:
    agent: Agent
    documents: LspDocuments
    progress: ProgressTracker
    diagnostics: ApprovalDiagnostics
    startup_messages: list[str] = field(default_factory=list)
    current_thread_id: str | None = None  # the last thread started or resumed by this server
    chats: ChatFiles | None = None  # the chat files (issue 14), built with the runtime
    plain: PlainSurfaces | None = None
    undo: UndoActions | None = None  # "Undo agent turn" code actions

    def apply_configuration(self, init_options: Any, section: Any) -> list[str]:
        """initializationOptions, then a ``workspace/didChangeConfiguration`` section on top."""
        base, _ = resolve_settings(init_options if isinstance(init_options, dict) else None)
        settings, messages = apply_options(base, section)  # only the new section's problems are news
        self.agent.update_settings(settings)
        return messages

    async def current_thread(self, title: str | None = None) -> str:
        """The workspace's current thread, starting one if there is none (PROTOCOL.md §6)."""
        if self.current_thread_id is None:
            self.current_thread_id = (await self.agent.start_thread(title)).id
        return self.current_thread_id

    def buffer_changed(self, uri: str) -> None:
        """An open document changed (or closed): wake waiters, tell the host its text."""
        self.documents.changed()
        self.agent.document_changed(uri, *self.documents.state(uri))


def workspace_root(params: t.InitializeParams) -> Path:
    if params.workspace_folders:
        return uri_to_path(params.workspace_folders[0].uri)
    if params.root_uri:
        return uri_to_path(params.root_uri)
    if params.root_path:
        return Path(params.root_path)
    return Path.cwd()


def open_store(settings: Settings, messages: list[str]) -> Store:
    try:
        return Store.open_default(settings.state_dir)
    except (OSError, sqlite3.Error) as exc:
        fallback = Path(tempfile.mkdtemp(prefix="agent-lsp-state-"))
        messages.append(
            f"agent-lsp could not open its thread store ({exc}); threads are kept in {fallback} for "
            "this session only. Set AGENT_LSP_STATE_DIR or the stateDir option to a writable folder."
        )
        return Store.open_default(fallback)


def build_runtime(server: AgentServer, params: t.InitializeParams) -> Runtime:
    options = convert.to_plain(params.initialization_options)
    settings, messages = resolve_settings(options if isinstance(options, dict) else None)
    documents = LspDocuments(server)
    root = workspace_root(params)
    applier = LspApplier(server, documents)
    agent: Agent
    if settings.agent_host:  # turns run in the host and outlive this editor
        client = HostClient(HostPlace(settings.state_dir or default_state_dir()), root,
                            server.client_name or "an LSP client", settings)
        client.documents, client.apply = documents.registration, applier.apply
        client.query = answerer(server, params)  # the editor's own language servers (issue 20)
        client.on_lost(lambda: asyncio.ensure_future(_rejoin(server, client)))
        asyncio.ensure_future(_rejoin(server, client))
        agent = client
    else:
        agent = LocalAgent(Harness(Workspace(root, documents, EditorSight(answerer(server, params))),
                                   open_store(settings, messages), settings, applier=applier))
    progress = ProgressTracker(server, server.interrupt_soon)
    diagnostics = ApprovalDiagnostics(server, agent)

    def send_event(event: Event) -> None:
        server.protocol.notify("agent/event", event.to_wire())

    agent.on_event(send_event)
    agent.on_event(progress.on_event)
    agent.on_event(diagnostics.on_event)
    agent.on_event(MessageApprovals(server, agent).on_event)
    agent.on_notice(notice_shower(server))
    quirks = lambda: identify(server.init_params)  # noqa: E731
    chats = ChatFiles(root.resolve(), agent, documents, server, quirks, Nudger(quirks, log_notifier(server)))
    agent.on_event(chats.on_event)
    plain = PlainSurfaces(server, diagnostics, lambda: quirks().work_done_progress,
                          lambda thread_id: chats.rel(thread_id) if chats.path(thread_id).exists() else None)
    agent.on_event(plain.on_event)
    methods.register(server)
    if not settings.agent_host:
        # Import the SDK now, off the event loop, so the first turn does not wait for it; a
        # daemon thread, so an early exit does not wait for the import either.
        threading.Thread(target=prewarm, name="prewarm-anthropic", daemon=True).start()
    return Runtime(agent, documents, progress, diagnostics, messages, chats=chats, plain=plain,
                   undo=UndoActions(root))


async def _rejoin(server: AgentServer, client: HostClient) -> None:
    """(Re)join the agent host: register this editor, follow every thread, draw approvals."""
    if server.stopping:
        return
    try:
        await client.subscribe_workspace()
    except Exception as exc:  # the editor keeps working; the next request retries
        server.show(f"agent-lsp could not reach its agent host: {exc}")
        return
    if server.runtime is not None:
        server.runtime.diagnostics.refresh()
