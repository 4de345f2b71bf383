"""Plain-LSP pieces of issue 14 on their own: client quirks (eglot recognized without
clientInfo, the Emacs 28 nudge), the chat file's Markdown and edits, comment prompts, our
own diagnostics recognized by code, and the applier with clients that take no edits or never
answer ``workspace/applyEdit``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import attrs
import pytest
from lsprotocol import types as t

from agent import Approval, Position, Range
from editor import Editor, capabilities, server_env
from fake_anthropic import FakeAnthropic, Reply, text, tool_use
from lsp_server import convert
from lsp_server.chatfile import append_edit, comment_prompt, prompt_of, thread_of
from lsp_server.quirks import Nudger, identify

BUGGY = "def add(a, b):\n    return a - b\n"
FIXED = "def add(a, b):\n    return a + b\n"


def eglot_params() -> t.InitializeParams:
    """What eglot 1.9 sends (no clientInfo), reduced to the fields it is recognized by."""
    caps = t.ClientCapabilities(
        workspace=t.WorkspaceClientCapabilities(apply_edit=True, configuration=True),
        text_document=t.TextDocumentClientCapabilities(synchronization=t.TextDocumentSyncClientCapabilities(
            will_save=True, will_save_wait_until=True, did_save=True)))
    return t.InitializeParams(capabilities=caps, root_path="/ws", root_uri="file:///ws", process_id=1)


def test_eglot_is_recognized_without_client_info_and_gets_nudged() -> None:
    quirks = identify(eglot_params())
    assert quirks.name == "Eglot" and quirks.nudge_after_requests and quirks.apply_edit
    assert not quirks.work_done_progress and not quirks.show_document


def test_neovim_and_ale_quirks() -> None:
    neovim = attrs.evolve(eglot_params(), client_info=t.ClientInfo(name="Neovim", version="0.11.4"),
                          capabilities=capabilities("neovim"))
    quirks = identify(neovim)
    assert quirks.name == "Neovim" and not quirks.nudge_after_requests and quirks.work_done_progress
    ale_caps = t.ClientCapabilities(workspace=t.WorkspaceClientCapabilities(apply_edit=False))
    ale = identify(t.InitializeParams(capabilities=ale_caps, client_info=t.ClientInfo(name="ale")))
    assert not ale.apply_edit and not ale.nudge_after_requests
    assert identify(None).name == "unknown"


async def test_the_nudger_follows_each_request_with_notifications_for_eglot_only() -> None:
    sent: list[str] = []
    three = asyncio.Event()

    def notify(message: str) -> None:
        sent.append(message)
        if len(sent) == 3:
            three.set()

    Nudger(lambda: identify(eglot_params()), notify).after_request("workspace/applyEdit")
    Nudger(lambda: identify(None).__class__("Neovim"), notify).after_request("workspace/applyEdit")
    await asyncio.wait_for(three.wait(), 5)
    assert sent == ["agent-lsp: sent workspace/applyEdit"] * 3


@pytest.mark.parametrize(("line", "prompt"), [
    ("# agent: explain this", "explain this"),
    ("    // agent: why a loop?", "why a loop?"),
    ("-- agent: tidy", "tidy"),
    ("; AGENT: in lisp", "in lisp"),
    ("/* agent: c style */", "c style"),
    ("<!-- agent: in html -->", "in html"),
    ("% agent: latex", "latex"),
    ("x = 1  # agent: not at the start", None),
    ("agent: no comment marker", None),
    ("# agent:", None),
])
def test_comment_prompts(line: str, prompt: str | None) -> None:
    assert comment_prompt(line) == prompt


def test_the_prompt_is_what_follows_the_last_you_heading() -> None:
    assert prompt_of("# Chat\n\n## You\n\nfirst\n\n## Agent\n\nok\n\n## You\n\n  second\nline\n") == "second\nline"
    assert prompt_of("# Chat\n\n## You\n\n") is None
    assert prompt_of("no heading") is None
    assert thread_of(Path("/ws/.agent-lsp/chats/thr_1.md")) == "thr_1"
    assert thread_of(Path("/ws/notes/thr_1.md")) is None


@pytest.mark.parametrize(("current", "added"), [("a\n", "b\n"), ("a", "b\n"), ("", "b\n"), ("x\n\né\n", "y\nz\n")])
def test_an_append_edit_lands_exactly_after_the_text(current: str, added: str) -> None:
    at, insert = append_edit(current, added, "utf-16")
    lines = current.split("\n")
    offset = sum(len(line) + 1 for line in lines[:at.line]) + at.character  # BMP text: utf-16 == chars
    assert current[:offset] + insert + current[offset:] == current + added
    assert at.line <= max(0, current.count("\n") - (1 if current.endswith("\n") else 0))


def test_own_diagnostics_are_recognized_by_code_when_the_client_drops_source() -> None:
    rng = t.Range(start=t.Position(line=1, character=0), end=t.Position(line=2, character=0))
    approval_shown = t.Diagnostic(range=rng, message="Agent proposes: Edit a.py\n...", code="apr_1")  # ALE: no source
    answer = t.Diagnostic(range=rng, message="Agent: done", code=convert.ANSWER_CODE)
    lint = t.Diagnostic(range=rng, message="unused name", code="W1", source="pylint")
    titles = [a.title for a in convert.fix_actions("file:///ws/a.py", [approval_shown, answer, lint], {"apr_1"})]
    assert titles == ["Ask agent to fix: unused name"]


def test_the_approval_diagnostic_holds_the_diff() -> None:
    rng = Range(start=Position(line=1, character=0), end=Position(line=2, character=0))
    approval = Approval(id="apr_1", turn_id="turn", item_id="itm", kind="fileChange", title="Edit a.py",
                        uri="file:///ws/a.py", range=rng, diff="--- a/a.py\n+++ b/a.py\n-x\n+y\n")
    [(_, diagnostic)] = convert.approval_diagnostics(approval)
    assert diagnostic.message == "Agent proposes: Edit a.py\n--- a/a.py\n+++ b/a.py\n-x\n+y"


def test_chat_actions() -> None:
    point = t.Range(start=t.Position(line=3, character=0), end=t.Position(line=3, character=0))
    span = t.Range(start=t.Position(line=3, character=0), end=t.Position(line=5, character=2))
    titles = [a.title for a in convert.chat_actions("file:///ws/a.py", point, "why?", False, None)]
    assert titles == ["Ask agent: why?", "Open agent chat", "New agent chat"]
    [ask] = [a for a in convert.chat_actions("file:///ws/a.py", point, "why?", False, None) if a.command
             and a.command.command == "agent.ask"]
    assert ask.command is not None and ask.command.arguments[0]["range"]["start"]["line"] == 3
    assert "Ask agent about this" in [a.title for a in convert.chat_actions("file:///ws/a.py", span, None, False, None)]
    in_chat = [a.title for a in convert.chat_actions("file:///ws/c.md", point, None, True, "hello there")]
    assert in_chat == ["Send to agent: hello there", "Open agent chat", "New agent chat"]


# --- the applier with clients that take no edits, or never answer -----------------------------


def script_edit(fake: FakeAnthropic) -> None:
    fake.script(Reply([tool_use("edit_file", {"path": "calc.py", "old_string": "return a - b",
                                              "new_string": "return a + b"})]),
                Reply([text("Done.")]))


async def ask_and_approve(editor: Editor, uri: str) -> dict[str, object]:
    started = await editor.command("agent.ask", {"prompt": "fix add"})
    requested = await editor.wait_event("approval/requested")
    await editor.command("agent.approve", requested["approval"]["id"])
    return await editor.wait_event("turn/completed", lambda e: e["turn"]["id"] == started["turnId"])


async def launch_ale(root: Path, fake: FakeAnthropic, state_dir: Path) -> Editor:
    caps = attrs.evolve(capabilities("neovim"), workspace=t.WorkspaceClientCapabilities(apply_edit=False))
    return await Editor.launch(root, server_env(fake.url, state_dir), "neovim", caps=caps)


async def test_apply_edit_false_writes_an_unmodified_buffer_to_disk(fake: FakeAnthropic, root: Path,
                                                                     state_dir: Path) -> None:
    script_edit(fake)
    editor = await launch_ale(root, fake, state_dir)
    try:
        editor.open("calc.py", BUGGY)
        done = await ask_and_approve(editor, (root / "calc.py").as_uri())
        assert done["turn"]["status"] == "completed" and editor.applied == []
        assert (root / "calc.py").read_text() == FIXED
        result = fake.requests[1].body["messages"][-1]["content"][0]
        assert not result.get("is_error") and "conflict" not in json.dumps(result).lower()
    finally:
        await editor.close()


async def test_apply_edit_false_with_unsaved_changes_is_a_conflict_that_says_why(fake: FakeAnthropic, root: Path,
                                                                                 state_dir: Path) -> None:
    script_edit(fake)
    editor = await launch_ale(root, fake, state_dir)
    try:
        uri = editor.open("calc.py", BUGGY)
        editor.type_text(uri, [t.TextEdit(range=t.Range(start=t.Position(line=0, character=0),
                                                         end=t.Position(line=0, character=0)), new_text="# note\n")])
        await ask_and_approve(editor, uri)
        assert (root / "calc.py").read_text() == BUGGY and editor.applied == []
        told = json.dumps(fake.requests[1].body["messages"][-1]["content"])
        assert "workspace.applyEdit: false" in told and "unsaved changes" in told
    finally:
        await editor.close()


async def test_a_client_that_shows_the_edit_but_never_answers_does_not_block(fake: FakeAnthropic, root: Path,
                                                                             state_dir: Path) -> None:
    script_edit(fake)
    editor = await Editor.launch(root, server_env(fake.url, state_dir), "neovim")
    never = asyncio.Event()

    async def apply_then_hang(params: t.ApplyWorkspaceEditParams) -> t.ApplyWorkspaceEditResult:
        for uri, edits in (params.edit.changes or {}).items():
            editor._apply(uri, list(edits))  # the buffer shows it, as Emacs 28 does
        await never.wait()  # ...but the answer never comes
        return t.ApplyWorkspaceEditResult(applied=True)

    editor._on_apply_edit = apply_then_hang  # type: ignore[method-assign]
    try:
        uri = editor.open("calc.py", BUGGY)
        loop = asyncio.get_running_loop()
        started = await editor.command("agent.ask", {"prompt": "fix add"})
        requested = await editor.wait_event("approval/requested")
        approved_at = loop.time()
        await editor.command("agent.approve", requested["approval"]["id"])
        done = await editor.wait_event("turn/completed", lambda e: e["turn"]["id"] == started["turnId"])
        assert loop.time() - approved_at < 5 and done["turn"]["status"] == "completed"
        assert editor.text(uri) == FIXED
        result = fake.requests[1].body["messages"][-1]["content"][0]
        assert not result.get("is_error") and "conflict" not in json.dumps(result).lower()
    finally:
        never.set()
        await editor.close()
