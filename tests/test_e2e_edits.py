"""Edits that never clobber, position encodings, configuration, and files not open, over
stdio with the VS Code and the Neovim capability sets."""

from __future__ import annotations

import os
from pathlib import Path

from lsprotocol import types as t

from editor import Editor, server_env
from fake_anthropic import FakeAnthropic, Reply, text, tool_use
from test_e2e_requests import new_thread, start_turn

BUGGY = "def add(a, b):\n    return a - b\n"


def at(line: int, character: int = 0) -> t.Position:
    return t.Position(line=line, character=character)


async def run_until_approval(editor: Editor, fake: FakeAnthropic, *calls: dict) -> dict:
    fake.script(*[Reply([c]) for c in calls], Reply([text("done")]))
    asked = len(editor.of_type("approval/requested"))
    await start_turn(editor, await new_thread(editor), "go")
    await editor.wait_for(lambda: len(editor.of_type("approval/requested")) > asked)
    return editor.of_type("approval/requested")[-1]["approval"]


async def approve(editor: Editor, approval: dict) -> dict:
    await editor.command("agent.approve", approval["id"])
    return await editor.wait_event("turn/completed", lambda e: e["turn"]["id"] == approval["turnId"])


async def test_typing_elsewhere_is_kept_and_the_edit_still_lands(editor: Editor, fake: FakeAnthropic) -> None:
    uri = editor.open("calc.py", "# header\n\n\n\n" + BUGGY)
    approval = await run_until_approval(editor, fake, tool_use("edit_file", {
        "path": "calc.py", "old_string": "a - b", "new_string": "a + b"}))
    editor.type_text(uri, [t.TextEdit(range=t.Range(start=at(0, 8), end=at(0, 8)), new_text=" (mine)")])
    done = await approve(editor, approval)
    assert done["turn"]["status"] == "completed"
    assert editor.text(uri) == "# header (mine)\n\n\n\ndef add(a, b):\n    return a + b\n"
    [change] = [e["item"] for e in editor.of_type("item/completed") if e["item"]["type"] == "fileChange"]
    assert change["outcome"] == "applied"


async def test_typing_where_the_edit_goes_is_a_conflict_and_the_model_is_told(editor: Editor, fake: FakeAnthropic) -> None:
    uri = editor.open("calc.py", BUGGY)
    approval = await run_until_approval(editor, fake, tool_use("edit_file", {
        "path": "calc.py", "old_string": "a - b", "new_string": "a + b"}))
    editor.type_text(uri, [t.TextEdit(range=t.Range(start=at(1, 11), end=at(1, 16)), new_text="abs(a - b)")])
    done = await approve(editor, approval)
    assert done["turn"]["status"] == "completed"
    assert editor.text(uri) == "def add(a, b):\n    return abs(a - b)\n"  # the user's text, untouched
    assert editor.applied == []
    [change] = [e["item"] for e in editor.of_type("item/completed") if e["item"]["type"] == "fileChange"]
    assert (change["status"], change["outcome"]) == ("failed", "conflict")
    result = fake.requests[1].body["messages"][-1]["content"][0]
    assert result["is_error"] and result["content"].startswith("Conflict:") and "Read the file again" in result["content"]


