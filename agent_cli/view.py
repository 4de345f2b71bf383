"""What the terminal shows: events drawn with rich, or as JSON lines.

``RichView`` draws the agent's text as Markdown, one finished block (paragraph, list, fenced
code) at a time as it streams in, and draws tool activity, each diff once, command output, the
todo list, approvals answered (by whom), refusals with their reason, a cache miss when one
happens and each turn's tokens, cache share and cost (also for interrupted and failed turns).
With ``spinner`` it shows a spinner whenever the turn waits on the model. With ``history`` it
draws a stored thread (``agent-lsp show``): the user's messages too, command output bounded to
its first and last lines, a refusal's reason from ``reasons``. ``JsonView`` prints each
event's wire form on one line of stdout. ``Prompter`` asks approvals at the terminal.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import threading
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from rich.status import Status

from agent import (
    Approval,
    CommandExecutionItem,
    CompactionItem,
    Decision,
    Event,
    FileChangeItem,
    Item,
    SubagentItem,
    TodoListItem,
    ToolCallItem,
)

TODO_MARKS = {"pending": "[ ]", "in_progress": "[>]", "completed": "[x]"}
OUTPUT_LINES = 12  # a stored command's output in ``show``: this many first and last lines
DECISION_WORDS = {"approve": "approved", "approveForSession": "approved for this session",
                  "approveAlways": "approved always", "reject": "rejected"}
FENCE = re.compile(r"^\s*(```|~~~)", re.MULTILINE)


def _import_drawing() -> None:
    import rich.markdown  # noqa: F401
    import rich.syntax  # noqa: F401


class JsonView:
    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout

    def on_event(self, event: Event) -> None:
        self.out.write(json.dumps(event.to_wire(), separators=(",", ":")) + "\n")
        self.out.flush()


def split_markdown(text: str) -> tuple[str, str]:
    """``text`` cut after its last finished block (a blank line outside a fenced code block):
    what can be drawn now, and the rest to keep until more text arrives."""
    end = len(text)
    while True:
        cut = text.rfind("\n\n", 0, end)
        if cut < 0:
            return "", text
        if len(FENCE.findall(text[:cut])) % 2 == 0:
            return text[:cut], text[cut + 2:]
        end = cut


class RichView:
    def __init__(self, console: Console | None = None, *, spinner: bool = False, history: bool = False,
                 reasons: Callable[[Item], str | None] | None = None) -> None:
        self.console = console or Console(highlight=False)
        self.spinner = spinner
        self.history = history
        self.reasons = reasons or (lambda item: None)
        self._markdown: dict[str, str] = {}  # agent message id -> text not drawn yet
        self._streaming: set[str] = set()
        self._kinds: dict[str, str] = {}
        self._turn_cost = 0.0
        self._status: Status | None = None
        self._running = False

    def on_event(self, event: Event) -> None:
        handler = getattr(self, "_" + event.type.replace("/", "_"), None)
        if handler is not None:
            handler(event)

    # --- the spinner -------------------------------------------------------------------------

    def waiting(self, on: bool) -> None:
        """Show (or hide) the spinner: the turn waits on the model."""
        if not self.spinner or self.history:
            return
        if on and self._status is None and self.console.is_terminal:
            self._status = self.console.status("[dim]thinking…[/dim]", spinner="dots")
            self._status.start()
        elif not on and self._status is not None:
            self._status.stop()
            self._status = None

    def prepare(self) -> None:
        """Import what drawing the agent's text takes (Markdown, syntax) in a thread now, while
        this process only waits; otherwise that happens when the first text is drawn."""
        threading.Thread(target=_import_drawing, name="rich-drawing", daemon=True).start()

    def _print(self, *args: Any, **kwargs: Any) -> None:
        self.waiting(False)
        self.console.print(*args, **kwargs)

    def _write(self, text: str, style: str | None = None) -> None:
        self._print(escape(text), end="", style=style, soft_wrap=True)

    def _draw_markdown(self, text: str) -> None:
        if text.strip():
            from rich.markdown import Markdown  # on the first text drawn: not before the first request

            self._print(Markdown(text))

    # --- events ------------------------------------------------------------------------------

    def _turn_started(self, event: Any) -> None:
        self._turn_cost = 0.0
        self._running = True
        self.waiting(True)

    def _item_started(self, event: Any) -> None:
        item = event.item
        self._kinds[item.id] = item.type
        if item.type == "userMessage" and self.history:
            text = " ".join(getattr(part, "text", f"[{part.type}]") for part in item.content)
            self._print(f"\n[bold cyan]> {escape(text)}[/bold cyan]")
        elif isinstance(item, CompactionItem):
            self._print("[dim]Compacting context…[/dim]")
        elif isinstance(item, ToolCallItem):
            target = item.input.get("path") or item.input.get("pattern") or ""
            self._print(f"[dim]▸ {escape(item.tool)} {escape(str(target))}[/dim]")
        elif isinstance(item, CommandExecutionItem):
            self._print(f"[bold]$ {escape(item.command)}[/bold]")
        elif isinstance(item, FileChangeItem):
            from rich.syntax import Syntax

            for change in item.changes:
                self._print(f"[bold]± {escape(change.path)}[/bold] ({change.kind})")
                self._print(Syntax(change.diff.rstrip("\n"), "diff", theme="ansi_dark"))
        elif isinstance(item, SubagentItem):
            self._print(f"[dim]▸ subagent: {escape(item.description)}[/dim]")

    def _item_delta(self, event: Any) -> None:
        kind = self._kinds.get(event.item_id)
        if kind == "agentMessage":
            ready, rest = split_markdown(self._markdown.get(event.item_id, "") + event.text)
            self._markdown[event.item_id] = rest
            self._draw_markdown(ready)
            return
        if kind == "commandExecution" and self.history:
            return  # drawn bounded when it completes
        self._streaming.add(event.item_id)
        self._write(event.text, "dim" if kind in ("commandExecution", "reasoning") else None)

    def _item_completed(self, event: Any) -> None:
        item = event.item
        if item.id in self._markdown:
            self._draw_markdown(self._markdown.pop(item.id))
        elif item.id in self._streaming:
            self._streaming.discard(item.id)
            self._print()
        elif item.type == "agentMessage" and item.text:
            self._draw_markdown(item.text)
        if isinstance(item, TodoListItem):
            for todo in item.todos:
                self._print(f"  {TODO_MARKS[todo.status]} {escape(todo.content)}")
        elif isinstance(item, CommandExecutionItem):
            if self.history and item.output:
                self._print(escape(bounded(item.output)), style="dim")
            if item.exit_code not in (None, 0):
                self._print(f"[red]exit code {item.exit_code}[/red]")
        elif isinstance(item, FileChangeItem) and item.outcome:
            colour = "green" if item.outcome == "applied" else "yellow"
            self._print(f"[{colour}]{item.outcome}[/{colour}]")
        elif isinstance(item, CompactionItem) and item.status == "completed":
            self._print("[dim]──── context compacted ────[/dim]")
            self._print(f"[dim]{escape(item.summary)}[/dim]")
        elif isinstance(item, ToolCallItem) and item.status == "failed":
            self._print(f"[red]  {escape(item.output or 'failed')}[/red]")
        if item.status == "declined":
            reason = self.reasons(item)
            self._print(f"[yellow]  declined{': ' + escape(reason) if reason else ''}[/yellow]")
        elif item.status == "failed" and isinstance(item, CommandExecutionItem) and item.exit_code is None:
            self._print("[red]  did not finish[/red]")
        if self._running:
            self.waiting(True)

    def _approval_requested(self, event: Any) -> None:
        self.waiting(False)

    def _approval_resolved(self, event: Any) -> None:
        who = f" by {event.client_name}" if event.client_name else ""
        colour = "red" if event.decision == "reject" else "green"
        self._print(f"[{colour}]  {DECISION_WORDS.get(event.decision, event.decision)}{escape(who)}[/{colour}]")
        if self._running:
            self.waiting(True)

    def _thread_compacted(self, event: Any) -> None:
        self._print(f"[dim]context: about {event.tokens_before} tokens before, {event.tokens_after} after[/dim]")

    def _turn_usage(self, event: Any) -> None:
        self._turn_cost += event.cost_usd
        if event.cache_miss is not None:
            reason = MISS_WORDS.get(event.cache_miss.reason, event.cache_miss.reason)
            self._print(f"[yellow]cache miss: {reason} ({event.cache_miss.tokens} tokens "
                        "not read from the cache)[/yellow]")

    def _turn_completed(self, event: Any) -> None:
        self._running = False
        for item_id in list(self._markdown):  # text of an item the turn never completed
            self._draw_markdown(self._markdown.pop(item_id))
        self.waiting(False)
        line = f"{usage_line(event.usage)}, {cost_text(self._turn_cost)}"
        if event.turn.status == "completed":
            self._print(f"[dim]— done ({line})[/dim]")
        elif event.turn.status == "interrupted":
            self._print(f"[yellow]— interrupted[/yellow] [dim]({line})[/dim]")
        else:
            self._print(f"[red]— failed: {escape(event.turn.error or '')}[/red] [dim]({line})[/dim]")

    def notice(self, message: str) -> None:
        """A notice of the harness or the host (a retry, a fallback, a settings problem)."""
        self._print(f"[yellow]agent-lsp: {escape(message)}[/yellow]")
        if self._running:
            self.waiting(True)

    def thread_total(self, totals: Any) -> None:
        """The thread's tokens and cost so far (``Store.thread_usage``)."""
        if totals.requests:
            self._print(f"[dim]  thread: {usage_line(totals.usage)}, {cost_text(totals.cost_usd)} "
                        f"over {totals.requests} model request{'s' if totals.requests != 1 else ''}[/dim]")


