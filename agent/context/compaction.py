"""Compaction: a summary asked cache-safely, and a new context rebuilt from the harness's state.

The summary request is the request before it, byte for byte (same model, system prompt, tools
and messages), plus one final user text asking for a text-only handoff summary, so it reads the
whole prefix from the prompt cache. The new context is one user message the harness builds:
the summary, then the task state re-injected verbatim from the thread's state and items (never
from the summary): the todo list with each status, the plan, the files read and changed (the
most recent small ones re-read from the editor's buffers or disk, larger ones named with how to
read them), every user message of the thread verbatim up to a budget (newest first), and the
pending approvals. The system prompt and tools stay as they were, so the cache keeps hitting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent.files.changes import text_lines
from agent.model.base import ModelRequest
from agent.protocol import Approval, DiagnosticPart, SelectionPart, TextPart, UserMessageItem
from agent.store.sqlite import Store
from agent.context.thread_state import ThreadState
from agent.context.transcript import Message, TextBlock
from agent.files.workspace import ToolError, Workspace

SUMMARY_MARKER = "[agent-lsp: context checkpoint]"
SUMMARY_PROMPT = f"""{SUMMARY_MARKER} The conversation is about to be compacted to free the context window.
Respond with TEXT ONLY: do not call any tool (a tool call here is ignored). Write a handoff summary
for yourself, so you can continue the task exactly where it stands without redoing finished work.
Use these headings, briefly and concretely:
1. Goal and constraints: the user's goal and every constraint they set, quoted in their own words.
2. Done: what is finished (files changed, commands run and what they showed).
3. In progress: what you were doing when this checkpoint came.
4. Next: the next concrete steps, in order.
5. Decisions: what you decided and why.
6. Errors: errors met and how they were fixed (or that they are not fixed yet).
7. Files that matter: paths and why they matter.
Do not copy file contents; the harness re-attaches the files, the todo list and the user's
messages itself."""
RECENT_FILES = 5
SMALL_FILE_CHARS = 16_000
TODO_MARKS = {"pending": "[ ]", "in_progress": "[>]", "completed": "[x]"}


def summary_request(base: ModelRequest, instructions: str | None, max_tokens: int) -> ModelRequest:
    """``base`` with one final user text asking for the summary (the prefix is unchanged)."""
    prompt = SUMMARY_PROMPT + (f"\nThe user asks that the summary: {instructions.strip()}" if instructions else "")
    messages = list(base.messages)
    final = {"type": "text", "text": prompt}
    if messages and messages[-1]["role"] == "user":
        messages[-1] = {"role": "user", "content": [*_blocks(messages[-1]["content"]), final]}
    else:
        messages.append({"role": "user", "content": [final]})
    return ModelRequest(model=base.model, max_tokens=max_tokens, system=base.system, tools=base.tools,
                        messages=messages)


def trimmed(request: ModelRequest, keep: float) -> ModelRequest:
    """The summary request with only the newest ``keep`` share of its messages (when even the
    summary does not fit): it starts at a user message, and results of calls cut off become text."""
    messages = request.messages
    start = min(len(messages) - 1, int(len(messages) * (1 - keep)))
    while start > 0 and messages[start]["role"] != "user":
        start -= 1
    first = messages[start]
    blocks = [_as_text(block) for block in _blocks(first["content"])]
    return ModelRequest(model=request.model, max_tokens=request.max_tokens, system=request.system,
                        tools=request.tools, messages=[{"role": "user", "content": blocks}, *messages[start + 1:]])


def summary_text(content: list[dict[str, Any]]) -> str:
    return "\n\n".join(block["text"].strip() for block in content
                       if block.get("type") == "text" and block.get("text", "").strip())


@dataclass
class Rebuilder:
    """Builds the context that replaces the transcript, from the harness's own records."""

    store: Store
    workspace: Workspace
    denied: Callable[[str], bool]
    pending: Callable[[str], list[Approval]]

    def message(self, thread_id: str, summary: str, budget_chars: int, closing: str) -> Message:
        state = self.store.thread_state(thread_id)
        parts = [f"[agent-lsp] The conversation so far was compacted to fit the context window. Your "
                 f"summary of it:\n\n{summary}",
                 self._todos(state), self._plan(state), self._files(state, budget_chars // 2),
                 self._user_messages(thread_id, budget_chars // 2), self._approvals(thread_id), closing]
        return Message(role="user", content=[TextBlock(text="\n\n".join(p for p in parts if p))])

    def _todos(self, state: ThreadState) -> str:
        if not state.todos:
            return ""
        lines = [f"{TODO_MARKS[t.status]} {t.content}" for t in state.todos]
        return "Your todo list (kept by the harness; update it with todo_write):\n" + "\n".join(lines)

    def _plan(self, state: ThreadState) -> str:
        return f"Your plan:\n{state.plan}" if state.plan else ""

    def _files(self, state: ThreadState, budget: int) -> str:
        if not state.files:
            return ""
        shown: list[str] = []
        named: list[str] = []
        for touch in reversed(state.files):  # most recent first
            what = "changed" if touch.kind != "read" else "read"
            if len(shown) < RECENT_FILES and budget > 0 and not self.denied(touch.path):
                text = self._current(touch.path)
                if text is not None and len(text) <= min(SMALL_FILE_CHARS, budget):
                    budget -= len(text)
                    shown.append(f"--- {touch.path} ({what}; its current text)\n{text}")
                    continue
                if text is not None:
                    lines = len(text_lines(text))
                    named.append(f"- {touch.path} ({what}; {lines} lines, too large to attach: read it with "
                                 "read_file, in parts with offset and limit)")
                    continue
            named.append(f"- {touch.path} ({what}{'' if self._exists(touch.path) else '; it no longer exists'})")
        out = ["Files you read or changed, most recent first:"]
        if shown:
            out.append("\n\n".join(shown))
        if named:
            out.append("Also:\n" + "\n".join(named))
        return "\n\n".join(out)

    def _current(self, rel: str) -> str | None:
        try:
            current = self.workspace.read(self.workspace.resolve(rel))
        except (ToolError, OSError):
            return None
        return current.text if current.exists else None

    def _exists(self, rel: str) -> bool:
        return self._current(rel) is not None

    def _user_messages(self, thread_id: str, budget: int) -> str:
        kept: list[str] = []
        for item in reversed(self.store.items(thread_id)):
            if not isinstance(item, UserMessageItem):
                continue
            text = "\n".join(_part_text(part) for part in item.content)
            if len(text) > budget:
                if not kept:
                    kept.append(text[:budget] + "\n[... cut to fit]")
                break
            budget -= len(text)
            kept.append(text)
        if not kept:
            return ""
        quoted = "\n\n".join(f"> {text}".replace("\n", "\n> ") for text in reversed(kept))
        left = "" if len(kept) == sum(1 for i in self.store.items(thread_id) if isinstance(i, UserMessageItem)) \
            else " (the oldest are left out)"
        return f"Every message the user wrote in this thread, oldest first{left}:\n{quoted}"

    def _approvals(self, thread_id: str) -> str:
        waiting = self.pending(thread_id)
        if not waiting:
            return ""
        return "Waiting for the user's approval:\n" + "\n".join(f"- {a.title}" for a in waiting)


def _part_text(part: Any) -> str:
    if isinstance(part, TextPart):
        return part.text
    if isinstance(part, SelectionPart):
        return f"[a selection in {part.uri}, lines {part.range.start.line + 1}-{part.range.end.line + 1}]"
    if isinstance(part, DiagnosticPart):
        return f"[fix the problem in {part.uri}: {part.diagnostic.get('message', '')}]"
    return ""


def _blocks(content: Any) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


def _as_text(block: dict[str, Any]) -> dict[str, Any]:
    if block.get("type") != "tool_result":
        return block
    content = block.get("content")
    text = content if isinstance(content, str) else " ".join(
        part.get("text", "") for part in content or [] if isinstance(part, dict))
    return {"type": "text", "text": f"[the result of an earlier tool call]\n{text}"}
