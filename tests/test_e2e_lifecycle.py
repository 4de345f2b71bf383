"""The server surviving its own death and its clients' mistakes: kill -9 mid-turn then
resume, shutdown mid-turn, and bad or early requests."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from pathlib import Path

import pytest

from editor import Editor, agent_lsp_command, server_env
from fake_anthropic import FakeAnthropic, Reply, Stall, text, tool_use
from test_e2e_requests import error_of, new_thread, start_turn

EDIT = {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"}


async def test_kill_9_mid_turn_then_a_new_server_resumes_a_valid_thread(
        fake: FakeAnthropic, root: Path, state_dir: Path, client_kind: str) -> None:
    """With turns in the server's own process (AGENT_LSP_HOST=off), its death ends the turn;
    with the agent host the turn goes on (tests/test_host.py)."""
    env = server_env(fake.url, state_dir, AGENT_LSP_HOST="off")
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    first = await Editor.launch(root, env, client_kind)
    fake.script(Reply([text("Reading."), tool_use("read_file", {"path": "calc.py"})]),
                Reply([tool_use("edit_file", EDIT)]))
    thread_id = await new_thread(first)
    await start_turn(first, thread_id, "fix add")
    await first.wait_event("approval/requested")
    last_seen = first.events[-1]["seq"]
    process = first.client._server
    process.send_signal(signal.SIGKILL)
    await process.wait()
    await first.client.stop()

    second = await Editor.launch(root, env, client_kind)
    try:
        resumed = await second.request("agent/thread/resume", {"threadId": thread_id, "afterSeq": last_seen})
        missing = resumed["events"]
        assert [e["seq"] for e in missing] == list(range(last_seen + 1, last_seen + 1 + len(missing)))
        kinds = [e["type"] for e in missing]
        assert kinds[-1] == "turn/completed" and missing[-1]["turn"]["status"] == "interrupted"
        assert "approval/resolved" in kinds and "item/completed" in kinds  # the pending approval and item end
        assert resumed["thread"]["status"] == "idle"
        again = await second.request("agent/thread/resume", {"threadId": thread_id, "afterSeq": missing[-1]["seq"]})
        assert again["events"] == []  # each missing event arrives exactly once
        assert all(i["status"] != "inProgress" for i in resumed["items"])

        fake.script(Reply([text("Starting over.")]))
        await start_turn(second, thread_id, "try again")
        done = await second.wait_event("turn/completed")
        assert done["turn"]["status"] == "completed"
        told = fake.requests[-1].body["messages"]
        [edit_result] = [b for m in told if isinstance(m["content"], list) for b in m["content"]
                         if b.get("type") == "tool_result" and "calc.py" in str(b.get("content"))
                         and "approval" in str(b.get("content"))]
        assert edit_result["content"].startswith("Not applied")  # the model knows the edit never landed
        assert "was cut off" in json.dumps(told[-1])
        assert (root / "calc.py").read_text().endswith("a - b\n")  # nothing half-applied
    finally:
        await second.close()


async def test_shutdown_ends_running_turns_interrupted_and_leaves_the_store_consistent(
        fake: FakeAnthropic, root: Path, state_dir: Path) -> None:
    """In-process turns end with the server; the host's outlive it (tests/test_host.py)."""
    env = server_env(fake.url, state_dir, AGENT_LSP_HOST="off")
    first = await Editor.launch(root, env)
    fake.script(Stall(Reply([text("a very long answer")]), after_frames=4))
    thread_id = await new_thread(first)
    await start_turn(first, thread_id, "talk")
    await first.wait_event("item/delta")
    await first.close()
    fake.release_stalls()

    listed = subprocess.run([*agent_lsp_command(), "show", thread_id, "--json"], cwd=root, env=env,
                            capture_output=True, text=True, timeout=30)
    items = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [i["status"] for i in items] == ["completed", "failed"]
    second = await Editor.launch(root, env)
    try:
        resumed = await second.request("agent/thread/resume", {"threadId": thread_id})
        completed = [e for e in resumed["events"] if e["type"] == "turn/completed"]
        assert len(completed) == 1 and completed[0]["turn"]["status"] == "interrupted"
        assert completed[0]["turn"].get("error") is None  # ended by shutdown, not repaired after a crash
    finally:
        await second.close()


