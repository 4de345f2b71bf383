"""``agent-lsp ask`` / ``threads`` / ``show`` as subprocesses against the fake API."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from editor import agent_lsp_command, server_env
from fake_anthropic import FakeAnthropic, Reply, Stall, text, tool_use


def run_cli(args: list[str], cwd: Path, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*agent_lsp_command(), *args], cwd=cwd, env=env, input=stdin,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def env(fake: FakeAnthropic, state_dir: Path) -> dict[str, str]:
    return server_env(fake.url, state_dir)


def test_ask_json_streams_events_and_edits_the_file(fake: FakeAnthropic, root: Path, env: dict[str, str]) -> None:
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    fake.script(
        Reply([tool_use("read_file", {"path": "calc.py"})]),
        Reply([tool_use("edit_file", {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"})]),
        Reply([text("Fixed it.")]),
    )
    done = run_cli(["ask", "--json", "--mode", "acceptEdits", "fix add"], root, env)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "thread/started" and events[-1]["type"] == "turn/completed"
    assert events[-1]["turn"]["status"] == "completed"
    assert (root / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert "test-key" not in done.stdout + done.stderr

    listed = run_cli(["threads", "--json"], root, env)
    [thread] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert thread["title"] == "fix add" and thread["lastSeq"] == len(events)
    shown = run_cli(["show", thread["id"], "--json"], root, env)
    items = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [i["type"] for i in items] == ["userMessage", "toolCall", "fileChange", "agentMessage"]
    pretty = run_cli(["show", thread["id"]], root, env)
    assert pretty.returncode == 0 and "Fixed it." in pretty.stdout


def test_ask_rejection_at_the_terminal_reaches_the_model(fake: FakeAnthropic, root: Path, env: dict[str, str]) -> None:
    (root / "calc.py").write_text("x = 1\n")
    fake.script(
        Reply([tool_use("run_command", {"command": "rm -rf build"})]),
        Reply([text("Understood, I will not delete it.")]),
    )
    done = run_cli(["ask", "clean up"], root, env, stdin="n\nkeep the build folder\n")
    assert done.returncode == 0, done.stderr
    assert "Allow: rm -rf build? [y]es / [s]ession / [a]lways / [n]o" in done.stderr
    result = fake.requests[1].body["messages"][-1]["content"][0]
    assert result["is_error"] is True and "keep the build folder" in result["content"]
    assert "Understood, I will not delete it." in done.stdout


def test_ask_approve_always_writes_a_rule_that_is_used_next_time(fake: FakeAnthropic, root: Path,
                                                                 env: dict[str, str]) -> None:
    fake.script(Reply([tool_use("run_command", {"command": "echo first"})]), Reply([text("ok")]),
                Reply([tool_use("run_command", {"command": "echo second"})]), Reply([text("ok")]))
    first = run_cli(["ask", "say it"], root, env, stdin="a\n")
    assert first.returncode == 0, first.stderr
    settings = json.loads((root / ".agent-lsp" / "settings.json").read_text())
    assert settings == {"permissions": {"allow": ["run_command(echo *)"]}}
    second = run_cli(["ask", "again"], root, env, stdin="")  # no one answers: the rule must allow it
    assert second.returncode == 0, second.stderr
    assert "Allow:" not in second.stderr
    assert "second" in fake.requests[3].body["messages"][-1]["content"][0]["content"]


def test_ask_without_a_key_says_how_to_set_it(root: Path, state_dir: Path) -> None:
    done = run_cli(["ask", "hi"], root, server_env(None, state_dir, api_key=None))
    assert done.returncode == 1
    assert "ANTHROPIC_API_KEY" in done.stderr


def test_unknown_thread_is_a_clear_error(root: Path, env: dict[str, str]) -> None:
    done = run_cli(["show", "thr_nope"], root, env)
    assert done.returncode == 2 and "agent-lsp threads" in done.stderr


def test_ctrl_c_interrupts_the_turn_and_exits_130(fake: FakeAnthropic, root: Path, env: dict[str, str]) -> None:
    import signal

    fake.script(Stall(Reply([text("A long answer that never ends...")]), after_frames=4))
    proc = subprocess.Popen([*agent_lsp_command(), "ask", "--json", "talk"], cwd=root, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        fake.wait_for_stall()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        fake.release_stalls()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    events = [json.loads(line) for line in out.splitlines()]
    assert events[-1]["type"] == "turn/completed" and events[-1]["turn"]["status"] == "interrupted"
    assert "interrupting" in err


def test_settings_flags_reach_the_request_and_bad_values_are_usage_errors(
        fake: FakeAnthropic, root: Path, env: dict[str, str]) -> None:
    fake.script(Reply([text("hi")]))
    done = run_cli(["ask", "--json", "--model", "claude-flag", "--max-tokens", "1000", "hello"], root, env)
    assert done.returncode == 0, done.stderr
    assert (fake.requests[0].body["model"], fake.requests[0].body["max_tokens"]) == ("claude-flag", 1000)
    bad = run_cli(["ask", "--max-tokens", "5", "hello"], root, env)
    assert bad.returncode == 2 and "'maxTokens' = 5 must be greater than or equal to 256" in bad.stderr
    assert len(fake.requests) == 1  # nothing was asked of the model
