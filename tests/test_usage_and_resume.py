"""Issue 17: ``turn/usage`` after each model request (cost, cache read share, the reason of a
cache miss), the price table, resume deltas and pages, and the transcript kept in memory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.context.compaction import SUMMARY_MARKER
from agent.config import Settings, apply_options
from agent.model.pricing import Price, cost_usd, price_for
from agent.protocol import Usage
from agent.store.sqlite import Store
from agent.testing.kit import HarnessRecorder, Reply, ScriptedModel, text, tool_use
from agent.context.transcript import Transcript

SUMMARY = "Goal: answer. Done: greeted. Next: wait."


def summarizing(reply: Reply) -> Any:
    """A step that answers a summary request with SUMMARY, and anything else with ``reply``."""
    def step(body: dict[str, Any]) -> Reply:
        last = body["messages"][-1]["content"]
        if any(SUMMARY_MARKER in b.get("text", "") for b in last if isinstance(b, dict)):
            return Reply([text(SUMMARY)])
        return reply
    return step


def usages(srun: HarnessRecorder) -> list[Any]:
    return srun.of_type("turn/usage")


# --- pricing ---------------------------------------------------------------------------------


def test_prices_by_longest_prefix_and_overridable() -> None:
    sonnet = price_for("claude-sonnet-4-5-20250929")
    assert sonnet is not None and (sonnet.input, sonnet.output, sonnet.cache_read, sonnet.cache_write) == (
        3.0, 15.0, 0.3, 3.75)
    assert price_for("claude-opus-4-1-20250805").input == 15.0  # type: ignore[union-attr]
    assert price_for("claude-opus-4-5").input == 5.0  # type: ignore[union-attr]
    assert price_for("gpt-4o") is None
    mine = Price(input=1, output=2, cache_read=0.5, cache_write=4)
    assert price_for("claude-sonnet-4-5", {"claude-sonnet-4-5": mine}) is mine
    assert price_for("claude-sonnet-4-5-x", {"claude-sonnet": mine}) is mine
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000, cache_read_tokens=1_000_000,
                  cache_creation_tokens=1_000_000)
    assert cost_usd(usage, mine) == 7.5
    assert cost_usd(usage, mine, "1h") == pytest.approx(1 + 2 + 0.5 + 6.4)
    assert cost_usd(usage, None) == 0.0


def test_price_and_ttl_settings_are_validated() -> None:
    settings, errors = apply_options(Settings(), {"cacheTtl": "1h", "prices": {
        "my-model": {"input": 1, "output": 2, "cacheRead": 0.1, "cacheWrite": 1.25}}})
    assert not errors and settings.cache_ttl == "1h" and settings.prices["my-model"].cache_write == 1.25
    _, errors = apply_options(Settings(), {"cacheTtl": "2h", "prices": {"m": {"input": 1}}})
    assert len(errors) == 2 and "cacheTtl" in errors[0] and "prices" in errors[1]


# --- turn/usage ------------------------------------------------------------------------------


@pytest.mark.parametrize("settings", [Settings(permission_mode="bypass", model="claude-sonnet-4-5", prices={
    "claude-sonnet-4-5": Price(input=3, output=15, cache_read=0.3, cache_write=3.75)})])
async def test_each_request_reports_usage_cost_and_cache_share(srun: HarnessRecorder,
                                                               scripted: ScriptedModel) -> None:
    scripted.script(Reply([text("Reading."), tool_use("read_file", {"path": "calc.py"})]), Reply([text("Done.")]))
    done = await srun.turn("check calc.py")
    events = usages(srun)
    assert len(events) == len(scripted.requests) == 2
    for event, request in zip(events, scripted.requests):
        assert event.turn_id == done.turn.id and event.cache_miss is None
        assert event.usage.cache_read_tokens == request.usage["cache_read_input_tokens"]
        expected = (event.usage.input_tokens * 3 + event.usage.output_tokens * 15
                    + event.usage.cache_read_tokens * 0.3 + event.usage.cache_creation_tokens * 3.75) / 1e6
        assert event.cost_usd == pytest.approx(expected, abs=1e-8)
    assert events[0].cache_read_share == 0 and events[1].cache_read_share > 0.5  # the second reads the first
    total = events[0].usage.add(events[1].usage)
    assert done.usage == total
    wire = events[1].to_wire()
    assert wire["type"] == "turn/usage" and {"turnId", "usage", "costUsd", "cacheReadShare"} <= set(wire)


async def test_cache_miss_tools_changed(srun: HarnessRecorder, scripted: ScriptedModel) -> None:
    harness = srun.harness
    thread_id = harness.start_thread("t").id
    scripted.script(Reply([text("One.")]), Reply([text("Two.")]))
    await srun.turn("first", thread_id)
    harness.dispatcher.tools.popitem()  # e.g. a tool turned off between turns
    await srun.turn("second", thread_id)
    miss = usages(srun)[-1].cache_miss
    assert miss is not None and miss.reason == "tools" and miss.tokens > 0


async def test_cache_miss_system_changed(srun: HarnessRecorder, scripted: ScriptedModel) -> None:
    harness = srun.harness
    thread_id = harness.start_thread("t").id
    scripted.script(Reply([text("One.")]), Reply([text("Two.")]))
    await srun.turn("first", thread_id)
    harness.store.update_state(thread_id, lambda s: s.model_copy(update={"system": s.system + "\nBe terse."}))
    await srun.turn("second", thread_id)
    miss = usages(srun)[-1].cache_miss
    assert miss is not None and miss.reason == "system"


async def test_cache_miss_model_changed(srun: HarnessRecorder, scripted: ScriptedModel) -> None:
    harness = srun.harness
    thread_id = harness.start_thread("t").id
    scripted.script(Reply([text("One.")]), Reply([text("Two.")]))
    await srun.turn("first", thread_id)
    harness.update_settings(harness.settings.model_copy(update={"model": "claude-haiku-4-5"}))
    await srun.turn("second", thread_id)
    miss = usages(srun)[-1].cache_miss
    assert miss is not None and miss.reason == "model"


async def test_cache_miss_rewritten_by_compaction(srun: HarnessRecorder, scripted: ScriptedModel) -> None:
    harness = srun.harness
    thread_id = harness.start_thread("t").id
    scripted.script(Reply([text("One." * 200)]), summarizing(Reply([text("?")])), Reply([text("Two.")]))
    await srun.turn("first " * 300, thread_id)
    assert (await harness.compact(thread_id).result()).status == "completed"
    assert usages(srun)[-1].cache_miss is None  # the summary request reads the whole prefix
    await srun.turn("second", thread_id)
    miss = usages(srun)[-1].cache_miss
    assert miss is not None and miss.reason == "rewritten" and miss.tokens > 0


@pytest.mark.parametrize("ttl,idle,reason", [("5m", 301.0, "expired"), ("1h", 301.0, None),
                                             ("1h", 3601.0, "expired"), ("5m", 10.0, None)])
async def test_cache_miss_expired_after_idle_longer_than_the_ttl(srun: HarnessRecorder, scripted: ScriptedModel,
                                                                 ttl: str, idle: float, reason: str | None) -> None:
    harness = srun.harness
    harness.update_settings(harness.settings.model_copy(update={"cache_ttl": ttl}))
    thread_id = harness.start_thread("t").id
    now = [1000.0]
    Transcript.load(harness.store, thread_id).watch.clock = lambda: now[0]
    scripted.script(Reply([text("One.")]))
    await srun.turn("first", thread_id)
    now[0] += idle
    first = usages(srun)[-1].usage
    cached = first.cache_read_tokens + first.cache_creation_tokens
    # the API evicted the entry: this request reads nothing and writes it all again
    scripted.script(Reply([text("Two.")], usage={"cache_read_input_tokens": 0}))
    await srun.turn("second", thread_id)
    miss = usages(srun)[-1].cache_miss
    if ttl == "1h":
        assert scripted.requests[-1].body["system"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    if reason is None:
        assert miss is None  # a shortfall with no cause found is not guessed at
    else:
        assert miss is not None and miss.reason == reason and miss.tokens == cached


# --- transcript in memory --------------------------------------------------------------------


async def test_a_loaded_transcript_is_reused_until_the_store_changes(srun: HarnessRecorder,
                                                                    scripted: ScriptedModel) -> None:
    harness = srun.harness
    thread_id = harness.start_thread("t").id
    scripted.script(Reply([text("One.")]), Reply([text("Two.")]))
    await srun.turn("first", thread_id)
    kept = Transcript.load(harness.store, thread_id)
    assert Transcript.load(harness.store, thread_id) is kept and len(kept) == 2
    await srun.turn("second", thread_id)
    assert Transcript.load(harness.store, thread_id) is kept and len(kept) == 4
    # another writer (a second process, a repair) changes the stored transcript: reloaded
    harness.store.append_messages(thread_id, "turn_x", [{"role": "user", "content": [{"type": "text", "text": "x"}]}])
    fresh = Transcript.load(harness.store, thread_id)
    assert fresh is not kept and len(fresh) == 5 and fresh.render()[-1]["content"][-1]["text"] == "x"
    assert [m.wire() for m in fresh.messages] == harness.store.messages(thread_id)


# --- resume: deltas and pages ----------------------------------------------------------------


async def test_resume_after_seq_is_a_delta_and_full_resume_pages(srun: HarnessRecorder,
                                                                 scripted: ScriptedModel) -> None:
    harness = srun.harness
    thread_id = harness.start_thread("t").id
    scripted.script(Reply([text("One.")]), Reply([text("Two.")]))
    await srun.turn("first", thread_id)
    middle = harness.get_thread(thread_id).last_seq
    await srun.turn("second", thread_id)
    full = harness.resume_page(thread_id)
    assert full.items_complete and full.next_after_seq is None
    assert [i["id"] for i in full.items] == [i.id for i in harness.store.items(thread_id)]
    assert [e["seq"] for e in full.events] == list(range(1, full.thread.last_seq + 1))

    delta = harness.resume_page(thread_id, middle)
    assert not delta.items_complete
    assert [i["type"] for i in delta.items] == ["userMessage", "agentMessage"]
    assert delta.items[0]["content"] == [{"type": "text", "text": "second"}] and delta.items[1]["text"] == "Two."
    assert [e["seq"] for e in delta.events] == list(range(middle + 1, full.thread.last_seq + 1))
    typed = harness.resume(thread_id, middle)
    assert not typed.items_complete and [i.id for i in typed.items] == [i["id"] for i in delta.items]
    assert harness.resume_page(thread_id, full.thread.last_seq).items == []

    # pages of 3 events: their union is the full resume, each item once, in its final state
    pages, after = [], 0
    while True:
        page = harness.resume_page(thread_id, after, limit=3)
        pages.append(page)
        assert len(page.events) <= 3
        if page.next_after_seq is None:
            break
        assert not page.items_complete and page.next_after_seq == page.events[-1]["seq"]
        after = page.next_after_seq
    assert [e for p in pages for e in p.events] == full.events
    paged = [i for p in pages for i in p.items]
    assert sorted(paged, key=lambda i: i["id"]) == sorted(full.items, key=lambda i: i["id"])


async def test_a_delta_carries_an_item_still_streaming(tmp_path: Path) -> None:
    from agent.events import ItemDeltaEvent, ItemStartedEvent
    from agent.protocol import AgentMessageItem

    store = Store(tmp_path / "s.db")
    thread = store.create_thread("ws", "t").thread
    store.append(ItemStartedEvent(thread_id=thread.id, turn_id="turn_1", item=AgentMessageItem(id="i1")))
    seen = store.get_thread(thread.id).last_seq
    assert store.resume_page(thread.id, seen).items == []
    store.append(ItemDeltaEvent(thread_id=thread.id, turn_id="turn_1", item_id="i1", text="Hel"))
    store.append(ItemDeltaEvent(thread_id=thread.id, turn_id="turn_1", item_id="i1", text="lo"))
    page = store.resume_page(thread.id, seen)
    assert page.items == [{"type": "agentMessage", "id": "i1", "status": "inProgress", "text": "Hello"}]
    assert [e["type"] for e in page.events] == ["item/delta", "item/delta"]


def test_a_store_made_before_deltas_is_migrated(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    Store(path).close()
    db = sqlite3.connect(path)
    db.executescript("DROP INDEX items_by_change; ALTER TABLE items DROP COLUMN changed_seq; "
                     "ALTER TABLE threads DROP COLUMN transcript_rev;")
    db.execute("INSERT INTO threads (id, workspace, title, created_at, updated_at, last_seq) "
               "VALUES ('thr_1', 'ws', 't', 'x', 'x', 7)")
    db.execute("INSERT INTO items (id, thread_id, turn_id, ord, body) VALUES ('i1', 'thr_1', 'turn_1', 2, "
               "'{\"type\":\"agentMessage\",\"id\":\"i1\",\"status\":\"completed\",\"text\":\"old\"}')")
    db.commit()
    db.close()
    store = Store(path)
    assert [i["id"] for i in store.resume_page("thr_1", 5).items] == ["i1"]  # counts as changed at 7
    assert store.resume_page("thr_1", 7).items == []
    assert store.transcript_revision("thr_1") == 0


def test_thread_resume_params_take_a_limit() -> None:
    from pydantic import ValidationError

    from agent.params import ThreadResumeParams

    assert ThreadResumeParams.model_validate({"threadId": "t", "afterSeq": 4, "limit": 500}).limit == 500
    with pytest.raises(ValidationError):
        ThreadResumeParams.model_validate({"threadId": "t", "limit": 0})


def test_the_public_api_exports_the_usage_event() -> None:
    import agent

    assert agent.TurnUsageEvent.model_fields["type"].default == "turn/usage"


# --- the CLI ---------------------------------------------------------------------------------


def test_the_cli_prints_cost_and_the_cache_miss_reason(fake: Any, root: Path, state_dir: Path) -> None:
    import subprocess

    from editor import agent_lsp_command, server_env

    env = server_env(fake.url, state_dir)

    def ask(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*agent_lsp_command(), "ask", *args], cwd=root, env=env, capture_output=True,
                              text=True, timeout=60)

    from fake_anthropic import Reply as HttpReply, text as http_text

    fake.script(HttpReply([http_text("One.")]), HttpReply([http_text("Two.")]))
    first = ask("--model", "claude-sonnet-4-5", "hello there")
    assert first.returncode == 0, first.stderr
    assert "— done (" in first.stdout and "$0.0" in first.stdout and "thread:" in first.stdout
    assert "cache miss" not in first.stdout
    thread_id = json.loads(subprocess.run([*agent_lsp_command(), "threads", "--json"], cwd=root, env=env,
                                          capture_output=True, text=True, timeout=60).stdout)["id"]
    second = ask("--model", "claude-haiku-4-5", "--thread", thread_id, "and again")
    assert second.returncode == 0, second.stderr
    assert "cache miss: model changed" in second.stdout
    assert "over 2 model requests" in second.stdout
