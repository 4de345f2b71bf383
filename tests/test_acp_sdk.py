"""``agent-lsp acp`` driven by the ACP Python SDK's own client side, against the fake API.

The client is an editor with a buffer of its own (``fs/read_text_file`` and
``fs/write_text_file``): the story checks the agent reads and writes through it, never the
disk, asks permission with agent-lsp's four options, streams text, shows the change as a
diff, ends turns with the right stop reason, cancels mid-turn, and that a thread started by
another front-end is listed, loaded (replayed) and continued over ACP.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from acp import schema as s
from acp.stdio import spawn_agent_process

from agent import Harness, Store, Workspace
from tests.editor import agent_lsp_command, server_env
from tests.fake_anthropic import FakeAnthropic, Reply, Stall, text, tool_use

pytestmark = pytest.mark.timeout(90)


class Editor:
    """An ACP client that keeps buffers in memory and records what it was sent."""

    def __init__(self, buffers: dict[str, str], answer: str = "approve") -> None:
        self.buffers = buffers
        self.answer = answer
        self.updates: list[tuple[str, Any]] = []
        self.permissions: list[s.RequestPermissionRequest] = []
        self.asked = asyncio.Event()

    async def request_permission(self, session_id: str, tool_call: s.ToolCallUpdate, options: list[s.PermissionOption],
                                 **_: Any) -> s.RequestPermissionResponse:
        self.permissions.append(s.RequestPermissionRequest(session_id=session_id, tool_call=tool_call, options=options))
        self.asked.set()
        return s.RequestPermissionResponse(outcome=s.AllowedOutcome(outcome="selected", option_id=self.answer))

    async def session_update(self, session_id: str, update: Any, **_: Any) -> None:
        self.updates.append((session_id, update))

    async def read_text_file(self, session_id: str, path: str, **_: Any) -> s.ReadTextFileResponse:
        if path not in self.buffers:
            raise FileNotFoundError(path)
        return s.ReadTextFileResponse(content=self.buffers[path])

    async def write_text_file(self, session_id: str, path: str, content: str, **_: Any) -> s.WriteTextFileResponse:
        self.buffers[path] = content
        return s.WriteTextFileResponse()

    def on_connect(self, conn: Any) -> None:
        pass

    def of(self, kind: str) -> list[Any]:
        return [u for _, u in self.updates if u.session_update == kind]

    def said(self, kind: str = "agent_message_chunk") -> str:
        return "".join(u.content.text for u in self.of(kind))


@contextlib.asynccontextmanager
async def connect(editor: Editor, fake: FakeAnthropic, state: Path) -> AsyncIterator[Any]:
    command, *args = agent_lsp_command()
    async with spawn_agent_process(editor, command, *args, "acp", env=server_env(fake.url, state)) as (conn, _):
        await conn.initialize(protocol_version=1, client_info=s.Implementation(name="test-editor", version="1"),
                              client_capabilities=s.ClientCapabilities(
                                  fs=s.FileSystemCapabilities(read_text_file=True, write_text_file=True)))
        yield conn


async def test_a_full_story_through_the_python_sdk(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "calc.py").write_text("x = 1\n")
    state = tmp_path / "state"
    # a thread another front-end started (the LSP does exactly this through the harness)
    other = Harness(Workspace(root), Store.open_default(state), _settings(state)).start_thread("Started in VS Code")
    buffers = {str(root / "calc.py"): "x = 1  # unsaved\n"}
    with FakeAnthropic() as fake:
        fake.script(
            Reply([text("Editing calc."), tool_use("edit_file", {"path": "calc.py", "old_string": "x = 1",
                                                                  "new_string": "x = 2"})]),
            Reply([text("Done.")]),
            Stall(Reply([text("never finished")]), after_frames=3),
            Reply([text("Continued here.")]),
        )
        editor = Editor(buffers)
        async with connect(editor, fake, state) as conn:
            session = await conn.new_session(cwd=str(root), mcp_servers=[])
            assert session.modes and session.modes.current_mode_id == "ask"
            assert {m.id for m in session.modes.available_modes} == {"ask", "acceptEdits", "readOnly", "bypass"}
            done = await conn.prompt(session_id=session.session_id, prompt=[s.TextContentBlock(type="text", text="Set x to 2")])
            assert done.stop_reason == "end_turn"
            assert editor.said() == "Editing calc.Done."
            [asked] = editor.permissions
            assert [o.option_id for o in asked.options] == ["approve", "approveForSession", "approveAlways", "reject"]
            [start] = [u for u in editor.of("tool_call") if u.kind == "edit"]
            [diff] = start.content
            assert (diff.path, diff.old_text, diff.new_text) == (str(root / "calc.py"), "x = 1  # unsaved\n",
                                                                 "x = 2  # unsaved\n")
            assert [u.status for u in editor.of("tool_call_update") if u.tool_call_id == start.tool_call_id] == ["completed"]
            assert buffers[str(root / "calc.py")] == "x = 2  # unsaved\n"  # written through the client ...
            assert (root / "calc.py").read_text() == "x = 1\n"  # ... not behind its back
            assert editor.of("usage_update")

            turn = asyncio.ensure_future(conn.prompt(session_id=session.session_id,
                                                     prompt=[s.TextContentBlock(type="text", text="More")]))
            await asyncio.to_thread(fake.wait_for_stall)
            await conn.cancel(session_id=session.session_id)
            assert (await turn).stop_reason == "cancelled"

            listed = await conn.list_sessions(cwd=str(root))
            assert {x.session_id for x in listed.sessions} == {session.session_id, other.id}
        fake.assert_valid()

        later = Editor(buffers)
        async with connect(later, fake, state) as conn:
            await conn.load_session(cwd=str(root), session_id=session.session_id, mcp_servers=[])
            assert later.said("user_message_chunk") == "Set x to 2More"
            assert later.said().startswith("Editing calc.Done.")
            [edit] = [u for u in later.of("tool_call") if u.kind == "edit"]
            assert edit.status == "completed" and edit.content[0].new_text == "x = 2  # unsaved\n"

            await conn.load_session(cwd=str(root), session_id=other.id, mcp_servers=[])
            done = await conn.prompt(session_id=other.id, prompt=[s.TextContentBlock(type="text", text="Go on")])
            assert done.stop_reason == "end_turn"
            assert later.said().endswith("Continued here.")
        fake.assert_valid()


def _settings(state: Path) -> Any:
    from agent import resolve_settings

    settings, _ = resolve_settings({"stateDir": str(state)}, env={})
    return settings


class Meddler(Editor):
    """Types into the buffer while it is asked, then answers: the change no longer fits."""

    async def request_permission(self, session_id: str, tool_call: s.ToolCallUpdate, options: list[s.PermissionOption],
                                 **kwargs: Any) -> s.RequestPermissionResponse:
        for path in self.buffers:
            self.buffers[path] = "x = 5  # typed meanwhile\n"
        return await super().request_permission(session_id, tool_call, options, **kwargs)


@pytest.mark.parametrize(("editor_class", "answer", "outcome"), [
    (Editor, "reject", "Change rejected."),
    (Meddler, "approve", "Change conflict."),
])
async def test_a_rejected_or_stale_change_never_reaches_the_buffer(tmp_path: Path, editor_class: type[Editor],
                                                                   answer: str, outcome: str) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "calc.py").write_text("x = 1\n")
    buffers = {str(root / "calc.py"): "x = 1\n"}
    with FakeAnthropic() as fake:
        fake.script(
            Reply([tool_use("edit_file", {"path": "calc.py", "old_string": "x = 1", "new_string": "x = 2"})]),
            Reply([text("Understood.")]),
        )
        editor = editor_class(buffers, answer=answer)
        async with connect(editor, fake, tmp_path / "state") as conn:
            session = await conn.new_session(cwd=str(root), mcp_servers=[])
            done = await conn.prompt(session_id=session.session_id, prompt=[s.TextContentBlock(type="text", text="Edit")])
            assert done.stop_reason == "end_turn"
            [update] = [u for u in editor.of("tool_call_update") if u.kind == "edit"]
            assert update.status == "failed" and update.content[-1].content.text == outcome
            assert buffers[str(root / "calc.py")] != "x = 2\n"
            await conn.set_session_mode(session_id=session.session_id, mode_id="acceptEdits")
            assert [u.current_mode_id for u in editor.of("current_mode_update")] == ["acceptEdits"]
        fake.assert_valid()
    assert (root / "calc.py").read_text() == "x = 1\n"


async def test_a_thread_started_in_a_real_lsp_server_is_listed_loaded_and_continued_over_acp(tmp_path: Path) -> None:
    from tests.editor import Editor as LspEditor

    root = tmp_path / "ws"
    root.mkdir()
    state = tmp_path / "state"
    with FakeAnthropic() as fake:
        fake.script(Reply([text("Answered in VS Code.")]), Reply([text("Continued in Zed.")]))
        lsp = await LspEditor.launch(root, server_env(fake.url, state), "vscode")
        try:
            thread_id = (await lsp.request("agent/thread/start", {"title": "from VS Code"}))["thread"]["id"]
            await lsp.request("agent/turn/start", {"threadId": thread_id,
                                                   "input": [{"type": "text", "text": "Hello from VS Code"}]})
            await lsp.wait_event("turn/completed")
        finally:
            await lsp.close()
        acp_editor = Editor({})
        async with connect(acp_editor, fake, state) as conn:
            listed = await conn.list_sessions(cwd=str(root))
            assert thread_id in {x.session_id for x in listed.sessions}
            await conn.load_session(cwd=str(root), session_id=thread_id, mcp_servers=[])
            assert acp_editor.said("user_message_chunk") == "Hello from VS Code"
            assert acp_editor.said() == "Answered in VS Code."
            done = await conn.prompt(session_id=thread_id, prompt=[s.TextContentBlock(type="text", text="Go on")])
            assert done.stop_reason == "end_turn" and acp_editor.said().endswith("Continued in Zed.")
        fake.assert_valid()
        assert [m["role"] for m in fake.requests[-1].body["messages"]] == ["user", "assistant", "user"]
