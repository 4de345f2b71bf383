"""The walking skeleton, end to end: editor → agent-lsp serve → fake model API → editor.

A buggy file is open; the editor asks for code actions on a linter's diagnostic, runs "Ask
agent to fix"; the model reads the buffer and proposes an edit; "Approve agent edit" appears
as a code action and a diagnostic; approving it lands a versioned workspace/applyEdit; the
turn completes, progress ends, and the stored events replay with contiguous seqs.
"""

from __future__ import annotations

import time
from pathlib import Path

from lsprotocol import types as t

from editor import Editor, server_env
from fake_anthropic import FakeAnthropic, Reply, text, tool_use

BUGGY = "def add(a, b):\n    return a - b\n"
FIXED = "def add(a, b):\n    return a + b\n"


def lint_diagnostic() -> t.Diagnostic:
    return t.Diagnostic(
        range=t.Range(start=t.Position(line=1, character=4), end=t.Position(line=1, character=16)),
        message="add() subtracts its arguments",
        severity=t.DiagnosticSeverity.Warning,
        source="pylint",
        code="W9999",
    )


async def test_initialize_declares_the_protocol(editor: Editor) -> None:
    caps = editor.init_result.capabilities
    assert caps.experimental == {"agentLsp": {"protocolVersion": 2}}
    assert set(caps.execute_command_provider.commands) >= {
        "agent.ask", "agent.fix", "agent.approve", "agent.reject", "agent.interrupt"}
    assert t.CodeActionKind.QuickFix in caps.code_action_provider.code_action_kinds
    assert caps.text_document_sync.change == t.TextDocumentSyncKind.Incremental


async def test_ask_agent_to_fix_then_approve_lands_a_versioned_edit(editor: Editor, fake: FakeAnthropic,
                                                                    client_kind: str) -> None:
    uri = editor.open("calc.py", BUGGY)
    # a change the user makes before asking: the model must see the buffer, not the disk
    editor.type_text(uri, [t.TextEdit(range=t.Range(start=t.Position(line=0, character=0),
                                                    end=t.Position(line=0, character=0)), new_text="# calc\n")])
    fake.script(
        Reply([text("Let me look at the file."), tool_use("read_file", {"path": "calc.py"})]),
        Reply([tool_use("edit_file", {"path": "calc.py", "old_string": "return a - b",
                                      "new_string": "return a + b"})]),
        Reply([text("Fixed: add() now adds.")]),
    )

    actions = await editor.code_actions(uri, 2, [lint_diagnostic()])
    fix = next(a for a in actions if a.title == "Ask agent to fix: add() subtracts its arguments")
    assert fix.kind == t.CodeActionKind.QuickFix and fix.command.command == "agent.fix"
    started = await editor.command(fix.command)
    thread_id, turn_id = started["threadId"], started["turnId"]

    requested = await editor.wait_event("approval/requested")
    approval = requested["approval"]
    assert approval["kind"] == "fileChange" and approval["title"] == "Edit calc.py"
    assert "-    return a - b\n+    return a + b\n" in approval["diff"]
    assert approval["uri"] == uri and approval["range"]["start"]["line"] == 2

    # the model read the unsaved buffer, line-numbered
    second = fake.requests[1].body["messages"]
    result = second[-1]["content"][0]
    assert result["type"] == "tool_result" and "     1\t# calc" in str(result["content"])

    # the pending approval is a diagnostic on the affected line, and a code action there
    await editor.wait_for(lambda: any(d.source == "agent" for d in editor.client.diagnostics.get(uri, [])))
    shown = next(d for d in editor.client.diagnostics[uri] if d.source == "agent")
    assert shown.message.startswith("Agent proposes: Edit calc.py\n") and shown.code == approval["id"]
    assert shown.severity == t.DiagnosticSeverity.Information and shown.range.start.line == 2
    actions = await editor.code_actions(uri, 2)
    approve = next(a for a in actions if a.title == "Approve agent edit: Edit calc.py")
    assert approve.is_preferred and approve.command.command == "agent.approve"
    assert any(a.title == "Reject agent edit: Edit calc.py" for a in actions)
    assert await editor.command(approve.command) == {"outcome": "resolved"}
    assert await editor.command("agent.approve", approval["id"]) == {"outcome": "alreadyResolved"}

    done = await editor.wait_event("turn/completed")
    assert done["turn"] == {"id": turn_id, "threadId": thread_id, "status": "completed"}
    assert editor.text(uri) == "# calc\n" + FIXED
    assert (editor.root / "calc.py").read_text() == BUGGY  # the editor owns the buffer; disk untouched

    [applied] = editor.applied
    assert applied.label == "Agent: Edit calc.py"
    if client_kind == "vscode":
        [doc_edit] = applied.edit.document_changes
        assert doc_edit.text_document.version == 2  # the version the change was computed against
        assert doc_edit.text_document.uri == uri
    else:  # Neovim declares no documentChanges: the plain changes map
        assert applied.edit.document_changes is None and list(applied.edit.changes) == [uri]

    # the approval diagnostic is gone once resolved
    await editor.wait_for(lambda: not any(d.source == "agent" for d in editor.client.diagnostics.get(uri, [])))

    # progress began, reported each step, and ended
    token = f"agent-lsp/{turn_id}"
    await editor.wait_for(lambda: any(isinstance(v, t.WorkDoneProgressEnd)
                                      for v in editor.client.progress_reports.get(token, [])))
    reports = editor.client.progress_reports[token]
    assert isinstance(reports[0], t.WorkDoneProgressBegin) and reports[0].title == "Agent" and reports[0].cancellable
    messages = [r.message for r in reports if isinstance(r, t.WorkDoneProgressReport)]
    assert "Reading calc.py" in messages and "Waiting for approval: Edit calc.py" in messages
    assert reports[-1].message.startswith("Done")

    # every event was stored before it was sent: the replay equals what arrived, seq 1..N
    resumed = await editor.request("agent/thread/resume", {"threadId": thread_id, "afterSeq": 0})
    seqs = [e["seq"] for e in resumed["events"]]
    assert seqs == list(range(1, len(seqs) + 1))
    live = [e for e in editor.events if e["threadId"] == thread_id]
    assert live == resumed["events"]
    assert [e["type"] for e in live][:3] == ["thread/started", "turn/started", "item/started"]
    kinds = [i["type"] for i in resumed["items"]]
    assert kinds == ["userMessage", "agentMessage", "toolCall", "fileChange", "agentMessage"]
    assert resumed["items"][3]["outcome"] == "applied"
    assert resumed["items"][-1]["text"] == "Fixed: add() now adds."
    deltas = "".join(e["text"] for e in live if e["type"] == "item/delta")
    assert "Fixed: add() now adds." in deltas
    assert len(fake.requests) == 3


async def test_without_an_api_key_the_server_starts_and_a_turn_fails_at_once(root: Path, state_dir: Path) -> None:
    editor = await Editor.launch(root, server_env(None, state_dir, api_key=None))
    try:
        thread = (await editor.request("agent/thread/start", {"title": "no key"}))["thread"]
        began = time.monotonic()
        await editor.request("agent/turn/start", {"threadId": thread["id"],
                                                  "input": [{"type": "text", "text": "hello"}]})
        done = await editor.wait_event("turn/completed")
        assert time.monotonic() - began < 5
        assert done["turn"]["status"] == "failed"
        assert "ANTHROPIC_API_KEY" in done["turn"]["error"]
    finally:
        await editor.close()
