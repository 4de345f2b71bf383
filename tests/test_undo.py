"""Undo and redo of an agent turn (issue 15, item 1), and approving some hunks of a change.

On the real harness with the scripted model (which validates every request): a turn's edits
are undone on disk; a line the user changed after the agent is kept and reported, never
overwritten; created files are deleted and deleted ones recreated; redo; the next request
tells the model; undo while a turn runs is refused. Then per-hunk approval, ``agent-lsp undo``
over the agent host, and the "Undo agent turn" code action in an editor (pytest-lsp, over the
agent host and in-process): offered on the agent's lines only, its revert arrives as a
versioned ``workspace/applyEdit`` that keeps the line the user typed on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import agent
from agent.config import Settings
from agent.files.hunks import three_way
from agent.protocol import TextPart
from agent.testing.kit import HarnessRecorder, Hold, Reply, ScriptedModel, text, tool_use

TEN = "".join(f"line {n}\n" for n in range(1, 11))


@pytest.fixture
def settings() -> Settings:
    return Settings(permission_mode="bypass")


async def run_edits(srun: HarnessRecorder, scripted: ScriptedModel, calls: list[tuple[str, dict[str, Any]]],
                    thread_id: str | None = None) -> tuple[str, str]:
    """One turn whose model makes ``calls`` (one tool call per request), then says done."""
    scripted.script(*[Reply([tool_use(name, args)]) for name, args in calls], Reply([text("done")]))
    completed = await srun.turn("change things", thread_id)
    assert completed.turn.status == "completed"
    return completed.thread_id, completed.turn.id


def edit(path: str, old: str, new: str) -> tuple[str, dict[str, Any]]:
    return "edit_file", {"path": path, "old_string": old, "new_string": new}


# --- the three-way merge ---------------------------------------------------------------------

def test_three_way_keeps_a_line_changed_since_and_reverts_the_rest() -> None:
    before = TEN
    after = TEN.replace("line 2\n", "agent 2\n").replace("line 8\n", "agent 8\n")
    current = after.replace("agent 8\n", "user 8\n")
    merged = three_way(after, before, current)
    assert merged.text == TEN.replace("line 8\n", "user 8\n")
    assert (merged.applied, merged.total, merged.kept) == (1, 2, [(8, 8)])


def test_three_way_next_to_a_user_edit_reverts_and_keeps_both() -> None:
    after = TEN.replace("line 5\n", "agent 5\n")
    current = after.replace("line 6\n", "user 6\n")
    merged = three_way(after, TEN, current)
    assert merged.text == TEN.replace("line 6\n", "user 6\n")
    assert merged.applied == merged.total == 1


# --- undo and redo on disk -------------------------------------------------------------------

async def test_undo_reverts_a_turns_edits_on_disk_and_redo_brings_them_back(
        srun: HarnessRecorder, scripted: ScriptedModel, root: Path) -> None:
    original = (root / "calc.py").read_text()
    thread_id, turn_id = await run_edits(srun, scripted, [edit("calc.py", "a - b", "a + b"),
                                                          edit("calc.py", "def add", "def plus")])
    assert (root / "calc.py").read_text() == "def plus(a, b):\n    return a + b\n"
    harness = srun.harness
    [result] = await harness.undo_turn(thread_id)  # the last turn that changed files
    assert (result.path, result.outcome, result.reason) == ("calc.py", "reverted", None)
    assert (root / "calc.py").read_text() == original
    undo_turns = [e.turn for e in srun.of_type("turn/completed") if e.turn.id != turn_id]
    assert [t.status for t in undo_turns] == ["completed"]
    assert srun.items("fileChange")[-1].outcome == "applied"
    with pytest.raises(agent.UndoError, match="already undone"):
        await harness.undo_turn(thread_id, turn_id)
    [again] = await harness.redo_turn(thread_id)
    assert again.outcome == "reverted"
    assert (root / "calc.py").read_text() == "def plus(a, b):\n    return a + b\n"
    with pytest.raises(agent.UndoError, match="nothing to redo"):
        await harness.redo_turn(thread_id)
    [third] = await harness.undo_turn(thread_id, turn_id)  # undoable again after a redo
    assert third.outcome == "reverted" and (root / "calc.py").read_text() == original


async def test_undo_never_overwrites_a_line_the_user_changed_after_the_agent(
        srun: HarnessRecorder, scripted: ScriptedModel, root: Path) -> None:
    (root / "ten.txt").write_text(TEN)
    thread_id, turn_id = await run_edits(srun, scripted, [edit("ten.txt", "line 2\n", "agent 2\n"),
                                                          edit("ten.txt", "line 8\n", "agent 8\n")])
    (root / "ten.txt").write_text(TEN.replace("line 2\n", "agent 2\n").replace("line 8\n", "agent 8 and user\n"))
    [result] = await srun.harness.undo_turn(thread_id, turn_id)
    assert result.outcome == "partly" and result.reason is not None and "line 8" in result.reason
    assert (root / "ten.txt").read_text() == TEN.replace("line 8\n", "agent 8 and user\n")


async def test_undo_skips_a_file_whose_every_changed_line_was_edited_since(
        srun: HarnessRecorder, scripted: ScriptedModel, root: Path) -> None:
    thread_id, turn_id = await run_edits(srun, scripted, [edit("calc.py", "a - b", "a + b")])
    mine = "def add(a, b):\n    return a + b + 0  # mine\n"
    (root / "calc.py").write_text(mine)
    [result] = await srun.harness.undo_turn(thread_id, turn_id)
    assert result.outcome == "skipped" and "line 2" in (result.reason or "")
    assert (root / "calc.py").read_text() == mine


async def test_created_files_are_deleted_and_deleted_files_recreated(
        srun: HarnessRecorder, scripted: ScriptedModel, root: Path) -> None:
    (root / "old.txt").write_text("keep me\n")
    patch = "--- a/old.txt\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-keep me\n"
    thread_id, turn_id = await run_edits(srun, scripted, [("write_file", {"path": "new.txt", "content": "hi\n"}),
                                                          ("write_file", {"path": "edited.txt", "content": "x\n"}),
                                                          ("apply_patch", {"patch": patch})])
    assert not (root / "old.txt").exists()
    (root / "edited.txt").write_text("x\nthe user's line\n")
    results = {r.path: r for r in await srun.harness.undo_turn(thread_id, turn_id)}
    assert not (root / "new.txt").exists() and results["new.txt"].outcome == "reverted"
    assert (root / "old.txt").read_text() == "keep me\n" and results["old.txt"].outcome == "reverted"
    assert results["edited.txt"].outcome == "skipped" and "edited since" in (results["edited.txt"].reason or "")
    assert (root / "edited.txt").read_text() == "x\nthe user's line\n"


async def test_the_next_request_tells_the_model_what_was_undone(
        srun: HarnessRecorder, scripted: ScriptedModel, root: Path) -> None:
    thread_id, turn_id = await run_edits(srun, scripted, [edit("calc.py", "a - b", "a + b")])
    await srun.harness.undo_turn(thread_id, turn_id)
    scripted.script(Reply([text("ok")]))
    await srun.turn("what now?", thread_id)
    last_user = scripted.requests[-1].body["messages"][-1]
    assert last_user["role"] == "user"
    texts = [block["text"] for block in last_user["content"] if block.get("type") == "text"]
    assert texts[0].startswith("[The user undid") and "reverted calc.py" in texts[0] and turn_id in texts[0]
    assert "commands" in texts[0] and texts[-1] == "what now?"
    scripted.script(Reply([text("ok")]))
    await srun.turn("and now?", thread_id)  # told once
    assert not any("undid" in json.dumps(m) for m in scripted.requests[-1].body["messages"][-1:])


async def test_undo_while_a_turn_runs_is_refused(srun: HarnessRecorder, scripted: ScriptedModel) -> None:
    thread_id, turn_id = await run_edits(srun, scripted, [edit("calc.py", "a - b", "a + b")])
    scripted.script(Hold(Reply([text("working")])))
    srun.harness.start_turn(thread_id, [TextPart(text="more")])
    await srun.wait_until(lambda: len(scripted.requests) == 3)  # the held request is streaming
    with pytest.raises(agent.TurnBusy):
        await srun.harness.undo_turn(thread_id, turn_id)
    await srun.harness.interrupt(thread_id)


async def test_undo_of_a_thread_without_changes_says_so(srun: HarnessRecorder) -> None:
    thread_id = srun.harness.start_thread("t").id
    with pytest.raises(agent.UndoError, match="no turn"):
        await srun.harness.undo_turn(thread_id)


# --- per-hunk approval -----------------------------------------------------------------------

@pytest.mark.parametrize("settings", [Settings(permission_mode="ask")])
async def test_approving_some_hunks_applies_only_those_and_tells_the_model(
        srun: HarnessRecorder, scripted: ScriptedModel, root: Path) -> None:
    (root / "ten.txt").write_text(TEN)
    new = TEN.replace("line 1\n", "one\n").replace("line 10\n", "ten\n")  # two hunks, far apart
    scripted.script(Reply([tool_use("write_file", {"path": "ten.txt", "content": new})]), Reply([text("ok")]))
    harness = srun.harness
    thread_id = harness.start_thread("t").id
    harness.start_turn(thread_id, [TextPart(text="rename")])
    asked = await srun.until("approval/requested")
    with pytest.raises(agent.HunkError, match="numbered 0 to 1"):
        harness.respond(asked.approval.id, "approve", hunks=[2])
    with pytest.raises(agent.HunkError, match="only with decision 'approve'"):
        harness.respond(asked.approval.id, "approveForSession", hunks=[0])
    assert harness.respond(asked.approval.id, "approve", hunks=[1]) == "resolved"
    await harness.wait(thread_id)
    assert (root / "ten.txt").read_text() == TEN.replace("line 10\n", "ten\n")
    [change] = srun.items("fileChange")
    assert change.outcome == "applied" and "+ten" in change.changes[0].diff and "+one" not in change.changes[0].diff
    result = scripted.requests[-1].body["messages"][-1]["content"][0]
    told = json.dumps(result)
    assert "Applied: hunk 2 (ten.txt line 10)" in told and "Rejected, not written: hunk 1 (ten.txt line 1)" in told


# --- agent-lsp undo, through the agent host ----------------------------------------------------

def test_agent_lsp_undo_through_the_host_keeps_the_users_line(fake: Any, root: Path, state_dir: Path) -> None:
    from editor import server_env
    from test_cli import run_cli

    from fake_anthropic import Reply as FakeReply, text as fake_text, tool_use as fake_tool_use

    (root / "ten.txt").write_text(TEN)
    fake.script(FakeReply([fake_tool_use("edit_file", {"path": "ten.txt", "old_string": "line 2\n",
                                                       "new_string": "agent 2\n"})]),
                FakeReply([fake_text("Done.")]))
    env = server_env(fake.url, state_dir)
    asked = run_cli(["ask", "--json", "--mode", "acceptEdits", "change line 2"], root, env)
    assert asked.returncode == 0, asked.stderr
    (root / "ten.txt").write_text(TEN.replace("line 2\n", "agent 2\n").replace("line 9\n", "user 9\n"))
    undone = run_cli(["undo", "--json"], root, env)
    assert undone.returncode == 0, undone.stderr
    assert json.loads(undone.stdout) == {"undone": [{"path": "ten.txt", "outcome": "reverted"}]}
    assert (root / "ten.txt").read_text() == TEN.replace("line 9\n", "user 9\n")
    again = run_cli(["undo"], root, env)
    assert again.returncode == 1 and "no turn" in again.stderr
    redone = run_cli(["undo", "--redo"], root, env)
    assert redone.returncode == 0, redone.stderr
    assert redone.stdout.startswith("reverted  ten.txt")
    assert (root / "ten.txt").read_text() == TEN.replace("line 2\n", "agent 2\n").replace("line 9\n", "user 9\n")
    bad = run_cli(["undo", "turn_nope"], root, env)
    assert bad.returncode == 2 and "matches 'turn_nope'" in bad.stderr


def test_the_lines_a_turn_wrote_are_found_where_they_are_now() -> None:
    from lsp_server.undo_actions import lines_now, written_lines

    after = TEN.replace("line 2\n", "agent 2\n").replace("line 9\n", "")  # a change and a deletion
    written = written_lines(TEN, after)
    assert sorted(written.lines) == [1, 8]  # agent 2, and line 10 where line 9 was
    moved = "a new first line\n" + after.replace("agent 2\n", "agent 2 (the user's)\n")
    assert lines_now(written, moved) == {9}  # line 10, moved down; the user's line no longer counts
    assert lines_now(written_lines(None, "a\nb\n"), "a\nb\n") == {0, 1}  # a created file: every line


# --- "Undo agent turn" in an editor: the code action, and the revert through the buffer ----------

@pytest.fixture(params=[("vscode", "on"), ("neovim", "on"), ("vscode", "off")], ids=["vscode", "neovim", "in-process"])
def undo_editor_kind(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param


async def test_undo_code_action_reverts_the_agents_other_hunk_in_the_buffer_and_keeps_the_users_line(
        fake: Any, root: Path, state_dir: Path, undo_editor_kind: tuple[str, str]) -> None:
    from lsprotocol import types as t

    from editor import Editor, server_env
    from fake_anthropic import Reply as FakeReply, text as fake_text, tool_use as fake_tool_use
    from test_e2e_edits import approve, run_until_approval
    from test_e2e_requests import start_turn

    kind, host = undo_editor_kind
    editor = await Editor.launch(root, server_env(fake.url, state_dir, AGENT_LSP_HOST=host), kind)
    try:
        uri = editor.open("ten.txt", TEN, "plaintext")
        after = TEN.replace("line 2\n", "agent 2\n").replace("line 9\n", "agent 9\n")  # two hunks
        approval = await run_until_approval(editor, fake, fake_tool_use("write_file", {"path": "ten.txt",
                                                                                      "content": after}))
        done = await approve(editor, approval)
        assert done["turn"]["status"] == "completed" and editor.text(uri) == after
        thread_id, turn_id = done["threadId"], approval["turnId"]
        line_9 = t.Range(start=t.Position(line=8, character=0), end=t.Position(line=8, character=7))
        editor.type_text(uri, [t.TextEdit(range=line_9, new_text="user 9")])  # on the agent's other line

        def undo_actions(actions: list[t.CodeAction]) -> list[t.CodeAction]:
            return [a for a in actions if a.title.startswith("Undo agent turn: ")]

        [action] = undo_actions(await editor.code_actions(uri, 1))  # the agent's line 2
        assert action.title == f"Undo agent turn: {approval['title']}"
        assert action.command is not None and action.command.command == "agent.undoTurn"
        assert list(action.command.arguments or []) == [thread_id, turn_id]
        assert undo_actions(await editor.code_actions(uri, 8)) == []  # the user's line now
        assert undo_actions(await editor.code_actions(uri, 4)) == []  # a line the agent left alone

        edits_before = len(editor.applied)
        version = editor.docs[uri].version
        result = await editor.command(action.command)
        assert result == {"undone": [{"path": "ten.txt", "outcome": "partly",
                                      "reason": "kept line 9: edited since the agent changed them"}]}
        assert editor.text(uri) == TEN.replace("line 9\n", "user 9\n")  # the user's line stays
        [sent] = editor.applied[edits_before:]  # through the buffer, versioned where the client can
        if kind == "vscode":  # documentChanges: the edit names the buffer's version
            [doc_edit] = [c for c in sent.edit.document_changes or [] if isinstance(c, t.TextDocumentEdit)]
            assert doc_edit.text_document.version == version
        else:  # this Neovim capability set takes only plain changes
            assert list((sent.edit.changes or {}).keys()) == [uri]
        assert undo_actions(await editor.code_actions(uri, 1)) == []  # undone: nothing left to offer

        fake.script(FakeReply([fake_text("ok")]))
        turn = await start_turn(editor, thread_id, "what now?")
        await editor.wait_event("turn/completed", lambda e: e["turn"]["id"] == turn["id"])
        told = fake.requests[-1].body["messages"][-1]["content"][0]["text"]
        assert told.startswith("[The user undid") and turn_id in told and "partly reverted ten.txt" in told
    finally:
        await editor.close()
