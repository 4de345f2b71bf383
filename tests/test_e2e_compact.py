"""Compaction over LSP and the CLI: ``agent/thread/compact`` (a turn of its own, -32803 while a
turn runs, -32602 for a thread with nothing to compact), the ``agent.compact`` command, its
progress and events; ``agent-lsp compact`` and the boundary in ``agent-lsp show``."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from agent.context.compaction import SUMMARY_MARKER
from editor import Editor, agent_lsp_command, server_env
from fake_anthropic import FakeAnthropic, Reply, Stall, text
from test_e2e_requests import error_of, new_thread, start_turn

SUMMARY = "Goal: say hello. Done: said hello. Next: nothing."


def summary_or(reply: str) -> Any:
    def step(body: dict[str, Any]) -> Reply:
        last = body["messages"][-1]["content"]
        asked = any(SUMMARY_MARKER in b.get("text", "") for b in last if isinstance(b, dict))
        return Reply([text(SUMMARY if asked else reply)])

    return step


async def test_compact_over_lsp_is_a_turn_with_a_visible_compaction(editor: Editor, fake: FakeAnthropic) -> None:
    thread_id = await new_thread(editor)
    assert (await error_of(editor.request("agent/thread/compact", {"threadId": thread_id}))).code == -32602
    fake.script(Stall(Reply([text("Hello.")]), after_frames=2))
    await start_turn(editor, thread_id, "say hello")
    fake.wait_for_stall()
    busy = await error_of(editor.request("agent/thread/compact", {"threadId": thread_id}))
    assert busy.code == -32803
    fake.release_stalls()
    await editor.wait_event("turn/completed")
    fake.script(summary_or("unused"))
    turn = (await editor.request("agent/thread/compact", {"threadId": thread_id, "instructions": "be short"}))["turn"]
    done = await editor.wait_event("turn/completed", lambda e: e["turn"]["id"] == turn["id"])
    assert done["turn"]["status"] == "completed"
    compacted = await editor.wait_event("thread/compacted")
    [item] = [e["item"] for e in editor.of_type("item/completed") if e["item"]["type"] == "compaction"]
    assert item["id"] == compacted["itemId"] and item["summary"] == SUMMARY
    assert "be short" in json.dumps(fake.requests[-1].body["messages"][-1])
    fake.script(summary_or("again"))
    result = await editor.command("agent.compact", thread_id)
    assert result["threadId"] == thread_id and result["turnId"]
    await editor.wait_event("turn/completed", lambda e: e["turn"]["id"] == result["turnId"])


def test_the_cli_compacts_and_show_draws_the_boundary(fake: FakeAnthropic, root: Path, state_dir: Path) -> None:
    env = server_env(fake.url, state_dir)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*agent_lsp_command(), *args], cwd=root, env=env, capture_output=True, text=True,
                              timeout=60)

    fake.script(summary_or("Hello."), summary_or("unused"))
    first = [json.loads(line) for line in cli("ask", "--json", "say hello").stdout.splitlines()]
    thread_id = first[0]["threadId"]
    done = cli("compact", thread_id)
    assert done.returncode == 0, done.stderr
    assert "context compacted" in done.stdout and SUMMARY in done.stdout
    shown = cli("show", thread_id)
    assert "context compacted" in shown.stdout and shown.stdout.index("Hello.") < shown.stdout.index(SUMMARY)
    assert cli("compact", "thr_nope").returncode == 2


async def test_kill_9_mid_compaction_leaves_a_thread_that_resumes_valid(
        fake: FakeAnthropic, root: Path, state_dir: Path, monkeypatch: Any) -> None:
    import os
    import signal

    from agent.model.anthropic_api import AnthropicModel
    from agent.config import Settings
    from agent.engine.harness import Harness
    from agent.protocol import TextPart
    from agent.store.sqlite import Store
    from agent.files.workspace import Workspace

    env = server_env(fake.url, state_dir)
    fake.script(summary_or("Hello."))
    asked = subprocess.run([*agent_lsp_command(), "ask", "--json", "say hello"], cwd=root, env=env,
                           capture_output=True, text=True, timeout=60)
    thread_id = json.loads(asked.stdout.splitlines()[0])["threadId"]
    store = Store(state_dir / "threads.sqlite3")
    before = store.messages(thread_id)
    fake.script(Stall(Reply([text(SUMMARY)]), after_frames=3))
    proc = subprocess.Popen([*agent_lsp_command(), "compact", thread_id], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    fake.wait_for_stall(timeout=30)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    fake.release_stalls()
    assert store.messages(thread_id) == before  # the old context, whole

    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    harness = Harness(Workspace(root), store, Settings(), model=AnthropicModel())
    try:
        events = store.events_after(thread_id)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        [compaction] = [i for i in store.items(thread_id) if i.type == "compaction"]
        assert compaction.status == "failed"
        fake.script(summary_or("Hello again."))
        report = await harness.wait(harness.start_turn(thread_id, [TextPart(text="again")]).thread_id)
        assert report is not None and report.status == "completed"
    finally:
        await harness.shutdown()
