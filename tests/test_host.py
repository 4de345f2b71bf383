"""The agent host (issue 12): turns outlive editors, any surface answers approvals once, the
host starts once, goes away when idle, and a host that died is repaired after.

Real processes throughout: ``agent-lsp serve`` driven by pytest-lsp, ``agent-lsp attach``, the
host the first of them starts (``python -m agent.host``), the fake model API."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from agent.host.place import HostPlace
from editor import Editor, agent_lsp_command, server_env
from fake_anthropic import FakeAnthropic, Reply, Stall, text, tool_use
from test_e2e_requests import new_thread, start_turn

EDIT = {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"}
BUGGY, FIXED = "def add(a, b):\n    return a - b\n", "def add(a, b):\n    return a + b\n"


def host_pid(state_dir: Path) -> int:
    pid = HostPlace(state_dir).holder()
    assert pid and pid > 0, "no agent host runs"
    return pid


async def until(predicate: Any, timeout: float = 15.0) -> None:
    """Wait for a condition of the outside world (a process, a file) with a deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        await asyncio.sleep(0.02)


async def attach_and_answer(thread_id: str, root: Path, env: dict[str, str], answer: str) -> tuple[str, str]:
    """Run ``agent-lsp attach THREAD``, answer its approval prompt, and return what it printed."""
    attached = await asyncio.create_subprocess_exec(
        *agent_lsp_command(), "attach", thread_id, cwd=root, env=env, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(attached.communicate(f"{answer}\n".encode()), 30)
    assert attached.returncode == 0, err.decode()
    return out.decode(), err.decode()


async def test_a_turn_outlives_its_editor_and_another_editor_approves_it(
        fake: FakeAnthropic, root: Path, state_dir: Path) -> None:
    env = server_env(fake.url, state_dir)
    (root / "calc.py").write_text(BUGGY)
    first = await Editor.launch(root, env, "vscode")
    # enough streamed text to get past what the secret redactor holds back
    fake.script(Stall(Reply([text("Let me fix it right away, one moment."), tool_use("edit_file", EDIT)]),
                      after_frames=7),
                Reply([text("Fixed.")]))
    thread_id = await new_thread(first)
    await start_turn(first, thread_id, "fix add")
    await first.wait_event("item/delta")
    seen = first.events[-1]["seq"]
    first.client._server.send_signal(signal.SIGKILL)  # the editor dies mid-turn
    await first.client._server.wait()
    await first.client.stop()
    fake.release_stalls()  # the turn goes on in the host and reaches an approval, nobody attached

    second = await Editor.launch(root, env, "neovim")
    try:
        uri = second.open("calc.py", BUGGY)
        await second.wait_for(lambda: second.client.diagnostics.get(uri))  # the approval, drawn on join
        [diagnostic] = second.client.diagnostics[uri]
        assert diagnostic.message.startswith("Agent proposes: Edit calc.py")
        [approve] = [a for a in await second.code_actions(uri, 1) if a.title.startswith("Approve agent edit")]
        assert (await second.command(approve.command))["outcome"] == "resolved"
        await second.wait_for(lambda: second.text(uri) == FIXED)  # landed in this editor's buffer
        await second.wait_for(lambda: any(e["type"] == "turn/completed" for e in second.events))
        resolved = next(e for e in second.events if e["type"] == "approval/resolved")
        assert resolved["source"] == "codeAction" and resolved["clientName"]  # who answered is named
    finally:
        await second.close()

    returning = await Editor.launch(root, env, "vscode")
    try:
        rest = (await returning.request("agent/thread/resume", {"threadId": thread_id, "afterSeq": seen}))["events"]
        assert [e["seq"] for e in rest] == list(range(seen + 1, seen + 1 + len(rest)))
        work = [e for e in rest if not e["type"].startswith("client/")]
        assert work[-1]["type"] == "turn/completed" and work[-1]["turn"]["status"] == "completed"
        # who was on the thread, as every surface shows it: the dead editor left, the second came and went
        presence = [(e["type"], e["clientId"]) for e in rest if e["type"].startswith("client/")]
        dead = presence[0]  # the killed editor, dropped when its socket closed
        joined = next(c for t, c in presence if t == "client/attached")
        assert dead[0] == "client/detached" and dead[1] != joined, presence
        assert presence[1:] == [("client/attached", joined), ("client/detached", joined)], presence
    finally:
        await returning.close()
    fake.assert_valid()


async def test_two_answers_at_the_same_moment_apply_once(fake: FakeAnthropic, root: Path, state_dir: Path) -> None:
    env = server_env(fake.url, state_dir)
    (root / "calc.py").write_text(BUGGY)
    editors = [await Editor.launch(root, env, kind) for kind in ("vscode", "neovim")]
    try:
        fake.script(Reply([tool_use("edit_file", EDIT)]), Reply([text("done")]))
        thread_id = await new_thread(editors[0])
        await start_turn(editors[0], thread_id, "fix add")
        asked = await editors[0].wait_event("approval/requested")
        outcomes = await asyncio.gather(*(e.command("agent.approve", asked["approval"]["id"]) for e in editors))
        assert sorted(o["outcome"] for o in outcomes) == ["alreadyResolved", "resolved"]
        done = await editors[0].wait_event("turn/completed")
        assert done["turn"]["status"] == "completed"
        assert (root / "calc.py").read_text() == FIXED
        assert len(editors[0].of_type("approval/resolved")) == 1
    finally:
        for editor in editors:
            await editor.close()


async def test_agent_lsp_attach_answers_an_approval_an_editor_asked(
        fake: FakeAnthropic, root: Path, state_dir: Path) -> None:
    env = server_env(fake.url, state_dir)
    (root / "calc.py").write_text(BUGGY)
    editor = await Editor.launch(root, env, "vscode")
    try:
        fake.script(Reply([tool_use("edit_file", EDIT)]), Reply([text("Fixed it.")]))
        thread_id = await new_thread(editor)
        await start_turn(editor, thread_id, "fix add")
        await editor.wait_event("approval/requested")
        out, err = await attach_and_answer(thread_id, root, env, "y")
        assert "Allow: Edit calc.py?" in err and "Fixed it." in out
        resolved = await editor.wait_event("approval/resolved")
        assert (resolved["source"], resolved["clientName"]) == ("request", "agent-lsp attach")
        assert (root / "calc.py").read_text() == FIXED
    finally:
        await editor.close()


async def test_a_host_killed_mid_turn_is_repaired_by_the_next_client(
        fake: FakeAnthropic, root: Path, state_dir: Path) -> None:
    env = server_env(fake.url, state_dir)
    editor = await Editor.launch(root, env, "vscode")
    try:
        fake.script(Stall(Reply([text("a long answer that streams for a while")]), after_frames=7))
        thread_id = await new_thread(editor)
        await start_turn(editor, thread_id, "talk")
        await editor.wait_event("item/delta")
        os.kill(host_pid(state_dir), signal.SIGKILL)
        fake.release_stalls()
        await until(lambda: HostPlace(state_dir).holder() is None)
        fake.script(Reply([text("Back again.")]))
        await start_turn(editor, thread_id, "again")  # reconnects: a new host repairs, then runs it
        done = await editor.wait_event("turn/completed", lambda e: e["turn"]["status"] == "completed")
        assert done["turn"]["status"] == "completed"
        resumed = await editor.request("agent/thread/resume", {"threadId": thread_id})
        ended = [e["turn"] for e in resumed["events"] if e["type"] == "turn/completed"]
        assert [t["status"] for t in ended] == ["interrupted", "completed"] and "stopped" in ended[0]["error"]
    finally:
        await editor.close()


def test_one_host_per_state_dir_idle_exit_stale_socket_and_status(fake: FakeAnthropic, state_dir: Path) -> None:
    env = {**server_env(fake.url, state_dir), "AGENT_LSP_HOST_IDLE_TIMEOUT": "1"}
    place = HostPlace(state_dir)
    place.prepare()
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(place.socket))  # a socket file left by a dead host
    stale.close()
    racers = [subprocess.Popen([sys.executable, "-m", "agent.host", "--state-dir", str(state_dir),
                                "--idle-timeout", "1"], env=env, stderr=subprocess.PIPE) for _ in range(2)]
    status = subprocess.run([*agent_lsp_command(), "host", "status", "--json"], env=env, capture_output=True,
                            text=True, timeout=30)
    exits = [p.wait(timeout=30) for p in racers]  # one loses the lock at once, the winner exits when idle
    assert exits == [0, 0]
    first = json.loads(status.stdout) if status.returncode == 0 else {"running": False}
    assert first["running"] is False or first["pid"] in [p.pid for p in racers]
    assert place.holder() is None and not place.socket.exists()
    again = subprocess.run([*agent_lsp_command(), "host", "status"], env=env, capture_output=True, text=True,
                           timeout=30)
    assert again.returncode == 1 and "no agent host runs" in again.stdout


