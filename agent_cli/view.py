"""What the headless CLI shows: events drawn in a terminal with rich, or as JSON lines.

``RichView`` streams the agent's text as it arrives and draws tool activity, diffs, command
output and the todo list, a cache miss when one happens ("cache miss: tools changed") and each
turn's tokens, cache share and cost; ``JsonView`` prints each event's wire form on one line of stdout.
``Prompter`` asks approvals at the terminal ([y]es / [s]ession / [a]lways / [n]o).
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from typing import IO, Any

from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax

from agent import (
    Approval,
    CommandExecutionItem,
    CompactionItem,
    Decision,
    Event,
    FileChangeItem,
    TodoListItem,
    ToolCallItem,
)

TODO_MARKS = {"pending": "[ ]", "in_progress": "[>]", "completed": "[x]"}


class JsonView:
    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout

    def on_event(self, event: Event) -> None:
        self.out.write(json.dumps(event.to_wire(), separators=(",", ":")) + "\n")
        self.out.flush()


class RichView:
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)
        self._streaming: set[str] = set()
        self._kinds: dict[str, str] = {}
        self._turn_cost = 0.0

    def on_event(self, event: Event) -> None:
        handler = getattr(self, "_" + event.type.replace("/", "_"), None)
        if handler is not None:
            handler(event)

    def _write(self, text: str, style: str | None = None) -> None:
        self.console.print(escape(text), end="", style=style, soft_wrap=True)

    def _item_started(self, event: Any) -> None:
        item = event.item
        self._kinds[item.id] = item.type
        if isinstance(item, CompactionItem):
            self.console.print("[dim]Compacting context…[/dim]")
        elif isinstance(item, ToolCallItem):
            target = item.input.get("path") or item.input.get("pattern") or ""
            self.console.print(f"[dim]▸ {escape(item.tool)} {escape(str(target))}[/dim]")
        elif isinstance(item, CommandExecutionItem):
            self.console.print(f"[bold]$ {escape(item.command)}[/bold]")
        elif isinstance(item, FileChangeItem):
            for change in item.changes:
                self.console.print(f"[bold]± {escape(change.path)}[/bold] ({change.kind})")
                self.console.print(Syntax(change.diff.rstrip("\n"), "diff", theme="ansi_dark"))

    def _item_delta(self, event: Any) -> None:
        kind = self._kinds.get(event.item_id)
        self._streaming.add(event.item_id)
        self._write(event.text, "dim" if kind in ("commandExecution", "reasoning") else None)

    def _item_completed(self, event: Any) -> None:
        item = event.item
        if item.id in self._streaming:
            self._streaming.discard(item.id)
            self.console.print()
        elif item.type == "agentMessage" and item.text:
            self.console.print(escape(item.text))
        if isinstance(item, TodoListItem):
            for todo in item.todos:
                self.console.print(f"  {TODO_MARKS[todo.status]} {escape(todo.content)}")
        elif isinstance(item, CommandExecutionItem) and item.exit_code not in (None, 0):
            self.console.print(f"[red]exit code {item.exit_code}[/red]")
        elif isinstance(item, FileChangeItem) and item.outcome:
            colour = "green" if item.outcome == "applied" else "yellow"
            self.console.print(f"[{colour}]{item.outcome}[/{colour}]")
        elif isinstance(item, CompactionItem) and item.status == "completed":
            self.console.print("[dim]──── context compacted ────[/dim]")
            self.console.print(f"[dim]{escape(item.summary)}[/dim]")
        elif isinstance(item, ToolCallItem) and item.status == "failed":
            self.console.print(f"[red]  {escape(item.output or 'failed')}[/red]")

    def _thread_compacted(self, event: Any) -> None:
        self.console.print(f"[dim]context: about {event.tokens_before} tokens before, {event.tokens_after} after[/dim]")

    def _turn_started(self, event: Any) -> None:
        self._turn_cost = 0.0

    def _turn_usage(self, event: Any) -> None:
        self._turn_cost += event.cost_usd
        if event.cache_miss is not None:
            reason = MISS_WORDS.get(event.cache_miss.reason, event.cache_miss.reason)
            self.console.print(f"[yellow]cache miss: {reason} ({event.cache_miss.tokens} tokens "
                               "not read from the cache)[/yellow]")

    def _turn_completed(self, event: Any) -> None:
        line = f"{usage_line(event.usage)}, {cost_text(self._turn_cost)}"
        if event.turn.status == "completed":
            self.console.print(f"[dim]— done ({line})[/dim]")
        elif event.turn.status == "interrupted":
            self.console.print("[yellow]— interrupted[/yellow]")
        else:
            self.console.print(f"[red]— failed: {escape(event.turn.error or '')}[/red]")


    def thread_total(self, totals: Any) -> None:
        """The thread's tokens and cost so far (``Store.thread_usage``)."""
        if totals.requests:
            self.console.print(f"[dim]  thread: {usage_line(totals.usage)}, {cost_text(totals.cost_usd)} "
                               f"over {totals.requests} model request{'s' if totals.requests != 1 else ''}[/dim]")


MISS_WORDS = {"tools": "tools changed", "system": "system prompt changed", "model": "model changed",
              "rewritten": "conversation compacted", "expired": "cache expired while idle"}


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
    exit never waits for a line the user will not type."""

    def __init__(self, err: IO[str] | None = None) -> None:
        self.err = err or sys.stderr

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
        if approval.diff:
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
