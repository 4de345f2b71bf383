"""The language server: built by ``create_server``, state held by the server instance.

This module imports only pygls, lsprotocol and the protocol's method table
(``COMMAND_NAMES``, plain data from ``agent.methods``), so ``initialize`` is answered as fast as a bare pygls server; the harness (``runtime.py``) is built right after, on ``initialized``
or on the first request that needs it. Handlers stay a few lines: they convert and call
into ``agent/`` (see ``methods`` and ``convert``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from lsprotocol import types as t
from pygls.exceptions import JsonRpcServerNotInitialized
from pygls.protocol.language_server import lsp_method

from agent import COMMAND_NAMES, PROTOCOL_VERSION
from lsp_server import __version__
from lsp_server.jsonrpc import RobustProtocol, RobustServer

if TYPE_CHECKING:
    from lsp_server.runtime import Runtime

log = logging.getLogger(__name__)



class AgentProtocol(RobustProtocol):
    """Declares the agent commands and ``experimental.agentLsp`` in the capabilities (the
    command handlers themselves are registered with the runtime, after ``initialize``).
    Framing and envelope checks come from ``RobustProtocol`` (``jsonrpc.py``)."""

    @lsp_method(t.INITIALIZE)
    def lsp_initialize(self, params: t.InitializeParams) -> Generator[Any, Any, t.InitializeResult]:
        result = yield from super().lsp_initialize(params)
        result.capabilities.execute_command_provider = t.ExecuteCommandOptions(commands=list(COMMAND_NAMES))
        result.capabilities.experimental = {"agentLsp": {"protocolVersion": PROTOCOL_VERSION}}
        return result


class AgentServer(RobustServer):
    def __init__(self) -> None:
        super().__init__("agent-lsp", __version__, protocol_cls=AgentProtocol, max_workers=4)
        self.init_params: t.InitializeParams | None = None
        self.runtime: Runtime | None = None
        self.stopping = False

    def require_runtime(self) -> Runtime:
        if self.runtime is None:
            if self.init_params is None:
                raise JsonRpcServerNotInitialized("The server is not initialized yet; send initialize first")
            from lsp_server.runtime import build_runtime

            self.runtime = build_runtime(self, self.init_params)
        return self.runtime

    @property
    def client_name(self) -> str | None:
        """Who this client is ("Neovim 0.11.4"), from ``clientInfo`` when it sent one."""
        info = self.init_params.client_info if self.init_params is not None else None
        if info is None:
            return None
        return f"{info.name} {info.version}" if info.version else info.name

    def show(self, message: str, kind: t.MessageType = t.MessageType.Warning) -> None:
        self.window_show_message(t.ShowMessageParams(type=kind, message=message))

    def interrupt_soon(self, thread_id: str) -> None:
        if self.runtime is not None:
            asyncio.ensure_future(self.runtime.agent.interrupt(thread_id))


def create_server() -> AgentServer:
    server = AgentServer()

    @server.feature(t.INITIALIZE)
    def on_initialize(params: t.InitializeParams) -> None:
        server.init_params = params

    @server.feature(t.INITIALIZED)
    def on_initialized(params: t.InitializedParams) -> None:
        for message in server.require_runtime().startup_messages:
            server.show(message)

    def buffers_changed(params: Any) -> None:
        if server.runtime is not None:
            warning = server.runtime.documents.refused(params.text_document.uri)
            if warning is not None:  # a malformed URI: said once, then skipped by the harness
                server.show(warning)
            server.runtime.buffer_changed(params.text_document.uri)

    for method in (t.TEXT_DOCUMENT_DID_OPEN, t.TEXT_DOCUMENT_DID_CHANGE, t.TEXT_DOCUMENT_DID_CLOSE):
        server.feature(method)(buffers_changed)

    @server.feature(t.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def on_configuration(params: t.DidChangeConfigurationParams) -> None:
        from lsp_server.convert import to_plain

        raw = to_plain(params.settings)
        section = raw.get("agentLsp", raw) if isinstance(raw, dict) else raw
        options = to_plain(server.init_params.initialization_options) if server.init_params else None
        for message in server.require_runtime().apply_configuration(options, section):
            server.show(message)

    @server.feature(t.TEXT_DOCUMENT_CODE_ACTION,
                    t.CodeActionOptions(code_action_kinds=[t.CodeActionKind.QuickFix]))
    def on_code_action(params: t.CodeActionParams) -> list[t.CodeAction]:
        from lsp_server import convert
        from lsp_server.chat_commands import code_action_inputs

        runtime = server.require_runtime()
        pending = runtime.agent.pending_approvals()
        uri, context = params.text_document.uri, list(params.context.diagnostics)
        line, in_chat, prompt = code_action_inputs(runtime, uri, params.range)
        undo = runtime.undo.actions(runtime, uri, params.range) if runtime.undo and not in_chat else []
        return (convert.fix_actions(uri, context, {a.id for a in pending})
                + convert.approval_actions(uri, params.range, context, pending, anywhere=in_chat)
                + undo + convert.chat_actions(uri, params.range, line, in_chat, prompt))

    @server.feature(t.SHUTDOWN)
    async def on_shutdown(params: Any) -> None:
        server.stopping = True  # turns in the agent host go on; turns in this process end
        if server.runtime is not None:
            await server.runtime.agent.shutdown()

    return server
