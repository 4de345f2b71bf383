"""The agent sees what the editor sees (issue 20), harness side: ``EditorSight`` settling and
reports, the diagnostics / definition / references / workspace_symbols / hover tools, deny
rules and the workspace boundary, and the unasked report after an edit in a whole turn."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from agent.config import Settings
from agent.engine.harness import Harness
from agent.files.changes import ApplyResult, ChangeSet, DiskApplier
from agent.files.sight import NO_EDITOR, EditorSight, describe_change, parse_diagnostic
from agent.files.workspace import ToolError, Workspace
from agent.policy.permissions import Action, Allow, Deny, PermissionPolicy
from agent.policy.rules import RuleFile
from agent.store.sqlite import Store
from agent.testing.kit import FakeClock, HarnessRecorder, Reply, ScriptedModel, text, tool_use
from agent.tools import ToolContext, default_tools
from agent.tools.definition import Definition
from agent.tools.diagnostics import Diagnostics, DiagnosticsInput
from agent.tools.editor_common import PositionInput
from agent.tools.hover import Hover
from agent.tools.references import References
from agent.tools.workspace_symbols import WorkspaceSymbols, WorkspaceSymbolsInput


def diag(line: int, message: str, severity: int = 1, source: str = "pyright", character: int = 4) -> dict[str, Any]:
    """An LSP Diagnostic (0-based line)."""
    return {"range": {"start": {"line": line, "character": character}, "end": {"line": line, "character": 9}},
            "severity": severity, "source": source, "message": message}


class ScriptedWait:
    """A waiter on a fake clock: each wait moves time on by what was asked (nothing arrived),
    after running the next scripted action (which may publish: then the wait ends at once)."""

    def __init__(self, clock: FakeClock, *actions: Any) -> None:
        self.clock = clock
        self.actions = list(actions)
        self.waits: list[float] = []

    async def __call__(self, event: asyncio.Event, seconds: float) -> bool:
        self.waits.append(seconds)
        if self.actions:
            self.actions.pop(0)()
            if event.is_set():
                return True
        self.clock.now += seconds
        return False


@pytest.fixture
def root(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    (workspace / "src").mkdir(parents=True)
    (workspace / "src" / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (workspace / "src" / "uni.py").write_text("s = '😀'; total = add(1, 2)\n")
    return workspace


def context(workspace: Workspace) -> ToolContext:
    policy = PermissionPolicy("ask", RuleFile(workspace.root))
    return ToolContext(workspace, "thr", "turn", denied=policy.path_denied)


def deny(root: Path, *rules: str) -> None:
    (root / ".agent-lsp").mkdir(exist_ok=True)
    (root / ".agent-lsp" / "settings.json").write_text(json.dumps({"permissions": {"deny": list(rules)}}))


# --- settling ----------------------------------------------------------------------------------


async def test_settle_returns_when_the_new_versions_diagnostics_arrive(root: Path) -> None:
    sight = EditorSight(quiet_s=60, max_wait_s=60)  # only the version can end this wait
    path = root / "src" / "calc.py"
    sight.publish(path, 1, [])
    waiting = asyncio.ensure_future(sight.settle(path, after_version=1))
    await asyncio.sleep(0)
    sight.publish(path, 1, [diag(0, "stale")])  # still for the old version: keeps waiting
    await asyncio.sleep(0)
    assert not waiting.done()
    sight.publish(path, 2, [diag(1, "fresh")])
    settled = await asyncio.wait_for(waiting, 5)
    assert [d.message for d in settled] == ["fresh"]


async def test_settle_without_a_version_ends_after_a_quiet_period(root: Path) -> None:
    clock = FakeClock(100.0)
    path = root / "src" / "calc.py"
    sight: EditorSight
    wait = ScriptedWait(clock, lambda: sight.publish(path, None, [diag(1, "first")]))
    sight = EditorSight(quiet_s=0.3, max_wait_s=3.0, clock=clock.time, wait=wait)
    sight.publish(root / "src" / "uni.py", None, [])  # an editor reports (on another file)
    settled = await sight.settle(path, after_version=None)
    assert [d.message for d in settled] == ["first"]
    assert clock.now == pytest.approx(100.3)  # 0.3 s quiet after the publish, not the 3 s cap
    assert wait.waits[0] == pytest.approx(0.3)


async def test_settle_gives_up_after_the_cap(root: Path) -> None:
    clock = FakeClock()
    path = root / "src" / "calc.py"
    wait = ScriptedWait(clock)
    sight = EditorSight(quiet_s=0.3, max_wait_s=3.0, clock=clock.time, wait=wait)
    sight.publish(path, 4, [diag(1, "old")])
    settled = await sight.settle(path, after_version=4)  # version 5 never comes
    assert [d.message for d in settled] == ["old"]
    assert clock.now == pytest.approx(3.0)


async def test_without_an_editor_nothing_waits_and_edits_say_nothing(root: Path) -> None:
    async def never(event: asyncio.Event, seconds: float) -> bool:
        raise AssertionError("waited without an editor")

    sight = EditorSight(wait=never)
    path = root / "src" / "calc.py"
    assert await sight.settle(path, 3) == []
    assert await sight.after_edit([(path, "src/calc.py", 3)], {}) == ""


# --- what is reported ---------------------------------------------------------------------------


def test_new_and_fixed_problems_are_told_apart_when_lines_move() -> None:
    before = [d for d in (parse_diagnostic(diag(3, "unused import os", 2)), parse_diagnostic(diag(9, "bad type")))
              if d is not None]
    after = [d for d in (parse_diagnostic(diag(4, "unused import os", 2)), parse_diagnostic(diag(1, "undefined x")))
             if d is not None]
    line = describe_change("a.py", before, after)
    assert line == ("Editor diagnostics for a.py now: new: L2:5 error [pyright] undefined x; "
                    "fixed: L10:5 error [pyright] bad type (1 more unchanged).")
    assert describe_change("a.py", before, []).startswith("Editor diagnostics for a.py now: fixed:")
    assert describe_change("a.py", [], []) == "Editor diagnostics for a.py now: no problems."


def test_reports_after_an_edit_are_bounded() -> None:
    after = [d for d in (parse_diagnostic(diag(n, f"problem {n} " + "x" * 500)) for n in range(40)) if d is not None]
    line = describe_change("a.py", [], after)
    assert line.count("[pyright]") == 10 and "and 30 more (use the diagnostics tool)" in line
    assert len(line) < 4000
    assert parse_diagnostic({"message": "no range"}) is None
    assert parse_diagnostic({"range": {"start": {"line": -1, "character": 0}}, "message": "m"}) is None


# --- the diagnostics tool -------------------------------------------------------------------------


async def test_diagnostics_for_a_file_and_for_the_workspace_worst_first(root: Path) -> None:
    workspace = Workspace(root)
    workspace.sight.publish(root / "src" / "calc.py", 1, [diag(1, "warned", 2), diag(0, "broken", 1)])
    workspace.sight.publish(root / "src" / "uni.py", 1, [diag(0, "a hint", 4)])
    for n in range(30):
        workspace.sight.publish(root / f"gen{n:02}.py", 1, [diag(k, f"err {k}") for k in range(5)])
    workspace.sight.publish(root.parent / "elsewhere.py", 1, [diag(0, "outside the workspace")])
    tool, ctx = Diagnostics(), context(workspace)
    one = await tool.run(DiagnosticsInput(path="src/calc.py"), ctx)
    assert one.splitlines() == ["src/calc.py: 1 error, 1 warning", "  L1:5 error [pyright] broken",
                                "  L2:5 warning [pyright] warned"]
    everything = await tool.run(DiagnosticsInput(), ctx)
    assert everything.splitlines()[0] == "151 errors, 1 warning, 1 hint in 32 files, worst first:"
    assert everything.splitlines()[1].startswith("gen00.py: 5 errors")
    assert "more files with problems" in everything and everything.count("error [pyright]") == 60
    assert "outside the workspace" not in everything and "elsewhere" not in everything
    assert await tool.run(DiagnosticsInput(path="src/uni.py"), ctx) == "src/uni.py: 1 hint\n  L1:5 hint [pyright] a hint"


async def test_a_denied_files_diagnostics_are_hidden(root: Path) -> None:
    deny(root, "read_file(src/calc.py)")
    workspace = Workspace(root)
    workspace.sight.publish(root / "src" / "calc.py", 1, [diag(0, "secret problem")])
    workspace.sight.publish(root / "src" / "uni.py", 1, [diag(0, "visible problem")])
    tool, ctx = Diagnostics(), context(workspace)
    everything = await tool.run(DiagnosticsInput(), ctx)
    assert "visible problem" in everything and "secret" not in everything and "calc.py" not in everything
    with pytest.raises(ToolError, match="hidden by a deny rule"):
        await tool.run(DiagnosticsInput(path="src/calc.py"), ctx)
    with pytest.raises(ToolError, match="hidden by a deny rule"):
        await Hover().run(PositionInput(path="src/calc.py", line=1, column=5), ctx)


def test_the_tools_are_reads_in_every_mode_and_obey_path_deny_rules(root: Path) -> None:
    deny(root, "read_file(src/calc.py)")
    for mode in ("ask", "acceptEdits", "readOnly", "bypass"):
        policy = PermissionPolicy(mode, RuleFile(root))  # type: ignore[arg-type]
        for name in ("diagnostics", "definition", "references", "hover"):
            assert policy.check("t", Action(name, "read", ("src/uni.py",))) == Allow()
            assert isinstance(policy.check("t", Action(name, "read", ("src/calc.py",))), Deny)
        assert policy.check("t", Action("workspace_symbols", "read", ())) == Allow()
    names = [tool.name for tool in default_tools()]
    assert names[names.index("todo_write") + 1:][:5] == ["diagnostics", "definition", "references",
                                                        "workspace_symbols", "hover"]
    assert all(tool.kind == "read" for tool in default_tools()[8:13])


# --- queries --------------------------------------------------------------------------------------


async def test_without_an_editor_the_query_tools_say_how_to_get_one(root: Path) -> None:
    ctx = context(Workspace(root))
    where = PositionInput(path="src/calc.py", line=2, column=12)
    for tool in (Definition(), References(), Hover()):
        with pytest.raises(ToolError) as raised:
            await tool.run(where, ctx)
        assert str(raised.value) == NO_EDITOR and "VS Code or Neovim" in NO_EDITOR
    with pytest.raises(ToolError, match="no editor with language servers is attached"):
        await WorkspaceSymbols().run(WorkspaceSymbolsInput(query="add"), ctx)
    with pytest.raises(ToolError, match="no editor with language servers is attached"):
        await Diagnostics().run(DiagnosticsInput(), ctx)


async def test_definition_asks_with_utf16_positions_and_shows_workspace_paths(root: Path, tmp_path: Path) -> None:
    deny(root, "read_file(secret/**)")
    asked: list[dict[str, Any]] = []
    calc = (root / "src" / "calc.py").as_uri()

    async def answer(params: dict[str, Any]) -> dict[str, Any]:
        asked.append(params)
        at = lambda line, ch: {"start": {"line": line, "character": ch}, "end": {"line": line, "character": ch + 3}}  # noqa: E731
        return {"results": [
            {"uri": calc, "range": at(0, 4)},
            {"uri": (root / "src" / "uni.py").as_uri(), "range": at(0, 12)},  # after an emoji: 2 UTF-16 units
            {"uri": (tmp_path / "lib" / "site.py").as_uri(), "range": at(3, 0), "text": "def add(): ..."},
            {"uri": (root / "secret" / "keys.py").as_uri(), "range": at(0, 0), "text": "API_KEY = ..."},
            {"uri": "untitled:1", "range": at(0, 0)},
        ]}

    ctx = context(Workspace(root, sight=EditorSight(answer)))
    out = await Definition().run(PositionInput(path="src/uni.py", line=1, column=20), ctx)
    assert asked == [{"kind": "definition", "uri": (root / "src" / "uni.py").as_uri(),
                      "position": {"line": 0, "character": 20}}]  # column 20 is past one 2-unit emoji
    assert out.splitlines() == [
        "src/calc.py:1:5  def add(a, b):",
        "src/uni.py:1:12  s = '😀'; total = add(1, 2)",
        "[1 outside the workspace, not shown; 1 in files hidden by deny rules, not shown; 1 without a file location]",
    ]
    assert "API_KEY" not in out and "site.py" not in out
    with pytest.raises(ToolError, match="past the end of line 1"):
        await References().run(PositionInput(path="src/uni.py", line=1, column=99), ctx)
    with pytest.raises(ToolError, match="outside the workspace"):
        await Definition().run(PositionInput(path=str(tmp_path / "lib" / "site.py"), line=1, column=1), ctx)


async def test_many_references_are_bounded_and_hover_text_is_shown(root: Path) -> None:
    async def answer(params: dict[str, Any]) -> dict[str, Any]:
        if params["kind"] == "hover":
            return {"results": [{"uri": params["uri"], "range": {"start": params["position"], "end": params["position"]},
                                 "text": "(function) def add(a: int, b: int) -> int"}]}
        return {"results": [{"uri": (root / "src" / "many.py").as_uri(),
                             "range": {"start": {"line": n, "character": 6}, "end": {"line": n, "character": 9}}}
                            for n in range(120)]}

    (root / "src" / "many.py").write_text("".join(f"total(add({n}, 1))\n" for n in range(120)))

    ctx = context(Workspace(root, sight=EditorSight(answer)))
    out = await References().run(PositionInput(path="src/calc.py", line=1, column=5), ctx)
    assert len(out.splitlines()) == 51 and out.endswith("[70 more not shown; narrow the question]")
    assert out.splitlines()[49] == "src/many.py:50:7  total(add(49, 1))"
    hover = await Hover().run(PositionInput(path="src/calc.py", line=1, column=5), ctx)
    assert hover == "(function) def add(a: int, b: int) -> int"
    symbols = await WorkspaceSymbols().run(WorkspaceSymbolsInput(query="add"), ctx)
    assert symbols.startswith("src/many.py:1:7  total(add(0, 1))")


async def test_the_hover_of_a_symbol_defined_in_a_denied_file_is_kept_back(root: Path) -> None:
    """A hover repeats the definition's signature and docstring: when the editor places the
    definition in a file a deny rule hides, the model gets neither, only why."""
    deny(root, "read_file(secret/**)")
    (root / "secret").mkdir()
    (root / "secret" / "keys.py").write_text('def token():\n    """Returns sk-live-1234."""\n')
    asked: list[str] = []
    defined_in = {"where": root / "secret" / "keys.py"}

    async def answer(params: dict[str, Any]) -> dict[str, Any]:
        asked.append(params["kind"])
        if params["kind"] == "hover":
            return {"results": [{"uri": params["uri"], "range": {"start": params["position"], "end": params["position"]},
                                 "text": "def token() -> str\n\nReturns sk-live-1234."}]}
        return {"results": [{"uri": defined_in["where"].as_uri(),
                             "range": {"start": {"line": 0, "character": 4}, "end": {"line": 0, "character": 9}}}]}

    ctx = context(Workspace(root, sight=EditorSight(answer)))
    where = PositionInput(path="src/calc.py", line=1, column=5)
    out = await Hover().run(where, ctx)
    assert "sk-live" not in out and "token" not in out and "keys.py" not in out
    assert out == "The symbol at src/calc.py:1:5 is defined in a file hidden by deny rules; its hover is not shown."
    assert asked == ["definition"]  # the hover itself was never asked for
    defined_in["where"] = root / "src" / "calc.py"  # the same symbol defined in a readable file: shown
    assert (await Hover().run(where, ctx)).endswith("Returns sk-live-1234.")


# --- after an edit, in a turn ---------------------------------------------------------------------


class LintingApplier:
    """Lands changes on disk, then has "the editor" publish a diagnostic for the new text, as
    a language server would shortly after the buffer changed."""

    def __init__(self, sight: EditorSight) -> None:
        self.sight = sight
        self.disk = DiskApplier()

    async def apply(self, changes: ChangeSet) -> ApplyResult:
        result = await self.disk.apply(changes)
        for planned in changes.files:
            if "undefined_name" in planned.new_text:
                asyncio.get_running_loop().call_soon(self.sight.publish, planned.path, 2, [
                    diag(1, '"undefined_name" is not defined', 1, "fixture-linter", 11)])
        return result


async def test_an_edit_that_breaks_something_says_so_in_its_result(root: Path, tmp_path: Path) -> None:
    sight = EditorSight(quiet_s=0.05)
    calc = root / "src" / "calc.py"
    sight.publish(calc, None, [diag(0, "old warning", 2)])  # the editor reports on the file
    model = ScriptedModel(Reply([tool_use("edit_file", {"path": "src/calc.py", "old_string": "a - b",
                                                        "new_string": "undefined_name"})]),
                          Reply([text("I see the error.")]))
    harness = Harness(Workspace(root, sight=sight), Store(tmp_path / "s.db"), Settings(permission_mode="bypass"),
                      applier=LintingApplier(sight), model=model)
    recorder = HarnessRecorder(harness)
    try:
        done = await recorder.turn("break it")
    finally:
        await harness.shutdown()
        recorder.close()
    assert done.turn.status == "completed"
    result = model.requests[1].body["messages"][-1]["content"][0]
    assert not result.get("is_error")
    assert result["content"] == (
        "Applied: Edit src/calc.py (src/calc.py).\nEditor diagnostics for src/calc.py now: new: L2:12 error "
        '[fixture-linter] "undefined_name" is not defined; fixed: L1:5 warning [pyright] old warning.')
    model.assert_valid()