MISS_WORDS = {"tools": "tools changed", "system": "system prompt changed", "model": "model changed",
              "rewritten": "conversation compacted", "expired": "cache expired while idle"}


def bounded(output: str, keep: int = OUTPUT_LINES) -> str:
    """A command's output cut to its first and last ``keep`` lines."""
    lines = output.rstrip("\n").splitlines()
    if len(lines) <= 2 * keep + 1:
        return "\n".join(lines)
    return "\n".join([*lines[:keep], f"… {len(lines) - 2 * keep} lines not shown …", *lines[-keep:]])


def usage_line(usage: Any) -> str:
    """'1234 tokens in, 56 out, 87% from cache'."""
    total = usage.input_tokens + usage.cache_read_tokens + usage.cache_creation_tokens
    share = f", {100 * usage.cache_read_tokens / total:.0f}% from cache" if total else ""
    return f"{total} tokens in, {usage.output_tokens} out{share}"


def cost_text(usd: float) -> str:
    return f"${usd:.4f}" if usd < 1 else f"${usd:.2f}"


CHOICES: dict[str, Decision] = {"y": "approve", "s": "approveForSession", "a": "approveAlways", "n": "reject"}


class Prompter:
    """Asks approvals on the terminal. Reads stdin in a daemon thread, so a Ctrl-C or an
    exit never waits for a line the user will not type. The diff is printed only with
    ``show_diff`` (when no ``RichView`` drew it already)."""

    def __init__(self, err: IO[str] | None = None, show_diff: bool = False) -> None:
        self.err = err or sys.stderr
        self.show_diff = show_diff

    async def _readline(self, prompt: str) -> str | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str | None] = loop.create_future()

        def read() -> None:
            line = sys.stdin.readline()
            value = line.rstrip("\n") if line else None
            loop.call_soon_threadsafe(lambda: future.done() or future.set_result(value))

        self.err.write(prompt)
        self.err.flush()
        threading.Thread(target=read, name="approval-prompt", daemon=True).start()
        return await future

    async def ask(self, approval: Approval) -> tuple[Decision, str | None]:
        shown = approval.command or approval.title
        if approval.diff and self.show_diff:
            self.err.write(approval.diff if approval.diff.endswith("\n") else approval.diff + "\n")
        while True:
            answer = await self._readline(f"Allow: {shown}? [y]es / [s]ession / [a]lways / [n]o: ")
            if answer is None:
                return "reject", "No one at the terminal answered the approval (stdin closed)."
            choice = CHOICES.get(answer.strip().lower()[:1])
            if choice is None:
                continue
            if choice != "reject":
                return choice, None
            reason = await self._readline("Reason for the agent (optional): ")
            return "reject", (reason or "").strip() or None
