"""The test kit itself (agent/testing/kit.py): the scripted model streams like the adapter, refuses
what the API would refuse, reports unused steps; the clock records sleeps; waits wake on events."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agent.model.base import ModelError, ModelRequest
from agent.events import Event
from agent.testing.kit import (
    Broken,
    Fail,
    FakeClock,
    Hold,
    Recorder,
    Reply,
    ScriptedModel,
    Stall,
    text,
    thinking,
    tool_use,
)

TOOLS = [{"name": "read_file", "input_schema": {"type": "object"}}]


class Sink:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def block_started(self, index: int, block_type: str) -> None:
        self.calls.append(("start", index, block_type))

    def text_delta(self, index: int, text: str) -> None:
        self.calls.append(("delta", index, text))

    def block_finished(self, index: int, block: dict[str, Any]) -> None:
        self.calls.append(("finish", index, block["type"]))


def request(messages: list[dict[str, Any]] | None = None) -> ModelRequest:
    return ModelRequest(model="m", max_tokens=100, system="be brief", tools=TOOLS,
                        messages=messages or [{"role": "user", "content": "hi"}])


async def test_a_reply_streams_like_the_adapter_and_is_priced() -> None:
    model = ScriptedModel(Reply([thinking("hmm"), text("Hello world"), tool_use("read_file", {"path": "a"}, "t1")],
                                chunk=5))
    sink = Sink()
    response = await model.stream(request(), sink)
    assert sink.calls == [("start", 0, "thinking"), ("delta", 0, "hmm"), ("finish", 0, "thinking"),
                          ("start", 1, "text"), ("delta", 1, "Hello"), ("delta", 1, " worl"), ("delta", 1, "d"),
                          ("finish", 1, "text"), ("start", 2, "tool_use"), ("finish", 2, "tool_use")]
    assert response.stop_reason == "tool_use" and response.model == "m"
    usage = response.usage  # the adapter's breakpoints put the whole prompt in the cache
    assert usage.input_tokens + usage.cache_creation_tokens > 0 and usage.output_tokens > 0
    assert model.requests[0].body["stream"] is True
    model.assert_valid()
    model.assert_all_used()


async def test_an_invalid_request_is_refused_without_using_a_step() -> None:
    model = ScriptedModel(Reply([text("never")]))
    unanswered = [{"role": "user", "content": "hi"},
                  {"role": "assistant", "content": [tool_use("read_file", {}, "t1")]}]
    with pytest.raises(ModelError) as refused:
        await model.stream(request(unanswered), Sink())
    assert refused.value.kind == "bad_request" and "tool_result" in str(refused.value)
    assert model.pending == 1
    with pytest.raises(AssertionError, match="invalid request"):
        model.assert_valid()
    with pytest.raises(AssertionError, match="never requested"):
        model.assert_all_used()


async def test_failures_breaks_and_stalls_raise_what_the_adapter_raises() -> None:
    model = ScriptedModel(Fail("rate_limit", "slow down", retry_after=3), Broken(Reply([text("abcdefghij")], chunk=4)),
                          Stall(Reply([text("x")]), chunks=None), idle_timeout_s=5)
    with pytest.raises(ModelError) as failed:
        await model.stream(request(), Sink())
    assert (failed.value.kind, failed.value.retry_after) == ("rate_limit", 3)
    sink = Sink()
    with pytest.raises(ModelError) as broken:
        await model.stream(request(), sink)
    assert broken.value.kind == "stream" and sink.calls == [("start", 0, "text"), ("delta", 0, "abcd")]
    with pytest.raises(ModelError, match="stalled for 5 s"):
        await model.stream(request(), Sink())
    with pytest.raises(ValueError, match="not a ModelError kind"):
        Fail("teapot")  # type: ignore[arg-type]


async def test_a_held_stream_finishes_once_released() -> None:
    model = ScriptedModel(Hold(Reply([text("abcdef"), text("gh")], chunk=3)))
    sink = Sink()
    model.release()
    response = await model.stream(request(), sink)
    assert [c for c in sink.calls if c[0] == "delta"] == [("delta", 0, "abc"), ("delta", 0, "def"), ("delta", 1, "gh")]
    assert response.stop_reason == "end_turn"


async def test_nothing_scripted_is_a_violation() -> None:
    model = ScriptedModel()
    with pytest.raises(ModelError, match="nothing scripted"):
        await model.stream(request(), Sink())
    with pytest.raises(AssertionError):
        model.assert_valid()


async def test_the_clock_records_sleeps_and_moves_time() -> None:
    clock = FakeClock(100.0)
    await clock.sleep(2.5)
    await clock.sleep(0)
    assert (clock.time(), clock.sleeps) == (102.5, [2.5, 0])
    with pytest.raises(ValueError, match="negative"):
        await clock.sleep(-1)


class Log:
    def __init__(self) -> None:
        self.subscribers: list[Any] = []

    def subscribe(self, callback: Any) -> Any:
        self.subscribers.append(callback)
        return lambda: self.subscribers.remove(callback)

    def emit(self, event: Any) -> None:
        for callback in self.subscribers:
            callback(event)


class FakeEvent:
    def __init__(self, type: str) -> None:  # noqa: A002
        self.type = type


async def test_the_recorder_wakes_on_events_and_times_out_with_what_it_saw() -> None:
    log = Log()
    recorder = Recorder(log)
    waiting = asyncio.create_task(recorder.until("b", 2))
    for kind in ("a", "b", "a", "b"):
        await asyncio.sleep(0)
        assert not waiting.done()
        log.emit(FakeEvent(kind))
    event: Event = await waiting
    assert event is recorder.events[3]
    with pytest.raises(TimeoutError, match="'a', 'b', 'a', 'b'"):
        await recorder.until("c", timeout=0.01)
    recorder.close()
    assert log.subscribers == []
