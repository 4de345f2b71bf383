"""``agent-lsp undo [TURN] [--thread ID] [--json] [--redo]``: undo (or redo) an agent turn's
file changes from the terminal.

The thread is ``--thread`` (an id or a unique prefix), else the one whose turn ``TURN`` names,
else the workspace's last thread; the turn is ``TURN`` (an id or a unique prefix among the
thread's turns that changed files), else the thread's last turn that changed files (with
``--redo``, the last one undone). With the agent host on (the default), the undo runs in the
host, so a file open in an editor is reverted in its buffer; otherwise on disk here. Lines
changed since the agent are kept and reported, never overwritten. Exit status: 0 when every
file was reverted, 1 when some were kept or skipped or the undo failed, 2 for bad arguments.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from agent import (
    Harness,
    HostClient,
    HostMismatch,
    HostPlace,
    LocalAgent,
    RemoteError,
    Store,
    TurnBusy,
    UndoError,
    UnknownThread,
    Workspace,
    default_state_dir,
    resolve_settings,
)
from agent_cli.commands import ThreadNotFound, find_thread

NOT_TRACKED = "Changes made by commands the agent ran are not tracked and were not undone."


def undo(workspace: Path, turn: str | None, thread: str | None, as_json: bool, redo: bool = False) -> int:
    settings, errors = resolve_settings(None)
    for error in errors:
        print(f"agent-lsp: {error}", file=sys.stderr)
    store = Store.open_default(settings.state_dir)
    try:
        try:
            thread_id, turn_id = pick(store, workspace, turn, thread, redo)
        except (ThreadNotFound, UndoError) as exc:
            print(f"agent-lsp: {exc}", file=sys.stderr)
            return 2
        if settings.agent_host:
            place = HostPlace(settings.state_dir or default_state_dir())
            return asyncio.run(_hosted(HostClient(place, workspace, "agent-lsp undo", settings),
                                       thread_id, turn_id, as_json, redo))
        local = LocalAgent(Harness(Workspace(workspace), store, settings))
        return asyncio.run(_run(local, thread_id, turn_id, as_json, redo))
    finally:
        store.close()


def pick(store: Store, workspace: Path, turn: str | None, thread: str | None, redo: bool) -> tuple[str, str | None]:
    """The thread and turn the arguments name (turn None: the harness picks the last one)."""
    threads = store.list_threads(str(workspace))
    if thread is None and turn:
        owners = {c.thread_id for t in threads for c in _changes(store, t.id, turn)}
        if len(owners) == 1:
            thread = owners.pop()
    found = find_thread(threads, thread, workspace)
    if found is None:
        raise ThreadNotFound(f"no thread in {workspace} yet; there is nothing to undo")
    if not turn:
        return found.id, None
    ids = [t for t, _ in store.changed_turns(found.id)]
    matches = [t for t in ids if t == turn] or [t for t in ids if t.startswith(turn)]
    if len(matches) != 1:
        what = "no turn" if not matches else f"{len(matches)} turns"
        raise UndoError(f"{what} of thread {found.id} that changed files matches {turn!r}; give more of the id "
                        f"(turns that changed files: {', '.join(ids) or 'none'})")
    return found.id, matches[0]


def _changes(store: Store, thread_id: str, turn: str) -> list:  # type: ignore[type-arg]
    return [c for t, _ in store.changed_turns(thread_id) if t.startswith(turn) for c in store.turn_changes(t)[:1]]


async def _hosted(client: HostClient, thread_id: str, turn_id: str | None, as_json: bool, redo: bool) -> int:
    try:
        return await _run(client, thread_id, turn_id, as_json, redo)
    finally:
        client.close()


async def _run(agent: LocalAgent | HostClient, thread_id: str, turn_id: str | None, as_json: bool, redo: bool) -> int:
    try:
        results = await (agent.redo_turn if redo else agent.undo_turn)(thread_id, turn_id)
    except (UndoError, TurnBusy, UnknownThread, HostMismatch) as exc:
        print(f"agent-lsp: {exc}", file=sys.stderr)
        return 1
    except RemoteError as exc:
        print(f"agent-lsp: {exc.message}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps({"undone": results}))
    else:
        for result in results:
            reason = f"  ({result['reason']})" if result.get("reason") else ""
            print(f"{result['outcome']:<9} {result['path']}{reason}")
        if not redo:
            print(NOT_TRACKED)
    return 0 if all(r["outcome"] == "reverted" for r in results) else 1
