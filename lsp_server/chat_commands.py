"""The chat-file commands (issue 14): ``agent.send``, ``agent.newChat``, ``agent.openChat``,
``agent.askAbout``, the targets of the code actions any LSP editor shows.

Each handler is a few lines over ``ChatFiles`` (``chatfile.py``) and the harness. Opening a
document uses ``window/showDocument`` when the client supports it, else a message naming the
path, so every editor can get there.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types as t
from pygls.exceptions import JsonRpcInvalidParams

from agent import Range, TextPart, ToolError, uri_to_path
from lsp_server.chatfile import comment_prompt, prompt_of, thread_of
from lsp_server.quirks import Nudger, identify, log_notifier

if TYPE_CHECKING:
    from lsp_server.chatfile import ChatFiles
    from lsp_server.runtime import Runtime
    from lsp_server.server import AgentServer


def register_chat_commands(server: AgentServer) -> None:
    from lsp_server.methods import domain_errors, parse, plain_start, start_turn_for

    def chats() -> tuple[Runtime, ChatFiles]:
        runtime = server.require_runtime()
        assert runtime.chats is not None
        return runtime, runtime.chats

    @server.command("agent.send")
    @domain_errors
    async def send(*arguments: Any) -> dict[str, Any]:
        uri = arguments[0] if arguments and isinstance(arguments[0], str) else None
        thread_id = _chat_thread(uri)
        runtime, files = chats()
        runtime.agent.get_thread(thread_id)
        doc = runtime.documents.get(files.path(thread_id))
        text = doc.text if doc is not None else _read(files.path(thread_id))
        prompt = prompt_of(text)
        if prompt is None:
            raise JsonRpcInvalidParams(f'Nothing to send: type a prompt under the last "## You" in {files.rel(thread_id)}')
        files.prepare_send(thread_id, doc.text if doc is not None else None)
        files.expect_typed_prompt(thread_id)
        runtime.current_thread_id = thread_id
        result = await start_turn_for(runtime, thread_id, [TextPart(text=prompt)])
        plain_start(runtime, result, None, None)
        return {"threadId": thread_id, "turnId": result["turnId"]}

    @server.command("agent.newChat")
    @domain_errors
    async def new_chat(*arguments: Any) -> dict[str, Any]:
        runtime, files = chats()
        thread = await runtime.agent.start_thread(None)
        runtime.current_thread_id = thread.id
        files.ensure(thread.id)
        return {"threadId": thread.id, "uri": await show(files, thread.id)}

    @server.command("agent.openChat")
    @domain_errors
    async def open_chat(*arguments: Any) -> dict[str, Any]:
        runtime, files = chats()
        given = arguments[0] if arguments and isinstance(arguments[0], str) else None
        thread_id = given or runtime.current_thread_id or _newest(runtime) or await runtime.current_thread()
        runtime.agent.get_thread(thread_id)
        runtime.current_thread_id = thread_id
        files.ensure(thread_id)
        return {"threadId": thread_id, "uri": await show(files, thread_id)}

    @server.command("agent.askAbout")
    @domain_errors
    async def ask_about(*arguments: Any) -> dict[str, Any]:
        if len(arguments) < 2 or not isinstance(arguments[0], str) or not isinstance(arguments[1], dict):
            raise JsonRpcInvalidParams("agent.askAbout expects [uri, range]")
        rng = parse(Range, arguments[1], "agent.askAbout")
        runtime, files = chats()
        path, code = _selection(runtime, arguments[0], rng)
        thread_id = await runtime.current_thread("Questions")
        files.ensure(thread_id)
        rel = str(path.relative_to(files.root)) if path.is_relative_to(files.root) else str(path)
        files.quote(thread_id, rel, rng.start.line + 1, rng.end.line + 1, code)
        await files.settled(thread_id)
        return {"threadId": thread_id, "uri": await show(files, thread_id)}

    async def show(files: ChatFiles, thread_id: str) -> str:
        uri = files.uri(thread_id)
        quirks = identify(server.init_params)
        if quirks.show_document:
            asyncio.ensure_future(_show_document(server, uri))
            Nudger(lambda: quirks, log_notifier(server)).after_request("window/showDocument")
        else:
            server.show(f"Agent chat: {files.path(thread_id)} (open it, type under the last \"## You\" and "
                        "run the code action \"Send to agent\")", t.MessageType.Info)
        return uri



async def _show_document(server: AgentServer, uri: str) -> None:
    try:
        await server.window_show_document_async(t.ShowDocumentParams(uri=uri, take_focus=True))
    except Exception:  # the editor could not: say where it is
        server.show(f"Agent chat: {uri_to_path(uri)}", t.MessageType.Info)


def _chat_thread(uri: str | None) -> str:
    thread_id = None
    if uri is not None:
        try:
            thread_id = thread_of(uri_to_path(uri))
        except ToolError:
            thread_id = None
    if thread_id is None:
        raise JsonRpcInvalidParams("agent.send expects [chatFileUri], the URI of a file under .agent-lsp/chats/; "
                                   "open one with the code action \"New agent chat\"")
    return thread_id


def _read(path: Path) -> str:
    try:
        return str(path.read_text(encoding="utf-8"))
    except OSError:
        return ""


def _newest(runtime: Runtime) -> str | None:
    threads = runtime.agent.list_threads()
    return threads[0].id if threads else None


def _selection(runtime: Runtime, uri: str, rng: Range) -> tuple[Path, str]:
    try:
        path = Path(os.path.realpath(uri_to_path(uri)))
    except ToolError as exc:
        raise JsonRpcInvalidParams(f"agent.askAbout: {exc}") from None
    doc = runtime.documents.get(path)
    text = doc.text if doc is not None else _read(path)
    lines = text.splitlines()[rng.start.line:rng.end.line + 1]
    return path, "\n".join(lines)


def code_action_inputs(runtime: Runtime, uri: str, rng: t.Range) -> tuple[str | None, bool, str | None]:
    """For the code actions: the ``agent:`` comment prompt on the requested line, whether the
    document is a chat file, and the prompt typed in it."""
    try:
        path = Path(os.path.realpath(uri_to_path(uri)))
    except (ToolError, ValueError):
        return None, False, None
    doc = runtime.documents.get(path)
    text = doc.text if doc is not None else ""
    if thread_of(path) is not None:
        return None, True, prompt_of(text or _read(path))
    lines = text.splitlines()
    line = lines[rng.start.line] if rng.start.line < len(lines) else ""
    return comment_prompt(line), False, None