def test_the_socket_refuses_other_users(fake: FakeAnthropic) -> None:
    import shutil
    import tempfile

    import pytest

    if os.getuid() != 0:
        pytest.skip("needs root to connect as another user")
    state_dir = Path(tempfile.mkdtemp(prefix="agent-lsp-uid-"))  # pytest's tmp is not reachable by others
    os.chmod(state_dir.parent, os.stat(state_dir.parent).st_mode | 0o011)
    env = {**server_env(fake.url, state_dir), "AGENT_LSP_HOST_IDLE_TIMEOUT": "2"}
    host = subprocess.Popen([sys.executable, "-m", "agent.host", "--state-dir", str(state_dir)], env=env)
    try:
        place = HostPlace(state_dir)
        deadline = time.monotonic() + 20
        while not place.socket.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert oct(place.socket.stat().st_mode & 0o777) == "0o600"
        os.chmod(state_dir, 0o755)
        os.chmod(place.socket, 0o666)  # even with the file open to all, the uid check holds
        probe = ("import socket, sys\ns = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\ntry:\n"
                 "    s.sendall(b'{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"hello\",\"params\":{}}\\n')\n"
                 "    print(repr(s.recv(4096)))\nexcept ConnectionError:\n    print(repr(b''))")
        other = subprocess.run(["/usr/bin/python3", "-c", probe, str(place.socket)], capture_output=True, text=True,
                               timeout=20, user=65534, group=65534)
        assert other.stdout.strip() == "b''", (other.stdout, other.stderr)  # closed without an answer
    finally:
        host.send_signal(signal.SIGTERM)
        host.wait(timeout=20)
        shutil.rmtree(state_dir, ignore_errors=True)


