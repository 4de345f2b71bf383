"""Typed, defaulted settings from the environment and initializationOptions.

``resolve_settings`` validates each key on its own: a bad value is reported (so the server
can show it) and replaced by its default; it never raises. initializationOptions win over
the environment (PROTOCOL.md section 2).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, get_args

from agent.protocol import PermissionMode

DEFAULT_MODEL = "claude-sonnet-5-5"
APPROVAL_UIS = ("codeAction", "message")
KEYS = ("model", "fallbackModel", "permissionMode", "approvalUi", "stateDir", "maxTokens")


@dataclass(frozen=True)
class Settings:
    """Immutable settings; a turn captures the value current when it starts."""

    model: str = DEFAULT_MODEL
    fallback_model: str | None = None
    permission_mode: PermissionMode = "ask"
    approval_ui: str = "codeAction"
    state_dir: Path | None = None
    max_tokens: int = 16000
    api_key_present: bool = field(default=False, compare=False)


def _check(key: str, value: Any) -> Any:
    """Return the typed value for one option, or raise ValueError saying what is allowed."""
    if key in ("model", "fallbackModel"):
        if not isinstance(value, str) or not value.strip():
            raise ValueError("must be a non-empty model name such as " + repr(DEFAULT_MODEL))
        return value.strip()
    if key == "permissionMode":
        allowed = get_args(PermissionMode)
        if value not in allowed:
            raise ValueError("must be one of " + ", ".join(allowed))
        return value
    if key == "approvalUi":
        if value not in APPROVAL_UIS:
            raise ValueError("must be one of " + ", ".join(APPROVAL_UIS))
        return value
    if key == "stateDir":
        if not isinstance(value, str) or not value:
            raise ValueError("must be a directory path")
        return Path(value).expanduser()
    if key == "maxTokens":
        if not isinstance(value, int) or isinstance(value, bool) or not 256 <= value <= 128000:
            raise ValueError("must be an integer between 256 and 128000")
        return value
    raise ValueError("is not a known option; known options are " + ", ".join(KEYS))


_FIELDS = {
    "model": "model",
    "fallbackModel": "fallback_model",
    "permissionMode": "permission_mode",
    "approvalUi": "approval_ui",
    "stateDir": "state_dir",
    "maxTokens": "max_tokens",
}


def apply_options(base: Settings, options: Mapping[str, Any] | None) -> tuple[Settings, list[str]]:
    """Overlay camelCase options on ``base``; return the result and one message per bad key."""
    errors: list[str] = []
    updates: dict[str, Any] = {}
    if options is None:
        return base, errors
    if not isinstance(options, Mapping):
        return base, ["agent-lsp settings must be an object of options; using defaults"]
    for key, value in options.items():
        if value is None:
            continue
        try:
            updates[_FIELDS.get(key, key)] = _check(key, value)
        except ValueError as exc:
            default = getattr(Settings(), _FIELDS.get(key, ""), None)
            tail = f"; using {default!r}" if key in _FIELDS else "; ignored"
            errors.append(f"agent-lsp setting {key!r} = {value!r} {exc}{tail}")
    return replace(base, **updates), errors


def from_environment(env: Mapping[str, str] | None = None) -> tuple[Settings, list[str]]:
    """Settings from ``AGENT_LSP_*`` variables (and whether an API key is present)."""
    env = os.environ if env is None else env
    options: dict[str, Any] = {}
    if env.get("AGENT_LSP_MODEL"):
        options["model"] = env["AGENT_LSP_MODEL"]
    if env.get("AGENT_LSP_FALLBACK_MODEL"):
        options["fallbackModel"] = env["AGENT_LSP_FALLBACK_MODEL"]
    if env.get("AGENT_LSP_PERMISSION_MODE"):
        options["permissionMode"] = env["AGENT_LSP_PERMISSION_MODE"]
    if env.get("AGENT_LSP_STATE_DIR"):
        options["stateDir"] = env["AGENT_LSP_STATE_DIR"]
    key_present = bool(env.get("ANTHROPIC_API_KEY") or env.get("ANTHROPIC_AUTH_TOKEN"))
    settings, errors = apply_options(Settings(api_key_present=key_present), options)
    return settings, errors


def resolve_settings(
    init_options: Mapping[str, Any] | None, env: Mapping[str, str] | None = None
) -> tuple[Settings, list[str]]:
    """Environment first, then initializationOptions on top."""
    base, errors = from_environment(env)
    settings, more = apply_options(base, init_options)
    return settings, errors + more
