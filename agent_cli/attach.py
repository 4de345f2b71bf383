"""``agent-lsp attach THREAD`` and ``agent-lsp host status|stop``: the terminal as a client of the
agent host.

``attach`` joins a thread in the host: it draws the thread so far, then follows it live, and asks
at the terminal every approval that waits (those pending when it joins, and new ones); the host
records "agent-lsp attach" as the client that answered. It follows the running turn to its end,
or with ``--follow`` every later turn too, until Ctrl-C. ``host status`` shows the host of this
state directory; ``host stop`` stops it (its running turns end interrupted).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

from agent import (
    ApprovalRequestedEvent,
    Event,
    HostClient,
    HostMismatch,
    HostPlace,
    RemoteError,
    Settings,
    TurnCompletedEvent,
    default_state_dir,
    host_status,
    stop_host,
)
from agent_cli.view import JsonView, Prompter, RichView

NAME = "agent-lsp attach"


def _fail(message: str, code: int = 2) -> int:
    print(f"agent-lsp: {message}", file=sys.stderr)
    return code


def attach(workspace: Path, thread_id: str, settings: Settings, as_json: bool, follow: bool) -> int:
    return asyncio.run(_attach(workspace, thread_id, settings, as_json, follow))


async def _attach(workspace: Path, thread_id: str, settings: Settings, as_json: bool, follow: bool) -> int:
    from agent_cli.commands import ThreadNotFound, find_thread

    client = HostClient(HostPlace(settings.state_dir or default_state_dir()), workspace, NAME, settings)
    try:
        found = find_thread(client.list_threads(), thread_id, workspace)
    except ThreadNotFound as exc:
        client.close()
        return _fail(str(exc))
    assert found is not None
    thread_id = found.id
    view = JsonView() if as_json else RichView()
    prompter = Prompter()
    done = asyncio.get_running_loop().create_future()
    live = False
    asking: set[asyncio.Task[None]] = set()

    async def answer(approval_id: str, event: ApprovalRequestedEvent | None, approval: object) -> None:
        decision, message = await prompter.ask(approval)  # type: ignore[arg-type]
        try:
            outcome = await client.respond(approval_id, decision, message, "request")
        except RemoteError as exc:
            print(f"agent-lsp: {exc.message}", file=sys.stderr)
            return
        if outcome == "alreadyResolved":
            print("agent-lsp: another surface answered first; this answer changed nothing", file=sys.stderr)

    def ask(approval: object) -> None:
        task = asyncio.ensure_future(answer(getattr(approval, "id"), None, approval))
        asking.add(task)
        task.add_done_callback(asking.discard)

    def on_event(event: Event) -> None:
        if event.thread_id != thread_id:
            return
        view.on_event(event)
        if live and isinstance(event, ApprovalRequestedEvent):
            ask(event.approval)
        if live and isinstance(event, TurnCompletedEvent) and not follow and not done.done():
            done.set_result(event.turn.status)

    client.on_event(on_event)
    try:
        thread, pending = await client.follow(thread_id, 0)
    except HostMismatch as exc:
        return _fail(str(exc), 1)
    live = True
    for approval in pending:  # what waits for an answer now, whoever asked it
        ask(approval)
    if thread.status != "running" and not follow:
        client.close()
        return 0
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, lambda: done.done() or done.set_result("detached"))
    try:
        status = await done
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        for task in asking:
            task.cancel()
        client.close()
    return {"completed": 0, "failed": 1, "interrupted": 130, "detached": 0}.get(status, 1)


def host(action: str, settings: Settings, as_json: bool) -> int:
    return asyncio.run(_host(action, settings, as_json))


async def _host(action: str, settings: Settings, as_json: bool) -> int:
    state_dir = settings.state_dir or default_state_dir()
    if action == "stop":
        stopped = await stop_host(state_dir)
        print(json.dumps({"stopped": stopped}) if as_json else
              ("agent host stopped" if stopped else f"no agent host runs for {state_dir}"))
        return 0
    status = await host_status(state_dir)
    if status is None:
        print(json.dumps({"running": False, "stateDir": str(state_dir)}) if as_json else
              f"no agent host runs for {state_dir} (a client starts one when it needs it)")
        return 1
    if as_json:
        print(json.dumps({"running": True, **status}))
        return 0
    print(f"agent host {status['version']}, pid {status['pid']}, up {status['uptimeSeconds']:.0f} s\n"
          f"  socket:  {status['socket']}\n  log:     {status['log']}\n"
          f"  clients: {', '.join(status['clients']) or 'none'}\n"
          f"  workspaces: {', '.join(status['workspaces']) or 'none'}\n"
          f"  running turns: {len(status['runningTurns'])}")
    return 0
