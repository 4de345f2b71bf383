"""The headless CLI's commands (PROTOCOL.md sections 9 and 10): ``ask``, ``threads``, ``show``,
``compact``, and ``find_thread`` (a thread id or a unique prefix of one, for every command that
takes an id; ``None`` for the workspace's last thread).

Same harness as the server, in-process: the CLI only chooses a view (rich or JSON lines),
answers approvals at the terminal, and maps Ctrl-C to an interrupt (a second Ctrl-C exits).
The SDK import starts in a background thread first thing, overlapping the store and
workspace set-up. ``ask`` ends the process as soon as its output is flushed and the store is
closed (``os._exit``): the interpreter's teardown of the SDK's modules would add a third of a
second after the answer is already on the screen.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING

from agent import (
    NO_KEY_MESSAGE,
    OPTIONS,
    ApprovalRequestedEvent,
    CommandExecutionItem,
    Event,
    FileChangeItem,
    Item,
    Settings,
    Store,
    TextPart,
    Thread,
    TurnCompletedEvent,
    HostClient,
    HostMismatch,
    LocalAgent,
    Workspace,
    api_key_present,
    apply_options,
    resolve_settings,
)

if TYPE_CHECKING:
    from agent import Harness

EXIT_CODES = {"completed": 0, "failed": 1, "interrupted": 130}


@dataclass(frozen=True)
class AskOptions:
    prompt: str
    workspace: Path
    settings: dict[str, str] = field(default_factory=dict)  # camelCase options from the flags
    thread_id: str | None = None
    json: bool = False
    exit_at_end: bool = True  # end the process at once when done (False to call ask in-process)
    continue_last: bool = False  # continue the workspace's last thread (a new one if it has none)


class ThreadNotFound(LookupError):
    """No thread, or more than one, matches what was given; the message says what to do."""


def find_thread(threads: list[Thread], given: str | None, workspace: Path) -> Thread | None:
    """The thread ``given`` names (its id or a unique prefix of it), or with ``given`` None the
    workspace's last thread (None when it has none). ``threads`` is the workspace's, newest first."""
    if given is None:
        return threads[0] if threads else None
    exact = [t for t in threads if t.id == given.strip()]
    found = exact or [t for t in threads if t.id.startswith(given.strip())]
    if len(found) == 1:
        return found[0]
    if not found or not given.strip():
        raise ThreadNotFound(f"no thread {given!r} in {workspace}; list them with `agent-lsp threads`")
    listed = "\n".join(f"  {t.id}  {t.title}" for t in found[:10])
    more = f"\n  … and {len(found) - 10} more" if len(found) > 10 else ""
    raise ThreadNotFound(f"{given!r} matches {len(found)} threads; give more of the id:\n{listed}{more}")


def _settings(flags: dict[str, str] | None = None) -> tuple[Settings, list[str]]:
    """Environment, then the command line's flags on top (``--max-tokens`` and the like)."""
    settings, errors = resolve_settings(None)
    if not flags:
        return settings, errors
    numeric = {o.key for o in OPTIONS if isinstance(o.default, (int, float)) and not isinstance(o.default, bool)}
    typed: dict[str, object] = {}
    for key, value in flags.items():
        try:
            typed[key] = float(value) if key in numeric and "." in value else int(value) if key in numeric else value
        except ValueError:
            typed[key] = value  # reported by validation
    settings, bad = apply_options(settings, typed, source="option")
    return settings, errors + bad


settings_from_flags = _settings  # for ``agent-lsp chat``


def _fail(message: str, code: int = 2) -> int:
    print(f"agent-lsp: {message}", file=sys.stderr)
    return code


def ask(options: AskOptions) -> int:
    settings, errors = _settings(options.settings)
    if not settings.agent_host:  # the turn runs here: import the SDK while the rest is set up
        from agent import prewarm

        threading.Thread(target=prewarm, name="prewarm-anthropic", daemon=True).start()
    for error in errors:
        print(f"agent-lsp: {error}", file=sys.stderr)
    if any(error.startswith("option ") for error in errors):
        return 2
    if not api_key_present():
        return _fail(NO_KEY_MESSAGE, 1)
    if not options.prompt.strip():
        return _fail("the prompt is empty; say what the agent should do")
    code = asyncio.run(_ask(options, settings))
    if options.exit_at_end:
        _exit_now(code)
    return code


