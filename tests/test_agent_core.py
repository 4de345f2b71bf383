"""Agent core through the real harness: commands, todos, permission modes and rules,
recovery paths and interrupts. The fake API validates every request the harness sends."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from agent.config import Settings
from agent.protocol import TextPart
from agent.testing import kit
from agent.testing.kit import FakeClock, HarnessRecorder, ScriptedModel
from agent_run import Run, pid_alive
from fake_anthropic import FakeAnthropic, Reply, text, tool_use

EDIT = {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"}


def last_result(fake: FakeAnthropic, request: int = -1) -> dict:
    return fake.requests[request].body["messages"][-1]["content"][0]




# --- run_command -----------------------------------------------------------------------------

@pytest.mark.parametrize("settings", [Settings(permission_mode="bypass")])
async def test_command_output_streams_and_the_exit_code_is_reported(run: Run, fake: FakeAnthropic) -> None:
    fake.script(Reply([tool_use("run_command", {"command": "echo out; echo err >&2; env; exit 3"})]),
                Reply([text("saw it")]))
    done = await run.turn("run it")
    assert done.turn.status == "completed"
    [item] = run.items("commandExecution")
    assert (item.exit_code, item.status) == (3, "failed")
    assert "out\nerr\n" in item.output
    streamed = "".join(e.text for e in run.of_type("item/delta") if e.item_id == item.id)
    assert streamed.startswith("out\nerr\n")
    result = last_result(fake)
    assert result["is_error"] is True and result["content"].startswith("Exit code 3\nout\nerr")
    assert "test-key" not in result["content"] and "ANTHROPIC_API_KEY" not in result["content"]


@pytest.mark.parametrize("settings", [Settings(permission_mode="bypass")])
async def test_a_command_past_its_timeout_is_killed_with_its_children(run: Run, fake: FakeAnthropic, root: Path) -> None:
    command = "sleep 30 & echo $! > child.pid; echo started; wait"
    fake.script(Reply([tool_use("run_command", {"command": command, "timeout_s": 0.5})]), Reply([text("ok")]))
    done = await run.turn("run it")
    assert done.turn.status == "completed"
    assert last_result(fake)["content"].startswith("Timed out after 0.5 s")
    assert not pid_alive(int((root / "child.pid").read_text()))


@pytest.mark.parametrize("settings", [Settings(permission_mode="bypass")])
async def test_long_output_keeps_head_and_tail(run: Run, fake: FakeAnthropic) -> None:
    command = "python3 -c \"print('HEAD'); print('x' * 100000); print('TAIL')\""
    fake.script(Reply([tool_use("run_command", {"command": command})]), Reply([text("ok")]))
    await run.turn("run it")
    content = last_result(fake)["content"]
    assert content.startswith("Exit code 0\nHEAD") and content.rstrip().endswith("TAIL")
    assert "characters of output left out" in content and len(content) < 20000


@pytest.mark.parametrize("settings", [Settings(permission_mode="bypass")])
async def test_interrupt_while_a_command_runs_kills_it_and_keeps_its_output(run: Run, fake: FakeAnthropic,
                                                                           root: Path) -> None:
    # the filler is what the stream redactor may hold back (a secret could start there)
    command = "echo first line; echo second line; printf '%0300d\\n' 0; echo $$ > cmd.pid; sleep 30"
    fake.script(Reply([tool_use("run_command", {"command": command})]), Reply([text("ok")]))
    thread_id = run.harness.start_thread("t").id
    run.harness.start_turn(thread_id, [TextPart(text="go")])
    await run.until("item/started", 2)
    pid_file = root / "cmd.pid"
    async with asyncio.timeout(10):  # the output has reached the harness, and the command sleeps
        while (not pid_file.exists() or not pid_file.read_text().strip()
               or "second line" not in "".join(e.text for e in run.of_type("item/delta"))):
            await asyncio.sleep(0.01)
    assert await run.harness.interrupt(thread_id)
    assert run.of_type("turn/completed")[-1].turn.status == "interrupted"
    assert not pid_alive(int(pid_file.read_text()))
    [item] = run.items("commandExecution")
    assert item.status == "interrupted" and "first line\nsecond line" in (item.output or "")
    history = run.harness.store.messages(thread_id)
    result = history[-1]["content"][0]["content"]
    assert result.startswith("Interrupted by the user") and "first line\nsecond line" in result
    assert (await run.turn("next", thread_id)).turn.status == "completed"  # history still valid


# --- todo_write ------------------------------------------------------------------------------

async def test_todo_write_is_an_item_and_stored_with_the_thread(run: Run, fake: FakeAnthropic) -> None:
    todos = [{"content": "read calc.py", "status": "completed"}, {"content": "fix add", "status": "in_progress"}]
    fake.script(Reply([tool_use("todo_write", {"todos": todos})]), Reply([text("planned")]))
    done = await run.turn("plan")
    [item] = run.items("todoList")
    assert [t.model_dump() for t in item.todos] == todos and item.status == "completed"
    assert [t.model_dump() for t in run.harness.store.thread_state(done.thread_id).todos] == todos


# --- permissions -----------------------------------------------------------------------------

@pytest.mark.parametrize("settings", [Settings(permission_mode="readOnly")])
async def test_read_only_refuses_edits_and_commands(run: Run, fake: FakeAnthropic, root: Path) -> None:
    fake.script(Reply([tool_use("edit_file", EDIT), tool_use("run_command", {"command": "touch made"})]),
                Reply([text("ok")]))
    await run.turn("try")
    results = fake.requests[1].body["messages"][-1]["content"]
    assert all(r["is_error"] and "readOnly" in r["content"] for r in results)
    assert not (root / "made").exists() and (root / "calc.py").read_text().endswith("a - b\n")
    assert run.of_type("approval/requested") == []


@pytest.mark.parametrize("settings", [Settings(permission_mode="acceptEdits")])
async def test_accept_edits_runs_edits_but_asks_before_commands(run: Run, fake: FakeAnthropic, root: Path) -> None:
    fake.script(Reply([tool_use("edit_file", EDIT), tool_use("run_command", {"command": "touch made"})]),
                Reply([text("ok")]))
    thread_id = run.harness.start_thread("t").id
    run.harness.start_turn(thread_id, [TextPart(text="go")])
    asked = await run.until("approval/requested")
    assert asked.approval.kind == "command" and asked.approval.title == "Run touch made"
    assert (root / "calc.py").read_text().endswith("a + b\n")  # the edit did not wait
    run.harness.respond(asked.approval.id, "approve", None, "request")
    await run.harness.wait(thread_id)
    assert (root / "made").exists()


async def test_session_approval_covers_the_next_edit_in_the_thread(run: Run, fake: FakeAnthropic, root: Path) -> None:
    fake.script(Reply([tool_use("edit_file", EDIT)]),
                Reply([tool_use("edit_file", {"path": "calc.py", "old_string": "add", "new_string": "plus"})]),
                Reply([text("done")]))
    thread_id = run.harness.start_thread("t").id
    run.harness.start_turn(thread_id, [TextPart(text="go")])
    asked = await run.until("approval/requested")
    run.harness.respond(asked.approval.id, "approveForSession", None, "request")
    await run.harness.wait(thread_id)
    assert len(run.of_type("approval/requested")) == 1
    assert (root / "calc.py").read_text() == "def plus(a, b):\n    return a + b\n"


@pytest.mark.parametrize("settings", [Settings(permission_mode="bypass")])
async def test_deny_beats_allow_even_in_bypass(run: Run, fake: FakeAnthropic, root: Path) -> None:
    (root / ".agent-lsp").mkdir()
    (root / ".agent-lsp" / "settings.json").write_text(json.dumps({"permissions": {
        "allow": ["run_command(git *)", "edit_file(**)"], "deny": ["run_command(git push *)", "edit_file(calc.py)"]}}))
    fake.script(Reply([tool_use("run_command", {"command": "git push origin main"}), tool_use("edit_file", EDIT)]),
                Reply([text("ok")]))
    await run.turn("ship it")
    results = fake.requests[1].body["messages"][-1]["content"]
    assert all(r["is_error"] and "deny rule" in r["content"] for r in results)
    assert (root / "calc.py").read_text().endswith("a - b\n")


async def test_allow_rules_skip_the_question_but_not_for_compound_commands(run: Run, fake: FakeAnthropic,
                                                                          root: Path) -> None:
    (root / ".agent-lsp").mkdir()
    (root / ".agent-lsp" / "settings.json").write_text(json.dumps({"permissions": {
        "allow": ["run_command(echo *)", "edit_file(*.py)"]}}))
    fake.script(Reply([tool_use("edit_file", EDIT), tool_use("run_command", {"command": "echo hi"}),
                       tool_use("run_command", {"command": "echo hi; touch sneaky"})]),
                Reply([text("ok")]))
    thread_id = run.harness.start_thread("t").id
    run.harness.start_turn(thread_id, [TextPart(text="go")])
    asked = await run.until("approval/requested")
    assert asked.approval.command == "echo hi; touch sneaky"  # the only question asked
    run.harness.respond(asked.approval.id, "reject", "no chaining", "request")
    await run.harness.wait(thread_id)
    assert (root / "calc.py").read_text().endswith("a + b\n") and not (root / "sneaky").exists()
    assert len(run.of_type("approval/requested")) == 1


async def test_approve_always_saves_an_edit_rule(run: Run, fake: FakeAnthropic, root: Path) -> None:
    fake.script(Reply([tool_use("edit_file", EDIT)]), Reply([text("ok")]))
    thread_id = run.harness.start_thread("t").id
    run.harness.start_turn(thread_id, [TextPart(text="go")])
    asked = await run.until("approval/requested")
    run.harness.respond(asked.approval.id, "approveAlways", None, "request")
    await run.harness.wait(thread_id)
    saved = json.loads((root / ".agent-lsp" / "settings.json").read_text())
    assert saved == {"permissions": {"allow": ["edit_file(calc.py)"]}}


# --- recovery --------------------------------------------------------------------------------

async def test_rate_limit_honours_retry_after(srun: HarnessRecorder, scripted: ScriptedModel, clock: FakeClock) -> None:
    scripted.script(kit.Fail("rate_limit", "rate limited: slow down", retry_after=2.5), kit.Reply([text("ok")]))
    assert (await srun.turn("hi")).turn.status == "completed"
    assert len(scripted.requests) == 2
    assert clock.sleeps == [2.5]  # exactly what the server asked for, not the jittered backoff


@pytest.mark.parametrize("settings", [Settings(fallback_model="claude-fallback")])
async def test_repeated_overloads_switch_to_the_fallback_model(srun: HarnessRecorder, scripted: ScriptedModel,
                                                               clock: FakeClock) -> None:
    overloaded = kit.Fail("overloaded", "the model is overloaded: Overloaded", retry_after=0)
    scripted.script(overloaded, overloaded, kit.Reply([text("from the fallback")]))
    assert (await srun.turn("hi")).turn.status == "completed"
    assert [r.body["model"] for r in scripted.requests] == [Settings().model, Settings().model, "claude-fallback"]
    assert clock.sleeps == [0, 0]


async def test_errors_that_persist_fail_the_turn_with_the_reason(srun: HarnessRecorder, scripted: ScriptedModel,
                                                                 clock: FakeClock) -> None:
    scripted.script(*[kit.Fail("server", "the model API failed (500): boom")] * 5)
    done = await srun.turn("hi")
    assert done.turn.status == "failed" and "boom" in done.turn.error
    assert srun.harness.store.messages(done.thread_id) == [
        {"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    # four waits between five attempts, each jittered around 0.5 s * 2 ** (attempt - 1)
    assert len(clock.sleeps) == 4
    assert all(0.75 * 0.5 * 2 ** i <= wait <= 1.25 * 0.5 * 2 ** i for i, wait in enumerate(clock.sleeps))


@pytest.mark.parametrize("fault", ["disconnect", "stall", "error"])
async def test_a_broken_stream_is_retried_and_never_enters_history(srun: HarnessRecorder, scripted: ScriptedModel,
                                                                   fault: str) -> None:
    partial = kit.Reply([text("This partial answer must not be kept.")])
    step = {"disconnect": kit.Broken(partial), "stall": kit.Stall(partial),
            "error": kit.Broken(partial, message="the model stream failed: overloaded_error: Overloaded")}[fault]
    scripted.script(step, kit.Reply([text("Complete answer.")]))
    done = await srun.turn("hi")
    assert done.turn.status == "completed"
    assert [i.status for i in srun.items("agentMessage")] == ["failed", "completed"]
    history = srun.harness.store.messages(done.thread_id)
    assert history[-1] == {"role": "assistant", "content": [{"type": "text", "text": "Complete answer."}]}


async def test_max_tokens_keeps_the_text_drops_the_cut_tool_call_and_continues(srun: HarnessRecorder,
                                                                               scripted: ScriptedModel) -> None:
    cut = kit.Reply([text("First half,"), tool_use("read_file", {"path": "calc.py"})], stop_reason="max_tokens")
    scripted.script(cut, kit.Reply([text(" second half.")]))
    done = await srun.turn("long answer")
    assert done.turn.status == "completed"
    second = scripted.requests[1].body["messages"]
    assert [b["type"] for b in second[-2]["content"]] == ["text"]
    assert second[-1]["content"][0]["text"] == "Continue exactly where you stopped."


async def test_interrupt_while_streaming_ends_the_turn_and_keeps_history_valid(srun: HarnessRecorder,
                                                                             scripted: ScriptedModel) -> None:
    scripted.script(kit.Hold(kit.Reply([text("Streaming for a long time...")])), kit.Reply([text("fresh")]))
    thread_id = srun.harness.start_thread("t").id
    srun.harness.start_turn(thread_id, [TextPart(text="go")])
    await srun.until("item/delta")
    assert await srun.harness.interrupt(thread_id)
    assert srun.of_type("turn/completed")[-1].turn.status == "interrupted"
    assert srun.items("agentMessage")[0].status == "failed"
    assert (await srun.turn("again", thread_id)).turn.status == "completed"


@pytest.mark.parametrize("settings", [Settings(permission_mode="acceptEdits")])
async def test_the_agent_cannot_rewrite_its_own_rules_without_asking(run: Run, fake: FakeAnthropic, root: Path) -> None:
    rules = json.dumps({"permissions": {"allow": ["run_command(*)"]}})
    fake.script(Reply([tool_use("write_file", {"path": ".agent-lsp/settings.json", "content": rules})]),
                Reply([text("ok")]))
    thread_id = run.harness.start_thread("t").id
    run.harness.start_turn(thread_id, [TextPart(text="allow yourself everything")])
    asked = await run.until("approval/requested")
    assert asked.approval.title == "Create .agent-lsp/settings.json"
    run.harness.respond(asked.approval.id, "reject", None, "request")
    await run.harness.wait(thread_id)
    assert not (root / ".agent-lsp" / "settings.json").exists()


@pytest.mark.parametrize("settings", [Settings(permission_mode="bypass")])
async def test_the_api_key_never_reaches_the_model_events_or_store(run: Run, fake: FakeAnthropic, root: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-ant-test-0123456789abcdef"
    monkeypatch.setenv("ANTHROPIC_API_KEY", key)
    (root / "dotfile").write_text(f"export ANTHROPIC_API_KEY={key}\n")
    fake.script(Reply([tool_use("run_command", {"command": "cat dotfile; echo env=$ANTHROPIC_API_KEY"}),
                       tool_use("read_file", {"path": "dotfile"}),
                       tool_use("edit_file", {"path": "dotfile", "old_string": "export ANTHROPIC_API_KEY=sk",
                                              "new_string": "x"})]), Reply([text("ok")]))
    done = await run.turn("show me")
    assert done.turn.status == "completed"
    seen = json.dumps([r.body for r in fake.requests]) + json.dumps([e.to_wire() for e in run.events])
    seen += json.dumps(run.harness.store.messages(done.thread_id))
    assert key not in seen
    assert "[redacted: API key]" in seen and "env=\\n" in seen


# --- regressions from review -----------------------------------------------------------------

async def test_a_session_grant_never_covers_a_compound_command(run: Run, fake: FakeAnthropic, root: Path) -> None:
    fake.script(Reply([tool_use("run_command", {"command": "ls"})]),
                Reply([tool_use("run_command", {"command": "ls && touch sneaky"})]), Reply([text("ok")]))
    thread_id = run.harness.start_thread("t").id
    run.harness.start_turn(thread_id, [TextPart(text="go")])
    first = await run.until("approval/requested")
    run.harness.respond(first.approval.id, "approveForSession", None, "request")
    second = await run.until("approval/requested", 2)
    assert second.approval.command == "ls && touch sneaky"
    run.harness.respond(second.approval.id, "reject", None, "request")
    await run.harness.wait(thread_id)
    assert not (root / "sneaky").exists()


@pytest.mark.parametrize("settings", [Settings(permission_mode="bypass")])
async def test_file_system_errors_are_tool_errors_not_failed_turns(run: Run, fake: FakeAnthropic, root: Path) -> None:
    (root / "a.txt").write_text("x\n")
    os.mkfifo(root / "pipe")
    fake.script(Reply([tool_use("write_file", {"path": "a.txt/b.py", "content": "y = 1\n"}),
                       tool_use("read_file", {"path": "pipe"})]), Reply([text("ok")]))
    done = await run.turn("try")
    assert done.turn.status == "completed"
    results = fake.requests[1].body["messages"][-1]["content"]
    assert all(r["is_error"] for r in results)
    assert "not a regular file" in results[1]["content"]
    assert all(e.item.status != "inProgress" for e in run.of_type("item/completed"))


async def test_an_interrupt_before_the_turn_ran_still_completes_it(run: Run, fake: FakeAnthropic) -> None:
    fake.script(Reply([text("fresh start")]))
    thread_id = run.harness.start_thread("t").id
    run.harness.start_turn(thread_id, [TextPart(text="go")])
    assert await run.harness.interrupt(thread_id) is True
    assert run.of_type("turn/completed")[-1].turn.status == "interrupted"
    assert run.harness.store.get_thread(thread_id).status == "idle"
    assert (await run.turn("again", thread_id)).turn.status == "completed"


@pytest.mark.parametrize("settings", [Settings(permission_mode="bypass")])
async def test_a_path_deny_rule_hides_the_file_from_every_file_tool(run: Run, fake: FakeAnthropic, root: Path) -> None:
    (root / ".agent-lsp").mkdir()
    (root / ".agent-lsp" / "settings.json").write_text(json.dumps({"permissions": {"deny": ["read_file(.env)"]}}))
    (root / ".env").write_text("SECRET_TOKEN=hunter2\n")
    fake.script(Reply([tool_use("read_file", {"path": ".env"}), tool_use("grep", {"pattern": "SECRET"}),
                       tool_use("grep", {"pattern": "SECRET", "path": ".env"}), tool_use("glob", {"pattern": "*"}),
                       tool_use("edit_file", {"path": ".env", "old_string": "hunter2", "new_string": "x"})]),
                Reply([text("ok")]))
    await run.turn("find the secret")
    results = fake.requests[1].body["messages"][-1]["content"]
    assert "hunter2" not in json.dumps(results)
    assert [("deny rule" in r["content"]) for r in results] == [True, False, True, False, True]
    assert ".env" not in results[3]["content"]  # glob does not list it
    assert (root / ".env").read_text() == "SECRET_TOKEN=hunter2\n"


@pytest.mark.parametrize("settings", [Settings(permission_mode="bypass")])
async def test_a_denied_file_leaks_through_no_error_hint_or_refused_diff(run: Run, fake: FakeAnthropic,
                                                                           root: Path) -> None:
    (root / ".agent-lsp").mkdir()
    (root / ".agent-lsp" / "settings.json").write_text(json.dumps({"permissions": {"deny": ["read_file(.env)"]}}))
    (root / ".env").write_text("DB_PASSWORD=hunter2\nOTHER=1\n")
    patch = "--- a/.env\n+++ b/.env\n@@ -1 +1 @@\n-DB_PASSWORD=hunter3\n+DB_PASSWORD=x\n"
    fake.script(Reply([tool_use("edit_file", {"path": ".env", "old_string": "DB_PASSWORD=hunter", "new_string": "x"}),
                       tool_use("edit_file", {"path": ".env", "old_string": "DB_PASSWORD=hunter3", "new_string": "x"}),
                       tool_use("apply_patch", {"patch": patch}),
                       tool_use("write_file", {"path": ".env", "content": "replaced\n"})]),
                Reply([text("ok")]))
    await run.turn("change the password")
    results = fake.requests[1].body["messages"][-1]["content"]
    assert all(r.get("is_error") and "deny rule" in r["content"] for r in results)
    shown = json.dumps([e.to_wire() for e in run.events]) + json.dumps(fake.requests[1].body)
    assert "hunter2" not in shown and "OTHER=1" not in shown
    assert run.items("fileChange") == []  # no diff of the denied file was ever drawn
    assert (root / ".env").read_text() == "DB_PASSWORD=hunter2\nOTHER=1\n"
