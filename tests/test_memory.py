"""The background observer (issue 13 item 5): a session note kept every ``memoryEvery`` tokens
from the thread's own cached request, readable, and used by compaction instead of a summary
request; and the two-line recap a client gets when it comes back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.config import Settings
from agent.context.compaction import SUMMARY_MARKER
from agent.context.memory import NOTE_MARKER
from agent.engine.titles import recap
from agent.events import ItemCompletedEvent, TurnCompletedEvent
from agent.protocol import (
    AgentMessageItem,
    CommandExecutionItem,
    FileChange,
    FileChangeItem,
    Turn,
    Usage,
)
from agent.testing.kit import HarnessRecorder, Reply, ScriptedModel, text, tool_use

NOTE = "Goal: read the notes. Current state: reading. Files and functions: notes*.txt. Next step: report."


def marked(body: dict[str, Any], marker: str) -> bool:
    last = body["messages"][-1]["content"]
    return any(marker in block.get("text", "") for block in last if isinstance(block, dict))


@pytest.fixture
def files(root: Path) -> list[str]:
    names = [f"notes{i}.txt" for i in range(6)]
    for i, name in enumerate(names):
        (root / name).write_text("".join(f"note {i}.{n}: " + "lorem ipsum dolor " * 6 + "\n" for n in range(120)))
    return names


def player(files: list[str], notes: list[dict[str, Any]], summaries: list[dict[str, Any]]) -> Any:
    """The model: reads each file in turn, answers note requests with NOTE and summaries with a
    summary (which a fresh note makes unnecessary)."""
    steps = iter([[tool_use("read_file", {"path": f})] for f in files])

    def reply(body: dict[str, Any]) -> Reply:
        if marked(body, NOTE_MARKER):
            notes.append(body)
            return Reply([text(NOTE)])
        if marked(body, SUMMARY_MARKER):
            summaries.append(body)
            return Reply([text("a summary nobody should need")])
        return Reply(next(steps, [text("All notes read.")]))

    return reply


@pytest.mark.parametrize("settings", [Settings(permission_mode="bypass", memory_every=3_000)])
async def test_the_note_is_kept_in_the_background_from_the_cached_request(
        srun: HarnessRecorder, scripted: ScriptedModel, files: list[str]) -> None:
    notes: list[dict[str, Any]] = []
    scripted.script(*[player(files, notes, [])] * 30)
    done = await srun.turn("Read every notes file, then report.")
    await srun.harness.observer.shutdown()  # let nothing run past the test: the note is already there
    scripted.discard()
    assert done.turn.status == "completed" and notes
    note, seq = srun.harness.memory(done.turn.thread_id)
    assert note == NOTE and seq > 0
    # the note request is the turn's request plus one final text: it reads the turn's cache
    index = next(i for i, r in enumerate(scripted.requests) if r.body is notes[0])
    asked = scripted.requests[index]
    turn_request = next(r for r in reversed(scripted.requests[:index]) if not marked(r.body, NOTE_MARKER))
    assert (asked.body["system"], asked.body["tools"]) == (turn_request.body["system"], turn_request.body["tools"])
    assert asked.usage["cache_read_input_tokens"] > 0
    scripted.assert_valid()


@pytest.mark.parametrize("settings", [Settings(permission_mode="bypass", memory_every=3_000, context_window=80_000,
                                               max_tokens=1024, auto_compact_at=14_000)])
async def test_compaction_starts_from_a_fresh_note_without_a_summary_request(
        srun: HarnessRecorder, scripted: ScriptedModel, files: list[str]) -> None:
    notes: list[dict[str, Any]] = []
    summaries: list[dict[str, Any]] = []
    scripted.script(*[player(files, notes, summaries)] * 40)
    done = await srun.turn("Read every notes file, then report.")
    scripted.discard()
    assert done.turn.status == "completed"
    [item, *_] = srun.items("compaction")
    assert item.summary == NOTE and not summaries  # the note was the summary: no request for one
    after = next(r.body for r in scripted.requests
                 if NOTE in r.body["messages"][0]["content"][0].get("text", "") and not marked(r.body, NOTE_MARKER))
    assert "Read every notes file" in after["messages"][0]["content"][0]["text"]  # the user's words kept
    scripted.assert_valid()


def test_a_returning_client_gets_a_two_line_recap() -> None:
    change = FileChangeItem(id="i1", status="completed", outcome="applied",
                            changes=[FileChange(path="calc.py", kind="update", diff="")])
    command = CommandExecutionItem(id="i2", status="completed", command="pytest", cwd="/w", exit_code=0)
    said = AgentMessageItem(id="i3", status="completed", text="Fixed add; the tests pass now.")
    events = [ItemCompletedEvent(thread_id="t", turn_id="u", item=item) for item in (change, command, said)]
    events.append(TurnCompletedEvent(thread_id="t", turn=Turn(id="u", thread_id="t", status="completed"),
                                     usage=Usage()))
    lines = recap(events)
    assert lines == ("While you were away: 1 turn ended (completed); changed calc.py; ran 1 command.\n"
                     "Last: Fixed add; the tests pass now.")
    assert recap([]) is None
