"""The settings: one typed model, read the same way from every source.

``Settings`` declares each option once: its camelCase key (initializationOptions,
``workspace/didChangeConfiguration`` under ``agentLsp``, the VS Code settings), its environment
variable, its command-line flag, its type, bounds, default and help. ``from_environment``,
``apply_options`` and ``resolve_settings`` all go through it, and the CLI builds its flags from
``OPTIONS``. Each key is validated on its own: a bad value is reported (so a front-end can show
it) and replaced by its default; nothing here raises. The sources stack: environment, then
initializationOptions, then didChangeConfiguration, then the command line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from agent.model.pricing import CacheTtl, Price
from agent.protocol import PermissionMode

DEFAULT_MODEL = "claude-sonnet-5-5"
ApprovalUi = Literal["codeAction", "message"]


def _option(default: Any, help: str, env: str | None = None, cli: str | None = None, **bounds: Any) -> Any:  # noqa: A002
    return Field(default, description=help, json_schema_extra={"env": env, "cli": cli}, **bounds)


class Settings(BaseModel):
    """Immutable settings; a turn captures the value current when it starts."""

    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True, extra="forbid",
                              str_strip_whitespace=True)

    model: str = _option(DEFAULT_MODEL, "model name", "AGENT_LSP_MODEL", "--model", min_length=1)
    fallback_model: str | None = _option(None, "model used after repeated overloads",
                                         "AGENT_LSP_FALLBACK_MODEL", "--fallback-model", min_length=1)
    permission_mode: PermissionMode = _option("ask", "ask, acceptEdits, readOnly or bypass",
                                              "AGENT_LSP_PERMISSION_MODE", "--mode")
    approval_ui: ApprovalUi = _option("codeAction", "codeAction, or also message (window/showMessageRequest)")
    state_dir: Path | None = _option(None, "where threads are stored", "AGENT_LSP_STATE_DIR", "--state-dir")
    max_tokens: int = _option(16000, "output token limit per model request", "AGENT_LSP_MAX_TOKENS",
                              "--max-tokens", ge=256, le=128000)
    stream_idle_timeout: float = _option(90.0, "seconds a model stream may stay silent before it is retried",
                                         "AGENT_LSP_STREAM_IDLE_TIMEOUT", None, gt=0, le=3600)
    agent_host: bool = _option(True, "run turns in the agent host (one process per state directory that "
                               "outlives editors); false runs them in the front-end's own process",
                               "AGENT_LSP_HOST", None)
    host_idle_timeout: float = _option(600.0, "seconds the agent host stays up with no client and no running "
                                       "turn", "AGENT_LSP_HOST_IDLE_TIMEOUT", None, gt=0, le=7 * 86400)
    context_window: int | None = _option(None, "the model's context window in tokens (default: by model, "
                                         "200000 otherwise)", "AGENT_LSP_CONTEXT_WINDOW", "--context-window",
                                         ge=1024, le=10_000_000)
    auto_compact_at: int | None = _option(None, "compact the context before a request would send this many "
                                          "input tokens (default: the window minus maxTokens minus a reserve)",
                                          "AGENT_LSP_AUTO_COMPACT_AT", "--auto-compact-at", ge=512, le=10_000_000)
    memory_every: int = _option(30_000, "tokens of new work between updates of the background observer's session "
                                "note, which compaction starts from (0: no observer)", "AGENT_LSP_MEMORY_EVERY",
                                "--memory-every", ge=0, le=10_000_000)
    cache_ttl: CacheTtl = _option("5m", "how long the prompt cache is kept: 5m, or 1h for long sessions with idle "
                                  "gaps (cache writes cost more)", "AGENT_LSP_CACHE_TTL", "--cache-ttl")
    prices: dict[str, Price] = _option({}, "US dollars per million tokens by model (exact name or name prefix): "
                                       "{input, output, cacheRead, cacheWrite}; overrides the built-in table")

    def to_options(self) -> dict[str, Any]:
        """The camelCase options that rebuild these settings (``None`` values left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


@dataclass(frozen=True)
class Option:
    """One setting as each source names it."""

    key: str
    field: str
    env: str | None
    cli: str | None
    help: str
    default: Any


def _options() -> tuple[Option, ...]:
    found = []
    for name, info in Settings.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        found.append(Option(key=to_camel(name), field=name, env=extra.get("env"),  # type: ignore[arg-type]
                            cli=extra.get("cli"), help=info.description or "", default=info.default))  # type: ignore[arg-type]
    return tuple(found)


OPTIONS: tuple[Option, ...] = _options()
KEYS: tuple[str, ...] = tuple(option.key for option in OPTIONS)
_BY_KEY = {option.key: option for option in OPTIONS}
_BY_KEY.update({option.field: option for option in OPTIONS})  # snake_case spellings too


def api_key_present(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return bool(env.get("ANTHROPIC_API_KEY") or env.get("ANTHROPIC_AUTH_TOKEN"))


def _problem(error: ValidationError) -> str:
    first = error.errors()[0]
    return str(first.get("msg", "is not valid")).replace("Input should be", "must be")


def apply_options(base: Settings, options: Mapping[str, Any] | None, *,
                  source: str = "agent-lsp setting") -> tuple[Settings, list[str]]:
    """Overlay camelCase options on ``base``; return the result and one message per bad key."""
    if options is None:
        return base, []
    if not isinstance(options, Mapping):
        return base, [f"{source}s must be an object of options; using defaults"]
    errors: list[str] = []
    current = base.model_dump()
    for key, value in options.items():
        option = _BY_KEY.get(key)
        if option is None:
            errors.append(f"{source} {key!r} is not a known option; known options are {', '.join(KEYS)}; ignored")
            continue
        if value is None:
            continue
        if option.field == "state_dir" and isinstance(value, str):
            value = Path(value).expanduser() if value else value
        try:
            current = Settings.model_validate({**current, option.field: value}).model_dump()
        except ValidationError as exc:
            kept = current[option.field]
            errors.append(f"{source} {option.key!r} = {value!r} {_problem(exc)}; "
                          f"{'using the default' if kept == option.default else 'keeping'} {kept!r}")
    return Settings.model_validate(current), errors


def from_environment(env: Mapping[str, str] | None = None) -> tuple[Settings, list[str]]:
    """Settings from ``AGENT_LSP_*`` variables."""
    env = os.environ if env is None else env
    options: dict[str, Any] = {}
    for option in OPTIONS:
        if option.env and env.get(option.env):
            raw: Any = env[option.env]
            default = option.default
            if isinstance(default, (int, float)) and not isinstance(default, bool):
                try:
                    raw = type(default)(raw)
                except ValueError:
                    pass  # reported by validation below, naming the variable's value
            options[option.key] = raw
    return apply_options(Settings(), options, source="environment setting")


def resolve_settings(init_options: Mapping[str, Any] | None, env: Mapping[str, str] | None = None,
                     section: Mapping[str, Any] | None = None) -> tuple[Settings, list[str]]:
    """Environment, then initializationOptions, then a didChangeConfiguration section."""
    base, errors = from_environment(env)
    settings, more = apply_options(base, init_options)
    settings, last = apply_options(settings, section)
    return settings, errors + more + last
