"""``acp_server.convert`` as pure functions: prompts in, items and events out, diffs rebuilt."""

from __future__ import annotations

from pathlib import Path

import pytest
from acp import schema as s

from acp_server import convert
from agent import (AgentMessageItem, CommandExecutionItem, FileChange, FileChangeItem, ItemCompletedEvent,
                   ItemDeltaEvent, ItemStartedEvent, TextPart, Todo, TodoListItem, ToolCallItem, TurnCompletedEvent,
                   Turn, TurnReport, Usage, UserMessageItem)

ROOT = Path("/ws")
OLD = "a\nb\nc\nd\n"
NEW = "a\nB\nc\nd\ne"  # the last line loses its newline
DIFF = ("--- a/f.txt\n+++ b/f.txt\n@@ -1,4 +1,5 @@\n a\n-b\n+B\n c\n-d\n+d\n+e\n\\ No newline at end of file\n")


def test_prompt_blocks_become_text_parts() -> None:
    parts = convert.prompt_parts([
        s.TextContentBlock(type="text", text="fix it"),
        s.ResourceContentBlock(type="resource_link", uri="file:///ws/a.py", name="a.py"),
        s.EmbeddedResourceContentBlock(type="resource", resource=s.TextResourceContents(uri="file:///ws/b.py", text="x = 1")),
    ])
    assert parts[0] == TextPart(text="fix it")
    assert "file:///ws/a.py" in parts[1].text
    assert parts[2].text == "Contents of file:///ws/b.py:\n```\nx = 1\n```"


@pytest.mark.parametrize("blocks", [[], [s.ImageContentBlock(type="image", data="AA==", mime_type="image/png")]])
def test_prompts_we_cannot_take_say_what_to_send(blocks: list[object]) -> None:
    with pytest.raises(ValueError, match="send"):
        convert.prompt_parts(blocks)


def test_file_texts_from_the_diff_before_and_after_it_landed() -> None:
    assert convert.file_texts("update", DIFF, OLD, landed=False) == (OLD, NEW)
    assert convert.file_texts("update", DIFF, NEW, landed=True) == (OLD, NEW)
    assert convert.file_texts("update", DIFF, NEW, landed=False) == (OLD, NEW)  # falls back to the other side
    assert convert.file_texts("update", DIFF, "something else\n", landed=False) is None
    add = "--- /dev/null\n+++ b/n.txt\n@@ -0,0 +1,2 @@\n+one\n+two\n"
    assert convert.file_texts("add", add, None, landed=False) == (None, "one\ntwo\n")
    delete = "--- a/n.txt\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-one\n-two\n"
    assert convert.file_texts("delete", delete, None, landed=True) == ("one\ntwo\n", "")


def test_a_file_change_is_an_edit_tool_call_with_a_diff() -> None:
    item = FileChangeItem(id="i1", changes=[FileChange(path="f.txt", kind="update", diff=DIFF)])
    live = convert.LiveUpdates(ROOT, lambda path: OLD if path == ROOT / "f.txt" else None)
    [start] = live.updates(ItemStartedEvent(thread_id="t", turn_id="u", item=item))
    assert isinstance(start, s.ToolCallStart)
    assert (start.tool_call_id, start.kind, start.status, start.title) == ("i1", "edit", "in_progress", "Editing f.txt")
    assert start.locations == [s.ToolCallLocation(path="/ws/f.txt")]
    assert start.content == [s.FileEditToolCallContent(type="diff", path="/ws/f.txt", old_text=OLD, new_text=NEW)]
    rejected = item.model_copy(update={"status": "declined", "outcome": "rejected"})
    [end] = live.updates(ItemCompletedEvent(thread_id="t", turn_id="u", item=rejected))
    assert isinstance(end, s.ToolCallProgress) and end.status == "failed"


def test_live_deltas_follow_their_item_kind_and_a_turn_ends_with_usage() -> None:
    live = convert.LiveUpdates(ROOT, lambda _: None)
    assert live.updates(ItemStartedEvent(thread_id="t", turn_id="u", item=AgentMessageItem(id="m"))) == []
    [chunk] = live.updates(ItemDeltaEvent(thread_id="t", turn_id="u", item_id="m", text="Hi"))
    assert isinstance(chunk, s.AgentMessageChunk) and chunk.content.text == "Hi"
    assert live.updates(ItemDeltaEvent(thread_id="t", turn_id="u", item_id="unknown", text="x")) == []
    [usage] = live.updates(TurnCompletedEvent(thread_id="t", turn=Turn(id="u", thread_id="t", status="completed"),
                                              usage=Usage(input_tokens=10, output_tokens=5)))
    assert (usage.used, usage.size) == (15, convert.CONTEXT_WINDOW)


def test_replay_shows_each_item_as_it_ended() -> None:
    read = lambda _: None  # noqa: E731
    [user] = convert.replay(UserMessageItem(id="1", status="completed", content=[TextPart(text="hi")]), ROOT, read)
    assert isinstance(user, s.UserMessageChunk) and user.content.text == "hi"
    [tool] = convert.replay(ToolCallItem(id="2", status="completed", tool="read_file", input={"path": "a.py"},
                                         output="1: x"), ROOT, read)
    assert (tool.kind, tool.status, tool.raw_input, tool.locations[0].path) == ("read", "completed", {"path": "a.py"}, "/ws/a.py")
    [command] = convert.replay(CommandExecutionItem(id="3", status="failed", command="pytest", cwd="/ws", exit_code=1,
                                                    output="boom"), ROOT, read)
    assert (command.kind, command.status, command.raw_output) == ("execute", "failed", {"exitCode": 1})
    [plan] = convert.replay(TodoListItem(id="4", todos=[Todo(content="test", status="in_progress")]), ROOT, read)
    assert plan == s.AgentPlanUpdate(session_update="plan", entries=[
        s.PlanEntry(content="test", status="in_progress", priority="medium")])


@pytest.mark.parametrize(("report", "reason"), [
    (TurnReport("completed"), "end_turn"),
    (TurnReport("interrupted"), "cancelled"),
    (TurnReport("failed", error="the model hit its output limit repeatedly; the turn stopped"), "max_tokens"),
    (TurnReport("failed", error="the model refused to answer"), "refusal"),
    (TurnReport("failed", error="overloaded"), None),
])
def test_stop_reasons(report: TurnReport, reason: str | None) -> None:
    assert convert.stop_reason(report) == reason


def test_permission_options_map_onto_decisions() -> None:
    options = convert.permission_options()
    assert [(o.option_id, o.kind) for o in options] == [
        ("approve", "allow_once"), ("approveForSession", "allow_always"), ("approveAlways", "allow_always"),
        ("reject", "reject_once")]
    assert convert.decision(s.AllowedOutcome(outcome="selected", option_id="approveAlways")) == "approveAlways"
    assert convert.decision(s.DeniedOutcome(outcome="cancelled")) is None
    assert convert.decision(s.AllowedOutcome(outcome="selected", option_id="bogus")) is None


def test_modes_are_the_four_permission_modes() -> None:
    state = convert.modes("readOnly")
    assert state.current_mode_id == "readOnly"
    assert [m.id for m in state.available_modes] == ["ask", "acceptEdits", "readOnly", "bypass"]
