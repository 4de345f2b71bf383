"""``agent-lsp acp``: serve the ACP agent on stdio with the SDK's ``acp.run_agent``.

stdout carries the protocol, so logs go to stderr. Settings come from the environment
(``ANTHROPIC_API_KEY``, ``AGENT_LSP_*``) and the command line's setting flags.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Mapping
from typing import Any

from agent import apply_options, prewarm, resolve_settings
from acp_server.agent import AcpAgent
from acp_server.bridge import HarnessThread


async def serve(options: Mapping[str, Any], version: str) -> int:
    import acp

    settings, messages = resolve_settings(None)
    settings, more = apply_options(settings, dict(options))
    for message in messages + more:
        print(f"agent-lsp acp: {message}", file=sys.stderr)
    harnesses = HarnessThread()
    agent = AcpAgent(harnesses, settings, version)
    threading.Thread(target=prewarm, name="prewarm-anthropic", daemon=True).start()
    try:
        await acp.run_agent(agent, use_unstable_protocol=True)
    finally:
        await agent.shutdown()
        harnesses.stop()
    return 0


def main(options: Mapping[str, Any], version: str, log_level: str = "WARNING") -> int:
    logging.basicConfig(stream=sys.stderr, level=log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(serve(options, version))
