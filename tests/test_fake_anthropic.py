"""The fake Anthropic API, proved against the real ``anthropic`` SDK over 127.0.0.1.

Every other test trusts ``fake_anthropic``: these check that the SDK's streaming helpers,
raw streams, errors and retries behave against it as they do against the real API, and that
each validation rule turns a bad request into a violation and a ``BadRequestError``.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest
import pytest_asyncio

from fake_anthropic import (
    Disconnect, FakeAnthropic, HttpError, Reply, Stall, StreamError, text, thinking, tool_use,
)

pytestmark = pytest.mark.timeout(20)

MODEL = "claude-test"
TOOLS: Any = [{"name": "read_file", "description": "Read a file.",
                                "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}]
HELLO: Any = [{"role": "user", "content": "hi"}]


@pytest.fixture
def server() -> Iterator[FakeAnthropic]:
    """A fake that does not fail teardown: several tests here send invalid requests on purpose."""
    with FakeAnthropic() as fake:
        yield fake


def connect(url: str, max_retries: int = 0) -> anthropic.AsyncAnthropic:
    """The real SDK client; plain HTTP, so skip loading CA certificates (~35 ms a client)."""
    return anthropic.AsyncAnthropic(base_url=url, api_key="test-key", max_retries=max_retries,
                                    http_client=anthropic.DefaultAsyncHttpxClient(verify=False))


@pytest_asyncio.fixture
async def client(server: FakeAnthropic) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with connect(server.url) as sdk:
        yield sdk


async def test_text_streams_in_deltas_and_the_final_message_matches(
        server: FakeAnthropic, client: anthropic.AsyncAnthropic) -> None:
    server.script(Reply([text("Hello there, friend. Nice to see you.")], chunk=5))
    deltas: list[str] = []
    async with client.messages.stream(model=MODEL, max_tokens=64, messages=HELLO) as stream:
        async for event in stream:
            if event.type == "text":
                deltas.append(event.text)
        final = await stream.get_final_message()
    assert len(deltas) == 8 and "".join(deltas) == "Hello there, friend. Nice to see you."
    assert [b.model_dump(exclude_none=True) for b in final.content] == [text("".join(deltas))]
    assert final.stop_reason == "end_turn" and final.model == MODEL
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 1
    [request] = server.requests
    assert request.headers["authorization"] == "Bearer test-key" and request.headers["anthropic-version"]
    assert request.body["stream"] is True and request.body["messages"] == HELLO
    server.assert_valid()


async def test_tool_input_round_trips_through_input_json_deltas_and_back(
        server: FakeAnthropic, client: anthropic.AsyncAnthropic) -> None:
    args = {"path": "src/ünï \"quoted\".py", "lines": [1, 2, 3], "opts": {"deep": None, "ok": True}}
    server.script(Reply([thinking("First, read the file."), text("Let me look."),
                         tool_use("read_file", args, id="toolu_1")], chunk=4),
                  Reply([text("It adds.")]))
    partials: list[str] = []
    kinds: list[str] = []
    async with client.messages.stream(model=MODEL, max_tokens=64, tools=TOOLS, messages=HELLO) as stream:
        async for event in stream:
            kinds.append(event.type)
            if event.type == "input_json":
                partials.append(event.partial_json)
        final = await stream.get_final_message()
    assert len(partials) > 5 and json.loads("".join(partials)) == args
    assert {"thinking", "signature", "text", "input_json"} <= set(kinds)
    assert [b.type for b in final.content] == ["thinking", "text", "tool_use"]
    use = final.content[2]
    assert use.type == "tool_use" and (use.id, use.name, use.input) == ("toolu_1", "read_file", args)
    considered = final.content[0]
    assert considered.type == "thinking" and considered.thinking == "First, read the file."
    assert considered.signature.startswith("sig_") and final.stop_reason == "tool_use"
    history = [*HELLO, {"role": "assistant", "content": final.content},
               {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "1 + 1"}]}]
    answer = await client.messages.create(model=MODEL, max_tokens=64, tools=TOOLS, messages=history)
    assert answer.content[0].type == "text" and answer.content[0].text == "It adds."
    assert server.requests[1].body["messages"][1]["content"][2]["input"] == args
    server.assert_valid()


async def test_raw_stream_events_and_a_plain_create(server: FakeAnthropic, client: anthropic.AsyncAnthropic) -> None:
    server.script(Reply([text("abc")], chunk=2), Reply([text("plain")], stop_reason="max_tokens"))
    raw = await client.messages.create(model=MODEL, max_tokens=64, messages=HELLO, stream=True)
    events = [event.type async for event in raw]
    assert events == ["message_start", "content_block_start", "content_block_delta", "content_block_delta",
                      "content_block_stop", "message_delta", "message_stop"]  # ping is swallowed by the SDK
    plain = await client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)
    assert plain.content[0].type == "text" and plain.content[0].text == "plain"
    assert plain.stop_reason == "max_tokens" and "stream" not in server.requests[1].body


def answered(tool_id: str = "toolu_1", **result: Any) -> Any:
    return [{"role": "user", "content": "read it"},
            {"role": "assistant", "content": [tool_use("read_file", {"path": "a"}, id=tool_id)]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": "ok", **result}]}]


def with_messages(messages: list[dict[str, Any]]) -> Callable[[dict[str, Any]], None]:
    return lambda kw: kw.__setitem__("messages", messages)


def marked(n: int) -> Callable[[dict[str, Any]], None]:
    def apply(kw: dict[str, Any]) -> None:
        kw["system"] = [{"type": "text", "text": f"rule {i}", "cache_control": {"type": "ephemeral"}}
                        for i in range(n)]
    return apply


INVALID: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "no-auth": (lambda kw: kw.__setitem__("extra_headers", {"authorization": anthropic.omit}), "x-api-key"),
    "no-version": (lambda kw: kw.__setitem__("extra_headers", {"anthropic-version": anthropic.omit}),
                   "anthropic-version is required"),
    "empty-model": (lambda kw: kw.__setitem__("model", ""), "model: must be a non-empty string"),
    "zero-max-tokens": (lambda kw: kw.__setitem__("max_tokens", 0), "max_tokens: must be a positive integer"),
    "no-messages": (with_messages([]), "messages: must be a non-empty list"),
    "bad-role": (with_messages([{"role": "tool", "content": "x"}]), "messages.0.role"),
    "assistant-first": (with_messages([{"role": "assistant", "content": "x"}]), "first message must use the user"),
    "empty-string": (with_messages([{"role": "user", "content": ""}]), "non-whitespace"),
    "empty-list": (with_messages([{"role": "user", "content": []}]), "non-empty list of blocks"),
    "blank-text": (with_messages([{"role": "user", "content": [text("  \n")]}]), "non-whitespace text"),
    "unknown-block": (with_messages([{"role": "user", "content": [{"type": "bogus"}]}]), "unknown content block"),
    "duplicate-id": (with_messages([*answered("toolu_1"), *answered("toolu_1")[1:]]), "ids must be unique"),
    "trailing-tool-use": (with_messages(answered()[:2]), "never answered"),
    "result-not-first": (with_messages([*answered()[:2], {"role": "user", "content": [
        text("and"), {"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]}]), "must come first"),
    "result-missing": (with_messages([*answered()[:2], {"role": "user", "content": "no result"}]),
                       "without tool_result"),
    "result-for-unknown-id": (with_messages(answered()[:1] + [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_9", "content": "x"}]}]), "unexpected tool_use_id"),
    "system-between": (with_messages([*answered()[:2], {"role": "system", "content": "note"}, answered()[2]]),
                       "is a 'system' message"),
    "unknown-tool": (lambda kw: kw.__setitem__("tools", [{**TOOLS[0], "name": "write_file"}]), "not in the request's"),
    "tool-without-schema": (lambda kw: kw.__setitem__("tools", [{"name": "read_file"}]), "input_schema: required"),
    "five-breakpoints": (marked(5), "maximum of 4 blocks with cache_control"),
    "result-content-number": (with_messages(answered(content=7)), "must be a string or a list"),
    "is-error-not-bool": (with_messages(answered(is_error="yes")), "is_error: must be a boolean"),
}


@pytest.mark.parametrize("name", list(INVALID))
async def test_each_rule_turns_a_bad_request_into_a_violation_and_a_400(
        name: str, server: FakeAnthropic, client: anthropic.AsyncAnthropic) -> None:
    mutate, expected = INVALID[name]
    kwargs: dict[str, Any] = {"model": MODEL, "max_tokens": 64, "tools": TOOLS, "messages": answered()}
    mutate(kwargs)
    server.script(Reply([text("never sent")]))
    with pytest.raises(anthropic.BadRequestError) as caught:
        await client.messages.create(**kwargs)
    assert caught.value.type == "invalid_request_error" and expected in str(caught.value.api_message)
    assert server.violations and all(v.startswith("request #0: ") for v in server.violations)
    assert any(expected in v for v in server.violations)
    assert server.pending == 1  # the step was not consumed
    with pytest.raises(AssertionError, match="invalid request"):
        server.assert_valid()


async def test_valid_edge_cases_pass(server: FakeAnthropic, client: anthropic.AsyncAnthropic) -> None:
    system_note = {"role": "system", "content": [text("The user switched branches.")]}
    messages = [*answered(is_error=True), {"role": "assistant", "content": "noted"}, system_note,
                {"role": "user", "content": [{"type": "text", "text": "go", "cache_control": {"type": "ephemeral"}}]}]
    server.script(Reply([text("ok")]))
    await client.messages.create(model=MODEL, max_tokens=64, tools=TOOLS, messages=messages,
                                 system=[{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}])
    server.assert_valid()


async def test_an_unscripted_request_is_a_500_that_is_not_retried(server: FakeAnthropic) -> None:
    async with connect(server.url, max_retries=2) as sdk:
        with pytest.raises(anthropic.InternalServerError):
            await sdk.messages.create(model=MODEL, max_tokens=64, messages=HELLO)
    assert len(server.requests) == 1 and server.violations == ["unexpected request #0: nothing scripted"]


async def test_overload_is_retried_by_the_sdk_then_succeeds(server: FakeAnthropic) -> None:
    server.script(HttpError(529, "overloaded_error", "Overloaded", retry_after=0.01), Reply([text("made it")]))
    async with connect(server.url, max_retries=1) as sdk:
        async with sdk.messages.stream(model=MODEL, max_tokens=64, messages=HELLO) as stream:
            assert await stream.get_final_text() == "made it"
    assert [r.headers["x-stainless-retry-count"] for r in server.requests] == ["0", "1"]
    assert server.requests[0].usage == {} and server.requests[1].usage["input_tokens"] > 0
    server.assert_valid()


async def test_an_http_error_carries_type_message_and_request_id(
        server: FakeAnthropic, client: anthropic.AsyncAnthropic) -> None:
    server.script(HttpError(400, "invalid_request_error", "prompt is too long: 250000 tokens > 200000 maximum"))
    with pytest.raises(anthropic.BadRequestError) as caught:
        await client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)
    error = caught.value
    assert error.type == "invalid_request_error" and str(error.api_message).startswith("prompt is too long")
    assert error.request_id and error.request_id == error.body["request_id"]  # type: ignore[index]
    assert server.violations == []


async def test_a_stream_error_frame_raises_an_api_status_error(
        server: FakeAnthropic, client: anthropic.AsyncAnthropic) -> None:
    server.script(StreamError(Reply([text("This answer will break halfway through.")]), after_frames=5))
    seen: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as caught:
        async with client.messages.stream(model=MODEL, max_tokens=64, messages=HELLO) as stream:
            async for event in stream:
                if event.type == "text":
                    seen.append(event.text)
    assert "".join(seen) == "This answer wi"  # frames: start, block start, ping, two deltas
    assert not isinstance(caught.value, anthropic.OverloadedError) and caught.value.status_code == 200
    assert caught.value.type == "overloaded_error"
    assert caught.value.body == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


async def test_a_disconnect_mid_body_raises_instead_of_hanging(
        server: FakeAnthropic, client: anthropic.AsyncAnthropic) -> None:
    server.script(Disconnect(Reply([text("cut off in the middle of it")]), after_frames=4),
                  Disconnect(Reply([text("x")]), after_frames=0))
    seen: list[str] = []
    with pytest.raises(Exception) as caught:  # noqa: PT011 - the SDK lets the transport error through
        async with asyncio.timeout(5), client.messages.stream(model=MODEL, max_tokens=64, messages=HELLO) as stream:
            async for event in stream:
                if event.type == "text":
                    seen.append(event.text)
    assert seen == ["cut off"] and not isinstance(caught.value, (TimeoutError, anthropic.APIStatusError))
    assert type(caught.value).__name__ == "RemoteProtocolError"
    with pytest.raises(anthropic.APIConnectionError):  # not streaming: no response at all
        await client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)


async def test_a_stall_holds_the_stream_until_released(server: FakeAnthropic,
                                                        client: anthropic.AsyncAnthropic) -> None:
    server.script(Stall(Reply([text("before and after the stall")], chunk=10), after_frames=4))
    seen: list[str] = []

    async def consume() -> str:
        async with client.messages.stream(model=MODEL, max_tokens=64, messages=HELLO) as stream:
            async for event in stream:
                if event.type == "text":
                    seen.append(event.text)
            return (await stream.get_final_message()).content[0].text  # type: ignore[union-attr]

    task = asyncio.create_task(consume())
    await asyncio.to_thread(server.wait_for_stall, 5)
    async with asyncio.timeout(5):
        while not seen:  # the frames sent before the stall reach the caller...
            await asyncio.sleep(0.005)
    done, _ = await asyncio.wait({task}, timeout=0.05)
    assert not done and seen == ["before and"]  # ...and then nothing more
    server.release_stalls()
    assert await asyncio.wait_for(task, 5) == "before and after the stall"


async def test_stopping_the_server_ends_a_stall(server: FakeAnthropic, client: anthropic.AsyncAnthropic) -> None:
    server.script(Stall(Reply([text("never finished")]), after_frames=3))
    task = asyncio.create_task(client.messages.create(model=MODEL, max_tokens=64, messages=HELLO, stream=True))
    stream = await asyncio.wait_for(task, 5)
    await asyncio.to_thread(server.wait_for_stall, 5)
    server.stop()
    with pytest.raises(Exception):  # noqa: PT011, B017 - a transport error from httpx2
        await asyncio.wait_for(asyncio.ensure_future(_drain(stream)), 5)


async def _drain(stream: Any) -> None:
    async for _ in stream:
        pass


def cached_request(*turns: str) -> dict[str, Any]:
    """A request with a cached system prompt and a moving breakpoint on the last user turn."""
    messages: list[dict[str, Any]] = []
    for i, turn in enumerate(turns):
        if i:
            messages.append({"role": "assistant", "content": f"reply {i}"})
        messages.append({"role": "user", "content": [text(turn)]})
    messages[-1]["content"][0]["cache_control"] = {"type": "ephemeral"}
    system = [{"type": "text", "text": "You are careful. " * 50, "cache_control": {"type": "ephemeral"}}]
    return {"model": MODEL, "max_tokens": 64, "system": system, "tools": TOOLS, "messages": messages}


async def test_prompt_caching_is_simulated(server: FakeAnthropic, client: anthropic.AsyncAnthropic) -> None:
    server.script(*[Reply([text("ok")]) for _ in range(4)])
    first = (await client.messages.create(**cached_request("what does add do?"))).usage
    again = (await client.messages.create(**cached_request("what does add do?"))).usage
    assert first.cache_creation_input_tokens > 0 and first.cache_read_input_tokens == 0
    assert again.cache_read_input_tokens == first.cache_creation_input_tokens and again.cache_creation_input_tokens == 0
    assert server.requests[1].usage["cache_read_input_tokens"] == again.cache_read_input_tokens
    longer = (await client.messages.create(**cached_request("what does add do?", "and now?"))).usage
    assert longer.cache_read_input_tokens == first.cache_creation_input_tokens  # the moving breakpoint hits
    assert longer.cache_creation_input_tokens > 0
    other_model = (await client.messages.create(**{**cached_request("what does add do?"), "model": "other"})).usage
    assert other_model.cache_read_input_tokens == 0
    counted = await client.messages.count_tokens(**{k: v for k, v in cached_request("what does add do?").items()
                                                    if k != "max_tokens"})
    assert counted.input_tokens == first.input_tokens + first.cache_creation_input_tokens
    server.assert_valid()


async def test_a_scripted_callable_sees_the_request(server: FakeAnthropic, client: anthropic.AsyncAnthropic) -> None:
    server.script(lambda body: Reply([text(f"you said {body['messages'][-1]['content']}")]))
    answer = await client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)
    assert answer.content[0].type == "text" and answer.content[0].text == "you said hi"
    await asyncio.to_thread(server.wait_for_requests, 1, 1)
    with pytest.raises(TimeoutError):
        server.wait_for_requests(2, timeout=0.01)


def test_unknown_paths_are_404_json(server: FakeAnthropic) -> None:
    connection = http.client.HTTPConnection(server.url.removeprefix("http://"), timeout=5)
    connection.request("GET", "/v1/models")
    response = connection.getresponse()
    body = json.loads(response.read())
    assert response.status == 404 and body["error"]["type"] == "not_found_error"
    assert response.getheader("request-id") == body["request_id"]
    connection.close()


def test_x_api_key_auth_count_tokens_and_a_malformed_body(server: FakeAnthropic) -> None:
    connection = http.client.HTTPConnection(server.url.removeprefix("http://"), timeout=5)
    headers = {"x-api-key": "k", "anthropic-version": "2023-06-01", "content-type": "application/json"}
    connection.request("POST", "/v1/messages/count_tokens", json.dumps({"model": MODEL, "messages": HELLO}), headers)
    response = connection.getresponse()
    assert response.status == 200 and json.loads(response.read())["input_tokens"] > 0
    connection.request("POST", "/v1/messages", b"{not json", headers)
    response = connection.getresponse()
    assert response.status == 400 and response.getheader("x-should-retry") == "false"
    assert json.loads(response.read())["error"]["type"] == "invalid_request_error"
    assert server.violations == ["request #0: body: must be a JSON object"] and len(server.requests) == 1
    connection.close()


async def test_main_serves_a_json_script_until_sigterm(tmp_path: Path) -> None:
    script = tmp_path / "steps.json"
    script.write_text(json.dumps([
        {"reply": {"content": ["Hello from a script.", {"type": "tool_use", "name": "read_file", "input": {}}]}},
        {"http_error": {"status": 400, "error_type": "invalid_request_error", "message": "nope"}},
    ]))
    port_file = tmp_path / "port"
    command = [sys.executable, str(Path(__file__).with_name("fake_anthropic.py")),
               "--script", str(script), "--port-file", str(port_file)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while not port_file.exists() and time.monotonic() < deadline and process.poll() is None:
            await asyncio.sleep(0.01)
        async with connect(port_file.read_text()) as sdk:
            async with sdk.messages.stream(model=MODEL, max_tokens=64, tools=TOOLS, messages=HELLO) as stream:
                final = await stream.get_final_message()
            with pytest.raises(anthropic.BadRequestError):
                await sdk.messages.create(model=MODEL, max_tokens=64, messages=HELLO)
            with pytest.raises(anthropic.InternalServerError):  # the script is used up
                await sdk.messages.create(model=MODEL, max_tokens=64, messages=HELLO)
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=10)
    assert [b.type for b in final.content] == ["text", "tool_use"] and final.stop_reason == "tool_use"
    assert process.returncode == 1 and stdout == ""
    assert stderr.strip() == "unexpected request #2: nothing scripted"


def test_main_exits_zero_when_every_request_was_valid(tmp_path: Path) -> None:
    (tmp_path / "steps.json").write_text("[]")
    port_file = tmp_path / "port"
    process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("fake_anthropic.py")), "--script",
                                str(tmp_path / "steps.json"), "--port-file", str(port_file)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while not port_file.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.01)
    assert port_file.read_text().startswith("http://127.0.0.1:")
    process.send_signal(signal.SIGTERM)
    assert process.communicate(timeout=10) == ("", "") and process.returncode == 0