async def test_bad_requests_get_errors_and_the_server_stays_up(editor: Editor) -> None:
    unknown = await error_of(editor.client.protocol.send_request_async("agent/doesNotExist", {}))
    assert unknown.code == -32601
    not_a_command = await error_of(editor.command("agent.explode"))
    assert not_a_command.code == -32602
    ask = await error_of(editor.command("agent.ask", {"no": "prompt"}))
    assert ask.code == -32602 and "prompt" in ask.message
    fix = await error_of(editor.command("agent.fix", "file:///x.py"))
    assert fix.code == -32602 and "[uri, diagnostic]" in fix.message
    garbage = await error_of(editor.request("agent/thread/resume", {"threadId": 42, "afterSeq": -1}))
    assert garbage.code == -32602
    thread_id = (await editor.request("agent/thread/start", {}))["thread"]["id"]
    huge = await error_of(editor.request("agent/thread/resume", {"threadId": thread_id, "afterSeq": 2**70}))
    assert huge.code == -32602 and "afterSeq" in huge.message
    assert [t["id"] for t in (await editor.request("agent/thread/list", {}))["threads"]] == [thread_id]


def frame(payload: dict) -> bytes:
    body = json.dumps(payload).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


async def read_frame(stream: asyncio.StreamReader) -> dict:
    length = 0
    while (line := await stream.readline()) not in (b"\r\n", b""):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return json.loads(await stream.readexactly(length))


async def test_requests_before_initialize_are_refused(root: Path, state_dir: Path) -> None:
    """pytest-lsp's client will not send before initialize, so this speaks raw JSON-RPC."""
    proc = await asyncio.create_subprocess_exec(
        *agent_lsp_command(), "serve", env=server_env(None, state_dir),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    assert proc.stdin and proc.stdout
    try:
        code_action = {"textDocument": {"uri": (root / "a.py").as_uri()},
                       "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
                       "context": {"diagnostics": []}}
        proc.stdin.write(frame({"jsonrpc": "2.0", "id": 1, "method": "agent/thread/list", "params": {}}))
        proc.stdin.write(frame({"jsonrpc": "2.0", "id": 2, "method": "textDocument/codeAction", "params": code_action}))
        proc.stdin.write(b"Content-Length: 9\r\n\r\n{garbage}")
        proc.stdin.write(frame({"jsonrpc": "2.0", "id": 3, "method": "initialize",
                                "params": {"processId": None, "rootUri": root.as_uri(), "capabilities": {}}}))
        await proc.stdin.drain()
        answers = {}
        async with asyncio.timeout(15):
            while 3 not in answers:
                message = await read_frame(proc.stdout)
                if "id" in message:
                    answers[message["id"]] = message
        assert answers[1]["error"]["code"] in (-32002, -32601)
        assert answers[2]["error"]["code"] == -32002 and "initialize" in answers[2]["error"]["message"]
        assert answers[3]["result"]["capabilities"]["experimental"] == {"agentLsp": {"protocolVersion": 2}}
    finally:
        proc.kill()
        await proc.wait()


@pytest.mark.parametrize("bad", ["not json", '{"permissions": {"allow": ["rm -rf("]}}'])
async def test_broken_settings_file_does_not_break_turns(editor: Editor, fake: FakeAnthropic, root: Path,
                                                         bad: str) -> None:
    (root / ".agent-lsp").mkdir()
    (root / ".agent-lsp" / "settings.json").write_text(bad)
    fake.script(Reply([tool_use("read_file", {"path": ".agent-lsp/settings.json"})]), Reply([text("ok")]))
    await start_turn(editor, await new_thread(editor), "look")
    done = await editor.wait_event("turn/completed")
    assert done["turn"]["status"] == "completed"
