"""Harness time per model↔tool round trip, and the prompt-cache read share.

Runs a turn of N tool round trips (read_file) against the project's fake API on 127.0.0.1,
then replays the very same requests straight through the SDK (the baseline: HTTP + SSE +
SDK parsing with no harness). The difference divided by N is the harness's own time per
round trip: request building, stream handling, store commits, events. Median of RUNS runs.

    .venv/bin/python benchmarks/roundtrip.py [N] [RUNS]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fake_anthropic import FakeAnthropic, Reply, text, tool_use  # noqa: E402

from agent.model.anthropic_api import AnthropicModel  # noqa: E402
from agent.config import Settings  # noqa: E402
from agent.engine.harness import Harness  # noqa: E402
from agent.protocol import TextPart  # noqa: E402
from agent.store.sqlite import Store  # noqa: E402
from agent.files.workspace import Workspace  # noqa: E402


async def harness_turn(fake: FakeAnthropic, rounds: int) -> tuple[float, float]:
    root = Path(tempfile.mkdtemp())
    (root / "calc.py").write_text("def add(a, b):\n    return a + b\n" * 20)
    fake.script(*[Reply([text("Checking."), tool_use("read_file", {"path": "calc.py"})]) for _ in range(rounds)],
                Reply([text("All good.")]))
    harness = Harness(Workspace(root), Store(root / "s.db"), Settings(permission_mode="bypass"),
                      model=AnthropicModel())
    thread_id = harness.start_thread("bench").id
    started = time.perf_counter()
    harness.start_turn(thread_id, [TextPart(text="check calc.py repeatedly")])
    await harness.wait(thread_id)
    elapsed = time.perf_counter() - started
    usage = harness.store.events_after(thread_id, 0)[-1].usage
    total = usage.input_tokens + usage.cache_read_tokens + usage.cache_creation_tokens
    return elapsed, usage.cache_read_tokens / total if total else 0.0


async def sdk_replay(fake: FakeAnthropic, bodies: list[dict]) -> float:
    import anthropic

    client = anthropic.AsyncAnthropic(max_retries=0)
    fake.script(*[Reply([text("Checking."), tool_use("read_file", {"path": "calc.py"})]) for _ in bodies[:-1]],
                Reply([text("All good.")]))
    started = time.perf_counter()
    for body in bodies:
        stream = await client.messages.create(**body, stream=True)
        async for _ in stream:
            pass
    return time.perf_counter() - started


async def main(rounds: int, runs: int) -> None:
    with FakeAnthropic() as fake:
        os.environ.update(ANTHROPIC_BASE_URL=fake.url, ANTHROPIC_API_KEY="bench-key")
        await harness_turn(fake, 2)  # warm up imports and connections
        harness_times, baseline_times, shares = [], [], []
        for _ in range(runs):
            fake.requests.clear()
            elapsed, share = await harness_turn(fake, rounds)
            bodies = [{k: v for k, v in r.body.items() if k != "stream"} for r in fake.requests]
            harness_times.append(elapsed)
            shares.append(share)
            baseline_times.append(await sdk_replay(fake, bodies))
        fake.assert_valid()
    h, b = statistics.median(harness_times), statistics.median(baseline_times)
    print(f"round trips per turn:        {rounds}")
    print(f"harness turn (median of {runs}):  {h * 1000:8.1f} ms")
    print(f"SDK-only replay (baseline):  {b * 1000:8.1f} ms")
    print(f"harness's own time per trip: {(h - b) / (rounds + 1) * 1000:8.2f} ms")
    print(f"ratio harness / baseline:    {h / b:8.2f}")
    print(f"input tokens read from cache: {statistics.median(shares) * 100:6.1f} %")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20, int(sys.argv[2]) if len(sys.argv) > 2 else 5))
