"""Pure mapper tests: planned changes → LSP edits, approvals → diagnostics and code actions."""

from __future__ import annotations

from collections import namedtuple
from pathlib import Path

from lsprotocol import types as t
from pygls.workspace import PositionCodec, TextDocument

from agent.files.changes import PlannedFile
from agent.protocol import Approval, Location, Position, Range
from lsp_server import convert


def planned(old: str, new: str) -> PlannedFile:
    return PlannedFile(Path("/ws/a.py"), "a.py", "update", old, new, version=3, from_buffer=True)


def apply(old: str, edit: t.TextEdit, encoding: str) -> str:
    doc = TextDocument("file:///ws/a.py", old, position_codec=PositionCodec(encoding=encoding))
    doc.apply_change(t.TextDocumentContentChangePartial(range=edit.range, text=edit.new_text))
    return doc.source


def test_text_edit_replaces_whole_changed_lines() -> None:
    old, new = "a\nb\nc\n", "a\nB\nB2\nc\n"
    edit = convert.text_edit(planned(old, new), "utf-16")
    assert (edit.range.start.line, edit.range.end.line, edit.new_text) == (1, 2, "B\nB2\n")
    assert apply(old, edit, "utf-16") == new


def test_text_edit_at_a_last_line_without_newline_counts_client_units() -> None:
    old, new = "x = 1\ns = '😀 漢字'", "x = 1\ns = '😀 漢字!'"
    for encoding, units in (("utf-16", 11), ("utf-8", 17)):
        edit = convert.text_edit(planned(old, new), encoding)
        assert edit.range.end == t.Position(line=1, character=units)
        assert apply(old, edit, encoding) == new


def test_workspace_edit_is_versioned_or_a_changes_map() -> None:
    change = planned("a\n", "b\n")
    versioned = convert.workspace_edit([("file:///ws/a.py", change)], "utf-16", document_changes=True)
    [doc_edit] = versioned.document_changes
    assert doc_edit.text_document.version == 3
    plain = convert.workspace_edit([("file:///ws/a.py", change)], "utf-16", document_changes=False)
    assert plain.document_changes is None and list(plain.changes) == ["file:///ws/a.py"]


def approval(kind: str = "fileChange") -> Approval:
    rng = Range(start=Position(line=4, character=0), end=Position(line=6, character=0))
    return Approval(id="apr_1", turn_id="turn", item_id="itm", kind=kind, title="Edit a.py",
                    uri="file:///ws/a.py", range=rng, command="pytest -q")


def test_approval_diagnostic_and_actions() -> None:
    pending = approval()
    [(uri, diagnostic)] = convert.approval_diagnostics(pending)
    assert uri == "file:///ws/a.py" and diagnostic.code == "apr_1" and diagnostic.source == "agent"
    assert diagnostic.message.startswith("Agent proposes: Edit a.py")
    at = t.Range(start=t.Position(line=5, character=2), end=t.Position(line=5, character=2))
    far = t.Range(start=t.Position(line=20, character=0), end=t.Position(line=20, character=0))
    titles = [a.title for a in convert.approval_actions("file:///ws/a.py", at, [], [pending])]
    assert titles == ["Approve agent edit: Edit a.py", "Reject agent edit: Edit a.py"]
    assert convert.approval_actions("file:///ws/a.py", far, [], [pending]) == []
    assert len(convert.approval_actions("file:///ws/a.py", far, [diagnostic], [pending])) == 2
    assert convert.approval_actions("file:///ws/b.py", at, [], [pending]) == []
    command = convert.approval_actions("file:///ws/b.py", far, [], [approval("command")])
    assert [a.title for a in command] == ["Allow agent to run: pytest -q", "Deny agent: pytest -q"]


def test_fix_actions_skip_the_agents_own_diagnostics() -> None:
    rng = t.Range(start=t.Position(line=0, character=0), end=t.Position(line=0, character=1))
    lint = t.Diagnostic(range=rng, message="bad thing\nmore detail", source="ruff")
    own = t.Diagnostic(range=rng, message="Agent proposes: x", source="agent")
    [action] = convert.fix_actions("file:///ws/a.py", [lint, own])
    assert action.title == "Ask agent to fix: bad thing"
    assert action.command.arguments[0] == "file:///ws/a.py"
    assert action.command.arguments[1]["message"] == "bad thing\nmore detail"


def test_to_plain_unpacks_pygls_namedtuples() -> None:
    Obj = namedtuple("Object", ["threadId", "input"])
    Part = namedtuple("Object", ["type", "text"])
    assert convert.to_plain(Obj("t1", (Part("text", "hi"),))) == {"threadId": "t1", "input": [{"type": "text", "text": "hi"}]}


def test_a_multi_file_approval_is_shown_and_offered_on_every_file() -> None:
    first = approval()
    second = Range(start=Position(line=0, character=0), end=Position(line=1, character=0))
    assert first.range is not None
    pending = first.model_copy(update={"locations": [Location(uri="file:///ws/a.py", range=first.range),
                                                     Location(uri="file:///ws/b.py", range=second)]})
    assert [uri for uri, _ in convert.approval_diagnostics(pending)] == ["file:///ws/a.py", "file:///ws/b.py"]
    at_b = t.Range(start=t.Position(line=0, character=0), end=t.Position(line=0, character=0))
    titles = [a.title for a in convert.approval_actions("file:///ws/b.py", at_b, [], [pending])]
    assert titles == ["Approve agent edit: Edit a.py", "Reject agent edit: Edit a.py"]
