"""docs/protocol.md (agent/docs.py): committed as the code renders it, and complete.

CI fails when the reference drifts from the code (``python -m agent.schema --check``, which
renders it too, and the test here); every method, command, event, item, setting and error
code the project speaks is in it, and its example exchange is made of valid wire messages.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent import config, docs, methods, protocol, schema
from agent.events import EVENT_ADAPTER, Event
from agent.params import TurnStartParams

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return schema.build_schema()


@pytest.fixture(scope="module")
def rendered(document: dict[str, Any]) -> str:
    return docs.render(document)


def test_the_committed_reference_is_what_the_code_renders(rendered: str) -> None:
    committed = (ROOT / docs.DOC_PATH).read_text(encoding="utf-8")
    assert committed == rendered, f"{docs.DOC_PATH} is out of date; run {schema.REGENERATE}"
    assert schema.generated_files()[docs.DOC_PATH] == rendered  # `python -m agent.schema` writes it too


def test_check_reports_a_stale_reference_and_regenerating_fixes_it(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert docs.main(["--check", "--root", str(tmp_path)]) == 1  # missing
    assert docs.main(["--root", str(tmp_path)]) == 0
    assert docs.main(["--check", "--root", str(tmp_path)]) == 0
    path = tmp_path / docs.DOC_PATH
    path.write_text(path.read_text(encoding="utf-8").replace("`item/delta`", "`item/stream`"), encoding="utf-8")
    capsys.readouterr()
    assert docs.main(["--check", "--root", str(tmp_path)]) == 1
    assert "docs/protocol.md is out of date; run python -m agent.docs" in capsys.readouterr().err


def test_every_name_the_protocol_speaks_is_documented(rendered: str) -> None:
    for method in methods.METHODS:
        assert f"| `{method.name}` |" in rendered, method.name
    for command in methods.COMMANDS:
        assert f"| `{command.name}` | `{command.arguments}` | `{command.result}` |" in rendered, command.name
    for union in (Event, protocol.Item, protocol.InputPart):
        for model in docs._members(union):
            tag = schema.wire_model(model).model_fields["type"].default
            assert f"### `{tag}`" in rendered, model
            for field in schema.wire_model(model).model_fields.values():
                assert f"| `{field.alias}` |" in rendered or field.alias in ("type", "id", "status", "threadId",
                                                                               "seq"), (model, field.alias)
    for option in config.OPTIONS:
        row = next(line for line in rendered.splitlines() if line.startswith(f"| `{option.key}` | "))
        for name in (option.env, option.cli):
            assert name is None or f"`{name}`" in row, (option.key, name)
    for code in (-32602, -32803, -32601, -32002, -32600, -32700):
        assert f"| `{code}` |" in rendered
    assert f"# agent-lsp protocol, version {methods.PROTOCOL_VERSION}" in rendered


def test_the_example_is_a_turn_with_an_approval_in_valid_messages(rendered: str) -> None:
    block = rendered.split("## Example: a turn with an approval", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    messages = [(line[0], json.loads(line[2:])) for line in block.splitlines()]
    events = [m["params"] for arrow, m in messages if m.get("method") == "agent/event"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    for event in events:
        assert EVENT_ADAPTER.validate_python(event).to_wire() == event
    kinds = [e["type"] for e in events]
    assert "approval/requested" in kinds and "approval/resolved" in kinds and kinds[-1] == "turn/completed"
    requests = {m["method"]: m for arrow, m in messages if arrow == "→" and "id" in m}
    TurnStartParams.model_validate(requests["agent/turn/start"]["params"])
    approve = requests["workspace/executeCommand"]["params"]
    assert approve["command"] == "agent.approve"
    approval = next(e["approval"] for e in events if e["type"] == "approval/requested")
    assert approve["arguments"] == [approval["id"]]
    resolved = next(e for e in events if e["type"] == "approval/resolved")
    assert resolved["source"] == "codeAction"  # what agent.approve records
