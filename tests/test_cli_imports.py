"""``agent-lsp ask`` through the agent host imports neither the model SDK nor the harness: the
host runs the turn, the CLI only connects, prints and leaves (issue 17, item 1)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from editor import agent_lsp_command, server_env
from fake_anthropic import FakeAnthropic, Reply, text

# The CLI as `agent-lsp` runs it, reporting its modules when it leaves (it ends with os._exit).
WRAPPER = r"""
import json, os, sys
real_exit = os._exit
def leave(code):
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("anthropic", "httpx2", "httpx", "bashlex")
                   or m.startswith(("agent.engine", "agent.tools", "agent.policy.permissions", "agent.policy.rules",
                                    "agent.policy.shell", "agent.model.anthropic_api"))
                   or m in ("agent.host.server", "agent.host.session"))
    sys.stderr.write("MODULES " + json.dumps(heavy) + "\n")
    sys.stderr.flush()
    real_exit(code)
os._exit = leave
from lsp_server.cli import main
sys.exit(main(sys.argv[1:]))
"""


def ask_through_host(prompt: str, root: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    done = subprocess.run([sys.executable, "-c", WRAPPER, "ask", prompt], cwd=root, env=env, capture_output=True,
                          text=True, timeout=60)
    lines = [line for line in done.stderr.splitlines() if line.startswith("MODULES ")]
    assert lines, f"the CLI did not leave through os._exit ({done.returncode}): {done.stderr[-1500:]}"
    return done, json.loads(lines[-1].removeprefix("MODULES "))


def test_ask_through_the_host_imports_no_sdk_and_no_harness(fake: FakeAnthropic, root: Path,
                                                                state_dir: Path) -> None:
    env = server_env(fake.url, state_dir, AGENT_LSP_HOST="1")
    fake.script(Reply([text("Hello from the host.")]), Reply([text("Again.")]))
    try:
        cold, cold_modules = ask_through_host("say hello", root, env)  # starts the host
        assert cold.returncode == 0, cold.stderr
        assert "Hello from the host." in cold.stdout
        assert cold_modules == [], cold_modules
        host_pid = int((state_dir / "host.lock").read_text().split()[0])
        if Path(f"/proc/{host_pid}/cmdline").exists():  # forked by the CLI (agent.host.early), retitled
            cmdline = Path(f"/proc/{host_pid}/cmdline").read_bytes()
            assert cmdline.rstrip(b"\0") == b"agent-lsp host", cmdline[:200]
            assert b"say hello" not in cmdline
        warm, warm_modules = ask_through_host("say it again", root, env)  # the host is running now
        assert warm.returncode == 0, warm.stderr
        assert "Again." in warm.stdout
        assert warm_modules == [], warm_modules
        assert len(fake.requests) == 2  # both requests went through the host's SDK, validated by the fake
    finally:
        subprocess.run([*agent_lsp_command(), "host", "stop"], env=env, capture_output=True, timeout=60)


def test_the_early_host_start_finds_the_state_dir_the_store_uses(monkeypatch, tmp_path: Path) -> None:
    from agent.host.place import env_state_dir
    from agent.store.sqlite import default_state_dir

    monkeypatch.setenv("AGENT_LSP_STATE_DIR", str(tmp_path / "somewhere"))
    assert env_state_dir() == default_state_dir() == tmp_path / "somewhere"
    monkeypatch.delenv("AGENT_LSP_STATE_DIR")
    assert env_state_dir() == default_state_dir()
