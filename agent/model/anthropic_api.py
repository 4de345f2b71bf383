"""The Anthropic Messages API adapter: raw SSE events in, ``ModelResponse`` out.

It reads the raw stream (no snapshot accumulation in the SDK's helper), forwards text as it
arrives, assembles tool inputs once per block, and turns every SDK or transport failure into
a classified ``ModelError``. The SDK is imported on first use (``agent.model.sdk_import``: its
re-export packages load lazily); ``prewarm`` does that early in a worker thread so the first
turn does not wait for it.

The body goes to the SDK already serialized (``BodyEncoder``): each message's JSON is kept
from the previous request (the transcript hands out the same dicts until they change), so a
request costs the new messages' encoding plus one join, not a walk and a deep copy of the whole
transcript in the SDK each time.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import deque
from typing import Any

from agent.model.base import NO_KEY_MESSAGE, ModelError, ModelRequest, ModelResponse, StreamSink
from agent.model.sdk_import import import_sdk, sdk_ready
from agent.protocol import Usage


CACHE = {"type": "ephemeral"}
CACHE_1H = {"type": "ephemeral", "ttl": "1h"}


def prewarm() -> None:
    """Import the SDK now (in a worker thread), so the first request does not wait for it."""
    import_sdk()


def request_body(request: ModelRequest) -> dict[str, Any]:
    """The Messages API request for ``request``, with its four prompt-cache breakpoints: the
    system prompt, the last tool, the last message (so the next request reads this prefix)
    and the message two before it (where the previous request ended, so a step that adds more
    than the API's 20-block lookback still reads what the previous request wrote)."""
    mark = CACHE_1H if request.cache_ttl == "1h" else CACHE
    tools = list(request.tools)
    if tools:
        tools[-1] = {**tools[-1], "cache_control": mark}
    messages = list(request.messages)
    for index in (len(messages) - 1, len(messages) - 3):
        if index < 0:
            continue
        content = messages[index]["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
        if blocks:
            blocks[-1] = {**blocks[-1], "cache_control": mark}
            messages[index] = {"role": messages[index]["role"], "content": blocks}
    return {"model": request.model, "max_tokens": request.max_tokens,
            "system": [{"type": "text", "text": request.system, "cache_control": mark}],
            "tools": tools, "messages": messages, "stream": True}


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class BodyEncoder:
    """JSON bytes of a request body, reusing the encoding of every message dict seen in the last
    few requests (by identity: the dicts are the transcript's, never changed in place; a few, so
    turns of several threads sharing one client do not undo each other's reuse)."""

    def __init__(self, keep: int = 4) -> None:
        self._recent: deque[dict[int, tuple[dict[str, Any], str]]] = deque(maxlen=keep)

    def encode(self, body: dict[str, Any]) -> bytes:
        seen: dict[int, tuple[dict[str, Any], str]] = {}
        parts: list[str] = []
        for message in body["messages"]:
            text = None
            for known in self._recent:
                hit = known.get(id(message))
                if hit is not None and hit[0] is message:
                    text = hit[1]
                    break
            if text is None:
                text = _dumps(message)
            seen[id(message)] = (message, text)  # holding the dict keeps its id from being reused
            parts.append(text)
        self._recent.appendleft(seen)
        head = _dumps({key: value for key, value in body.items() if key != "messages"})
        return f'{head[:-1]},"messages":[{",".join(parts)}]}}'.encode()


class AnthropicModel:
    """``ModelClient`` over ``anthropic.AsyncAnthropic``; retries are the loop's job."""

    def __init__(self, *, timeout_s: float = 600.0, idle_timeout_s: float = 90.0) -> None:
        """``idle_timeout_s``: how long the stream may stay silent (setting ``streamIdleTimeout``)."""
        self._client: Any = None
        self._encoder = BodyEncoder()
        self._timeout_s = timeout_s
        self.idle_timeout_s = idle_timeout_s

    def _get_client(self) -> Any:
        if self._client is None:
            if not (os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN")):
                raise ModelError("auth", NO_KEY_MESSAGE)
            anthropic = import_sdk()
            self._client = anthropic.AsyncAnthropic(max_retries=0, timeout=self._timeout_s)
        return self._client

    async def stream(self, request: ModelRequest, sink: StreamSink) -> ModelResponse:
        if not sdk_ready() and (os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN")):
            await asyncio.to_thread(import_sdk)  # still importing (prewarm): wait without blocking the loop
        client = self._get_client()
        anthropic = import_sdk()

        blocks: dict[int, dict[str, Any]] = {}
        json_parts: dict[int, list[str]] = {}
        usage: dict[str, int] = {}
        stop_reason: str | None = None
        model = request.model
        loop = asyncio.get_running_loop()
        stream: Any = None
        incomplete: set[int] = set()
        try:
            # A stream that goes quiet for idle_timeout_s is a stalled stream, not a slow one.
            async with asyncio.timeout(self.idle_timeout_s) as deadline:
                stream = await client.post(
                    "/v1/messages", cast_to=anthropic.types.Message, stream=True,
                    stream_cls=anthropic.AsyncStream[anthropic.types.RawMessageStreamEvent],
                    content=self._encoder.encode(request_body(request)),
                    options={"headers": {"Content-Type": "application/json"}})
                async for event in stream:
                    deadline.reschedule(loop.time() + self.idle_timeout_s)
                    kind = event.type
                    if kind == "content_block_delta":
                        delta = event.delta
                        block = blocks[event.index]
                        if delta.type == "text_delta":
                            block["text"] += delta.text
                            sink.text_delta(event.index, delta.text)
                        elif delta.type == "input_json_delta":
                            json_parts[event.index].append(delta.partial_json)
                        elif delta.type == "thinking_delta":
                            block["thinking"] += delta.thinking
                            sink.text_delta(event.index, delta.thinking)
                        elif delta.type == "signature_delta":
                            block["signature"] = block.get("signature", "") + delta.signature
                    elif kind == "content_block_start":
                        block = event.content_block.model_dump(exclude_none=True)
                        if block["type"] == "tool_use":
                            block["input"] = {}
                            json_parts[event.index] = []
                        blocks[event.index] = block
                        sink.block_started(event.index, block["type"])
                    elif kind == "content_block_stop":
                        block = blocks[event.index]
                        if block["type"] == "tool_use":
                            raw = "".join(json_parts.pop(event.index, []))
                            try:
                                block["input"] = json.loads(raw) if raw.strip() else {}
                            except ValueError:
                                incomplete.add(event.index)  # cut off; fine only at max_tokens
                        sink.block_finished(event.index, block)
                    elif kind == "message_start":
                        model = event.message.model
                        usage.update(_usage_fields(event.message.usage))
                    elif kind == "message_delta":
                        stop_reason = event.delta.stop_reason
                        usage.update(_usage_fields(event.usage))
        except ModelError:
            raise
        except TimeoutError as exc:
            raise ModelError("stream", f"the model stream stalled for {self.idle_timeout_s:g} s") from exc
        except anthropic.APIStatusError as exc:
            raise _classify_status(exc) from exc
        except anthropic.APITimeoutError as exc:
            raise ModelError("timeout", "the model API timed out") from exc
        except anthropic.APIConnectionError as exc:
            raise ModelError("connection", f"could not reach the model API: {exc}") from exc
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError("stream", f"the model stream broke: {exc!r}") from exc
        except Exception as exc:  # httpx2 transport errors are not anthropic errors
            if type(exc).__module__.split(".")[0] in ("httpx2", "httpx", "httpcore", "h11"):
                raise ModelError("stream", f"the model stream broke: {exc!r}") from exc
            raise
        finally:
            if stream is not None:
                await stream.close()
        if stop_reason is None:
            raise ModelError("stream", "the model stream ended before message_stop")
        if incomplete:
            if stop_reason != "max_tokens":
                raise ModelError("stream", "the model sent a tool call with malformed input")
            for index in incomplete:
                del blocks[index]
        return ModelResponse(
            content=_ordered(blocks),
            stop_reason=stop_reason,
            usage=Usage(
                input_tokens=usage.get("input_tokens", 0),
                output_tokens=usage.get("output_tokens", 0),
                cache_read_tokens=usage.get("cache_read_input_tokens", 0),
                cache_creation_tokens=usage.get("cache_creation_input_tokens", 0),
            ),
            model=model,
        )


def _ordered(blocks: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    return [blocks[i] for i in sorted(blocks)]


def _usage_fields(usage: Any) -> dict[str, int]:
    if usage is None:
        return {}
    names = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
    return {n: int(v) for n in names if (v := getattr(usage, n, None)) is not None}


def _classify_status(exc: Any) -> ModelError:
    status = getattr(exc, "status_code", 0)
    error_type = getattr(exc, "type", None) or ""
    message = getattr(exc, "api_message", None) or str(exc)
    retry_after = _retry_after(getattr(exc, "response", None))
    if status == 200:  # an `event: error` frame in the middle of the stream
        return ModelError("stream", f"the model stream failed: {error_type}: {message}")
    if status in (401, 403):
        return ModelError("auth", f"the API key was refused ({status}): {message}. Check ANTHROPIC_API_KEY.")
    if status == 429:
        return ModelError("rate_limit", f"rate limited: {message}", retry_after=retry_after)
    if status == 529 or error_type == "overloaded_error":
        return ModelError("overloaded", f"the model is overloaded: {message}", retry_after=retry_after)
    if status >= 500 or status == 408:
        return ModelError("server", f"the model API failed ({status}): {message}", retry_after=retry_after)
    if "prompt is too long" in message.lower():
        return ModelError("prompt_too_long", message)
    return ModelError("bad_request", f"the model API refused the request ({status}): {message}")


def _retry_after(response: Any) -> float | None:
    if response is None:
        return None
    headers = response.headers
    try:
        if headers.get("retry-after-ms"):
            return float(headers["retry-after-ms"]) / 1000.0
        if headers.get("retry-after"):
            return float(headers["retry-after"])
    except ValueError:
        return None
    return None
