"""PROTOCOL.md sections 3 and 6 over stdio, with the VS Code and the Neovim capability sets:
threads, turns, approvals from every surface, commands, progress and their errors."""

from __future__ import annotations

from typing import Any

import pytest
from lsprotocol import types as t
from pygls.exceptions import JsonRpcException

from editor import Editor, capabilities, server_env
from fake_anthropic import FakeAnthropic, Reply, Stall, text, tool_use

EDIT = {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"}
BUGGY = "def add(a, b):\n    return a - b\n"



def without_chat(actions: list[t.CodeAction]) -> list[t.CodeAction]:
    """The actions of a place, without "Open/New agent chat", which are offered everywhere."""
    return [a for a in actions if a.title not in ("Open agent chat", "New agent chat")]

async def start_turn(editor: Editor, thread_id: str, prompt: str, **extra: Any) -> dict[str, Any]:
    return (await editor.request("agent/turn/start", {"threadId": thread_id,
                                                      "input": [{"type": "text", "text": prompt}], **extra}))["turn"]


async def new_thread(editor: Editor, title: str = "t") -> str:
    return (await editor.request("agent/thread/start", {"title": title}))["thread"]["id"]


async def error_of(awaitable: Any) -> JsonRpcException:
    with pytest.raises(JsonRpcException) as caught:
        await awaitable
    return caught.value


async def test_threads_list_newest_first_and_resume_replays_after_a_seq(editor: Editor, fake: FakeAnthropic) -> None:
    first = await new_thread(editor, "first")
    second = await new_thread(editor, "second")
    listed = (await editor.request("agent/thread/list", {}))["threads"]
    assert [x["id"] for x in listed] == [second, first]
    fake.script(Reply([text("Hello.")]))
    turn = await start_turn(editor, first, "hi")
    assert turn["status"] == "running" and turn["threadId"] == first
    await editor.wait_event("turn/completed")
    assert (await editor.request("agent/thread/list", {}))["threads"][0]["id"] == first
    everything = await editor.request("agent/thread/resume", {"threadId": first})
    assert [e["seq"] for e in everything["events"]] == list(range(1, everything["thread"]["lastSeq"] + 1))
    tail = await editor.request("agent/thread/resume", {"threadId": first, "afterSeq": 3})
    assert tail["events"] == everything["events"][3:]
    assert [i["type"] for i in tail["items"]] == ["userMessage", "agentMessage"]


async def test_request_errors_say_what_to_do(editor: Editor, fake: FakeAnthropic) -> None:
    unknown = await error_of(editor.request("agent/thread/resume", {"threadId": "thr_missing"}))
    assert unknown.code == -32602 and "thr_missing" in unknown.message and "agent/thread/list" in unknown.message
    malformed = await error_of(editor.request("agent/turn/start", {"threadId": "x", "input": "not a list"}))
    assert malformed.code == -32602 and "input" in malformed.message
    bad_part = await error_of(editor.request("agent/turn/start", {"threadId": "x", "input": [{"type": "video"}]}))
    assert bad_part.code == -32602
    approval = await error_of(editor.request("agent/approval/respond", {"approvalId": "apr_x", "decision": "approve"}))
    assert approval.code == -32602 and "apr_x" in approval.message
    decision = await error_of(editor.request("agent/approval/respond", {"approvalId": "apr_x", "decision": "maybe"}))
    assert decision.code == -32602 and "decision" in decision.message

    thread_id = await new_thread(editor)
    fake.script(Stall(Reply([text("still talking")]), after_frames=4), Reply([text("ok")]))
    running = await start_turn(editor, thread_id, "talk")
    await editor.wait_event("item/delta")
    busy = await error_of(start_turn(editor, thread_id, "again"))
    assert busy.code == -32803 and running["id"] in busy.message
    assert await editor.request("agent/turn/interrupt", {"threadId": thread_id}) == {"interrupted": True}
    fake.release_stalls()
    done = await editor.wait_event("turn/completed")
    assert done["turn"]["status"] == "interrupted"
    assert await editor.request("agent/turn/interrupt", {"threadId": thread_id}) == {"interrupted": False}


async def test_first_answer_wins_from_any_surface(editor: Editor, fake: FakeAnthropic) -> None:
    editor.open("calc.py", BUGGY)
    fake.script(Reply([tool_use("edit_file", EDIT)]), Reply([text("done")]))
    thread_id = await new_thread(editor)
    await start_turn(editor, thread_id, "fix")
    approval = (await editor.wait_event("approval/requested"))["approval"]
    answer = {"approvalId": approval["id"], "decision": "approve"}
    assert await editor.request("agent/approval/respond", answer) == {"outcome": "resolved"}
    assert await editor.request("agent/approval/respond", {**answer, "decision": "reject"}) == {"outcome": "alreadyResolved"}
    assert await editor.command("agent.reject", approval["id"], "too late") == {"outcome": "alreadyResolved"}
    resolved = editor.of_type("approval/resolved")
    assert len(resolved) == 1 and resolved[0]["decision"] == "approve" and resolved[0]["source"] == "request"
    await editor.wait_event("turn/completed")


async def test_approve_actions_come_with_the_diagnostic_or_the_range(editor: Editor, fake: FakeAnthropic) -> None:
    uri = editor.open("calc.py", BUGGY + "\n" * 30 + "# end\n")
    fake.script(Reply([tool_use("edit_file", EDIT)]), Reply([text("done")]))
    thread_id = await new_thread(editor)
    await start_turn(editor, thread_id, "fix")
    approval = (await editor.wait_event("approval/requested"))["approval"]
    await editor.wait_for(lambda: editor.client.diagnostics.get(uri))
    [diagnostic] = editor.client.diagnostics[uri]
    far_away = without_chat(await editor.code_actions(uri, 25))
    assert far_away == []
    with_context = without_chat(await editor.code_actions(uri, 25, [diagnostic]))
    assert [a.title for a in with_context] == ["Approve agent edit: Edit calc.py", "Reject agent edit: Edit calc.py"]
    other = editor.open("other.py", "x = 1\n")
    assert without_chat(await editor.code_actions(other, 0)) == []
    reject = with_context[1]
    assert reject.command.command == "agent.reject"
    assert await editor.command(reject.command.command, approval["id"], "subtraction is intended") == {"outcome": "resolved"}
    await editor.wait_event("turn/completed")
    result = fake.requests[1].body["messages"][-1]["content"][0]
    assert "subtraction is intended" in result["content"]
    await editor.wait_for(lambda: len(editor.client.diagnostics.get(uri, [1])) == 0)


async def test_command_approvals_are_offered_on_any_document(editor: Editor, fake: FakeAnthropic) -> None:
    uri = editor.open("notes.md", "# notes\n", "markdown")
    fake.script(Reply([tool_use("run_command", {"command": "echo hello"})]), Reply([text("ran it")]))
    thread_id = await new_thread(editor)
    await start_turn(editor, thread_id, "say hello")
    await editor.wait_event("approval/requested")
    actions = without_chat(await editor.code_actions(uri, 0))
    assert [a.title for a in actions] == ["Allow agent to run: echo hello", "Deny agent: echo hello"]
    assert await editor.command(actions[0].command) == {"outcome": "resolved"}
    await editor.wait_event("turn/completed")
    assert fake.requests[1].body["messages"][-1]["content"][0]["content"].startswith("Exit code 0\nhello")


async def test_ask_with_a_selection_and_interrupt_use_the_current_thread(editor: Editor, fake: FakeAnthropic) -> None:
    uri = editor.open("calc.py", BUGGY)
    fake.script(Reply([text("It subtracts.")]), Stall(Reply([text("thinking hard")]), after_frames=4))
    selection = {"start": {"line": 1, "character": 0}, "end": {"line": 2, "character": 0}}
    first = await editor.command("agent.ask", {"prompt": "what does this do?", "uri": uri, "range": selection})
    await editor.wait_event("turn/completed")
    sent = fake.requests[0].body["messages"][0]["content"]
    assert sent[0]["text"] == "what does this do?"
    assert "calc.py, lines 2-2" in sent[1]["text"] and "return a - b" in sent[1]["text"]
    second = await editor.command("agent.ask", {"prompt": "and more?"})
    assert second["threadId"] == first["threadId"]  # the current thread
    await editor.wait_event("item/delta", lambda e: e.get("turnId") == second["turnId"])
    assert await editor.command("agent.interrupt") == {"interrupted": True}
    fake.release_stalls()
    await editor.wait_event("turn/completed", lambda e: e["turn"]["id"] == second["turnId"])


async def test_approvals_also_as_show_message_request(fake: FakeAnthropic, root: Any, state_dir: Any,
                                                      client_kind: str) -> None:
    editor = await Editor.launch(root, server_env(fake.url, state_dir), client_kind, {"approvalUi": "message"})
    try:
        editor.message_answer = "Approve for session"
        editor.open("calc.py", BUGGY)
        fake.script(Reply([tool_use("edit_file", EDIT)]), Reply([text("done")]))
        thread_id = await new_thread(editor)
        await start_turn(editor, thread_id, "fix")
        resolved = await editor.wait_event("approval/resolved")
        assert (resolved["decision"], resolved["source"]) == ("approveForSession", "message")
        [asked] = editor.message_requests
        assert "Edit calc.py" in asked.message
        assert [a.title for a in asked.actions] == ["Approve", "Approve for session", "Reject"]
        await editor.wait_event("turn/completed")
    finally:
        await editor.close()


@pytest.mark.filterwarnings("ignore:Unknown progress token")  # pytest-lsp only knows tokens it created
async def test_progress_on_the_clients_token_and_cancel_interrupts(editor: Editor, fake: FakeAnthropic) -> None:
    fake.script(Stall(Reply([text("a long answer")]), after_frames=4), Reply([text("ok")]))
    thread_id = await new_thread(editor)
    await start_turn(editor, thread_id, "talk", workDoneToken="client-token-1")
    await editor.wait_for(lambda: editor.client.progress_reports.get("client-token-1"))
    await editor.wait_event("item/delta")
    editor.client.window_work_done_progress_cancel(t.WorkDoneProgressCancelParams(token="client-token-1"))
    done = await editor.wait_event("turn/completed")
    fake.release_stalls()
    assert done["turn"]["status"] == "interrupted"
    await editor.wait_for(lambda: isinstance(editor.client.progress_reports["client-token-1"][-1], t.WorkDoneProgressEnd))
    assert editor.client.progress_reports["client-token-1"][-1].message == "Interrupted"
    assert not any(token.startswith("agent-lsp/") for token in editor.client.progress_reports)


async def test_no_progress_for_a_client_that_does_not_support_it(fake: FakeAnthropic, root: Any, state_dir: Any) -> None:
    caps = capabilities("vscode")
    caps.window.work_done_progress = False
    editor = await Editor.launch(root, server_env(fake.url, state_dir), caps=caps)
    try:
        fake.script(Reply([text("hi")]))
        await start_turn(editor, await new_thread(editor), "hello")
        await editor.wait_event("turn/completed")
        assert editor.client.progress_reports == {}
    finally:
        await editor.close()


async def test_a_patch_over_two_files_is_shown_and_offered_on_both(editor: Editor, fake: FakeAnthropic) -> None:
    first = editor.open("calc.py", BUGGY)
    second = editor.open("util.py", "x = 1\n")
    patch = ("--- a/calc.py\n+++ b/calc.py\n@@ -2 +2 @@\n-    return a - b\n+    return a + b\n"
             "--- a/util.py\n+++ b/util.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n")
    fake.script(Reply([tool_use("apply_patch", {"patch": patch})]), Reply([text("done")]))
    await start_turn(editor, await new_thread(editor), "patch both")
    approval = (await editor.wait_event("approval/requested"))["approval"]
    await editor.wait_for(lambda: editor.client.diagnostics.get(first) and editor.client.diagnostics.get(second))
    assert [d.range.start.line for d in editor.client.diagnostics[second]] == [0]
    actions = await editor.code_actions(second, 0)
    assert [a.title for a in actions][0] == f"Approve agent edit: {approval['title']}"
    assert await editor.command(actions[0].command) == {"outcome": "resolved"}
    await editor.wait_event("turn/completed")
    assert editor.text(first).endswith("a + b\n") and editor.text(second) == "x = 2\n"
