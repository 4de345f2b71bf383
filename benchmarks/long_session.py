"""A long session against a fake with a small context window: does compaction hold up?

A scripted session of TURNS turns and TURNS * CALLS tool calls (file reads, a todo list kept
up to date) runs through the real harness, the real SDK and the project's fake Anthropic API
(HTTP + SSE, prompt-cache accounting, a context window that refuses requests over it, as the
real API does). The fake answers every summary request with a short handoff summary. It prints:
requests refused as too long (overflows), compactions, the context after compaction as a share of
before (median and worst), the share of all input tokens read from the prompt cache and of the
summary requests' input alone, whether every todo list and every user message came through each
compaction intact, and the harness's own milliseconds per compaction (its wall time minus the
summary request's). Figures only, no assertions.

    .venv/bin/python benchmarks/long_session.py [TURNS] [CALLS] [WINDOW]
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fake_anthropic import FakeAnthropic, Reply, text, tool_use  # noqa: E402

from agent.model.anthropic_api import AnthropicModel  # noqa: E402
from agent.context.compaction import SUMMARY_MARKER  # noqa: E402
from agent.config import Settings  # noqa: E402
from agent.engine.harness import Harness  # noqa: E402
from agent.engine.loop import TurnRunner  # noqa: E402
from agent.model.base import ModelRequest, ModelResponse, StreamSink  # noqa: E402
from agent.protocol import TextPart  # noqa: E402
from agent.store.sqlite import Store  # noqa: E402
from agent.files.workspace import Workspace  # noqa: E402

FILES = 60
SUMMARY = ("Goal: read the workspace's files turn by turn as the user asks. Done: the files of the earlier "
           "turns are read. In progress: this turn's files. Next: the remaining reads, then a one-line report. ")


class Session:
    """The scripted model's side: a plan of actions per turn, and the summaries it writes."""

    def __init__(self, turns: int, calls: int) -> None:
        self.turns, self.calls = turns, calls
        self.turn = 0
        self.step = 0
        self.summary_bodies: list[dict[str, Any]] = []

    def reply(self, body: dict[str, Any]) -> Reply:
        last = body["messages"][-1]["content"]
        if any(SUMMARY_MARKER in block.get("text", "") for block in last if isinstance(block, dict)):
            self.summary_bodies.append(body)
            return Reply([text(SUMMARY * 3)])
        step, self.step = self.step, self.step + 1
        if step == 0:
            todos = [{"content": f"turn {self.turn}: read {self.calls - 1} files", "status": "in_progress"},
                     {"content": f"turn {self.turn}: report", "status": "pending"}]
            return Reply([tool_use("todo_write", {"todos": todos})])
        if step < self.calls:
            name = f"src/module{(self.turn * self.calls + step) % FILES}.py"
            return Reply([text(f"Reading {name}."), tool_use("read_file", {"path": name})])
        self.step = 0
        self.turn += 1
        return Reply([text(f"Turn {self.turn - 1} done: read {self.calls - 1} files.")])


class TimedModel:
    """The real adapter, timing its summary requests (to subtract them from compaction time)."""

    def __init__(self) -> None:
        self.inner = AnthropicModel()
        self.summary_seconds = 0.0

    async def stream(self, request: ModelRequest, sink: StreamSink) -> ModelResponse:
        started = time.perf_counter()
        try:
            return await self.inner.stream(request, sink)
        finally:
            last = request.messages[-1]["content"]
            if any(SUMMARY_MARKER in b.get("text", "") for b in last if isinstance(b, dict)):
                self.summary_seconds += time.perf_counter() - started


def workspace() -> Path:
    root = Path(tempfile.mkdtemp()) / "ws"
    (root / "src").mkdir(parents=True)
    for i in range(FILES):
        body = "".join(f"def function_{i}_{n}(value):\n    return value * {n} + {i}  # step {n}\n\n" for n in range(24))
        (root / "src" / f"module{i}.py").write_text(body)
    return root


