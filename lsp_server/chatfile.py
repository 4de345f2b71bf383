"""The chat file: a Markdown transcript per thread that any LSP editor can show and edit.

It lives at ``.agent-lsp/chats/<threadId>.md`` in the workspace (a ``.gitignore`` there keeps
it out of git and out of the agent's own searches). The user types a prompt under the last
``## You`` heading and runs the code action "Send to agent"; the server appends the answer,
tool steps, diffs and approvals as they happen: through ``workspace/applyEdit`` (inserting at
the end of the buffer) while the file is open in an editor that takes edits, on disk
otherwise. ``ChatRenderer`` turns events into Markdown (pure); ``ChatFiles`` writes it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types as t

from agent import (AgentMessageItem, ApprovalRequestedEvent, ApprovalResolvedEvent, CommandExecutionItem,
                   DiagnosticPart, Event, FileChangeItem, ItemCompletedEvent, ItemDeltaEvent, ItemStartedEvent,
                   SelectionPart, TextPart, Thread, TodoListItem, ToolCallItem, TurnCompletedEvent, UserMessageItem,
                   item_title, path_to_uri, shorten, uri_to_path)
from lsp_server import convert

if TYPE_CHECKING:
    from lsp_server.runtime import Agent
    from lsp_server.editor import LspDocuments
    from lsp_server.quirks import ClientQuirks, Nudger

log = logging.getLogger(__name__)

CHAT_DIR = Path(".agent-lsp") / "chats"
YOU = "## You"
AGENT = "## Agent"
SEEN_TIMEOUT_S = 3.0  # how long a flush waits for the editor's didChange before the next one
OUTPUT_LINES = 12


def chat_path(root: Path, thread_id: str) -> Path:
    return root / CHAT_DIR / f"{thread_id}.md"


def thread_of(path: Path) -> str | None:
    """The thread a chat file belongs to, from its name; None for any other file."""
    return path.stem if path.suffix == ".md" and path.parent.parts[-2:] == CHAT_DIR.parts else None


def prompt_of(text: str) -> str | None:
    """The prompt typed under the last ``## You`` heading, None when there is none."""
    at = text.rfind("\n" + YOU + "\n")
    if at < 0:
        if not text.startswith(YOU + "\n"):
            return None
        at = -1
    prompt = text[at + len(YOU) + 2:].strip()
    return prompt or None


def header(thread: Thread) -> str:
    return (f"# Agent chat: {thread.title}\n\n"
            f"<!-- agent-lsp thread {thread.id}. Type under the last \"{YOU}\" and run the code action "
            "\"Send to agent\". The server appends the answer here. -->\n\n" + YOU + "\n\n")


def _fence(text: str, lang: str = "") -> str:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}{lang}\n{text.rstrip(chr(10))}\n{ticks}\n\n"


def _rel(uri: str, root: Path) -> str:
    try:
        path = uri_to_path(uri)
        return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    except Exception:  # a URI we cannot map: show it as it is
        return uri


def render_input(item: UserMessageItem, root: Path) -> str:
    parts = []
    for part in item.content:
        if isinstance(part, TextPart):
            parts.append(part.text.strip())
        elif isinstance(part, SelectionPart):
            lines = f"{part.range.start.line + 1}-{part.range.end.line + 1}"
            parts.append(f"*(selection: {_rel(part.uri, root)}, lines {lines})*")
        elif isinstance(part, DiagnosticPart):
            message = str(part.diagnostic.get("message", "a problem"))
            parts.append(f"Fix: {message} *({_rel(part.uri, root)})*")
    return "\n\n".join(parts)


