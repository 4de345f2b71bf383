"""The Messages API's request rules and its prompt-cache pricing, shared by both test doubles.

Owns ``check_request``: every way a Messages API request breaks the rules the real API
enforces (auth headers, fields, roles, content blocks, tool_use/tool_result pairing, tool
names, cache breakpoints); and ``PromptCache``, which simulates prompt caching so a harness
can measure its hit rate. Tokens are estimated as ``len(canonical JSON) // 4``. The fake HTTP
API (``tests/fake_anthropic.py``) and the scripted model (``agent/testing/kit.py``) both check
with this one copy. No I/O, no threads: the caller holds any lock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_BREAKPOINTS = 4
TTLS = ("5m", "1h")
LOOKBACK_BLOCKS = 20  # a breakpoint finds earlier cache entries at most this many blocks back
ROLES = ("user", "assistant", "system")
BLOCK_TYPES = frozenset({
    "text", "image", "document", "search_result", "thinking", "redacted_thinking", "tool_use",
    "tool_result", "server_tool_use", "web_search_tool_result", "web_fetch_tool_result",
    "code_execution_tool_result", "bash_code_execution_tool_result",
    "text_editor_code_execution_tool_result", "tool_search_tool_result", "container_upload",
    "compaction",
})
ASSISTANT_ONLY = frozenset({"tool_use", "thinking", "redacted_thinking", "server_tool_use"})
TOOL_RESULT_CONTENT = frozenset({"text", "image", "document", "search_result", "tool_reference"})


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def estimate_tokens(value: Any) -> int:
    return len(canonical(value)) // 4


# ---------------------------------------------------------------- validation


def check_request(body: Any, headers: Mapping[str, str], *, count_tokens: bool = False) -> list[str]:
    """Every rule ``body``/``headers`` break, as messages the real API might give ([] if valid)."""
    problems = _check_headers(headers)
    if not isinstance(body, dict):
        return [*problems, "body: must be a JSON object"]
    model = body.get("model")
    if not isinstance(model, str) or not model:
        problems.append(f"model: must be a non-empty string, got {model!r}")
    max_tokens = body.get("max_tokens")
    if not count_tokens and (type(max_tokens) is not int or max_tokens < 1):
        problems.append(f"max_tokens: must be a positive integer, got {max_tokens!r}")
    tool_problems, tool_names = _check_tools(body.get("tools"))
    problems += tool_problems
    problems += _check_system(body.get("system"))
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return [*problems, "messages: must be a non-empty list"]
    for i, message in enumerate(messages):
        problems += _check_message(i, message)
    if isinstance(messages[0], dict) and messages[0].get("role") != "user":
        problems.append(f"messages.0: the first message must use the user role, got {messages[0].get('role')!r}")
    problems += _check_pairing(messages, tool_names)
    marks = _count_cache_marks(body, problems)
    if marks > MAX_BREAKPOINTS:
        problems.append(f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {marks}.")
    return problems


def _check_headers(headers: Mapping[str, str]) -> list[str]:
    problems = []
    bearer = headers.get("authorization", "")
    if not headers.get("x-api-key") and not (bearer.startswith("Bearer ") and bearer[7:].strip()):
        problems.append("auth: neither an x-api-key header nor an 'Authorization: Bearer' header was sent")
    if not headers.get("anthropic-version"):
        problems.append("headers: anthropic-version is required")
    return problems


def _check_tools(tools: Any) -> tuple[list[str], set[str]]:
    if tools is None:
        return [], set()
    if not isinstance(tools, list):
        return ["tools: must be a list"], set()
    problems: list[str] = []
    names: set[str] = set()
    for j, tool in enumerate(tools):
        name = tool.get("name") if isinstance(tool, dict) else None
        if not isinstance(name, str) or not name:
            problems.append(f"tools.{j}.name: required (a non-empty string)")
            continue
        if name in names:
            problems.append(f"tools.{j}: tool names must be unique, {name!r} repeats")
        names.add(name)
        server_tool = tool.get("type") not in (None, "custom")
        if not server_tool and not isinstance(tool.get("input_schema"), dict):
            problems.append(f"tools.{j}.input_schema: required (an object) for tool {name!r}")
    return problems, names


def _check_system(system: Any) -> list[str]:
    if system is None:
        return []
    if isinstance(system, str):
        return []
    if not isinstance(system, list):
        return ["system: must be a string or a list of text blocks"]
    problems = []
    for j, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            problems.append(f"system.{j}: must be a text block")
        else:
            problems += _check_text(f"system.{j}", block)
    return problems


def _check_text(where: str, block: dict[str, Any]) -> list[str]:
    value = block.get("text")
    if not isinstance(value, str) or not value.strip():
        return [f"{where}: text content blocks must contain non-whitespace text"]
    return []


def _check_message(i: int, message: Any) -> list[str]:
    where = f"messages.{i}"
    if not isinstance(message, dict):
        return [f"{where}: must be an object"]
    role, content = message.get("role"), message.get("content")
    if role not in ROLES:
        return [f"{where}.role: must be one of {list(ROLES)}, got {role!r}"]
    if isinstance(content, str):
        return [] if content.strip() else [f"{where}.content: must contain non-whitespace text"]
    if not isinstance(content, list) or not content:
        return [f"{where}.content: must be a non-empty string or a non-empty list of blocks"]
    problems = []
    for j, block in enumerate(content):
        problems += _check_block(f"{where}.content.{j}", role, block)
    return problems


def _check_block(where: str, role: str, block: Any) -> list[str]:
    kind = block.get("type") if isinstance(block, dict) else None
    if kind not in BLOCK_TYPES:
        return [f"{where}.type: unknown content block type {kind!r}"]
    assert isinstance(block, dict)
    if role == "system" and kind != "text":
        return [f"{where}: a system message may only hold text blocks, got {kind!r}"]
    if kind in ASSISTANT_ONLY and role != "assistant":
        return [f"{where}: {kind} blocks may only appear in assistant messages"]
    if kind == "tool_result" and role != "user":
        return [f"{where}: tool_result blocks may only appear in user messages"]
    if kind == "text":
        return _check_text(where, block)
    if kind == "tool_use":
        ok = bool(block.get("id")) and isinstance(block.get("id"), str) and isinstance(block.get("name"), str)
        return [] if ok and isinstance(block.get("input"), dict) else [f"{where}: tool_use needs id, name and input"]
    if kind == "tool_result":
        return _check_tool_result(where, block)
    return []


def _check_tool_result(where: str, block: dict[str, Any]) -> list[str]:
    problems = []
    if not isinstance(block.get("tool_use_id"), str) or not block["tool_use_id"]:
        problems.append(f"{where}.tool_use_id: required")
    if "is_error" in block and not isinstance(block["is_error"], bool):
        problems.append(f"{where}.is_error: must be a boolean, got {block['is_error']!r}")
    content = block.get("content")
    if content is None or isinstance(content, str):
        return problems
    if not isinstance(content, list):
        return [*problems, f"{where}.content: must be a string or a list of content blocks"]
    for k, inner in enumerate(content):
        kind = inner.get("type") if isinstance(inner, dict) else None
        if kind not in TOOL_RESULT_CONTENT:
            problems.append(f"{where}.content.{k}.type: {kind!r} is not allowed inside a tool_result")
        elif kind == "text":
            problems += _check_text(f"{where}.content.{k}", inner)
    return problems


def _blocks(message: Any) -> list[dict[str, Any]]:
    content = message.get("content") if isinstance(message, dict) else None
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _role(message: Any) -> Any:
    return message.get("role") if isinstance(message, dict) else None


def _check_pairing(messages: list[Any], tool_names: set[str]) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for i, message in enumerate(messages):
        blocks = _blocks(message)
        previous = messages[i - 1] if i else None
        asked = [b.get("id") for b in _blocks(previous) if b.get("type") == "tool_use"] \
            if _role(previous) == "assistant" else []
        results = [b for b in blocks if b.get("type") == "tool_result"]
        if results:
            kinds = [b.get("type") == "tool_result" for b in blocks]
            if kinds != sorted(kinds, reverse=True):
                problems.append(f"messages.{i}: tool_result blocks must come first in the user message, "
                                "before any other content")
            answered = [r.get("tool_use_id") for r in results]
            for tool_use_id in answered:
                if tool_use_id not in asked:
                    problems.append(f"messages.{i}: unexpected tool_use_id {tool_use_id!r} in tool_result: each "
                                    "tool_result must answer a tool_use in the immediately preceding assistant message")
            if len(set(answered)) != len(answered):
                problems.append(f"messages.{i}: more than one tool_result for the same tool_use_id")
        if _role(message) != "assistant":
            continue
        uses = [b for b in blocks if b.get("type") == "tool_use"]
        for use in uses:
            if use.get("id") in seen:
                problems.append(f"messages.{i}: tool_use ids must be unique, {use.get('id')!r} repeats")
            seen.add(str(use.get("id")))
            if use.get("name") not in tool_names:
                problems.append(f"messages.{i}: tool_use names tool {use.get('name')!r}, which is not in the "
                                f"request's tools {sorted(tool_names)}")
        if not uses:
            continue
        ids = [u.get("id") for u in uses]
        following = messages[i + 1] if i + 1 < len(messages) else None
        if following is None:
            problems.append(f"messages.{i}: tool_use ids {ids} have no tool_result: the conversation ends with an "
                            "assistant message whose tool_use blocks were never answered")
        elif _role(following) != "user":
            problems.append(f"messages.{i}: tool_use ids {ids} must be answered by tool_result blocks in the "
                            f"immediately following user message, but messages.{i + 1} is a "
                            f"{_role(following)!r} message")
        else:
            answered_next = {b.get("tool_use_id") for b in _blocks(following) if b.get("type") == "tool_result"}
            missing = [x for x in ids if x not in answered_next]
            if missing:
                problems.append(f"messages.{i}: tool_use ids were found without tool_result blocks immediately "
                                f"after: {missing}. Each tool_use must have a tool_result in messages.{i + 1}")
    return problems


def _count_cache_marks(body: dict[str, Any], problems: list[str]) -> int:
    marked: list[tuple[str, Any]] = []
    if "cache_control" in body:
        marked.append(("cache_control", body["cache_control"]))
    for j, tool in enumerate(body.get("tools") or []):
        if isinstance(tool, dict) and "cache_control" in tool:
            marked.append((f"tools.{j}.cache_control", tool["cache_control"]))
    system = body.get("system")
    for j, block in enumerate(system if isinstance(system, list) else []):
        if isinstance(block, dict) and "cache_control" in block:
            marked.append((f"system.{j}.cache_control", block["cache_control"]))
    for i, message in enumerate(body.get("messages") or []):
        for j, block in enumerate(_blocks(message)):
            where = f"messages.{i}.content.{j}"
            if "cache_control" in block:
                marked.append((f"{where}.cache_control", block["cache_control"]))
            inner = block.get("content") if block.get("type") == "tool_result" else None
            for k, sub in enumerate(inner if isinstance(inner, list) else []):
                if isinstance(sub, dict) and "cache_control" in sub:
                    marked.append((f"{where}.content.{k}.cache_control", sub["cache_control"]))
    for where, value in marked:
        if value is None:
            continue  # an explicit null marks nothing
        if not isinstance(value, dict) or value.get("type") != "ephemeral" or value.get("ttl", "5m") not in TTLS:
            problems.append(f"{where}: must be {{'type': 'ephemeral', 'ttl'?: '5m'|'1h'}}, got {value!r}")
    return sum(1 for _, value in marked if value is not None)


# ---------------------------------------------------------------- prompt cache


def _marked(block: dict[str, Any]) -> bool:
    if block.get("cache_control") is not None:
        return True
    inner = block.get("content") if block.get("type") == "tool_result" else None
    if not isinstance(inner, list):
        return False
    return any(isinstance(sub, dict) and sub.get("cache_control") is not None for sub in inner)


def _unmarked(block: dict[str, Any]) -> dict[str, Any]:
    plain = {k: v for k, v in block.items() if k != "cache_control"}
    if block.get("type") == "tool_result" and isinstance(block.get("content"), list):
        plain["content"] = [_unmarked(s) if isinstance(s, dict) else s for s in block["content"]]
    return plain


def prefix_parts(body: dict[str, Any]) -> list[tuple[Any, bool]]:
    """The request in cache-prefix order (tools, system, message blocks): (part, has breakpoint)."""
    parts: list[tuple[Any, bool]] = []
    for tool in body.get("tools") or []:
        parts.append((["tool", _unmarked(tool)], _marked(tool)))
    system = body.get("system")
    for block in [{"type": "text", "text": system}] if isinstance(system, str) else system or []:
        parts.append((["system", _unmarked(block)], _marked(block)))
    for message in body.get("messages") or []:
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for block in blocks:
            parts.append((["message", message.get("role"), _unmarked(block)], _marked(block)))
    return parts


def input_tokens(body: dict[str, Any]) -> int:
    return max(1, sum(estimate_tokens(part) for part, _ in prefix_parts(body)))


@dataclass
class PromptCache:
    """Cache entries written so far: one key per breakpoint prefix (model included)."""

    written: set[str] = field(default_factory=set)

    def price(self, body: dict[str, Any]) -> tuple[dict[str, int], list[str]]:
        """Input-side usage for ``body`` and the keys it would write (pass them to ``write``)."""
        parts = prefix_parts(body)
        digest = hashlib.sha256(canonical(body.get("model")).encode())
        keys: list[str] = []
        running: list[int] = []
        total = 0
        for part, _ in parts:
            encoded = canonical(part)
            digest.update(encoded.encode() + b"\0")
            keys.append(digest.hexdigest())
            total += len(encoded) // 4
            running.append(total)
        breakpoints = [i for i, (_, marked) in enumerate(parts) if marked]
        if body.get("cache_control") is not None and parts:
            breakpoints.append(len(parts) - 1)  # automatic caching: the last block
        if not breakpoints:
            return {"input_tokens": max(total, 1), "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0}, []
        last = max(breakpoints)
        hits = [i for i in range(last + 1) if keys[i] in self.written
                and any(0 <= bp - i <= LOOKBACK_BLOCKS for bp in breakpoints)]
        read = running[max(hits)] if hits else 0
        usage = {"input_tokens": total - running[last], "cache_creation_input_tokens": running[last] - read,
                 "cache_read_input_tokens": read}
        return usage, [keys[i] for i in breakpoints]

    def write(self, keys: list[str]) -> None:
        self.written.update(keys)
