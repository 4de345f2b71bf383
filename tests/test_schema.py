"""The exported protocol schema and the TypeScript types generated from it (agent/schema.py).

The committed files must be exactly what the code generates (CI fails on drift and says what
to run); the schema must name every model, union member, method, command and setting; it must
describe what the server really sends (checked on the shared reducer vectors); and the VS Code
extension must offer only settings the server knows.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, get_args

import pytest

from agent import config, events, methods, protocol, schema

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_JSON = ROOT / "editors/vscode/package.json"
SETTINGS_TS = ROOT / "editors/vscode/src/common/settings.ts"

# agentLsp.* settings that belong to the extension, not to the server's Settings.
EXTENSION_KEYS = {
    "serverPath": "where the extension finds the agent-lsp executable; read before the server exists",
    "trace.server": "vscode-languageclient's standard switch for logging the LSP traffic",
    "chatLocation": "where the chat opens (editor tab, secondary or primary side bar): the editor's layout only",
}
# Settings the server has that VS Code does not offer yet (each needs a reason to stay here).
NOT_OFFERED: dict[str, str] = {}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return schema.build_schema()


@pytest.fixture(scope="module")
def typescript(document: dict[str, Any]) -> str:
    return schema.render_typescript(document)


def _members(union: Any) -> tuple[type[protocol.Wire], ...]:
    return get_args(get_args(union)[0])


def _tag(model: type[protocol.Wire]) -> str:
    return str(model.model_fields["type"].default)


def test_committed_files_are_what_the_code_generates() -> None:
    for relative, text in schema.generated_files().items():
        committed = (ROOT / relative).read_text(encoding="utf-8")
        assert committed == text, f"{relative} is out of date; run {schema.REGENERATE}"


def test_check_reports_a_stale_file_and_regenerating_fixes_it(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert schema.main(["--root", str(tmp_path)]) == 0
    stale = tmp_path / schema.SCHEMA_PATH
    stale.write_text(stale.read_text(encoding="utf-8").replace('"ItemStatus"', '"ItemState"'), encoding="utf-8")
    capsys.readouterr()
    assert schema.main(["--check", "--root", str(tmp_path)]) == 1
    assert "spec/protocol.schema.json is out of date; run python -m agent.schema" in capsys.readouterr().err
    assert schema.main(["--root", str(tmp_path)]) == 0
    assert schema.main(["--check", "--root", str(tmp_path)]) == 0


def test_generation_is_deterministic(document: dict[str, Any]) -> None:
    again = schema.build_schema()
    assert schema.dump_schema(again) == schema.dump_schema(document)
    assert schema.render_typescript(again) == schema.render_typescript(document)


def test_every_wire_model_of_the_protocol_is_defined(document: dict[str, Any]) -> None:
    defs = document["$defs"]
    bases = {protocol.Wire, protocol.ItemBase, events.EventBase}
    models = {name for module in schema.MODULES for name, value in vars(module).items()
              if isinstance(value, type) and issubclass(value, protocol.Wire) and value not in bases}
    assert models - set(defs) == set()
    for name in ("InputPart", "Item", "Event", "ItemStatus", "Decision", "TurnStatus"):
        assert name in defs


@pytest.mark.parametrize("union", ["Item", "Event", "InputPart"])
def test_every_member_of_a_union_is_in_its_discriminator(document: dict[str, Any], union: str) -> None:
    members = _members(dict(schema.UNIONS)[union])
    mapping = document["$defs"][union]["discriminator"]["mapping"]
    assert mapping == {_tag(model): f"#/$defs/{model.__name__}" for model in members}
    assert document["$defs"][union]["discriminator"]["propertyName"] == "type"


def test_every_method_and_command_is_listed(document: dict[str, Any]) -> None:
    listed = [entry["name"] for entry in document["x-methods"]]
    assert listed == [m.name for m in methods.METHODS] + [c.name for c in methods.COMMANDS]
    for entry, method in zip(document["x-methods"], methods.METHODS):
        assert (entry["params"], entry["kind"], entry["direction"], entry["issue"]) == \
            (method.params, method.kind, method.direction, method.issue)
        if method.issue is None:
            assert entry["paramsRef"].removeprefix("#/$defs/") in document["$defs"], method.name


def test_every_setting_is_listed(document: dict[str, Any]) -> None:
    settings = {entry["key"]: entry for entry in document["x-settings"]}
    assert list(settings) == list(config.KEYS)
    assert {entry["field"] for entry in settings.values()} == set(config.Settings.model_fields)
    assert settings["maxTokens"]["schema"]["maximum"] == 128000
    assert settings["permissionMode"]["schema"]["$ref"] == "#/$defs/PermissionMode"
    assert settings["model"]["env"] == "AGENT_LSP_MODEL"


def test_the_typescript_names_every_event_and_item_type(typescript: str) -> None:
    assert typescript.startswith("// Generated by agent/schema.py")
    for union in (events.Event, protocol.Item, protocol.InputPart):
        for model in _members(union):
            assert f"export interface {model.__name__} {{" in typescript
            assert f"  type: '{_tag(model)}';" in typescript, model.__name__
    assert "  afterSeq?: number;" in typescript  # params: a defaulted field may be left out
    assert "  lastSeq: number;" in typescript  # sent: a defaulted field is always there
    assert "  error?: string | null;" in typescript  # None is never sent
    assert "  input: Record<string, unknown>;" in typescript


def _conforms(value: Any, node: dict[str, Any], defs: dict[str, Any], where: str) -> None:
    """A small structural check of ``value`` against the schema subset the export uses."""
    if "$ref" in node:
        _conforms(value, defs[node["$ref"].removeprefix("#/$defs/")], defs, where)
    elif "discriminator" in node:
        target = node["discriminator"]["mapping"][value["type"]]
        _conforms(value, defs[target.removeprefix("#/$defs/")], defs, where)
    elif "anyOf" in node:
        assert value is not None, f"{where}: null is never sent"
        _conforms(value, next(s for s in node["anyOf"] if s.get("type") != "null"), defs, where)
    elif "const" in node or "enum" in node:
        assert value in node.get("enum", [node.get("const")]), where
    elif node.get("type") == "array":
        for index, child in enumerate(value):
            _conforms(child, node["items"], defs, f"{where}[{index}]")
    elif node.get("type") == "object" and "properties" in node:
        assert set(node["required"]) <= set(value) <= set(node["properties"]), where
        for key, child in value.items():
            _conforms(child, node["properties"][key], defs, f"{where}.{key}")
    else:
        kinds = {"string": str, "integer": int, "number": (int, float), "object": dict}
        assert isinstance(value, kinds[node["type"]]), where


def test_the_schema_describes_what_the_server_sends(document: dict[str, Any]) -> None:
    known = set(document["$defs"]["Event"]["discriminator"]["mapping"])
    checked = set()
    for path in sorted((ROOT / "spec/reducer/vectors").glob("*.json")):
        for raw in json.loads(path.read_text(encoding="utf-8"))["events"]:
            if raw.get("type") not in known:
                continue  # the vectors also hold unknown types a reducer must ignore
            wire = events.EVENT_ADAPTER.validate_python(raw).to_wire()
            _conforms(wire, {"$ref": "#/$defs/Event"}, document["$defs"], f"{path.name} seq {raw['seq']}")
            checked.add(wire["type"])
    assert len(checked) >= 6
    sparse = protocol.Turn(id="t", thread_id="th").to_wire()  # defaults only: still complete
    _conforms(sparse, {"$ref": "#/$defs/Turn"}, document["$defs"], "Turn")


def test_vscode_offers_only_server_settings() -> None:
    package = json.loads(PACKAGE_JSON.read_text(encoding="utf-8"))
    properties = package["contributes"]["configuration"]["properties"]
    keys = {name.removeprefix("agentLsp.") for name in properties}
    assert all(name.startswith("agentLsp.") for name in properties)
    offered = keys - set(EXTENSION_KEYS)
    assert EXTENSION_KEYS.keys() <= keys, "an extension key listed here is gone from package.json"
    assert offered - set(config.KEYS) == set(), "package.json offers a key the server does not know"
    assert set(config.KEYS) - offered == set(NOT_OFFERED), \
        "a server setting is missing from package.json (or NOT_OFFERED lists one it now offers)"


def test_vscode_settings_match_the_server_vocabulary(document: dict[str, Any]) -> None:
    properties = json.loads(PACKAGE_JSON.read_text(encoding="utf-8"))["contributes"]["configuration"]["properties"]
    settings = {entry["key"]: entry["schema"] for entry in document["x-settings"]}
    for key in set(config.KEYS) - set(NOT_OFFERED):
        ref = settings[key].get("$ref")
        if ref and "enum" in properties[f"agentLsp.{key}"]:
            assert properties[f"agentLsp.{key}"]["enum"] == document["$defs"][ref.removeprefix("#/$defs/")]["enum"]
    assert properties["agentLsp.maxTokens"]["minimum"] == settings["maxTokens"]["minimum"]
    assert properties["agentLsp.maxTokens"]["maximum"] == settings["maxTokens"]["maximum"]
    options = re.search(r"interface ServerOptions \{([^}]*)\}", SETTINGS_TS.read_text(encoding="utf-8"))
    assert options is not None, "settings.ts no longer declares ServerOptions"
    assert set(re.findall(r"^\s*(\w+)\??:", options.group(1), re.M)) == set(config.KEYS) - set(NOT_OFFERED)
    assert "SETTING_KEYS.some" in SETTINGS_TS.read_text(encoding="utf-8")  # changes to any server key apply