async def test_a_client_that_stops_answering_is_dropped(fake: FakeAnthropic, root: Path, state_dir: Path) -> None:
    from agent.host.client import host_status
    from agent.host.server import VERSION

    env = {**server_env(fake.url, state_dir), "AGENT_LSP_HOST_HEARTBEAT": "0.3"}
    editor = await Editor.launch(root, env, "vscode")  # starts the host (with a short heartbeat)
    try:
        await new_thread(editor)
        reader, writer = await asyncio.open_unix_connection(str(HostPlace(state_dir).socket))
        hello = {"jsonrpc": "2.0", "id": 1, "method": "hello", "params": {"clientName": "a frozen client",
                                                                          "version": VERSION}}
        writer.write(json.dumps(hello).encode() + b"\n")
        await writer.drain()
        await reader.readline()  # then it never reads or answers again (a frozen editor)
        status = await host_status(state_dir)
        assert status is not None and "a frozen client" in status["clients"]
        deadline = time.monotonic() + 10
        while "a frozen client" in (await host_status(state_dir) or {}).get("clients", []):
            assert time.monotonic() < deadline, "the frozen client was never dropped"
            await asyncio.sleep(0.1)
        assert "an LSP client" in (await host_status(state_dir) or {})["clients"]  # the live one stays
        writer.close()
    finally:
        await editor.close()


async def test_subscribe_over_lsp_replays_once_then_live_and_names_what_waits(
        fake: FakeAnthropic, root: Path, state_dir: Path) -> None:
    env = server_env(fake.url, state_dir)
    (root / "calc.py").write_text(BUGGY)
    starter = await Editor.launch(root, env, "vscode")
    follower = await Editor.launch(root, env, "neovim")
    try:
        fake.script(Reply([tool_use("edit_file", EDIT)]), Reply([text("done")]))
        thread_id = await new_thread(starter)
        await start_turn(starter, thread_id, "fix add")
        asked = await starter.wait_event("approval/requested")
        follower.events.clear()
        result = await follower.request("agent/thread/subscribe", {"threadId": thread_id, "afterSeq": 0})
        assert [a["id"] for a in result["pending"]] == [asked["approval"]["id"]]
        await follower.wait_for(lambda: any(e["type"] == "approval/requested" for e in follower.events))
        await follower.command("agent.approve", asked["approval"]["id"])
        await follower.wait_event("turn/completed")
        seqs = sorted({e["seq"] for e in follower.events if e["threadId"] == thread_id})
        assert seqs == list(range(1, seqs[-1] + 1))  # every event of the thread arrived (a client drops repeats)
        assert await follower.request("agent/thread/unsubscribe", {"threadId": thread_id}) == {}
    finally:
        await starter.close()
        await follower.close()


async def test_a_terminal_client_never_receives_an_editors_edit(fake: FakeAnthropic, root: Path,
                                                                state_dir: Path) -> None:
    """A file the agent creates goes through the editor attached last, never through `attach`."""
    env = server_env(fake.url, state_dir)
    editor = await Editor.launch(root, env, "vscode")
    try:
        fake.script(Reply([tool_use("write_file", {"path": "new.py", "content": "x = 1\n"})]), Reply([text("made")]))
        thread_id = await new_thread(editor)
        await start_turn(editor, thread_id, "make new.py")
        await editor.wait_event("approval/requested")
        out, err = await attach_and_answer(thread_id, root, env, "y")
        done = await editor.wait_event("turn/completed")
        assert done["turn"]["status"] == "completed"
        kinds = [type(c).__name__ for c in editor.applied[-1].edit.document_changes]
        assert kinds[0] == "CreateFile"  # created by the editor, not refused by the terminal
        assert editor.text((root / "new.py").as_uri()) == "x = 1\n"
    finally:
        await editor.close()


