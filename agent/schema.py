"""The protocol's vocabulary exported from the code: one JSON Schema, and TypeScript types built from it.

``python -m agent.schema`` writes ``spec/protocol.schema.json`` (JSON Schema draft 2020-12):
``$defs`` holds every wire model of ``agent.protocol``, ``agent.events`` and ``agent.params``
(named by its class), the discriminated
unions ``InputPart``, ``Item`` and ``Event`` and the named literal vocabularies (``ItemStatus``,
``Decision``, ...); ``x-methods`` lists ``agent.methods`` (requests, notifications and
``workspace/executeCommand`` commands) and ``x-settings`` lists ``agent.config.OPTIONS`` with
each field's schema. ``render_typescript`` turns that schema into
``editors/vscode/src/chat/protocol.generated.ts``, which the VS Code shim's ``protocol.ts``
re-exports, and ``agent.docs.render`` into ``docs/protocol.md``. ``--check`` writes nothing and
exits 1 when any of these files differs from what the code gives, so CI catches drift.

The schema describes what travels, in serialization mode: a field is required when it is
always sent (``to_wire`` leaves out only ``None``), except in request params, where a field
with a default may be left out by the client. Output is deterministic: keys sorted, except a
model's properties, which keep their declaration order.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, get_args

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaValue

from agent import config, events, methods, params, protocol

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = Path("spec/protocol.schema.json")
TS_PATH = Path("editors/vscode/src/chat/protocol.generated.ts")
REGENERATE = "python -m agent.schema"

# The modules that hold the wire vocabulary; no name is defined in two of them.
MODULES: tuple[ModuleType, ...] = (protocol, events, params)
# Bases that only lend fields to the models on the wire; every other ``Wire`` model is exported.
BASES: tuple[type[BaseModel], ...] = (protocol.Wire, protocol.ItemBase, events.EventBase)
UNIONS: tuple[tuple[str, Any], ...] = (
    ("InputPart", protocol.InputPart), ("Item", protocol.Item), ("Event", events.Event),
)
# Named literal vocabularies: an inline enum with exactly these values becomes a $ref.
ENUMS: tuple[tuple[str, Any], ...] = (
    ("ThreadStatus", protocol.ThreadStatus), ("TurnStatus", protocol.TurnStatus),
    ("ItemStatus", protocol.ItemStatus), ("PermissionMode", protocol.PermissionMode),
    ("Decision", protocol.Decision), ("ApprovalSource", protocol.ApprovalSource),
    ("ApprovalUi", config.ApprovalUi),
)
_DATA_KEYS = frozenset({"default", "enum", "const", "examples", "discriminator"})
_NAME_MAPS = frozenset({"properties", "$defs", "patternProperties"})


def _wire_models() -> list[type[BaseModel]]:
    """Every model of the wire modules (``MODULES``) that travels, by name."""
    found = {value for module in MODULES for value in vars(module).values()
             if isinstance(value, type) and issubclass(value, protocol.Wire) and value not in BASES}
    return sorted(found, key=lambda model: model.__name__)


def wire_model(name: str) -> type[BaseModel] | None:
    """The wire model called ``name``, from whichever of ``MODULES`` defines it."""
    for module in MODULES:
        value = vars(module).get(name)
        if isinstance(value, type) and issubclass(value, protocol.Wire) and value.__module__ == module.__name__:
            return value
    return None


def _params_names() -> set[str]:
    """The models that are a method's params (clients may leave out their defaulted fields)."""
    return {method.params for method in methods.METHODS}


def _required(model: type[BaseModel], *, params: bool) -> list[str]:
    """The wire names always present: no default, the ``type`` tag, or (not params) a non-None default."""
    names = []
    for name, info in model.model_fields.items():
        always_sent = info.default is not None and not params
        if info.is_required() or name == "type" or always_sent:
            names.append(info.alias or name)
    return names