@dataclass
class ChatRenderer:
    """Markdown for the events of one thread (remembers which items are agent messages)."""

    root: Path
    streaming: set[str] = field(default_factory=set)  # agent message items being streamed
    typed: set[str] = field(default_factory=set)  # turns whose prompt the user typed in the file

    def render(self, event: Event) -> str:
        if isinstance(event, ItemStartedEvent) and isinstance(event.item, UserMessageItem):
            return ""
        if isinstance(event, ItemCompletedEvent) and isinstance(event.item, UserMessageItem):
            if event.turn_id in self.typed:
                return f"\n{AGENT}\n\n"
            return render_input(event.item, self.root) + f"\n\n{AGENT}\n\n"
        if isinstance(event, ItemStartedEvent) and isinstance(event.item, AgentMessageItem):
            self.streaming.add(event.item.id)
            return event.item.text
        if isinstance(event, ItemDeltaEvent):
            return event.text if event.item_id in self.streaming else ""
        if isinstance(event, ItemCompletedEvent):
            return self._completed(event)
        if isinstance(event, ApprovalRequestedEvent):
            approval = event.approval
            body = _fence(approval.diff, "diff") if approval.diff else _fence(approval.command or "", "sh")
            return (f"**Approval needed: {approval.title}** (`{approval.id}`). Run the code action "
                    f"\"Approve agent edit\" or \"Reject agent edit\" here or on the changed line.\n\n{body}")
        if isinstance(event, ApprovalResolvedEvent):
            verb = "Rejected" if event.decision == "reject" else "Approved"
            return f"*{verb} (`{event.approval_id}`).*\n\n"
        if isinstance(event, TurnCompletedEvent):
            self.typed.discard(event.turn.id)
            return f"*{convert.turn_summary(event)}*\n\n{YOU}\n\n"
        return ""

    def _completed(self, event: ItemCompletedEvent) -> str:
        item = event.item
        if isinstance(item, AgentMessageItem):
            self.streaming.discard(item.id)
            return "\n\n"
        if isinstance(item, FileChangeItem):
            paths = ", ".join(change.path for change in item.changes)
            return f"- Edit {paths}: {item.outcome or item.status}\n\n"
        if isinstance(item, CommandExecutionItem):
            output = "\n".join((item.output or "").splitlines()[-OUTPUT_LINES:])
            code = "" if item.exit_code is None else f" (exit {item.exit_code})"
            return f"- Ran `{shorten(item.command, 100)}`{code}\n\n" + (_fence(output) if output else "")
        if isinstance(item, TodoListItem):
            marks = {"completed": "x", "in_progress": "~", "pending": " "}
            return "".join(f"- [{marks[todo.status]}] {todo.content}\n" for todo in item.todos) + "\n"
        if isinstance(item, ToolCallItem):
            status = "" if item.status == "completed" else f" ({item.status})"
            return f"- {item_title(item)}{status}\n\n"
        return ""


def append_edit(current: str, text: str, encoding: str) -> tuple[t.Position, str]:
    """Where and what to insert so that the buffer holding ``current`` holds ``current + text``
    (``text`` ends with a newline). When ``current`` ends with a newline the insertion goes
    before it, never on the line past the end, which Neovim pads with an extra empty line."""
    body = current[:-1] if current.endswith("\n") else current
    lines = body.split("\n")
    at = t.Position(line=len(lines) - 1, character=convert.code_units(lines[-1], encoding))
    if current.endswith("\n"):
        return at, "\n" + text[:-1]
    return at, text


@dataclass
class _Chat:
    renderer: ChatRenderer
    pending: str = ""
    task: asyncio.Task[None] | None = None


