"""Test helpers for the harness in-process: ``Run`` drives the real harness (real SDK, fake
HTTP API) and records its events; ``Buffers`` stands in for an editor's open documents."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from agent.harness import Harness
from agent.protocol import Event, TextPart
from agent.workspace import OpenDocument


class Buffers:
    """Open editor buffers for tool tests (the ``Documents`` an editor would lend)."""

    def __init__(self, docs: dict[Path, OpenDocument]) -> None:
        self.docs = docs

    def get(self, path: Path) -> OpenDocument | None:
        return self.docs.get(path)

    def unsaved_paths(self) -> list[Path]:
        return list(self.docs)


class Run:
    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.events: list[Event] = []
        harness.log.subscribe(self.events.append)

    def of_type(self, kind: str) -> list[Any]:
        return [e for e in self.events if e.type == kind]

    async def turn(self, prompt: str, thread_id: str | None = None) -> Any:
        thread_id = thread_id or self.harness.start_thread("test").id
        turn = self.harness.start_turn(thread_id, [TextPart(text=prompt)])
        await self.harness.wait(thread_id)
        return next(e for e in self.of_type("turn/completed") if e.turn.id == turn.id)

    async def until(self, kind: str, count: int = 1) -> Any:
        async with asyncio.timeout(10):
            while len(self.of_type(kind)) < count:
                await asyncio.sleep(0.01)
        return self.of_type(kind)[-1]

    def items(self, kind: str) -> list[Any]:
        """Final states of the items of one type, in order."""
        return [e.item for e in self.of_type("item/completed") if e.item.type == kind]
