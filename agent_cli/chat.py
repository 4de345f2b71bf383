"""``agent-lsp`` (or ``agent-lsp chat``): an interactive session in the terminal.

It opens the workspace's last thread (or the one ``--thread`` names, or a new one with
``--new``) through the agent host (``LocalAgent`` in-process when ``agentHost`` is off), reads
prompts on a prompt line (prompt_toolkit, or plain ``input`` without it), and draws each turn
with ``RichView``: Markdown, a spinner while the model thinks, notices (retries, fallbacks),
approvals asked inline with the diff already drawn (y / n / a = for this session). Slash commands:
``/new``, ``/threads``, ``/thread ID``, ``/compact``, ``/undo``, ``/mode``, ``/model``, ``/help``.
Ctrl-C interrupts the running turn (at the prompt it only clears the line); Ctrl-D leaves.
Nothing typed is lost: a line typed while a turn runs waits in the terminal and is sent when
the turn ends, and a line given where an approval answer is expected is queued, never dropped.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from rich.markup import escape

from agent import Approval, ApprovalRequestedEvent, Decision, Event, Settings, TextPart, TurnCompletedEvent, apply_options
from agent_cli.commands import ThreadNotFound, find_thread
from agent_cli.view import RichView

NAME = "agent-lsp chat"
ANSWERS: dict[str, Decision] = {"y": "approve", "a": "approveForSession", "n": "reject"}
HELP = """[bold]Commands[/bold]
  /new              start a new thread with the next prompt
  /threads          this workspace's threads (the current one marked)
  /thread ID        switch to a thread (a unique prefix of its id is enough)
  /compact [TEXT]   compact the thread's context now (TEXT: what the summary should keep)
  /undo             undo the file changes of the thread's last turn that made some
  /mode MODE        permission mode: ask, acceptEdits, readOnly or bypass
  /model NAME       the model for the next turns
  /help             this list
Ctrl-C interrupts the running turn; Ctrl-D (or /exit) leaves."""


@dataclass(frozen=True)
class ChatOptions:
    workspace: Path
    settings: Settings
    thread_id: str | None = None  # an id or a prefix; None: the workspace's last thread
    new: bool = False


class LineReader(Protocol):
    async def read(self, prompt: str) -> str:
        """One line; raises EOFError at Ctrl-D, KeyboardInterrupt at Ctrl-C."""


class ToolkitReader:
    """prompt_toolkit's prompt line, with history; no SIGINT handler of its own (Ctrl-C is a key)."""

    def __init__(self) -> None:
        from prompt_toolkit import PromptSession

        self.session: Any = PromptSession()

    async def read(self, prompt: str) -> str:
        return str(await self.session.prompt_async(prompt, handle_sigint=False))


