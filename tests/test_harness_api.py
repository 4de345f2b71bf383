"""The public harness API (``agent``) on the scripted model: handles, cancel scopes,
subscriptions, approvals from the store, notices, and the recovery corners of its seams."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

import agent
from agent.config import Settings
from agent.protocol import TextPart
from agent.engine.recovery import repair_turn
from agent.store.sqlite import Store
from agent.testing.kit import HarnessRecorder, Reply, ScriptedModel, text, tool_use

EDIT = {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"}


async def test_a_handle_cancelled_before_its_task_ran_still_ends_the_turn(srun: HarnessRecorder) -> None:
    harness = srun.harness
    thread_id = harness.start_thread("t").id
    handle = harness.start_turn(thread_id, [TextPart(text="go")])
    handle.cancel()
    report = await asyncio.wait_for(handle.result(), 5)
    assert report.status == "interrupted" and harness.running_turn(thread_id) is None
    assert srun.of_type("turn/completed")[-1].turn.id == handle.id
    assert harness.store.get_thread(thread_id).status == "idle"


async def test_a_parent_cancel_scope_cascades_to_its_children(srun: HarnessRecorder, scripted: ScriptedModel) -> None:
    harness = srun.harness
    parent = agent.CancelScope()
    first, second = harness.start_thread("a").id, harness.start_thread("b").id
    handles = [harness.start_turn(t, [TextPart(text="go")], parent=parent) for t in (first, second)]
    parent.cancel()
    reports = [await asyncio.wait_for(h.result(), 5) for h in handles]
    assert [r.status for r in reports] == ["interrupted", "interrupted"]


async def test_interrupting_an_approval_declines_the_change(srun: HarnessRecorder, scripted: ScriptedModel) -> None:
    scripted.script(Reply([tool_use("edit_file", EDIT)]))
    harness = srun.harness
    thread_id = harness.start_thread("t").id
    harness.start_turn(thread_id, [TextPart(text="fix")])
    asked = await srun.until("approval/requested")
    assert harness.pending_approvals(thread_id)[0].id == asked.approval.id
    assert asked.approval.locations and asked.approval.locations[0].uri.endswith("/calc.py")
    await harness.interrupt(thread_id)
    [change] = srun.items("fileChange")
    assert (change.status, change.outcome) == ("declined", "rejected")
    assert harness.pending_approvals(thread_id) == []


async def test_an_answer_names_the_client_and_a_late_one_changes_nothing(srun: HarnessRecorder,
                                                                         scripted: ScriptedModel) -> None:
    scripted.script(Reply([tool_use("edit_file", EDIT)]), Reply([text("done")]))
    harness = srun.harness
    thread_id = harness.start_thread("t").id
    harness.start_turn(thread_id, [TextPart(text="fix")])
    asked = await srun.until("approval/requested")
    assert harness.respond(asked.approval.id, "approve", None, "codeAction", "Neovim 0.11.4") == "resolved"
    assert harness.respond(asked.approval.id, "reject", "no", "request", "agent-lsp attach") == "alreadyResolved"
    resolved = srun.of_type("approval/resolved")
    assert [(r.source, r.client_name) for r in resolved] == [("codeAction", "Neovim 0.11.4")]
    await harness.wait(thread_id)
    with pytest.raises(agent.UnknownApproval):
        harness.respond("apr_never", "approve")


@pytest.mark.parametrize("settings", [Settings(permission_mode="bypass")])
async def test_a_deny_rule_on_todo_write_holds(srun: HarnessRecorder, scripted: ScriptedModel, root: Path) -> None:
    (root / ".agent-lsp").mkdir()
    (root / ".agent-lsp" / "settings.json").write_text(json.dumps({"permissions": {"deny": ["todo_write"]}}))
    scripted.script(Reply([tool_use("todo_write", {"todos": [{"content": "x", "status": "pending"}]})]),
                    Reply([text("ok")]))
    await srun.turn("plan")
    [todo] = srun.items("todoList")
    assert todo.status == "declined"
    assert "deny rule" in scripted.requests[1].body["messages"][-1]["content"][0]["content"]


async def test_subscribe_yields_stored_then_live_events_once(srun: HarnessRecorder, scripted: ScriptedModel) -> None:
    harness = srun.harness
    thread_id = harness.start_thread("t").id
    scripted.script(Reply([text("one")]), Reply([text("two")]))
    await srun.turn("first", thread_id)
    seen: list[int] = []

    async def follow() -> None:  # the first turn's end is stored, the second's arrives live
        ends = 0
        async for event in harness.subscribe(thread_id, after_seq=2):
            seen.append(event.seq)
            ends += event.type == "turn/completed"
            if ends == 2:
                return

    follower = asyncio.create_task(follow())
    await srun.turn("second", thread_id)
    await asyncio.wait_for(follower, 5)
    last = harness.store.get_thread(thread_id).last_seq
    assert seen == list(range(3, last + 1))


async def test_a_broken_rules_file_is_reported_once(srun: HarnessRecorder, scripted: ScriptedModel, root: Path) -> None:
    notices: list[str] = []
    srun.harness.on_notice(lambda message, thread_id: notices.append(message))
    (root / ".agent-lsp").mkdir()
    (root / ".agent-lsp" / "settings.json").write_text("{not json")
    scripted.script(Reply([text("a")]), Reply([text("b")]))
    thread_id = srun.harness.start_thread("t").id
    await srun.turn("one", thread_id)
    await srun.turn("two", thread_id)
    assert len(notices) == 1 and "settings.json" in notices[0] and "not valid JSON" in notices[0]


async def test_an_internal_error_during_tools_keeps_the_transcript_valid(srun: HarnessRecorder, scripted: ScriptedModel,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    scripted.script(Reply([tool_use("read_file", {"path": "calc.py"}), tool_use("glob", {"pattern": "*"})]),
                    Reply([text("after")]))
    harness = srun.harness

    async def broken(*args: object) -> str:
        raise RuntimeError("a bug in a tool")

    monkeypatch.setattr(harness.dispatcher.tools["glob"], "run", broken)
    thread_id = harness.start_thread("t").id
    done = await srun.turn("look", thread_id)
    assert done.turn.status == "failed" and "a bug in a tool" in (done.turn.error or "")
    results = harness.store.messages(thread_id)[-1]["content"]
    assert [r["type"] for r in results] == ["tool_result", "tool_result"]
    assert "internal error" in results[1]["content"] and not results[0].get("is_error")
    assert (await srun.turn("again", thread_id)).turn.status == "completed"  # the scripted model checks it


def test_a_dead_turn_is_repaired_by_one_process_only(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    other = Store(tmp_path / "s.db", owner="999999:1")
    thread = store.create_thread("/ws", "t").thread
    turn = agent.Turn(id="turn_1", thread_id=thread.id)
    other.append(agent.TurnStartedEvent(thread_id=thread.id, turn=turn))
    from agent.engine.events import EventLog

    log = EventLog(store)
    assert repair_turn(store, log, turn, "999999:1") is True
    assert repair_turn(Store(tmp_path / "s.db"), log, turn, "999999:1") is False
    completed = [e for e in store.events_after(thread.id) if e.type == "turn/completed"]
    assert len(completed) == 1 and len(store.messages(thread.id)) == 1
