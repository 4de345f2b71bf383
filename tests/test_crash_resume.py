"""kill -9 at random points of a scripted turn, then resume: nothing lost, nothing orphaned,
and the model told what happened.

Each case runs ``agent-lsp ask --json`` (the real CLI, real harness, real SDK) on a turn with
reads, approved edits, approved commands and a write, answers its approvals at the terminal,
and SIGKILLs it once it has printed a seeded-random number of events. A new harness on the
same store then repairs the turn. The checks: every seq from 1 contiguous, every turn ended,
no item left in progress, no process of the agent's commands alive, and the next model request
is valid (the fake checks it), answers every tool call, and tells the model what had run.
``AGENT_LSP_CRASH_POINTS`` sets how many kill points run (default 32).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from agent.model.anthropic_api import AnthropicModel
from agent.config import Settings
from agent.engine.harness import Harness
from agent.protocol import TextPart
from agent.engine.recovery import CUT_OFF, DIED
from agent.store.sqlite import Store
from agent.files.workspace import Workspace
from editor import agent_lsp_command, server_env
from fake_anthropic import FakeAnthropic, Reply, text, tool_use
from agent_run import pid_alive

POINTS = int(os.environ.get("AGENT_LSP_CRASH_POINTS", "32"))
SEED = 20261129
COMMAND = ("echo $$ >> pids.txt; (sleep 30 >/dev/null 2>&1 & echo $! >> pids.txt); "
           "for i in 1 2 3 4; do echo tick $i; sleep 0.05; done")
STEPS = [
    [text("Looking at it."), tool_use("read_file", {"path": "calc.py"})],
    [tool_use("edit_file", {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"})],
    [text("Now the tests."), tool_use("run_command", {"command": COMMAND})],
    [tool_use("write_file", {"path": "notes.txt", "content": "fixed add\n"})],
    [text("All done: add adds.")],
]
CHECK = "resume-check: what happened?"


def scripted(body: dict[str, Any]) -> Reply:
    """The reply for any request: by the stage of the first turn, or the check turn's answer."""
    last = body["messages"][-1]["content"]
    texts = [b.get("text", "") for b in last if isinstance(b, dict)] if isinstance(last, list) else [last]
    if any(CHECK in t for t in texts):
        return Reply([text("I checked what ran.")])
    stage = sum(1 for m in body["messages"] if m["role"] == "assistant")
    return Reply(STEPS[min(stage, len(STEPS) - 1)])


def kill_points() -> list[Any]:
    """Seeded kill points over the turn's ~35 events (one past the end: no kill at all)."""
    rng = random.Random(SEED)
    return [pytest.param(rng.randrange(2, 37), id=f"run{i}") for i in range(POINTS)]




def survivors(root: Path, within_s: float = 5.0) -> list[int]:
    """Pids of the agent's commands still alive once the deadline passes (none should be)."""
    pid_file = root / "pids.txt"
    pids = [int(p) for p in pid_file.read_text().split()] if pid_file.exists() else []
    deadline = time.monotonic() + within_s
    while (left := [p for p in pids if pid_alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.02)
    return left


def run_until_killed(root: Path, env: dict[str, str], after_events: int) -> tuple[str, list[dict[str, Any]], bool]:
    """Run the CLI turn, answering approvals, and SIGKILL it after ``after_events`` events."""
    proc = subprocess.Popen([*agent_lsp_command(), "ask", "--json", "--mode", "ask", "fix add"], cwd=root,
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, bufsize=1)
    assert proc.stdin is not None and proc.stdout is not None
    events: list[dict[str, Any]] = []
    killed = False
    try:
        for line in proc.stdout:
            events.append(json.loads(line))
            if events[-1]["type"] == "approval/requested":
                proc.stdin.write("y\n")
                proc.stdin.flush()
            if len(events) >= after_events:
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
    finally:
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stdin.close()
    return events[0]["threadId"], events, killed


@pytest.mark.parametrize("after_events", kill_points())
async def test_kill_9_anywhere_then_resume_is_valid_and_informed(
        after_events: int, fake: FakeAnthropic, root: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    fake.script(*[scripted] * 12)
    env = server_env(fake.url, state_dir, AGENT_LSP_HOST="off")  # the turn dies with the CLI's process
    thread_id, seen, killed = await asyncio.to_thread(run_until_killed, root, env, after_events)

    assert survivors(root) == [], "a command of the killed agent is still running"

    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    store = Store(state_dir / "threads.sqlite3")
    harness = Harness(Workspace(root), store, Settings(permission_mode="bypass"), model=AnthropicModel())
    try:
        events = store.events_after(thread_id, 0)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert [e.to_wire() for e in events[: len(seen)]] == seen, "what was shown was stored first"
        started = [e.turn.id for e in events if e.type == "turn/started"]
        ended = [e.turn.id for e in events if e.type == "turn/completed"]
        assert sorted(started) == sorted(ended), "a turn was left running"
        assert all(item.status != "inProgress" for item in store.items(thread_id))
        first_turn = started[0]
        tool_items = [e.item for e in events if e.type == "item/started" and e.turn_id == first_turn
                      and e.item.type in ("toolCall", "fileChange", "commandExecution")]

        before = len(fake.requests)
        turn = harness.start_turn(thread_id, [TextPart(text=CHECK)])
        await harness.wait(thread_id)
        final = store.events_after(thread_id, 0)[-1]
        assert final.type == "turn/completed" and final.turn.id == turn.id and final.turn.status == "completed"
        request = fake.requests[before].body
        sent = json.dumps(request["messages"])
        results = [b for m in request["messages"] if m["role"] == "user" and isinstance(m["content"], list)
                   for b in m["content"] if b.get("type") == "tool_result"]
        calls = [b for m in request["messages"] if m["role"] == "assistant" for b in m["content"]
                 if b.get("type") == "tool_use"]
        assert len(results) == len(calls) >= len(tool_items), "every tool call that started is answered"
        repaired = any(e.type == "turn/completed" and e.turn.id == first_turn and e.turn.error == DIED
                       for e in events)
        if not killed or any(e["type"] == "turn/completed" for e in seen):
            assert not repaired  # (a turn may also end stored but unshown when the kill comes)
        assert (CUT_OFF in sent) == repaired, "the model is told when its turn was cut off"
        for item in tool_items:
            done = next(e.item for e in events if e.type == "item/completed" and e.item.id == item.id)
            if done.type == "fileChange" and done.outcome == "applied":
                paths = [c.path for c in done.changes]
                assert any("Applied" in r["content"] and all(p in r["content"] for p in paths) for r in results)
            if done.type == "commandExecution" and "tick 1" in (done.output or ""):
                assert "tick 1" in sent, "the command's output so far reaches the model"
    finally:
        await harness.shutdown()
        store.close()
    fake.assert_valid()