def _clean(node: Any, refs: Callable[[dict[str, Any]], dict[str, Any] | None]) -> Any:
    """Drop pydantic's generated titles; replace inline named unions and enums by ``$ref``s."""
    if isinstance(node, list):
        return [_clean(child, refs) for child in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title":
            continue
        if key in _NAME_MAPS:
            out[key] = {name: _clean(child, refs) for name, child in value.items()}
        elif key in _DATA_KEYS:
            out[key] = value
        else:
            out[key] = _clean(value, refs)
    return refs(out) or out


def _named_refs(unions: dict[str, JsonSchemaValue]) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    enums = {json.dumps(sorted(get_args(literal))): name for name, literal in ENUMS}

    def refs(node: dict[str, Any]) -> dict[str, Any] | None:
        for name, union in unions.items():
            if node.get("oneOf") == union["oneOf"] and node.get("discriminator") == union["discriminator"]:
                rest = {k: v for k, v in node.items() if k not in ("oneOf", "discriminator")}
                return {"$ref": f"#/$defs/{name}", **rest}
        if "enum" in node and node.get("type") == "string":
            name = enums.get(json.dumps(sorted(node["enum"])))
            if name:
                rest = {k: v for k, v in node.items() if k not in ("enum", "type")}
                return {"$ref": f"#/$defs/{name}", **rest}
        return None

    return refs


def _methods() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for method in methods.METHODS:
        entry: dict[str, Any] = {"name": method.name, "params": method.params, "summary": method.summary,
                                 "kind": method.kind, "direction": method.direction, "issue": method.issue}
        if any(hasattr(module, method.params) for module in MODULES):  # a model or a union
            entry["paramsRef"] = f"#/$defs/{method.params}"
        entries.append(entry)
    for command in methods.COMMANDS:
        entries.append({"name": command.name, "arguments": command.arguments, "result": command.result,
                        "summary": command.summary, "kind": "command", "direction": "client→server",
                        "via": "workspace/executeCommand", "issue": None})
    return entries


def _settings(refs: Callable[[dict[str, Any]], dict[str, Any] | None]) -> list[dict[str, Any]]:
    fields = config.Settings.model_json_schema(by_alias=True, mode="serialization")["properties"]
    entries = []
    for option in config.OPTIONS:
        field = {k: v for k, v in fields[option.key].items() if k not in ("env", "cli")}
        entries.append({"key": option.key, "field": option.field, "env": option.env, "cli": option.cli,
                        "help": option.help, "default": field.get("default"), "schema": _clean(field, refs)})
    return entries


def build_schema() -> dict[str, Any]:
    """The whole protocol as one JSON Schema document (a fresh dict each call)."""
    inputs = [(model.__name__, model) for model in _wire_models()] + list(UNIONS)
    adapters = [(name, "serialization", TypeAdapter(kind)) for name, kind in inputs]
    tops, generated = TypeAdapter.json_schemas(adapters, by_alias=True, ref_template="#/$defs/{model}")
    defs: dict[str, Any] = dict(generated.get("$defs", {}))
    unions = {name: tops[(name, "serialization")] for name, _ in UNIONS}
    refs = _named_refs(unions)
    param_names = _params_names()
    for name, schema in list(defs.items()):
        model = wire_model(name)
        assert model is not None, name
        schema = _clean(schema, refs)
        schema["required"] = _required(model, params=name in param_names)
        defs[name] = schema
    descriptions = {"InputPart": "A part of a turn's input, by `type`.",
                    "Item": "One unit of a turn, what a chat panel draws, by `type`.",
                    "Event": "Something that happened to a thread (the `agent/event` notification), by `type`."}
    for name, union in unions.items():
        defs[name] = {**union, "description": descriptions[name]}
    for name, literal in ENUMS:
        defs[name] = {"enum": list(get_args(literal)), "type": "string"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "agent-lsp protocol",
        "description": f"Generated by agent/schema.py from agent/protocol.py, agent/events.py, "
                       f"agent/params.py, agent/methods.py and agent/config.py; do not edit (run {REGENERATE}).",
        "x-protocolVersion": methods.PROTOCOL_VERSION,
        "$defs": defs,
        "x-methods": _methods(),
        "x-settings": _settings(refs),
    }


def _canonical(node: Any, *, keep_order: bool = False) -> Any:
    if isinstance(node, list):
        return [_canonical(child) for child in node]
    if not isinstance(node, dict):
        return node
    keys = list(node) if keep_order else sorted(node)
    return {key: _canonical(node[key], keep_order=(key == "properties" and not keep_order)) for key in keys}


def dump_schema(schema: dict[str, Any]) -> str:
    """The file's text: keys sorted (a model's properties in declaration order), two-space indent."""
    return json.dumps(_canonical(schema), indent=2, ensure_ascii=False) + "\n"


def generated_files() -> dict[Path, str]:
    """Each generated file (relative to the repository) and the text it must hold."""
    from agent import docs  # docs/protocol.md is rendered from this schema (agent/docs.py)

    schema = build_schema()
    return {SCHEMA_PATH: dump_schema(schema), TS_PATH: render_typescript(schema), docs.DOC_PATH: docs.render(schema)}


# --- TypeScript --------------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_TS_HEADER = """\
// Generated by agent/schema.py from spec/protocol.schema.json; do not edit.
// Regenerate with `python -m agent.schema` (CI runs `python -m agent.schema --check`).
//
// The agent-lsp wire protocol as TypeScript types: data only, camelCase wire names, a field
// with `?` may be absent. src/chat/protocol.ts re-exports these under the names the shim uses.
"""


def _ts_literal(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return json.dumps(value)


def _ts_union(parts: list[str]) -> str:
    unique = list(dict.fromkeys(parts))
    return " | ".join(unique)


def _ts_type(schema: dict[str, Any]) -> str:
    """The TypeScript type of one JSON Schema node (the subset pydantic emits for our models)."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[1]
    if "const" in schema:
        return _ts_literal(schema["const"])
    if "enum" in schema:
        return _ts_union([_ts_literal(value) for value in schema["enum"]])
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return _ts_union([_ts_type(part) for part in schema[key]])
    kind = schema.get("type")
    if isinstance(kind, list):
        return _ts_union([_ts_type({**schema, "type": one}) for one in kind])
    if kind == "array":
        item = _ts_type(schema.get("items", {}))
        return f"({item})[]" if " " in item else f"{item}[]"
    if kind == "object":
        extra = schema.get("additionalProperties", True)
        return f"Record<string, {_ts_type(extra) if isinstance(extra, dict) else 'unknown'}>"
    simple = {"string": "string", "integer": "number", "number": "number", "boolean": "boolean", "null": "null"}
    return simple.get(str(kind), "unknown")


def _ts_doc(text: str | None, indent: str = "") -> list[str]:
    if not text:
        return []
    lines = text.replace("``", "`").replace("*/", "*\\/").strip().splitlines()
    if len(lines) == 1:
        return [f"{indent}/** {lines[0]} */"]
    return [f"{indent}/**", *[f"{indent} * {line}".rstrip() for line in lines], f"{indent} */"]


def _ts_interface(name: str, schema: dict[str, Any]) -> list[str]:
    lines = _ts_doc(schema.get("description"))
    properties: dict[str, Any] = schema.get("properties", {})
    if not properties:
        return [*lines, f"export type {name} = Record<string, never>;"]
    required = set(schema.get("required", []))
    lines.append(f"export interface {name} {{")
    for key, field in properties.items():
        label = key if _IDENTIFIER.match(key) else _ts_literal(key)
        lines += _ts_doc(field.get("description"), "  ")
        lines.append(f"  {label}{'' if key in required else '?'}: {_ts_type(field)};")
    return [*lines, "}"]


def _ts_union_alias(name: str, schema: dict[str, Any]) -> list[str]:
    members = [f"  | {_ts_type(part)}" for part in schema["oneOf"]]
    members[-1] += ";"
    return [*_ts_doc(schema.get("description")), f"export type {name} =", *members]


def _ts_const_list(name: str, values: list[str], type_name: str) -> list[str]:
    body = [f"  {_ts_literal(value)}," for value in values]
    return [f"export const {name} = [", *body, "] as const;",
            f"export type {type_name} = (typeof {name})[number];"]


def render_typescript(schema: dict[str, Any]) -> str:
    """``protocol.generated.ts`` for a schema from ``build_schema``."""
    defs: dict[str, Any] = schema["$defs"]
    enum_names = [name for name, _ in ENUMS]
    union_names = [name for name, _ in UNIONS]
    blocks: list[list[str]] = [[f"export const PROTOCOL_VERSION = {schema['x-protocolVersion']};"]]
    blocks += [[f"export type {name} = {_ts_type(defs[name])};"] for name in enum_names]
    blocks += [_ts_interface(name, defs[name]) for name in sorted(defs)
               if name not in enum_names and name not in union_names]
    blocks += [_ts_union_alias(name, defs[name]) for name in union_names]
    entries = schema["x-methods"]
    blocks.append(["/** Every method of the protocol (agent.methods.METHODS), built or announced. */",
                   *_ts_const_list("METHOD_NAMES", [e["name"] for e in entries if e["kind"] != "command"],
                                   "MethodName")])
    blocks.append(["/** Every `workspace/executeCommand` command the server offers. */",
                   *_ts_const_list("COMMAND_NAMES", [e["name"] for e in entries if e["kind"] == "command"],
                                   "CommandName")])
    blocks.append(["/** The server's option keys (initializationOptions, the `agentLsp` section). */",
                   *_ts_const_list("SETTING_KEYS", [e["key"] for e in schema["x-settings"]], "SettingKey")])
    return _TS_HEADER + "".join("\n" + "\n".join(block) + "\n" for block in blocks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agent.schema",
                                     description="Export the protocol's JSON Schema and TypeScript types.")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a generated file is out of date")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository (default: this checkout)")
    args = parser.parse_args(argv)
    stale = []
    for relative, text in generated_files().items():
        path = args.root / relative
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(relative)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {relative}")
    for relative in stale:
        print(f"{relative} is out of date; run {REGENERATE}", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())