async def main(turns: int, calls: int, window: int) -> None:
    import os

    session = Session(turns, calls)
    with FakeAnthropic() as fake:
        fake.context_window = window
        fake.script(*[session.reply] * (turns * (calls + 1) + 200))
        os.environ.update(ANTHROPIC_BASE_URL=fake.url, ANTHROPIC_API_KEY="bench-key")
        root = workspace()
        model = TimedModel()
        settings = Settings(permission_mode="bypass", context_window=window, max_tokens=2048)
        harness = Harness(Workspace(root), Store(root.parent / "s.db"), settings, model=model)
        compaction_seconds: list[float] = []
        original = TurnRunner._compact

        async def timed(self: TurnRunner, reason: str) -> None:
            started, model_before = time.perf_counter(), model.summary_seconds
            await original(self, reason)
            compaction_seconds.append(time.perf_counter() - started - (model.summary_seconds - model_before))

        TurnRunner._compact = timed  # type: ignore[method-assign]
        thread_id = harness.start_thread("long session").id
        prompts: list[str] = []
        started = time.perf_counter()
        for turn in range(turns):
            prompts.append(f"t{turn}: read {calls - 1} files")
            await harness.start_turn(thread_id, [TextPart(text=prompts[-1])]).result()
        elapsed = time.perf_counter() - started
        await harness.shutdown()
        report(fake, session, harness, thread_id, prompts, compaction_seconds, elapsed, turns, calls, window)


def report(fake: FakeAnthropic, session: Session, harness: Harness, thread_id: str, prompts: list[str],
           compaction_seconds: list[float], elapsed: float, turns: int, calls: int, window: int) -> None:
    events = harness.store.events_after(thread_id)
    compacted = [e for e in events if e.type == "thread/compacted"]
    shares = [e.tokens_after / e.tokens_before for e in compacted]
    completed = [e for e in events if e.type == "turn/completed"]
    tool_calls = sum(1 for e in events if e.type == "item/started" and e.item.type in ("toolCall", "todoList"))
    usage = [r.usage for r in fake.requests if r.usage]
    total_in = sum(u["input_tokens"] + u["cache_read_input_tokens"] + u["cache_creation_input_tokens"] for u in usage)
    read = sum(u["cache_read_input_tokens"] for u in usage)
    summary_shares = []
    for r in fake.requests:
        if r.usage and r.body in session.summary_bodies:
            u = r.usage
            summary_shares.append(u["cache_read_input_tokens"] /
                                  (u["input_tokens"] + u["cache_read_input_tokens"] + u["cache_creation_input_tokens"]))
    intact_todos, intact_users, kept_users = check_reinjection(fake, session, prompts)
    print(f"session: {turns} turns, {tool_calls} tool calls, window {window} tokens, {len(fake.requests)} requests, "
          f"{elapsed:.1f} s; turns completed: {sum(e.turn.status == 'completed' for e in completed)}/{turns}")
    print(f"overflows (requests refused as too long): {len(fake.overflows)}")
    print(f"compactions: {len(compacted)}")
    if shares:
        print(f"context after/before compaction: median {statistics.median(shares):.1%}, worst {max(shares):.1%}")
    print(f"cache read share of all input tokens: {read / max(total_in, 1):.1%}")
    if summary_shares:
        print(f"cache read share of summary requests: median {statistics.median(summary_shares):.1%}, "
              f"worst {min(summary_shares):.1%}")
    print(f"todo list intact after every compaction: {intact_todos}")
    print(f"user messages intact after every compaction: {intact_users} (kept {kept_users})")
    if compaction_seconds:
        ms = [s * 1000 for s in compaction_seconds]
        print(f"harness time per compaction: median {statistics.median(ms):.1f} ms, worst {max(ms):.1f} ms")
    print(f"invalid requests seen by the fake: {len(fake.violations)}")


def check_reinjection(fake: FakeAnthropic, session: Session, prompts: list[str]) -> tuple[bool, bool, str]:
    """After each compaction, the next request's first message must hold the todo list as last
    written and every user message so far, verbatim."""
    todos_ok, users_ok, kept = True, True, []
    requests = [r.body for r in fake.requests if r.usage]
    for index, body in enumerate(requests):
        if body not in session.summary_bodies or index + 1 >= len(requests):
            continue
        before, after = body, requests[index + 1]
        context = after["messages"][0]["content"][0].get("text", "")
        todos = last_todos(before)
        todos_ok &= all(f" {t['content']}" in context for t in todos)
        said = [p for p in prompts if p in json.dumps(before) or p in context]
        present = [p for p in prompts[: len(said)] if f"> {p}" in context]
        users_ok &= len(present) == len(said)
        kept.append(f"{len(present)}/{len(said)}")
    return todos_ok, users_ok, (", ".join(kept[:3]) + (" ..." if len(kept) > 3 else "")) if kept else "-"


def last_todos(body: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for message in body["messages"]:
        for block in message["content"] if isinstance(message["content"], list) else []:
            if block.get("type") == "tool_use" and block.get("name") == "todo_write":
                found = block["input"]["todos"]
    return found


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:4]]
    asyncio.run(main(*(args + [300, 10, 60_000][len(args):])))