def _exit_now(code: int) -> None:
    """Flush what was printed and leave without the interpreter's teardown (the store is
    already closed, every transaction committed)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


async def _ask(options: AskOptions, settings: Settings) -> int:
    from agent import HostClient, HostPlace, LocalAgent, default_state_dir

    if settings.agent_host:  # the turn runs in the agent host, like an editor's
        if not options.json:
            print("agent-lsp: connecting to the agent host…", file=sys.stderr, flush=True)
        client = HostClient(HostPlace(settings.state_dir or default_state_dir()), options.workspace,
                            "agent-lsp ask", settings)
        try:
            return await _ask_in(options, client)
        except HostMismatch as exc:
            return _fail(str(exc), 1)
        finally:
            client.close()
    from agent import Harness  # only here: a client of the host never imports the harness

    store = Store.open_default(settings.state_dir)
    try:
        return await _ask_in(options, LocalAgent(Harness(Workspace(options.workspace), store, settings)))
    finally:
        store.close()


async def _ask_in(options: AskOptions, agent: LocalAgent | HostClient) -> int:
    from agent_cli.view import JsonView, Prompter, RichView

    view = JsonView() if options.json else RichView(spinner=sys.stdout.isatty())
    agent.on_notice(view.notice if isinstance(view, RichView)
                    else lambda message: print(f"agent-lsp: {message}", file=sys.stderr))
    thread: Thread | None = None
    if options.thread_id or options.continue_last:
        try:
            thread = find_thread(agent.list_threads(), options.thread_id, options.workspace)
        except ThreadNotFound as exc:
            return _fail(str(exc))
    thread_id, after = (thread.id, thread.last_seq) if thread else ("", 0)

    prompter = Prompter(show_diff=options.json)
    answering: set[asyncio.Task[None]] = set()
    ended: dict[str, str] = {}  # turn id -> status, as turn/completed events arrive
    changed = asyncio.Event()

    async def answer(event: ApprovalRequestedEvent) -> None:
        decision, message = await prompter.ask(event.approval)
        await agent.respond(event.approval.id, decision, message, "request", "agent-lsp ask")

    def on_event(event: Event) -> None:
        if thread_id and event.thread_id != thread_id:
            return
        view.on_event(event)
        if isinstance(event, TurnCompletedEvent):
            ended[event.turn.id] = event.turn.status
            changed.set()
        if isinstance(event, ApprovalRequestedEvent):
            task = asyncio.ensure_future(answer(event))
            answering.add(task)
            task.add_done_callback(answering.discard)

    agent.on_event(on_event)
    if not thread_id:
        first_line = options.prompt.strip().splitlines()[0]
        thread_id = (await agent.start_thread(first_line[:60])).id
    await agent.follow(thread_id, after)  # the host replays what came before, then sends live events
    loop = asyncio.get_running_loop()
    interrupts = 0

    def on_sigint() -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts > 1:
            os._exit(130)
        print("\nagent-lsp: interrupting (Ctrl-C again to quit at once)", file=sys.stderr)
        asyncio.ensure_future(agent.interrupt(thread_id))

    loop.add_signal_handler(signal.SIGINT, on_sigint)
    try:
        turn = await agent.start_turn(thread_id, [TextPart(text=options.prompt)])
        if isinstance(view, RichView) and isinstance(agent, HostClient):
            view.prepare()  # the turn runs in the host: this process is idle until its text comes
        while turn.id not in ended:
            changed.clear()
            await changed.wait()
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        for task in answering:
            task.cancel()
    if isinstance(view, RichView):
        view.thread_total(agent.store.thread_usage(thread_id))
    return EXIT_CODES.get(ended[turn.id], 1)


def threads(workspace: Path, as_json: bool) -> int:
    settings, _ = _settings()
    store = Store.open_default(settings.state_dir)
    found = store.list_threads(str(workspace.resolve()))
    if as_json:
        for thread in found:
            print(json.dumps(thread.to_wire(), separators=(",", ":")))
        return 0
    if not found:
        print(f"No threads yet in {workspace.resolve()}. Start one with: agent-lsp ask \"...\"")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None)
    table.add_column("id", no_wrap=True, min_width=max(len(t.id) for t in found))  # never cut off
    table.add_column("title", overflow="fold", ratio=1)
    table.add_column("updated", no_wrap=True, overflow="ellipsis")
    table.add_column("status", no_wrap=True)
    for thread in found:
        table.add_row(thread.id, thread.title, thread.updated_at, thread.status)
    Console().print(table)
    return 0


def show(workspace: Path, thread_id: str, as_json: bool) -> int:
    """One thread as it happened: its events drawn again (the user's messages, the agent's text,
    each tool with its diff or bounded command output, approvals and who answered, refusals with
    their reason, interruptions and failures, each turn's usage and cost), then the thread's
    totals. ``--json`` prints the thread's items, one per line."""
    settings, _ = _settings()
    store = Store.open_default(settings.state_dir)
    try:
        thread = find_thread(store.list_threads(str(workspace.resolve())), thread_id, workspace.resolve())
    except ThreadNotFound as exc:
        return _fail(str(exc))
    assert thread is not None
    if as_json:
        for item in store.items(thread.id):
            print(json.dumps(item.to_wire(), separators=(",", ":")))
        return 0
    from agent_cli.view import RichView

    view = RichView(history=True, reasons=refusal_reasons(store.messages(thread.id)))
    view.console.print(f"[bold]{thread.id}[/bold]  {thread.title}  [dim]({thread.updated_at})[/dim]",
                       soft_wrap=True)
    for event in store.events_after(thread.id, 0):
        view.on_event(event)
    view.thread_total(store.thread_usage(thread.id))
    return 0


def refusal_reasons(messages: list[dict[str, object]]) -> Callable[[Item], str | None]:
    """Why a declined item was refused, read from the transcript (the tool result the model got):
    the user's reason, or the rule's or the mode's message."""
    calls: dict[str, tuple[str, dict[str, object]]] = {}
    refusals: list[tuple[str, dict[str, object], str]] = []
    for message in messages:
        for block in message.get("content") or []:  # type: ignore[union-attr]
            if not isinstance(block, dict):
                continue
            if block.get("type") == "tool_use":
                calls[str(block.get("id"))] = (str(block.get("name")), dict(block.get("input") or {}))
            elif block.get("type") == "tool_result" and block.get("is_error"):
                content = block.get("content")
                text = content if isinstance(content, str) else " ".join(
                    str(part.get("text", "")) for part in content or [] if isinstance(part, dict))
                name, given = calls.get(str(block.get("tool_use_id")), ("", {}))
                refusals.append((name, given, text))

    def matches(item: Item, name: str, given: dict[str, object]) -> bool:
        if isinstance(item, CommandExecutionItem):
            return given.get("command") == item.command
        if isinstance(item, FileChangeItem):
            path = str(given.get("path", ""))
            return bool(path) and any(path == c.path or path.endswith("/" + c.path) for c in item.changes)
        return name == getattr(item, "tool", None) and given == getattr(item, "input", None)

    def reason(item: Item) -> str | None:
        for index, (name, given, text) in enumerate(refusals):
            if matches(item, name, given):
                del refusals[index]
                if "Their reason: " in text:
                    return "by the user: " + text.split("Their reason: ", 1)[1]
                return "by the user, no reason given" if "They gave no reason" in text else text
        return None

    return reason


def compact(workspace: Path, thread_id: str, instructions: str | None) -> int:
    """Compact a thread's context now; prints the summary and the context before and after."""
    settings, errors = _settings()
    for error in errors:
        print(f"agent-lsp: {error}", file=sys.stderr)
    if not api_key_present():
        return _fail(NO_KEY_MESSAGE, 1)
    return asyncio.run(_compact(workspace, thread_id, instructions, settings))


async def _compact(workspace: Path, thread_id: str, instructions: str | None, settings: Settings) -> int:
    from agent import Harness, NothingToCompact, TurnBusy
    from agent_cli.view import RichView

    harness = Harness(Workspace(workspace), Store.open_default(settings.state_dir), settings)
    harness.on_event(RichView().on_event)
    try:
        thread = find_thread(harness.list_threads(), thread_id, workspace)
        assert thread is not None
        handle = harness.compact(thread.id, instructions)
    except ThreadNotFound as exc:
        return _fail(str(exc))
    except (NothingToCompact, TurnBusy) as exc:
        return _fail(str(exc), 1)
    report = await handle.result()
    return EXIT_CODES.get(report.status, 1)
