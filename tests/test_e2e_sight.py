"""The agent sees what the editor sees (issue 20) over a real ``agent-lsp serve`` and its agent
host: a shim's ``agent/editor/diagnostics`` after the agent's edit lands reaches the model in
that edit's tool result, and ``agent/editor/query`` answers ``definition`` (only for clients
that announce ``experimental.agentLsp.editorQueries``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest_asyncio

from editor import Editor, capabilities, server_env
from fake_anthropic import FakeAnthropic, Reply, text, tool_use
from test_e2e_edits import run_until_approval

BROKEN = '"undefined_name" is not defined'


def lint(uri: str, version: int | None, *problems: tuple[int, str]) -> dict[str, Any]:
    return {"uri": uri, "version": version, "diagnostics": [
        {"range": {"start": {"line": line, "character": 11}, "end": {"line": line, "character": 25}},
         "severity": 1, "source": "fixture-linter", "code": "E1", "message": message} for line, message in problems]}


@pytest_asyncio.fixture
async def shim(fake: FakeAnthropic, root: Path, state_dir: Path) -> AsyncIterator[Editor]:
    """A test editor with an agent-lsp shim: it announces editor queries."""
    caps = attrs.evolve(capabilities("vscode"), experimental={"agentLsp": {"editorQueries": True}})
    editor = await Editor.launch(root, server_env(fake.url, state_dir), caps=caps)
    try:
        yield editor
    finally:
        await editor.close()


async def test_an_edit_that_breaks_something_is_followed_by_the_editors_diagnostic(
        shim: Editor, fake: FakeAnthropic) -> None:
    uri = shim.open("calc.py", "def add(a, b):\n    return a - b\n")
    shim.client.protocol.notify("agent/editor/diagnostics", lint(uri, 1))  # the linter checked it: fine
    approval = await run_until_approval(shim, fake, tool_use("edit_file", {
        "path": "calc.py", "old_string": "a - b", "new_string": "undefined_name"}))
    await shim.command("agent.approve", approval["id"])  # the edit lands as version 2; the linter reports on it
    await shim.wait_for(lambda: shim.docs[uri].version == 2)
    shim.client.protocol.notify("agent/editor/diagnostics", lint(uri, 2, (1, BROKEN)))
    await shim.wait_event("turn/completed", lambda e: e["turn"]["id"] == approval["turnId"])
    result = fake.requests[1].body["messages"][-1]["content"][0]
    assert result["content"] == ("Applied: Edit calc.py (calc.py).\nEditor diagnostics for calc.py now: new: "
                                 f"L2:12 error [fixture-linter] {BROKEN} (E1).")
    assert not any(block.get("name") == "run_command" for r in fake.requests
                   for m in r.body["messages"] for block in (m["content"] if isinstance(m["content"], list) else []))

    fake.requests.clear()  # the model's fix clears it
    approval = await run_until_approval(shim, fake, tool_use("edit_file", {
        "path": "calc.py", "old_string": "undefined_name", "new_string": "a + b"}))
    await shim.command("agent.approve", approval["id"])
    await shim.wait_for(lambda: shim.docs[uri].version == 3)
    shim.client.protocol.notify("agent/editor/diagnostics", lint(uri, 3))
    await shim.wait_event("turn/completed", lambda e: e["turn"]["id"] == approval["turnId"])
    fixed = fake.requests[1].body["messages"][-1]["content"][0]["content"]
    assert fixed == f"Applied: Edit calc.py (calc.py).\nEditor diagnostics for calc.py now: fixed: L2:12 error " \
                    f"[fixture-linter] {BROKEN} (E1)."


async def test_definition_is_answered_by_the_editors_language_servers(shim: Editor, fake: FakeAnthropic,
                                                                      root: Path) -> None:
    uri = shim.open("main.py", "from calc import add\nprint(add(1, 2))\n")
    (root / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    asked: list[Any] = []

    def on_query(params: Any) -> dict[str, Any]:
        asked.append(params)
        return {"results": [{"uri": (root / "calc.py").as_uri(),
                             "range": {"start": {"line": 0, "character": 4}, "end": {"line": 0, "character": 7}}}]}

    shim.client.feature("agent/editor/query")(on_query)
    shim.client.protocol.notify("agent/editor/diagnostics", lint(uri, 1))
    fake.script(Reply([tool_use("definition", {"path": "main.py", "line": 2, "column": 7})]), Reply([text("found")]))
    thread = (await shim.request("agent/thread/start", {"title": "t"}))["thread"]["id"]
    turn = (await shim.request("agent/turn/start", {"threadId": thread,
                                                    "input": [{"type": "text", "text": "where is add?"}]}))["turn"]
    await shim.wait_event("turn/completed", lambda e: e["turn"]["id"] == turn["id"])
    result = fake.requests[1].body["messages"][-1]["content"][0]
    assert result["content"] == "calc.py:1:5  def add(a, b):" and not result.get("is_error")
    [query] = asked
    assert (query.kind, query.uri, query.position.line, query.position.character) == ("definition", uri, 1, 6)


async def test_a_client_without_editor_queries_is_never_asked(editor: Editor, fake: FakeAnthropic) -> None:
    editor.open("main.py", "print(1)\n")
    asked: list[Any] = []
    editor.client.feature("agent/editor/query")(lambda params: asked.append(params) or {"results": []})
    fake.script(Reply([tool_use("definition", {"path": "main.py", "line": 1, "column": 1})]), Reply([text("ok")]))
    thread = (await editor.request("agent/thread/start", {"title": "t"}))["thread"]["id"]
    turn = (await editor.request("agent/turn/start", {"threadId": thread,
                                                      "input": [{"type": "text", "text": "go"}]}))["turn"]
    await editor.wait_event("turn/completed", lambda e: e["turn"]["id"] == turn["id"])
    result = fake.requests[1].body["messages"][-1]["content"][0]
    assert result["is_error"] and "no editor with language servers is attached" in result["content"]
    assert asked == []
