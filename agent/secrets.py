"""Keeping the API key out of everything the harness writes or shows.

Commands run without it in their environment; ``redact`` also replaces its literal value
wherever a tool's output still carries it (a ``cat`` of a dotfile, say), so it never reaches
an event, the store, a log or the model.
"""

from __future__ import annotations

import os

SECRET_VARIABLES = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
MIN_SECRET_LENGTH = 8


def secret_values() -> list[str]:
    return [v for name in SECRET_VARIABLES if len(v := os.environ.get(name, "")) >= MIN_SECRET_LENGTH]


def redact(text: str) -> str:
    for value in secret_values():
        if value in text:
            text = text.replace(value, "[redacted: API key]")
    return text


def child_environment() -> dict[str, str]:
    """The environment for commands the agent runs: everything but the API credentials."""
    return {k: v for k, v in os.environ.items() if k not in SECRET_VARIABLES}
