"""The fake API's rules now live in ``agent/testing/rules.py`` (one copy for the fake HTTP API
and the scripted model); this re-export keeps old imports working."""

from __future__ import annotations

from agent.testing.rules import (
    LOOKBACK_BLOCKS,
    MAX_BREAKPOINTS,
    PromptCache,
    canonical,
    check_request,
    estimate_tokens,
    input_tokens,
    prefix_parts,
)

__all__ = ["LOOKBACK_BLOCKS", "MAX_BREAKPOINTS", "PromptCache", "canonical", "check_request", "estimate_tokens",
           "input_tokens", "prefix_parts"]
