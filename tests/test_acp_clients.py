"""Real ACP clients that nobody here wrote drive ``agent-lsp acp`` against the fake API: the
TypeScript SDK's ``ClientSideConnection`` (``tests/acp/story.mjs``) and the headless client
``acpx``. Both come from ``tests/acp/node_modules`` (``npm install --prefix tests/acp``): without
them the tests are skipped on a developer's machine and fail in CI (``CI`` set).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.editor import agent_lsp_command, server_env
from tests.fake_anthropic import FakeAnthropic, Reply, Stall, text, tool_use
from agent_run import require_tools

ACP = Path(__file__).resolve().parent / "acp"
pytestmark = pytest.mark.timeout(120)


def need_clients() -> None:
    missing = [str(p) for p in (ACP / "node_modules" / "@agentclientprotocol" / "sdk", ACP / "node_modules" / "acpx")
               if not p.exists()]
    if shutil.which("node") is None:
        missing.append("node on PATH")
    require_tools(missing, "ACP test clients not installed (npm install --prefix tests/acp)")


def run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=100, env=env,
                            stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited {result.returncode}\n--- stdout ---\n{result.stdout}"
                    f"\n--- stderr ---\n{result.stderr}", pytrace=False)
    return result


def test_the_typescript_sdk_story(tmp_path: Path) -> None:
    need_clients()
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "calc.py").write_text("x = 1\n")
    with FakeAnthropic() as fake:
        fake.script(
            Reply([text("Editing calc."), tool_use("edit_file", {"path": "calc.py", "old_string": "x = 1",
                                                                  "new_string": "x = 2"})]),
            Reply([text("Done.")]),
            Reply([tool_use("read_file", {"path": "calc.py"})]),
            Stall(Reply([text("I will keep going for a long while")]), after_frames=1),
        )
        env = server_env(fake.url, tmp_path / "state")
        result = run(["node", str(ACP / "story.mjs"), json.dumps(agent_lsp_command()), str(workspace.resolve())],
                     env, ACP)
        assert "ts-sdk story: ok" in result.stdout
        fake.assert_valid()
    assert (workspace / "calc.py").read_text() == "x = 2\n"


def test_acpx_runs_a_prompt_end_to_end(tmp_path: Path) -> None:
    need_clients()
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "notes.txt").write_text("old\n")
    with FakeAnthropic() as fake:
        fake.script(
            Reply([tool_use("write_file", {"path": "notes.txt", "content": "new\n"})]),
            Reply([text("Wrote the notes.")]),
        )
        env = {**server_env(fake.url, tmp_path / "state"), "HOME": str(tmp_path / "home"), "NO_COLOR": "1"}
        agent = " ".join(agent_lsp_command() + ["acp"])
        result = run(["node", str(ACP / "node_modules" / "acpx" / "dist" / "cli.js"), "--agent", agent,
                      "--cwd", str(workspace), "--approve-all", "--format", "text", "exec", "Update the notes"],
                     env, workspace)
        assert "Wrote the notes." in result.stdout
        fake.assert_valid()
    assert (workspace / "notes.txt").read_text() == "new\n"
