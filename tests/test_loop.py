"""The loop on the scripted model (agent.testing.kit), and three end-to-end checks on the real SDK
against the fake HTTP API: a broken SSE stream, and the prompt-cache accounting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.engine.harness import TurnBusy
from agent.protocol import TextPart
from agent.testing.kit import Fail, FakeClock, HarnessRecorder, Reply, ScriptedModel, text, tool_use
from agent_run import Run
import fake_anthropic as http
from fake_anthropic import FakeAnthropic


async def test_a_text_turn_streams_items_and_stores_a_valid_transcript(srun: HarnessRecorder,
                                                                        scripted: ScriptedModel) -> None:
    scripted.script(Reply([text("Hello there, friend.")]))
    done = await srun.turn("hi")
    assert done.turn.status == "completed"
    assert [e.type for e in srun.events][:4] == ["thread/started", "turn/started", "item/started", "item/completed"]
    deltas = "".join(e.text for e in srun.of_type("item/delta"))
    assert deltas == "Hello there, friend." and len(srun.of_type("item/delta")) > 1
    messages = srun.harness.store.messages(done.thread_id)
    assert messages == [{"role": "user", "content": [{"type": "text", "text": "hi"}]},
                        {"role": "assistant", "content": [{"type": "text", "text": "Hello there, friend."}]}]
    assert done.usage.input_tokens + done.usage.cache_creation_tokens > 0


async def test_edit_approved_is_written_and_the_model_gets_each_result(srun: HarnessRecorder, scripted: ScriptedModel,
                                                                       root: Path) -> None:
    scripted.script(
        Reply([tool_use("read_file", {"path": "calc.py"})]),
        Reply([tool_use("edit_file", {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"})]),
        Reply([text("Done.")]),
    )
    thread_id = srun.harness.start_thread("t").id
    srun.harness.start_turn(thread_id, [TextPart(text="fix add")])
    requested = await srun.until("approval/requested")
    assert requested.approval.title == "Edit calc.py"
    assert (root / "calc.py").read_text().endswith("a - b\n")  # nothing written before approval
    assert srun.harness.respond(requested.approval.id, "approve", None, "request") == "resolved"
    await srun.harness.wait(thread_id)
    assert (root / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    third = scripted.requests[2].body["messages"]
    assert third[-1]["content"][0]["content"].startswith("Applied: Edit calc.py")
    assert srun.of_type("turn/completed")[-1].turn.status == "completed"
    resolved = srun.of_type("approval/resolved")[-1]
    assert (resolved.decision, resolved.source) == ("approve", "request")


async def test_a_rejection_reason_reaches_the_model(srun: HarnessRecorder, scripted: ScriptedModel, root: Path) -> None:
    scripted.script(
        Reply([tool_use("edit_file", {"path": "calc.py", "old_string": "a - b", "new_string": "b - a"})]),
        Reply([text("Understood.")]),
    )
    thread_id = srun.harness.start_thread("t").id
    srun.harness.start_turn(thread_id, [TextPart(text="swap")])
    requested = await srun.until("approval/requested")
    srun.harness.respond(requested.approval.id, "reject", "keep the order", "codeAction")
    await srun.harness.wait(thread_id)
    result = scripted.requests[1].body["messages"][-1]["content"][0]
    assert result["is_error"] is True and "keep the order" in result["content"]
    change = srun.items("fileChange")[0]
    assert (change.status, change.outcome) == ("declined", "rejected")
    assert (root / "calc.py").read_text().endswith("a - b\n")


async def test_interrupt_while_an_approval_waits_keeps_the_transcript_valid(srun: HarnessRecorder,
                                                                            scripted: ScriptedModel) -> None:
    scripted.script(
        Reply([tool_use("edit_file", {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"}),
               tool_use("read_file", {"path": "calc.py"})]),
        Reply([text("ok")]),
    )
    thread_id = srun.harness.start_thread("t").id
    srun.harness.start_turn(thread_id, [TextPart(text="fix")])
    asked = await srun.until("approval/requested")
    assert await srun.harness.interrupt(thread_id) is True
    assert srun.of_type("turn/completed")[-1].turn.status == "interrupted"
    resolved = srun.of_type("approval/resolved")[-1]  # no surface keeps offering it
    assert (resolved.approval_id, resolved.decision, resolved.source) == (asked.approval.id, "reject", "policy")
    transcript = srun.harness.store.messages(thread_id)
    results = transcript[-1]["content"]
    assert [r["type"] for r in results] == ["tool_result", "tool_result"]
    assert all(r["is_error"] for r in results)
    # the next turn sends that history; the scripted model checks every tool_use is answered
    done = await srun.turn("carry on", thread_id)
    assert done.turn.status == "completed"


async def test_a_second_turn_on_a_busy_thread_is_refused(srun: HarnessRecorder, scripted: ScriptedModel) -> None:
    scripted.script(Reply([tool_use("edit_file", {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"})]))
    thread_id = srun.harness.start_thread("t").id
    turn = srun.harness.start_turn(thread_id, [TextPart(text="fix")])
    with pytest.raises(TurnBusy) as busy:
        srun.harness.start_turn(thread_id, [TextPart(text="again")])
    assert busy.value.turn_id == turn.id
    await srun.until("approval/requested")
    await srun.harness.interrupt(thread_id)


async def test_overload_before_the_stream_is_retried(srun: HarnessRecorder, scripted: ScriptedModel,
                                                     clock: FakeClock) -> None:
    scripted.script(Fail("overloaded", "the model is overloaded: Overloaded", retry_after=0), Reply([text("made it")]))
    done = await srun.turn("hi")
    assert done.turn.status == "completed" and len(scripted.requests) == 2
    assert clock.sleeps == [0]


# --- end to end: the real SDK against the fake HTTP API ----------------------------------------

async def test_a_stream_broken_midway_is_retried_and_the_partial_text_never_reaches_history(
        run: Run, fake: FakeAnthropic) -> None:
    fake.script(http.StreamError(http.Reply([http.text("This answer will break halfway through.")]), after_frames=4),
                http.Reply([http.text("Second try.")]))
    done = await run.turn("hi")
    assert done.turn.status == "completed"
    failed = [e.item for e in run.of_type("item/completed") if e.item.status == "failed"]
    assert len(failed) == 1 and failed[0].type == "agentMessage"
    messages = run.harness.store.messages(done.thread_id)
    assert messages[-1]["content"] == [{"type": "text", "text": "Second try."}]


async def test_the_cached_prefix_is_identical_from_request_to_request(run: Run, fake: FakeAnthropic) -> None:
    fake.script(http.Reply([http.tool_use("read_file", {"path": "calc.py"})]), http.Reply([http.text("It subtracts.")]),
                http.Reply([http.text("Still does.")]))
    first = await run.turn("what does add do?")
    await run.turn("and now?", first.thread_id)
    bodies = [r.body for r in fake.requests]
    assert all(b["system"] == bodies[0]["system"] and b["tools"] == bodies[0]["tools"] for b in bodies)
    for earlier, later in zip(bodies, bodies[1:]):
        prefix = [strip_cache(m) for m in earlier["messages"]]
        assert [strip_cache(m) for m in later["messages"][: len(prefix)]] == prefix
        marks = [i for i, m in enumerate(later["messages"]) if "cache_control" in str(m)]
        last = len(later["messages"]) - 1
        assert marks == [i for i in (last - 2, last) if i >= 0]  # where this and the previous request end
    assert fake.requests[-1].usage["cache_read_input_tokens"] > 0


def strip_cache(message: dict[str, Any]) -> dict[str, Any]:
    content = message["content"]
    if isinstance(content, list):
        content = [{k: v for k, v in block.items() if k != "cache_control"} for block in content]
    return {**message, "content": content}


async def test_a_resumed_thread_sends_the_same_prefix_and_reads_the_cache(run: Run, fake: FakeAnthropic,
                                                                          tmp_path: Path) -> None:
    from agent.model.anthropic_api import AnthropicModel
    from agent.engine.harness import Harness
    from agent.store.sqlite import Store

    fake.script(http.Reply([http.tool_use("read_file", {"path": "calc.py"})]), http.Reply([http.text("It subtracts.")]),
                http.Reply([http.text("Still subtracts.")]))
    first = await run.turn("what does add do?")
    before = fake.requests[-1].body
    # a new process: a new harness over the same store file
    restarted = Harness(run.harness.workspace, Store(tmp_path / "s.db"), run.harness.settings, model=AnthropicModel())
    rerun = Run(restarted)
    await rerun.turn("and now?", first.thread_id)
    after = fake.requests[-1].body
    assert after["system"] == before["system"] and after["tools"] == before["tools"]
    assert [strip_cache(m) for m in after["messages"][: len(before["messages"])]] == \
        [strip_cache(m) for m in before["messages"]]
    usage = fake.requests[-1].usage
    assert usage["cache_read_input_tokens"] > 0.9 * (usage["cache_read_input_tokens"] + usage["cache_creation_input_tokens"]
                                                     + usage["input_tokens"])
    await restarted.shutdown()