class ChatFiles:
    """Keeps each chat file in step with its thread's events (only threads that have a chat
    file: opened, created or sent from, or asked about through a command)."""

    def __init__(self, root: Path, harness: Agent, documents: LspDocuments, server: object,
                 quirks: Callable[[], ClientQuirks], nudger: Nudger) -> None:
        self.root = root
        self._harness = harness
        self._documents = documents
        self._server = server
        self._quirks = quirks
        self._nudger = nudger
        self._chats: dict[str, _Chat] = {}

    def path(self, thread_id: str) -> Path:
        return chat_path(self.root, thread_id)

    def uri(self, thread_id: str) -> str:
        return path_to_uri(self.path(thread_id))

    def rel(self, thread_id: str) -> str:
        return str(CHAT_DIR / f"{thread_id}.md")

    def ensure(self, thread_id: str) -> Path:
        """The thread's chat file, written from the thread's history if it has none yet."""
        path = self.path(thread_id)
        if thread_id not in self._chats:
            self._chats[thread_id] = _Chat(ChatRenderer(self.root))
        if path.exists():
            return path
        folder = path.parent
        folder.mkdir(parents=True, exist_ok=True)
        ignore = folder.parent / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# written by agent-lsp: chat transcripts stay out of git\n*\n")
        renderer = ChatRenderer(self.root)
        resumed = self._harness.resume(thread_id)
        text = header(resumed.thread) + "".join(renderer.render(event) for event in resumed.events)
        if resumed.thread.status == "running":
            renderer.streaming.update(self._chats[thread_id].renderer.streaming)
        self._chats[thread_id].renderer = renderer
        path.write_text(text, encoding="utf-8")
        return path

    def expect_typed_prompt(self, thread_id: str, turn_id_hint: str | None = None) -> None:
        """The next user message of this thread was typed in the file: do not write it again."""
        self._chats.setdefault(thread_id, _Chat(ChatRenderer(self.root))).renderer.typed.add(turn_id_hint or "*")

    def on_event(self, event: Event) -> None:
        chat = self._chats.get(event.thread_id)
        if chat is None:
            return
        renderer = chat.renderer
        turn_id = getattr(event, "turn_id", None)
        if "*" in renderer.typed and isinstance(event, ItemCompletedEvent) and turn_id:
            renderer.typed.discard("*")
            renderer.typed.add(turn_id)
        text = renderer.render(event)
        if text:
            chat.pending += text
            if chat.task is None or chat.task.done():
                chat.task = asyncio.ensure_future(self._flush(event.thread_id, chat))

    async def _flush(self, thread_id: str, chat: _Chat) -> None:
        path = self.path(thread_id)
        while "\n" in chat.pending:  # whole lines only (see append_edit); blocks end with one
            cut = chat.pending.rindex("\n") + 1
            text, chat.pending = chat.pending[:cut], chat.pending[cut:]
            try:
                doc = self._documents.get(path)
                if doc is not None and self._quirks().apply_edit:
                    await self._through_editor(path, doc.uri, doc.text, doc.version, text)
                else:
                    with path.open("a", encoding="utf-8") as out:
                        out.write(text)
            except Exception:  # the transcript stays in the store; the file can be rewritten
                log.warning("could not append to chat file %s", path, exc_info=True)

    async def _through_editor(self, path: Path, uri: str, current: str, version: int | None, text: str) -> None:
        encoding = str(getattr(self._server, "workspace").position_encoding or t.PositionEncodingKind.Utf16)
        at, insert = append_edit(current, text, encoding)
        edit = t.WorkspaceEdit(changes={uri: [t.TextEdit(range=t.Range(start=at, end=at), new_text=insert)]})
        params = t.ApplyWorkspaceEditParams(edit=edit, label="Agent chat")
        answer = asyncio.ensure_future(self._server.workspace_apply_edit_async(params))  # type: ignore[attr-defined]
        answer.add_done_callback(lambda f: f.cancelled() or f.exception())  # a late error is only logged
        self._nudger.after_request("workspace/applyEdit")
        # the next insertion must see this one: wait for the didChange that shows it
        await self._documents.wait_for(path, lambda doc: doc.version != version, SEEN_TIMEOUT_S)

    def prepare_send(self, thread_id: str, buffer_text: str | None) -> str:
        """Before a prompt typed in the file is sent: a client that takes no edits gets the
        buffer saved as it is (the answer is appended on disk after it). Returns the path."""
        path = self.ensure(thread_id)
        if buffer_text is not None and not self._quirks().apply_edit:
            path.write_text(buffer_text, encoding="utf-8")
        return str(path)

    def quote(self, thread_id: str, rel: str, first: int, last: int, code: str) -> None:
        """Appends a quoted selection under the prompt heading, for the user to ask about."""
        chat = self._chats.setdefault(thread_id, _Chat(ChatRenderer(self.root)))
        chat.pending += f"About {rel}, lines {first}-{last}:\n\n{_fence(code)}"
        if chat.task is None or chat.task.done():
            chat.task = asyncio.ensure_future(self._flush(thread_id, chat))

    async def settled(self, thread_id: str) -> None:
        chat = self._chats.get(thread_id)
        while chat is not None and chat.task is not None and not chat.task.done():
            await asyncio.shield(chat.task)


COMMENT_PROMPT = re.compile(r"^\s*(?:#+|//+|--+|;+|%+|/\*+|\*|<!--|\"|'|!|REM\b|::)\s*agent:\s*(?P<prompt>.*?)"
                            r"\s*(?:\*+/|-->)?\s*$", re.IGNORECASE)


def comment_prompt(line: str) -> str | None:
    """PROMPT from a comment line ``<marker> agent: PROMPT`` in any language, else None."""
    match = COMMENT_PROMPT.match(line)
    return match.group("prompt") if match and match.group("prompt") else None