class PlainReader:
    """``input`` in a thread, for terminals prompt_toolkit cannot drive (or without it)."""

    async def read(self, prompt: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(None, input, prompt)


def make_reader() -> LineReader:
    if sys.stdin.isatty() and sys.stdout.isatty():
        try:
            return ToolkitReader()
        except Exception:  # not installed, or no terminal it knows
            pass
    return PlainReader()


def chat(options: ChatOptions) -> int:
    return asyncio.run(_chat(options))


async def _chat(options: ChatOptions) -> int:
    from agent import Harness, HostClient, HostMismatch, HostPlace, LocalAgent, Store, Workspace, default_state_dir

    settings = options.settings
    if settings.agent_host:
        print("agent-lsp: connecting to the agent host…", file=sys.stderr, flush=True)
        client = HostClient(HostPlace(settings.state_dir or default_state_dir()), options.workspace, NAME, settings)
        try:
            await client.connected()
            return await Session(client, options).run()
        except HostMismatch as exc:
            print(f"agent-lsp: {exc}", file=sys.stderr)
            return 1
        finally:
            client.close()
    store = Store.open_default(settings.state_dir)
    agent = LocalAgent(Harness(Workspace(options.workspace), store, settings))
    try:
        return await Session(agent, options).run()
    finally:
        await agent.shutdown()
        store.close()


class Session:
    """One interactive session: the current thread, the turn running in it, queued lines."""

    def __init__(self, agent: Any, options: ChatOptions, reader: LineReader | None = None) -> None:
        self.agent = agent
        self.options = options
        self.reader = reader or make_reader()
        self.view = RichView(spinner=True)
        self.console = self.view.console
        self.thread_id = ""
        self.ended: dict[str, str] = {}
        self.approvals: deque[Approval] = deque()
        self.queued: deque[str] = deque()
        self.changed = asyncio.Event()
        self.interrupts = 0

    # --- the loop ----------------------------------------------------------------------------

    async def run(self) -> int:
        self.agent.on_event(self.on_event)
        self.agent.on_notice(self.view.notice)
        if not self.options.new:
            try:
                thread = find_thread(self.agent.list_threads(), self.options.thread_id, self.options.workspace)
            except ThreadNotFound as exc:
                print(f"agent-lsp: {exc}", file=sys.stderr)
                return 2
            if thread is not None:
                await self.open(thread.id)
        if not self.thread_id:
            self.console.print("[dim]New thread (it starts with your first prompt). /help lists the commands; "
                               "Ctrl-D leaves.[/dim]")
        while True:
            if self.queued:
                line = self.queued.popleft()
                self.console.print(f"[dim]sending the queued prompt:[/dim] {escape(line)}")
            else:
                try:
                    line = await self.reader.read("› ")
                except EOFError:
                    return 0
                except KeyboardInterrupt:
                    self.console.print("[dim](Ctrl-D leaves)[/dim]")
                    continue
            line = line.strip()
            if not line:
                continue
            if line.startswith("/"):
                if await self.command(line) == "exit":
                    return 0
                continue
            await self.send(line)

    async def open(self, thread_id: str) -> None:
        thread, _ = await self.agent.follow(thread_id, self.agent.get_thread(thread_id).last_seq)
        self.thread_id = thread.id
        self.console.print(f"Thread [bold]{thread.id}[/bold] {escape(thread.title)} "
                           "[dim](/new for a new one, /help for the commands)[/dim]", soft_wrap=True)

    def on_event(self, event: Event) -> None:
        if event.thread_id != self.thread_id:
            return
        self.view.on_event(event)
        if isinstance(event, TurnCompletedEvent):
            self.ended[event.turn.id] = event.turn.status
        if isinstance(event, ApprovalRequestedEvent):
            self.approvals.append(event.approval)
        self.changed.set()

    async def send(self, text: str) -> None:
        from agent import TurnBusy

        if not self.thread_id:
            thread = await self.agent.start_thread(text.splitlines()[0][:60])
            await self.open(thread.id)
        try:
            turn = await self.agent.start_turn(self.thread_id, [TextPart(text=text)])
        except TurnBusy as exc:
            self.console.print(f"[red]{escape(str(exc))}[/red]")
            return
        except Exception as exc:  # the host's answer (RemoteError): a busy thread, a bad setting
            self.console.print(f"[red]could not start the turn: {escape(getattr(exc, 'message', str(exc)))}[/red]")
            return
        await self.follow_turn(turn.id)

    async def follow_turn(self, turn_id: str) -> None:
        """Wait for the turn to end, answering its approvals; Ctrl-C interrupts it."""
        loop = asyncio.get_running_loop()
        self.interrupts = 0
        loop.add_signal_handler(signal.SIGINT, self.on_sigint)
        try:
            while turn_id not in self.ended:
                if self.approvals:
                    await self.answer(self.approvals.popleft())
                    continue
                self.changed.clear()
                await self.changed.wait()
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            self.view.waiting(False)
            self.approvals.clear()

    def on_sigint(self) -> None:
        self.interrupts += 1
        self.view.waiting(False)
        self.console.print("[yellow]interrupting…[/yellow]" if self.interrupts == 1
                           else "[yellow]still interrupting (Ctrl-D at the prompt leaves)[/yellow]")
        asyncio.ensure_future(self.agent.interrupt(self.thread_id))

    async def answer(self, approval: Approval) -> None:
        """Ask one approval inline; a line that is no answer is queued as the next prompt."""
        self.view.waiting(False)
        shown = approval.command or approval.title
        decision: Decision | None = None
        message: str | None = None
        while decision is None:
            try:
                line = await self.reader.read(f"Allow {shown}? [y]es / [n]o / [a] for this session: ")
            except EOFError:
                decision, message = "reject", "No one at the terminal answered the approval."
                break
            except KeyboardInterrupt:
                self.on_sigint()
                return
            word = line.strip().lower()
            decision = ANSWERS.get(word[:1]) if word in ("y", "yes", "n", "no", "a") else None
            if decision is None and line.strip():
                self.queued.append(line.strip())
                self.console.print("[dim]queued as your next prompt; answer y, n or a[/dim]")
        if decision == "reject":
            try:
                message = message or (await self.reader.read("Reason for the agent (optional): ")).strip() or None
            except (EOFError, KeyboardInterrupt):
                message = None
        try:
            await self.agent.respond(approval.id, decision, message, "request", NAME)
        except Exception as exc:  # the turn ended meanwhile, or another surface answered
            self.console.print(f"[dim]answer not used: {escape(getattr(exc, 'message', str(exc)))}[/dim]")

    # --- slash commands ----------------------------------------------------------------------

    async def command(self, line: str) -> str | None:
        name, _, rest = line.partition(" ")
        rest = rest.strip()
        if name in ("/exit", "/quit"):
            return "exit"
        if name == "/help":
            self.console.print(HELP)
        elif name == "/new":
            self.thread_id = ""
            self.console.print("[dim]New thread: it starts with your next prompt.[/dim]")
        elif name == "/threads":
            self.list_threads()
        elif name == "/thread" and rest:
            try:
                found = find_thread(self.agent.list_threads(), rest, self.options.workspace)
            except ThreadNotFound as exc:
                self.console.print(f"[red]{escape(str(exc))}[/red]")
                return None
            assert found is not None
            await self.open(found.id)
        elif name == "/compact":
            await self.compact(rest or None)
        elif name == "/undo":
            await self.undo()
        elif name in ("/mode", "/model") and rest:
            self.set_option("permissionMode" if name == "/mode" else "model", rest)
        else:
            self.console.print(f"[red]unknown command {escape(line)}[/red]; /help lists them")
        return None

    def list_threads(self) -> None:
        threads = self.agent.list_threads()
        if not threads:
            self.console.print("[dim]No threads yet in this workspace.[/dim]")
        for thread in threads:
            mark = "*" if thread.id == self.thread_id else " "
            self.console.print(f"{mark} [bold]{thread.id}[/bold]  {escape(thread.title)}  "
                               f"[dim]{thread.updated_at} {thread.status}[/dim]", soft_wrap=True)

    async def compact(self, instructions: str | None) -> None:
        if not self.thread_id:
            self.console.print("[dim]Nothing to compact: this thread has not started.[/dim]")
            return
        try:
            turn = await self.agent.compact(self.thread_id, instructions)
        except Exception as exc:  # NothingToCompact, TurnBusy, or the host's RemoteError
            self.console.print(f"[red]{escape(getattr(exc, 'message', str(exc)))}[/red]")
            return
        await self.follow_turn(turn.id)

    async def undo(self) -> None:
        """Undo the thread's last turn that changed files; lines changed since are kept, and said so."""
        if not self.thread_id:
            self.console.print("[dim]Nothing to undo: this thread has not started.[/dim]")
            return
        try:
            results = await self.agent.undo_turn(self.thread_id)
        except Exception as exc:  # UndoError, TurnBusy, or the host's RemoteError
            self.console.print(f"[red]undo: {escape(getattr(exc, 'message', str(exc)))}[/red]")
            return
        self.view.waiting(False)
        for result in results:
            reason = f" [dim]({escape(str(result['reason']))})[/dim]" if result.get("reason") else ""
            colour = "green" if result.get("outcome") == "reverted" else "yellow"
            self.console.print(f"[{colour}]{escape(str(result.get('outcome')))}[/{colour}] "
                               f"{escape(str(result.get('path')))}{reason}", soft_wrap=True)
        self.console.print("[dim]Changes made by commands the agent ran are not tracked and were not undone.[/dim]")

    def set_option(self, key: str, value: str) -> None:
        settings, errors = apply_options(self.agent.settings, {key: value}, source="option")
        if errors:
            self.console.print(f"[red]{escape('; '.join(errors))}[/red]")
            return
        self.agent.update_settings(settings)
        self.console.print(f"[dim]{key} is now {escape(value)}[/dim]")