def test_a_dead_hosts_surfaces_are_detached_when_the_next_host_starts(tmp_path: Path) -> None:
    """Presence is projected into the store; a host that died with clients on a thread left rows
    there, and the next host's start detaches each one with an event every reducer applies."""
    from agent.events import ClientAttachedEvent
    from agent.store.sqlite import Store

    store = Store(tmp_path / "threads.sqlite3")
    try:
        thread = store.create_thread("ws", "t").thread
        for cid, name in (("cli_b", "Neovim 0.11"), ("cli_a", "agent-lsp attach")):
            store.append(ClientAttachedEvent(thread_id=thread.id, client_id=cid, client_name=name))
        assert store.attached(thread.id) == [("cli_a", "agent-lsp attach"), ("cli_b", "Neovim 0.11")]
        before = store.list_threads("ws")[0].updated_at
        left = store.detach_everyone()
        assert sorted((e.type, e.client_id) for e in left) == [("client/detached", "cli_a"),  # type: ignore[union-attr]
                                                               ("client/detached", "cli_b")]
        assert store.attached(thread.id) == [] and store.detach_everyone() == []
        assert store.get_thread(thread.id).last_seq == 5  # numbered like any event
        assert store.list_threads("ws")[0].updated_at == before  # presence is not activity
    finally:
        store.close()


def test_cold_asks_racing_fork_one_host_and_all_get_their_answer(fake: FakeAnthropic, root: Path,
                                                                   state_dir: Path) -> None:
    """Three ``agent-lsp ask`` started together with no host: each tries to fork one as its first
    act (``agent.host.early``); one takes the lock, the others connect to that host. Every ask
    answers, one host serves them all, and it holds nothing of theirs (each ask's pipes close
    when it exits, or ``communicate`` would hang)."""
    env = server_env(fake.url, state_dir, AGENT_LSP_HOST="1")
    fake.script(*[Reply([text("Done.")]) for _ in range(3)])
    asks = [subprocess.Popen([*agent_lsp_command(), "ask", f"task {n}"], cwd=root, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for n in range(3)]
    try:
        outs = [ask.communicate(timeout=60) for ask in asks]
        assert [ask.returncode for ask in asks] == [0, 0, 0], [err[-800:] for _, err in outs]
        assert all("Done." in out for out, _ in outs)
        pid = host_pid(state_dir)
        assert len(fake.requests) == 3
        status = json.loads(subprocess.run([*agent_lsp_command(), "host", "status", "--json"], env=env,
                                           capture_output=True, text=True, timeout=30).stdout)
        assert status["pid"] == pid
    finally:
        subprocess.run([*agent_lsp_command(), "host", "stop"], env=env, capture_output=True, timeout=60)


def test_after_a_host_is_killed_the_next_ask_forks_a_new_one(fake: FakeAnthropic, root: Path, state_dir: Path) -> None:
    """A host killed with SIGKILL leaves its socket behind but frees its lock: the next ``ask``
    sees the free lock, forks a new host at once (not the slow path through the stale socket)
    and gets its answer from it."""
    env = server_env(fake.url, state_dir, AGENT_LSP_HOST="1")
    fake.script(Reply([text("First.")]), Reply([text("Second.")]))
    try:
        first = subprocess.run([*agent_lsp_command(), "ask", "one"], cwd=root, env=env, capture_output=True,
                               text=True, timeout=60)
        assert first.returncode == 0 and "First." in first.stdout, first.stderr
        dead = host_pid(state_dir)
        os.kill(dead, signal.SIGKILL)
        asyncio.run(until(lambda: HostPlace(state_dir).holder() is None))
        assert HostPlace(state_dir).socket.exists()  # stale
        second = subprocess.run([*agent_lsp_command(), "ask", "two"], cwd=root, env=env, capture_output=True,
                                text=True, timeout=60)
        assert second.returncode == 0 and "Second." in second.stdout, second.stderr
        again = host_pid(state_dir)
        assert again != dead
        cmdline = Path(f"/proc/{again}/cmdline")
        if cmdline.exists():
            assert cmdline.read_bytes().rstrip(b"\0") == b"agent-lsp host"  # forked by the ask, retitled
    finally:
        subprocess.run([*agent_lsp_command(), "host", "stop"], env=env, capture_output=True, timeout=60)
