"""The protocol reference, ``docs/protocol.md``, rendered from the exported JSON Schema.

``python -m agent.docs`` (and ``python -m agent.schema``, with the other generated files) writes
``docs/protocol.md`` from ``agent.schema.build_schema()`` (the same source as
``spec/protocol.schema.json``: ``agent/protocol.py``, ``agent/events.py``, ``agent/params.py``,
``agent/methods.py`` and ``agent/config.py``): every method with its params and result, every
command, event, item, shared type, vocabulary and setting, the JSON-RPC error codes, and an example exchange for a
turn with an approval built from the shared reducer vector ``06_file_change_approved.json``
(each event re-validated against the wire models). ``--check`` writes nothing and exits 1
when the committed file differs from what the code gives, so CI catches drift.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, get_args

from agent import protocol, schema
from agent.events import EVENT_ADAPTER, Event
from agent.params import ThreadStartParams, TurnStartParams

ROOT = schema.ROOT
DOC_PATH = Path("docs/protocol.md")
VECTOR_PATH = Path("spec/reducer/vectors/06_file_change_approved.json")
REGENERATE = "python -m agent.docs"

# JSON-RPC errors the server answers with (lsp_server/jsonrpc.py and lsp_server/methods.py; the
# harness may not import the front-end, so the table is kept here and checked by tests).
ERRORS: tuple[tuple[int, str, str], ...] = (
    (-32700, "Parse error", "a frame's body is not UTF-8 or not JSON (`NaN` included); id null"),
    (-32600, "Invalid request", "a batch (JSON array), an envelope that is not JSON-RPC 2.0, an id that is "
                                "not an integer or a string, a second `initialize`, a request after `shutdown`, "
                                "a body longer than its JSON"),
    (-32601, "Method not found", "a method the server does not serve, including the version-2 methods whose "
                                 "issue has not landed yet (below)"),
    (-32602, "Invalid params", "params that do not fit the method (the message names the fields), an unknown "
                               "`threadId` or `approvalId`, an unknown command"),
    (-32002, "Server not initialized", "a request before `initialize`"),
    (-32803, "Request failed", "`agent/turn/start` on a thread whose turn is running (in this or another "
                               "process); the message names the running turn"),
)



def _members(union: Any) -> tuple[str, ...]:
    """The model names of a discriminated union of the protocol, in declaration order."""
    return tuple(model.__name__ for model in get_args(get_args(union)[0]))


ITEMS, EVENTS, INPUTS = _members(protocol.Item), _members(Event), _members(protocol.InputPart)


def _anchor(name: str) -> str:
    return name.lower()


def _type(node: dict[str, Any]) -> str:
    """A short, readable type for one schema node, linking named types."""
    if "$ref" in node:
        name = str(node["$ref"]).rsplit("/", 1)[1]
        return f"[{name}](#{_anchor(name)})"
    if "const" in node:
        return f"`{json.dumps(node['const'])}`"
    if "enum" in node:
        return " \\| ".join(f"`{json.dumps(value)}`" for value in node["enum"])
    for key in ("oneOf", "anyOf"):
        if key in node:
            parts = [_type(part) for part in node[key] if part.get("type") != "null"]
            return " \\| ".join(dict.fromkeys(parts))
    kind = node.get("type")
    if kind == "array":
        return f"{_type(node.get('items', {}))}[]"
    if kind == "object":
        return "object"
    return str(kind or "any")


def _bounds(node: dict[str, Any]) -> str:
    found = []
    for key, label in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<")):
        if key in node:
            found.append(f"{label} {node[key]}")
    if "minItems" in node:
        found.append(f"at least {node['minItems']} item")
    if "minLength" in node:
        found.append("not empty")
    return ", ".join(found)


def _clean_text(text: str | None) -> str:
    return " ".join((text or "").replace("``", "`").split())


def _fields(definition: dict[str, Any], *, skip: tuple[str, ...] = ()) -> list[str]:
    properties: dict[str, Any] = definition.get("properties", {})
    if not properties:
        return ["No fields."]
    required = set(definition.get("required", []))
    rows = ["| field | type | | notes |", "|---|---|---|---|"]
    for key, node in properties.items():
        if key in skip:
            continue
        inner = next((p for p in node.get("anyOf", []) if p.get("type") != "null"), node)
        notes = [part for part in (_clean_text(node.get("description")), _bounds(inner)) if part]
        if "default" in node and node["default"] is not None and key not in required:
            notes.append(f"default `{json.dumps(node['default'])}`")
        mark = "always" if key in required else "optional"
        rows.append(f"| `{key}` | {_type(node)} | {mark} | {'; '.join(notes)} |")
    return rows


def _model(defs: dict[str, Any], name: str, title: str, *, skip: tuple[str, ...] = ()) -> list[str]:
    definition = defs[name]
    return [f"### {title}", "", f"<a id=\"{_anchor(name)}\"></a>`{name}`: {_clean_text(definition.get('description'))}",
            "", *_fields(definition, skip=skip), ""]


def _tag(defs: dict[str, Any], name: str) -> str:
    return str(defs[name]["properties"]["type"]["const"])


def _methods(doc: dict[str, Any]) -> list[str]:
    entries = [e for e in doc["x-methods"] if e["kind"] != "command"]
    served = [e for e in entries if e["issue"] is None]
    later = [e for e in entries if e["issue"] is not None]
    lines = ["## Methods", "",
             "| method | kind | params | what it does; result |", "|---|---|---|---|"]
    for e in served:
        lines.append(f"| `{e['name']}` | {e['kind']}, {e['direction']} | [{e['params']}](#{_anchor(e['params'])}) "
                     f"| {e['summary']} |")
    lines += ["", "Params of each request (a field marked optional may be left out):", ""]
    for e in served:
        if e["kind"] == "request":
            lines += _model(doc["$defs"], e["params"], f"`{e['name']}`")
    lines += ["### Version-2 methods not built yet", "",
              "Declared for protocol version 2; each answers `-32601` until the issue that builds it lands.", "",
              "| method | what it will do | issue |", "|---|---|---|"]
    lines += [f"| `{e['name']}` | {e['summary']} | {e['issue']} |" for e in later]
    return [*lines, ""]


def _commands(doc: dict[str, Any]) -> list[str]:
    lines = ["## Commands", "",
             "Run with `workspace/executeCommand` (the server lists them in "
             "`executeCommandProvider.commands`). Without a `threadId` a command uses the workspace's "
             "current thread, starting one if there is none.", "",
             "| command | arguments | result | what it does |", "|---|---|---|---|"]
    for e in doc["x-methods"]:
        if e["kind"] == "command":
            lines.append(f"| `{e['name']}` | `{e['arguments']}` | `{e['result']}` | {e['summary']} |")
    return [*lines, ""]


def _events(doc: dict[str, Any]) -> list[str]:
    defs = doc["$defs"]
    lines = ["## Events", "",
             "The server sends each event as the params of the `agent/event` notification. Every event has "
             "`threadId`, `seq` (per thread, from 1, grows by exactly 1, stored before it is sent) and `type`. "
             "A client that reconnects calls `agent/thread/resume` with the last `seq` it saw and drops any "
             "event whose `seq` it already has. Ignore event types you do not know.", ""]
    for name in EVENTS:
        lines += _model(defs, name, f"`{_tag(defs, name)}`", skip=("threadId", "seq", "type"))
    return lines


def _items(doc: dict[str, Any]) -> list[str]:
    defs = doc["$defs"]
    lines = ["## Items", "",
             "Items are what a chat panel draws. Every item has `id`, `type` and `status` "
             f"({_type({'$ref': '#/$defs/ItemStatus'})}); an item arrives in `item/started` and ends in "
             "`item/completed`.", ""]
    for name in ITEMS:
        lines += _model(defs, name, f"`{_tag(defs, name)}`", skip=("id", "status", "type"))
    return lines


def _shared(doc: dict[str, Any]) -> list[str]:
    defs = doc["$defs"]
    lines = ["## Shared types", "",
             "Positions and ranges are LSP's: 0-based, UTF-16 code units unless the client negotiated "
             "`utf-8` in `general.positionEncodings`; ids are opaque strings.", ""]
    lines.append("### Input parts")
    lines += ["", f"<a id=\"inputpart\"></a>`InputPart`, by `type`: "
              + ", ".join(f"[`{_tag(defs, n)}`](#{_anchor(n)})" for n in INPUTS) + ".", ""]
    for name in INPUTS:
        lines += _model(defs, name, f"`{_tag(defs, name)}` part", skip=("type",))
    listed = {*ITEMS, *EVENTS, *INPUTS,
              *(e["params"] for e in doc["x-methods"] if "params" in e)}
    for name in sorted(defs):
        if name in listed or "properties" not in defs[name]:
            continue
        lines += _model(defs, name, f"`{name}`")
    lines += ["### Vocabularies", "", "| name | values |", "|---|---|"]
    for name, _ in schema.ENUMS:
        lines.append(f"| <a id=\"{_anchor(name)}\"></a>`{name}` | {_type(defs[name])} |")
    lines.append(f"| <a id=\"item\"></a>`Item` | {', '.join(f'`{_tag(defs, n)}`' for n in ITEMS)} |")
    lines.append(f"| <a id=\"event\"></a>`Event` | {', '.join(f'`{_tag(defs, n)}`' for n in EVENTS)} |")
    return [*lines, ""]


def _settings(doc: dict[str, Any]) -> list[str]:
    lines = ["## Settings", "",
             "Each setting is read, in this order, from its environment variable, `initializationOptions`, "
             "the `agentLsp` section of `workspace/didChangeConfiguration` and (for `agent-lsp ask`) its "
             "command-line flag; a later source wins. A bad value is reported (`window/showMessage` in an "
             "editor) and replaced by its default; a bad command-line flag is a usage error (exit code 2).", "",
             "| key | environment | `agent-lsp ask` flag | type | default | meaning |", "|---|---|---|---|---|---|"]
    for s in doc["x-settings"]:
        node = s["schema"]
        inner = next((p for p in node.get("anyOf", []) if p.get("type") != "null"), node)
        kind = _type(node) + (f" ({_bounds(inner)})" if _bounds(inner) else "")
        default = "none" if s["default"] is None else f"`{json.dumps(s['default'])}`"
        env = f"`{s['env']}`" if s["env"] else "—"
        cli = f"`{s['cli']}`" if s["cli"] else "—"
        lines.append(f"| `{s['key']}` | {env} | {cli} | {kind} | {default} | {s['help']} |")
    lines += ["", "`ANTHROPIC_API_KEY` (or `ANTHROPIC_AUTH_TOKEN`) and `ANTHROPIC_BASE_URL` are read by the "
              "anthropic SDK. Without a key the server still starts; a turn fails at once saying how to set it.", ""]
    return lines


def _errors() -> list[str]:
    lines = ["## Errors", "",
             "Errors are JSON-RPC errors whose message says what to do. Notifications are never answered.", "",
             "| code | name | when |", "|---|---|---|"]
    lines += [f"| `{code}` | {name} | {when} |" for code, name, when in ERRORS]
    return [*lines, ""]


def _message(arrow: str, payload: dict[str, Any]) -> list[str]:
    return [f"{arrow} {json.dumps(payload, ensure_ascii=False)}"]


def _example(doc: dict[str, Any], root: Path) -> list[str]:
    """A turn with an approval: requests built from the params models, events from the vector."""
    vector = json.loads((root / VECTOR_PATH).read_text(encoding="utf-8"))
    events = [EVENT_ADAPTER.validate_python(raw).to_wire() for raw in vector["events"]]
    user = next(e["item"] for e in events if e["type"] == "item/started")
    title = user["content"][0]["text"]
    events[0]["thread"]["title"] = title  # the CLI and the chat name a thread after its first prompt
    thread, turn = events[0]["thread"], events[1]["turn"]
    approval = next(e["approval"] for e in events if e["type"] == "approval/requested")
    start = TurnStartParams(thread_id=thread["id"], input=user["content"]).to_wire()
    commands = [e["name"] for e in doc["x-methods"] if e["kind"] == "command"]
    out: list[str] = []
    out += _message("→", {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                          "params": {"processId": None, "rootUri": "file:///ws", "capabilities": {},
                                     "clientInfo": {"name": "Visual Studio Code"}}})
    out += _message("←", {"jsonrpc": "2.0", "id": 1, "result": {"capabilities": {
        "executeCommandProvider": {"commands": commands},
        "experimental": {"agentLsp": {"protocolVersion": doc["x-protocolVersion"]}}}}})
    out += _message("→", {"jsonrpc": "2.0", "method": "initialized", "params": {}})
    out += _message("→", {"jsonrpc": "2.0", "id": 2, "method": "agent/thread/start",
                          "params": ThreadStartParams(title=title).to_wire()})
    out += _message("←", {"jsonrpc": "2.0", "method": "agent/event", "params": events[0]})
    out += _message("←", {"jsonrpc": "2.0", "id": 2, "result": {"thread": thread}})
    out += _message("→", {"jsonrpc": "2.0", "id": 3, "method": "agent/turn/start", "params": start})
    out += _message("←", {"jsonrpc": "2.0", "id": 3, "result": {"turn": turn}})
    rest = events[1:]
    asked = next(i for i, e in enumerate(rest) if e["type"] == "approval/requested")
    for event in rest[:asked + 1]:
        out += _message("←", {"jsonrpc": "2.0", "method": "agent/event", "params": event})
    out += _message("→", {"jsonrpc": "2.0", "id": 4, "method": "workspace/executeCommand",
                          "params": {"command": "agent.approve", "arguments": [approval["id"]]}})
    out += _message("←", {"jsonrpc": "2.0", "id": 4, "result": {"outcome": "resolved"}})
    for event in rest[asked + 1:]:
        out += _message("←", {"jsonrpc": "2.0", "method": "agent/event", "params": event})
    return ["## Example: a turn with an approval", "",
            "One JSON-RPC message per line (`→` client to server, `←` server to client), without the "
            "`Content-Length` framing; other capabilities and LSP traffic are left out. The model proposes an "
            "edit; the user picks the code action \"Approve agent edit: Edit calc.py\", which runs the command "
            "`agent.approve`; the server applies the edit (with `workspace/applyEdit` when the file is open in "
            "the editor, else on disk), and the turn ends. A chat panel answers with `agent/approval/respond` "
            "`{approvalId, decision}` instead (`source` is then `request`). The events are those of the shared "
            f"reducer vector `{VECTOR_PATH}`.", "", "```text", *out, "```", ""]


def render(doc: dict[str, Any] | None = None, root: Path = ROOT) -> str:
    """The text of ``docs/protocol.md``."""
    doc = schema.build_schema() if doc is None else doc
    version = doc["x-protocolVersion"]
    head = [f"# agent-lsp protocol, version {version}", "",
            f"<!-- Generated by agent/docs.py from the code (agent/protocol.py, agent/events.py, agent/params.py, "
            f"agent/methods.py, agent/config.py, "
            f"via agent/schema.py); do not edit. Regenerate: {schema.REGENERATE} (all generated files) or "
            f"{REGENERATE}; CI runs {schema.REGENERATE} --check. -->", "",
            "Everything travels over the editor's one LSP connection (JSON-RPC 2.0, `Content-Length` framing), "
            "beside the standard LSP messages. The editor starts `agent-lsp serve` (stdio; `--tcp HOST:PORT` "
            "listens on TCP). Custom methods live under `agent/`, fields are camelCase, a field marked optional "
            "may be absent (the server never sends `null`). The server announces the version in `initialize`: "
            f"`capabilities.experimental.agentLsp.protocolVersion` = `{version}`. The same vocabulary as a JSON "
            f"Schema (draft 2020-12): [`{schema.SCHEMA_PATH}`](../{schema.SCHEMA_PATH}); how a client folds events "
            "into state: [`spec/reducer/`](../spec/reducer/README.md).", "",
            "Contents: [Methods](#methods) · [Commands](#commands) · [Events](#events) · [Items](#items) · "
            "[Shared types](#shared-types) · [Settings](#settings) · [Errors](#errors) · "
            "[Example](#example-a-turn-with-an-approval)", ""]
    body = [*_methods(doc), *_commands(doc), *_events(doc), *_items(doc), *_shared(doc), *_settings(doc),
            *_errors(), *_example(doc, root)]
    return "\n".join(head + body).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=REGENERATE, description="Render docs/protocol.md from the code.")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if docs/protocol.md is stale")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository (default: this checkout)")
    args = parser.parse_args(argv)
    text = render(root=ROOT)
    path = args.root / DOC_PATH
    current = path.read_text(encoding="utf-8") if path.exists() else None
    if current == text:
        return 0
    if args.check:
        print(f"{DOC_PATH} is out of date; run {REGENERATE}", file=sys.stderr)
        return 1
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {DOC_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