async def test_a_refused_or_ignored_edit_is_a_conflict(editor: Editor, fake: FakeAnthropic) -> None:
    uri = editor.open("calc.py", BUGGY)
    edit = {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"}
    editor.refuse_edits = True
    approval = await run_until_approval(editor, fake, tool_use("edit_file", edit))
    await approve(editor, approval)
    assert "refused by the test" in fake.requests[1].body["messages"][-1]["content"][0]["content"]

    editor.refuse_edits, editor.ignore_edits = False, True  # says applied, changes nothing
    fake.requests.clear()
    approval = await run_until_approval(editor, fake, tool_use("edit_file", edit))
    await approve(editor, approval)
    result = fake.requests[1].body["messages"][-1]["content"][0]
    assert "the buffer does not hold it" in result["content"]
    assert editor.text(uri) == BUGGY
    outcomes = [e["item"]["outcome"] for e in editor.of_type("item/completed") if e["item"]["type"] == "fileChange"]
    assert outcomes == ["conflict", "conflict"]


async def test_non_ascii_lines_are_edited_in_the_negotiated_encoding(editor: Editor, fake: FakeAnthropic,
                                                                     client_kind: str) -> None:
    expected = "utf-8" if client_kind == "neovim" else "utf-16"
    assert editor.init_result.capabilities.position_encoding == expected
    uri = editor.open("emoji.py", "greeting = '👋 你好'\nfarewell = '😀 再见'")  # no final newline
    approval = await run_until_approval(editor, fake, tool_use("edit_file", {
        "path": "emoji.py", "old_string": "'😀 再见'", "new_string": "'😀 再见!'"}))
    await approve(editor, approval)
    assert editor.text(uri) == "greeting = '👋 你好'\nfarewell = '😀 再见!'"
    [sent] = editor.applied
    edits = sent.edit.changes[uri] if sent.edit.changes else sent.edit.document_changes[0].edits
    units = {"utf-16": 18, "utf-8": 24}[expected]
    assert edits[0].range.end == at(1, units)


async def test_files_not_open_are_written_atomically_keeping_mode_and_line_endings(
        editor: Editor, fake: FakeAnthropic, root: Path) -> None:
    script = root / "run.sh"
    script.write_bytes(b"#!/bin/sh\r\necho one\r\n")
    os.chmod(script, 0o755)
    approval = await run_until_approval(editor, fake, tool_use("edit_file", {
        "path": "run.sh", "old_string": "echo one", "new_string": "echo two"}))
    await approve(editor, approval)
    assert script.read_bytes() == b"#!/bin/sh\r\necho two\r\n"
    assert os.stat(script).st_mode & 0o777 == 0o755
    assert editor.applied == []  # not open: the editor is not involved
    assert [p.name for p in root.iterdir() if "agent-lsp.tmp" in p.name] == []


async def test_new_and_deleted_files_use_resource_operations_when_supported(
        editor: Editor, fake: FakeAnthropic, root: Path, client_kind: str) -> None:
    (root / "old.py").write_text("gone = True\n")
    patch = ("--- a/old.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-gone = True\n"
             "--- /dev/null\n+++ b/pkg/new.py\n@@ -0,0 +1 @@\n+fresh = True\n")
    approval = await run_until_approval(editor, fake, tool_use("apply_patch", {"patch": patch}))
    done = await approve(editor, approval)
    assert done["turn"]["status"] == "completed"
    assert not (root / "old.py").exists()
    if client_kind == "vscode":  # documentChanges + resourceOperations: the editor creates and deletes
        kinds = [type(c).__name__ for c in editor.applied[0].edit.document_changes]
        assert kinds == ["DeleteFile", "CreateFile", "TextDocumentEdit"]
        assert editor.text((root / "pkg" / "new.py").as_uri()) == "fresh = True\n"
    else:  # Neovim declares no documentChanges: the server writes the disk itself
        assert editor.applied == []
        assert (root / "pkg" / "new.py").read_text() == "fresh = True\n"


async def test_configuration_is_validated_and_can_change_while_running(
        fake: FakeAnthropic, root: Path, state_dir: Path, client_kind: str) -> None:
    editor = await Editor.launch(root, server_env(fake.url, state_dir), client_kind,
                                 {"permissionMode": "sometimes", "model": "claude-test"})
    try:
        await editor.wait_for(lambda: editor.client.messages)
        [warning] = editor.client.messages
        assert warning.type == t.MessageType.Warning
        assert "permissionMode" in warning.message and "'ask'" in warning.message
        editor.client.workspace_did_change_configuration(t.DidChangeConfigurationParams(
            settings={"agentLsp": {"permissionMode": "acceptEdits", "approvalUi": 3}}))
        await editor.wait_for(lambda: len(editor.client.messages) == 2)
        assert "approvalUi" in editor.client.messages[1].message
        editor.open("calc.py", BUGGY)
        fake.script(Reply([tool_use("edit_file", {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"})]),
                    Reply([text("done")]))
        await start_turn(editor, await new_thread(editor), "fix")
        await editor.wait_event("turn/completed")
        assert editor.of_type("approval/requested") == []  # acceptEdits took effect
        assert fake.requests[0].body["model"] == "claude-test"  # the valid option was kept
    finally:
        await editor.close()


async def test_a_workspace_opened_through_a_symlink_still_sees_the_buffers(
        fake: FakeAnthropic, tmp_path: Path, state_dir: Path, client_kind: str) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    editor = await Editor.launch(link, server_env(fake.url, state_dir), client_kind)
    try:
        uri = editor.open("calc.py", BUGGY)
        editor.type_text(uri, [t.TextEdit(range=t.Range(start=at(0, 0), end=at(0, 0)), new_text="# unsaved\n")])
        approval = await run_until_approval(editor, fake, tool_use("read_file", {"path": "calc.py"}),
                                            tool_use("edit_file", {"path": "calc.py", "old_string": "a - b",
                                                                   "new_string": "a + b"}))
        assert approval["uri"] == uri  # the editor's own spelling of the document
        assert "     1\t# unsaved" in fake.requests[1].body["messages"][-1]["content"][0]["content"]
        await approve(editor, approval)
        assert editor.text(uri) == "# unsaved\n" + BUGGY.replace("a - b", "a + b")
        assert (real / "calc.py").read_text() == BUGGY  # through the editor, not behind its back
    finally:
        await editor.close()
