"""The editor's own language intelligence (issue 20), the LSP side: queries to the client.

A client whose shim can ask its other language servers announces
``experimental.agentLsp.editorQueries: true`` in its capabilities; ``answerer`` then gives the
harness's ``EditorSight`` its ``answer``: an ``agent/editor/query`` request to that client.
Clients that do not announce it are never sent one (the tools then say no editor can answer).
Diagnostics come the other way, as the ``agent/editor/diagnostics`` notification
(``methods.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from lsprotocol import types as t

from lsp_server.convert import to_plain

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

QUERY_TIMEOUT_S = 10.0
Answer = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def editor_queries(params: t.InitializeParams | None) -> bool:
    """Whether the client announced ``experimental.agentLsp.editorQueries: true``."""
    if params is None or params.capabilities is None:
        return False
    experimental = to_plain(params.capabilities.experimental)
    agent = experimental.get("agentLsp") if isinstance(experimental, dict) else None
    return isinstance(agent, dict) and agent.get("editorQueries") is True


def answerer(server: LanguageServer, params: t.InitializeParams | None) -> Answer | None:
    """The sight's ``answer`` for this client, or None when it takes no queries."""
    if not editor_queries(params):
        return None

    async def ask(query: dict[str, Any]) -> dict[str, Any]:
        reply = await asyncio.wait_for(server.protocol.send_request_async("agent/editor/query", query),
                                       QUERY_TIMEOUT_S)
        plain = to_plain(reply)
        results = plain.get("results") if isinstance(plain, dict) else None
        return {"results": results if isinstance(results, list) else []}

    return ask
