"""Compaction (issue 11) through the real harness on the scripted model: automatic mid-turn,
reactive after "prompt is too long", manual as a turn of its own, the loop breaker, and a
cache-safe summary request. Every request is checked by the scripted model's API rules."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import agent
from agent.context.compaction import SUMMARY_MARKER
from agent.config import Settings
from agent.engine.loop import THRASHING
from agent.protocol import TextPart
from agent.testing.kit import HarnessRecorder, Reply, ScriptedModel, text, tool_use

SUMMARY = "Goal: read every file and report. Done: read some files. Next: read the rest."
# the conversation, not the fixed system prompt and tool list (~3,000 tokens), must dominate what compaction
# shrinks, or no compaction could reach a quarter of the context it started from
SMALL = [Settings(permission_mode="bypass", context_window=80_000, max_tokens=1024, auto_compact_at=18_000)]


def is_summary(body: dict[str, Any]) -> bool:
    last = body["messages"][-1]["content"]
    return any(SUMMARY_MARKER in block.get("text", "") for block in last if isinstance(block, dict))


def agent_script(steps: list[list[dict[str, Any]]], summaries: list[dict[str, Any]]) -> Callable[[dict], Reply]:
    """A model that plays ``steps`` in order and answers every summary request with SUMMARY."""
    position = iter(steps)

    def reply(body: dict[str, Any]) -> Reply:
        if is_summary(body):
            summaries.append(body)
            return Reply([text(SUMMARY)])
        return Reply(next(position, [text("All files read.")]))

    return reply


def unmarked(messages: list[dict[str, Any]]) -> str:
    return json.dumps(messages).replace(', "cache_control": {"type": "ephemeral"}', "")


@pytest.fixture
def files(root: Path) -> list[str]:
    names = [f"notes{i}.txt" for i in range(8)]
    for i, name in enumerate(names):
        (root / name).write_text("".join(f"note {i}.{n}: " + "lorem ipsum dolor " * 6 + "\n" for n in range(120)))
    return names


@pytest.mark.parametrize("settings", SMALL)
async def test_a_turn_compacts_mid_way_and_keeps_its_task_state(srun: HarnessRecorder, scripted: ScriptedModel,
                                                                files: list[str]) -> None:
    todos = [{"content": "read every note", "status": "in_progress"}, {"content": "report", "status": "pending"}]
    steps = [[tool_use("todo_write", {"todos": todos})]] + [[tool_use("read_file", {"path": f})] for f in files]
    summaries: list[dict[str, Any]] = []
    scripted.script(*[agent_script(steps, summaries)] * 40)
    prompt = "Read every notes file, one at a time. Constraint: never edit them."
    done = await srun.turn(prompt)
    scripted.discard()  # the spare steps of the script
    assert done.turn.status == "completed"
    compacted = srun.of_type("thread/compacted")
    assert compacted and summaries
    for event in compacted:
        assert event.tokens_after <= 0.25 * event.tokens_before
    [item, *_] = srun.items("compaction")
    assert item.status == "completed" and item.summary == SUMMARY
    # the summary request is the request before it plus a final user text: a cache-safe prefix
    index = next(i for i, r in enumerate(scripted.requests) if is_summary(r.body))
    before, summary = scripted.requests[index - 1].body, scripted.requests[index].body
    assert (summary["system"], summary["tools"], summary["model"]) == (before["system"], before["tools"], before["model"])
    assert unmarked(summary["messages"][: len(before["messages"])]) == unmarked(before["messages"])
    assert summary["messages"][len(before["messages"])]["role"] == "assistant"
    assert scripted.requests[index].usage["cache_read_input_tokens"] > 0
    # the context after it: the summary, the todo list and the user's words, verbatim
    after = scripted.requests[index + 1].body
    first = after["messages"][0]["content"][0]["text"]
    assert SUMMARY in first and "[>] read every note" in first and "[ ] report" in first
    assert prompt in first and (after["system"], after["tools"]) == (before["system"], before["tools"])
    # nothing was lost from what a person sees: every item before the compaction is still there
    items = srun.harness.resume(done.turn.thread_id).items
    assert sum(1 for i in items if i.type == "toolCall") == len(files)


@pytest.mark.parametrize("settings", [Settings(permission_mode="bypass", auto_compact_at=10_000_000)])
async def test_prompt_too_long_compacts_once_and_the_turn_goes_on(srun: HarnessRecorder, scripted: ScriptedModel,
                                                                   files: list[str]) -> None:
    steps = [[tool_use("read_file", {"path": f})] for f in files[:4]]
    summaries: list[dict[str, Any]] = []
    scripted.script(*[agent_script(steps, summaries)] * 20)
    thread_id = srun.harness.start_thread("t").id
    assert (await srun.turn("read four notes", thread_id)).turn.status == "completed"
    scripted.context_window = 9_000  # the thread no longer fits: the API refuses the next request
    done = await srun.turn("and now summarise them", thread_id)
    scripted.discard()
    assert done.turn.status == "completed" and scripted.overflows
    assert len(srun.items("compaction")) == 1 and summaries
    last = scripted.requests[-1].body
    assert "and now summarise them" in last["messages"][0]["content"][0]["text"]


async def test_manual_compaction_is_a_turn_of_its_own(srun: HarnessRecorder, scripted: ScriptedModel) -> None:
    harness = srun.harness
    empty = harness.start_thread("empty").id
    with pytest.raises(agent.NothingToCompact):
        harness.compact(empty)
    thread_id = harness.start_thread("t").id
    summaries: list[dict[str, Any]] = []
    scripted.script(Reply([text("Hello.")]), agent_script([], summaries), Reply([text("Still here.")]))
    await srun.turn("hi, remember the word banana", thread_id)
    handle = harness.compact(thread_id, "keep the word")
    with pytest.raises(agent.TurnBusy):
        harness.compact(thread_id)
    assert (await handle.result()).status == "completed"
    assert "keep the word" in summaries[0]["messages"][-1]["content"][-1]["text"]
    kinds = [e.type for e in srun.events if getattr(e, "turn_id", None) == handle.id or
             (e.type in ("turn/started", "turn/completed") and e.turn.id == handle.id)]
    assert kinds[0] == "turn/started" and "item/started" in kinds and kinds[-1] == "turn/completed"
    assert srun.of_type("thread/compacted")[-1].item_id == srun.items("compaction")[-1].id
    await srun.turn("what was the word?", thread_id)
    context = scripted.requests[-1].body["messages"][0]["content"][0]["text"]
    assert "remember the word banana" in context and SUMMARY in context


@pytest.mark.parametrize("settings", [Settings(permission_mode="bypass", context_window=40_000, max_tokens=1024,
                                               auto_compact_at=600)])
async def test_a_context_that_refills_at_once_stops_the_turn(srun: HarnessRecorder, scripted: ScriptedModel,
                                                              files: list[str]) -> None:
    summaries: list[dict[str, Any]] = []
    scripted.script(*[agent_script([], summaries)] * 3)  # the rebuilt context is over the threshold too
    done = await srun.turn("x" * 4000)
    assert done.turn.status == "failed" and done.turn.error == THRASHING
    assert len(summaries) == 3 and len(srun.items("compaction")) == 3
