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
    assert thread["title"] == "fix add" and thread["lastSeq"] >= len(events), thread
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


def test_thread_prefixes_unique_ambiguous_and_unknown(tmp_path: Path) -> None:
    from agent import Thread
    from agent_cli.commands import ThreadNotFound, find_thread

    def thread(id_: str) -> Thread:
        return Thread(id=id_, title=f"title of {id_}", created_at="t", updated_at="t")

    threads = [thread("thr_abc111"), thread("thr_abc222"), thread("thr_def333")]
    assert find_thread(threads, None, tmp_path) is threads[0]  # the last one
    assert find_thread([], None, tmp_path) is None
    assert find_thread(threads, "thr_d", tmp_path) is threads[2]
    assert find_thread(threads, "thr_abc222", tmp_path) is threads[1]
    with pytest.raises(ThreadNotFound) as ambiguous:
        find_thread(threads, "thr_abc", tmp_path)
    assert "matches 2 threads" in str(ambiguous.value)
    assert "thr_abc111  title of thr_abc111" in str(ambiguous.value) and "thr_abc222" in str(ambiguous.value)
    with pytest.raises(ThreadNotFound, match="agent-lsp threads"):
        find_thread(threads, "thr_zzz", tmp_path)
    with pytest.raises(ThreadNotFound):
        find_thread(threads, "  ", tmp_path)


def test_ask_continue_and_thread_prefixes(fake: FakeAnthropic, root: Path, env: dict[str, str]) -> None:
    fake.script(Reply([text("one")]), Reply([text("two")]), Reply([text("three")]))
    first = run_cli(["ask", "--continue", "first"], root, env)  # no thread yet: a new one
    assert first.returncode == 0, first.stderr
    assert "connecting to the agent host" in first.stderr
    second = run_cli(["ask", "--continue", "second"], root, env)
    assert second.returncode == 0, second.stderr
    [thread] = [json.loads(line) for line in run_cli(["threads", "--json"], root, env).stdout.splitlines()]
    third = run_cli(["ask", "--thread", thread["id"][:8], "third"], root, env)
    assert third.returncode == 0, third.stderr
    texts = [m["content"][0]["text"] for m in fake.requests[2].body["messages"] if m["role"] == "user"]
    assert texts == ["first", "second", "third"]
    shown = run_cli(["show", thread["id"][:10]], root, env)
    assert shown.returncode == 0 and "three" in shown.stdout
    both = run_cli(["ask", "--continue", "--thread", "thr_", "x"], root, env)
    assert both.returncode == 2 and "not both" in both.stderr


def test_threads_never_cut_an_id_in_a_narrow_terminal(fake: FakeAnthropic, root: Path, env: dict[str, str]) -> None:
    fake.script(Reply([text("ok")]))
    assert run_cli(["ask", "a rather long title that will not fit in forty columns"], root, env).returncode == 0
    [thread] = [json.loads(line) for line in run_cli(["threads", "--json"], root, env).stdout.splitlines()]
    listed = run_cli(["threads"], root, {**env, "COLUMNS": "40"})
    assert thread["id"] in listed.stdout, listed.stdout


def test_ask_prints_a_diff_once_and_renders_markdown(fake: FakeAnthropic, root: Path, env: dict[str, str]) -> None:
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    fake.script(
        Reply([tool_use("edit_file", {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"})]),
        Reply([text("# Done\n\nI fixed **add**:\n\n```python\nreturn a + b\n```\n")]),
    )
    done = run_cli(["ask", "fix add"], root, env, stdin="y\n")
    assert done.returncode == 0, done.stderr
    both = done.stdout + done.stderr
    assert both.count("+    return a + b") == 1, both
    assert "I fixed add:" in done.stdout and "**add**" not in done.stdout and "```" not in done.stdout


def test_show_is_complete(fake: FakeAnthropic, root: Path, env: dict[str, str]) -> None:
    """Command output (bounded), approvals and who answered, a refusal's reason, an interrupted
    turn, and each turn's usage and cost."""
    import signal

    many = "for i in $(seq 40); do echo row$i; done"
    fake.script(
        Reply([tool_use("run_command", {"command": many})]),
        Reply([tool_use("run_command", {"command": "rm -rf build"})]),
        Reply([text("Left the build folder alone.")]),
        Stall(Reply([text("A long answer that never ends...")]), after_frames=4),
    )
    first = run_cli(["ask", "work"], root, env, stdin="y\nn\nkeep the build folder\n")
    assert first.returncode == 0, first.stderr
    proc = subprocess.Popen([*agent_lsp_command(), "ask", "--continue", "talk"], cwd=root, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        fake.wait_for_stall()
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    finally:
        fake.release_stalls()
        if proc.poll() is None:
            proc.kill()
    [thread] = [json.loads(line) for line in run_cli(["threads", "--json"], root, env).stdout.splitlines()]
    shown = run_cli(["show", thread["id"]], root, {**env, "COLUMNS": "200"})
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "> work" in out and "> talk" in out
    assert "row1\n" in out and "row40\n" in out and "row20\n" not in out and "16 lines not shown" in out
    assert "approved by agent-lsp ask" in out and "rejected by agent-lsp ask" in out
    assert "declined: by the user: keep the build folder" in out
    assert "Left the build folder alone." in out
    assert "— done (" in out and "— interrupted" in out
    assert out.count("tokens in") >= 3 and "$" in out  # each turn's usage and cost, then the thread's
    as_json = [json.loads(line) for line in run_cli(["show", thread["id"], "--json"], root, env).stdout.splitlines()]
    assert [i["type"] for i in as_json] == ["userMessage", "commandExecution", "commandExecution", "agentMessage",
                                            "userMessage", "agentMessage"]
