"""Bad document URIs at the LSP edge: a didOpen/didChange of a malformed URI is warned about
once and skipped, agent.fix/agent.ask with one is -32602, and later turns still work."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types as t

from editor import Editor, server_env
from fake_anthropic import FakeAnthropic, Reply, text, tool_use
from test_e2e_requests import error_of, new_thread, start_turn

BUGGY = "def add(a, b):\n    return a - b\n"
WHOLE_LINE = {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}}


def open_raw(editor: Editor, uri: str, version: int = 1) -> None:
    editor.client.text_document_did_open(t.DidOpenTextDocumentParams(
        text_document=t.TextDocumentItem(uri=uri, language_id="python", version=version, text="x = 1\n")))


def warnings(editor: Editor) -> list[str]:
    return [m.message for m in editor.client.messages if "ignores document URI" in m.message]


async def test_bad_document_uris_are_warned_once_and_never_poison_later_turns(
        fake: FakeAnthropic, root: Path, state_dir: Path) -> None:
    editor = await Editor.launch(root, server_env(fake.url, state_dir), "vscode")
    try:
        bad = [root.as_uri() + "/a%00b.py", root.as_uri() + "/c%zz.py", root.as_uri() + "/d%"]
        for uri in bad:
            open_raw(editor, uri)
        open_raw(editor, "untitled:Untitled-1")  # not a file, but nothing wrong with it: no warning
        editor.client.text_document_did_change(t.DidChangeTextDocumentParams(
            text_document=t.VersionedTextDocumentIdentifier(uri=bad[1], version=2),
            content_changes=[t.TextDocumentContentChangeWholeDocument(text="y = 2\n")]))
        uri = editor.open("calc.py", BUGGY)
        editor.type_text(uri, [t.TextEdit(range=t.Range(start=t.Position(line=0, character=0),
                                                          end=t.Position(line=0, character=0)),
                                          new_text="# edited\n")])

        fix = await error_of(editor.command("agent.fix", bad[0], {"range": WHOLE_LINE, "message": "boom"}))
        assert fix.code == -32602 and "%00" in fix.message
        ask = await error_of(editor.command("agent.ask", {"prompt": "explain", "uri": bad[1], "range": WHOLE_LINE}))
        assert ask.code == -32602 and "percent-escape" in ask.message
        # both answers came after every notification above was handled: each bad URI said once
        shown = warnings(editor)
        assert len(shown) == 3, shown
        assert "%00" in shown[0] and "percent-escape" in shown[1] and "percent-escape" in shown[2]
        assert all(m.type == t.MessageType.Warning for m in editor.client.messages
                   if "ignores document URI" in m.message)

        fake.script(Reply([tool_use("read_file", {"path": "calc.py"})]), Reply([text("It subtracts.")]))
        thread_id = await new_thread(editor)
        await start_turn(editor, thread_id, "what does add do?")
        done = await editor.wait_event("turn/completed")
        assert done["turn"]["status"] == "completed"
        sent = fake.requests[0].body["messages"][0]["content"]
        assert any("Open with unsaved changes: calc.py" in block["text"] for block in sent)
        result = fake.requests[1].body["messages"][-1]["content"][0]["content"]
        assert "# edited" in result  # read from the open buffer, past the bad URIs in the mirror
    finally:
        await editor.close()
