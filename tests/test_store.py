"""The thread store's contract: numbered, durable, ordered, shared safely between processes."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from agent.events import (
    ItemCompletedEvent,
    ItemDeltaEvent,
    ItemStartedEvent,
    TurnCompletedEvent,
    TurnStartedEvent,
)
from agent.protocol import AgentMessageItem, Turn, Usage
from agent.store.sqlite import Store


def test_thread_starts_at_seq_one_and_seq_grows_by_one(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    started = store.create_thread("/ws", "First")
    assert started.seq == 1 and started.thread.last_seq == 1
    thread_id = started.thread_id
    turn = Turn(id="turn_1", thread_id=thread_id)
    seqs = [store.append(TurnStartedEvent(thread_id=thread_id, turn=turn)).seq]
    item = AgentMessageItem(id="itm_1")
    seqs.append(store.append(ItemStartedEvent(thread_id=thread_id, turn_id=turn.id, item=item)).seq)
    for piece in ("Hel", "lo"):
        seqs.append(store.append(ItemDeltaEvent(thread_id=thread_id, turn_id=turn.id, item_id="itm_1", text=piece)).seq)
    assert seqs == [2, 3, 4, 5]
    assert store.get_thread(thread_id).last_seq == 5
    assert store.get_thread(thread_id).status == "running"
    # an unfinished item shows what has streamed so far
    assert store.items(thread_id)[0].text == "Hello"
    done = item.model_copy(update={"status": "completed", "text": "Hello"})
    store.append(ItemCompletedEvent(thread_id=thread_id, turn_id=turn.id, item=done))
    store.append(TurnCompletedEvent(thread_id=thread_id, turn=turn.model_copy(update={"status": "completed"}), usage=Usage()))
    assert [i.to_wire() for i in store.items(thread_id)] == [done.to_wire()]
    assert store.get_thread(thread_id).status == "idle"
    assert store.running_turns() == []


def test_events_after_replays_in_order_and_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = Store(path)
    thread_id = store.create_thread("/ws", "T").thread_id
    for i in range(10):
        store.append(ItemDeltaEvent(thread_id=thread_id, turn_id="t", item_id="x", text=str(i)))
    store.close()
    reopened = Store(path)
    after = reopened.events_after(thread_id, 4)
    assert [e.seq for e in after] == list(range(5, 12))
    assert [e.text for e in after] == [str(i) for i in range(3, 10)]
    assert reopened.events_after(thread_id, 11) == []


def test_threads_belong_to_their_workspace_newest_first(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    a = store.create_thread("/ws/a", "A1").thread_id
    store.create_thread("/ws/b", "B1")
    a2 = store.create_thread("/ws/a", "A2").thread_id
    assert [t.id for t in store.list_threads("/ws/a")] == [a2, a]
    store.append(ItemDeltaEvent(thread_id=a, turn_id="t", item_id="x", text="bump"))
    assert [t.id for t in store.list_threads("/ws/a")] == [a, a2]
    assert store.thread_workspace(a) == "/ws/a"


def test_transcript_appends_atomically_in_order(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    thread_id = store.create_thread("/ws", "T").thread_id
    store.append_messages(thread_id, "turn_1", [{"role": "user", "content": "hi"}])
    store.append_messages(thread_id, "turn_1", [{"role": "assistant", "content": [{"type": "text", "text": "yo"}]},
                                               {"role": "user", "content": "more"}])
    assert [m["role"] for m in store.messages(thread_id)] == ["user", "assistant", "user"]


def _writer(path: str, thread_id: str, tag: str, count: int) -> None:
    store = Store(Path(path))
    for i in range(count):
        store.append(ItemDeltaEvent(thread_id=thread_id, turn_id="t", item_id="x", text=f"{tag}{i}"))
    store.close()


def test_two_processes_never_duplicate_or_skip_a_seq(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    store = Store(path)
    thread_id = store.create_thread("/ws", "T").thread_id
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), thread_id, tag, 150)) for tag in "ab"]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    events = store.events_after(thread_id, 0)
    assert [e.seq for e in events] == list(range(1, 302))
    texts = [e.text for e in events[1:]]
    assert sorted(texts) == sorted([f"a{i}" for i in range(150)] + [f"b{i}" for i in range(150)])
    # each writer's own events stay in its order
    assert [t for t in texts if t.startswith("a")] == [f"a{i}" for i in range(150)]
    assert store.get_thread(thread_id).last_seq == 301


def test_a_turn_cannot_start_while_a_live_process_runs_one(tmp_path: Path) -> None:
    from agent.store.sqlite import owner_alive, process_identity

    mine = Store(tmp_path / "s.db")
    thread_id = mine.create_thread("/ws", "T").thread_id
    other = Store(tmp_path / "s.db", owner=process_identity(1))  # pid 1: alive, not us
    first = other.begin_turn(TurnStartedEvent(thread_id=thread_id, turn=Turn(id="turn_a", thread_id=thread_id)),
                             owner_alive)
    assert not isinstance(first, str) and first.seq == 2
    refused = mine.begin_turn(TurnStartedEvent(thread_id=thread_id, turn=Turn(id="turn_b", thread_id=thread_id)),
                              owner_alive)
    assert refused == "turn_a"
    assert owner_alive("999999999:1") is False and owner_alive(mine.owner) is True
    # once the other process is gone, a new turn may start
    after = mine.begin_turn(TurnStartedEvent(thread_id=thread_id, turn=Turn(id="turn_c", thread_id=thread_id)),
                            lambda owner: owner != other.owner)
    assert isinstance(after, TurnStartedEvent) and after.seq == 3
