"""The language server: built by ``create_server``, state held by the server instance.

``initialize`` resolves settings (initializationOptions over environment), opens the thread
store and builds the harness with the editor's documents and applier. Handlers here stay a
few lines: they convert and call into ``agent/`` (see ``methods`` and ``convert``).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import tempfile
import threading
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types as t
from pygls.exceptions import JsonRpcServerNotInitialized
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from agent.config import Settings, apply_options, resolve_settings
from agent.harness import Harness
from agent.protocol import Event
from agent.store import Store
from agent.workspace import Workspace, uri_to_path
from lsp_server import __version__, convert, methods
from lsp_server.editor import LspApplier, LspDocuments
from lsp_server.surfaces import ApprovalDiagnostics, ProgressTracker

log = logging.getLogger(__name__)

COMMANDS = ("agent.ask", "agent.fix", "agent.approve", "agent.reject", "agent.interrupt")


class AgentProtocol(LanguageServerProtocol):
    """Adds ``experimental.agentLsp`` to the capabilities pygls computes."""

    @lsp_method(t.INITIALIZE)
    def lsp_initialize(self, params: t.InitializeParams) -> Generator[Any, Any, t.InitializeResult]:
        result = yield from super().lsp_initialize(params)
        result.capabilities.experimental = {"agentLsp": {"protocolVersion": 1}}
        return result


@dataclass
class Runtime:
    """Everything that exists once the client has said who it is and where it works."""

    harness: Harness
    progress: ProgressTracker
    diagnostics: ApprovalDiagnostics
    startup_messages: list[str] = field(default_factory=list)


class AgentServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("agent-lsp", __version__, protocol_cls=AgentProtocol, max_workers=4)
        self.runtime: Runtime | None = None
        self.init_options: dict[str, Any] = {}

    def require_runtime(self) -> Runtime:
        if self.runtime is None:
            raise JsonRpcServerNotInitialized("The server is not initialized yet; send initialize first")
        return self.runtime

    def send_event(self, event: Event) -> None:
        self.protocol.notify("agent/event", event.to_wire())

    def interrupt_soon(self, thread_id: str) -> None:
        if self.runtime is not None:
            asyncio.ensure_future(self.runtime.harness.interrupt(thread_id))


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


def create_server() -> AgentServer:
    server = AgentServer()

    @server.feature(t.INITIALIZE)
    def on_initialize(params: t.InitializeParams) -> None:
        options = convert.to_plain(params.initialization_options)
        server.init_options = options if isinstance(options, dict) else {}
        settings, messages = resolve_settings(options)
        store = open_store(settings, messages)
        documents = LspDocuments(server)
        harness = Harness(Workspace(workspace_root(params), documents), store, settings,
                          applier=LspApplier(server, documents))
        progress = ProgressTracker(server, server.interrupt_soon)
        diagnostics = ApprovalDiagnostics(server, harness.broker)
        harness.log.subscribe(server.send_event)
        harness.log.subscribe(progress.on_event)
        harness.broker.on_change.append(diagnostics.refresh)
        server.runtime = Runtime(harness, progress, diagnostics, messages)

    @server.feature(t.INITIALIZED)
    async def on_initialized(params: t.InitializedParams) -> None:
        runtime = server.require_runtime()
        for message in runtime.startup_messages:
            server.window_show_message(t.ShowMessageParams(type=t.MessageType.Warning, message=message))
        from agent.anthropic_model import prewarm

        # Import the SDK now, off the event loop, so the first turn does not wait for it;
        # a daemon thread, so an early exit does not wait for the import either.
        threading.Thread(target=prewarm, name="prewarm-anthropic", daemon=True).start()

    @server.feature(t.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def on_configuration(params: t.DidChangeConfigurationParams) -> None:
        runtime = server.require_runtime()
        raw = convert.to_plain(params.settings)
        section = raw.get("agentLsp", raw) if isinstance(raw, dict) else raw
        base, _ = resolve_settings(server.init_options)
        settings, messages = apply_options(base, section)
        runtime.harness.update_settings(settings)
        for message in messages:
            server.window_show_message(t.ShowMessageParams(type=t.MessageType.Warning, message=message))

    @server.feature(
        t.TEXT_DOCUMENT_CODE_ACTION,
        t.CodeActionOptions(code_action_kinds=[t.CodeActionKind.QuickFix]),
    )
    def on_code_action(params: t.CodeActionParams) -> list[t.CodeAction]:
        runtime = server.require_runtime()
        uri, context = params.text_document.uri, list(params.context.diagnostics)
        return convert.fix_actions(uri, context) + convert.approval_actions(
            uri, params.range, context, runtime.harness.broker.pending()
        )

    @server.feature(t.SHUTDOWN)
    async def on_shutdown(params: Any) -> None:
        if server.runtime is not None:
            await server.runtime.harness.shutdown()

    methods.register(server)
    return server
