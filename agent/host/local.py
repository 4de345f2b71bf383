"""``LocalAgent``: the API front-ends drive (``HostClient``'s) over a harness in this process,
with no agent host: for tests, for ``AGENT_LSP_HOST=off`` and for front-ends that run their
turns themselves. Every method is the harness's, shaped as ``HostClient`` shapes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agent.config import Settings
from agent.events import Event
from agent.protocol import Approval, Decision, InputPart, Item, Thread, Turn
from agent.store.sqlite import ResumePage, Store

if TYPE_CHECKING:
    from agent.engine.harness import Harness, Resumed


class LocalAgent:
    """The same API as ``HostClient`` over a harness in this process (no host): for tests, for
    ``AGENT_LSP_HOST=off``, and for front-ends that run turns themselves."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness

    @property
    def settings(self) -> Settings:
        return self.harness.settings

    def update_settings(self, settings: Settings) -> None:
        self.harness.update_settings(settings)

    def on_event(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        return self.harness.on_event(callback)

    def on_notice(self, callback: Callable[[str], None]) -> Callable[[], None]:
        return self.harness.on_notice(lambda message, thread_id: callback(message))

    def document_changed(self, uri: str, version: int | None, text: str | None) -> None:
        pass  # the harness reads the editor's buffers itself

    def editor_diagnostics(self, uri: str, version: int | None, diagnostics: list[Any]) -> None:
        self.harness.workspace.sight.publish_uri(uri, version, diagnostics)

    async def start_thread(self, title: str | None = None) -> Thread:
        return self.harness.start_thread(title)

    async def start_turn(self, thread_id: str, parts: list[InputPart]) -> Turn:
        return self.harness.start_turn(thread_id, parts).turn

    async def compact(self, thread_id: str, instructions: str | None = None) -> Turn:
        return self.harness.compact(thread_id, instructions).turn

    async def interrupt(self, thread_id: str) -> bool:
        return await self.harness.interrupt(thread_id)

    async def respond(self, approval_id: str, decision: Decision, message: str | None = None,
                      source: str = "request", client_name: str | None = None,
                      hunks: list[int] | None = None) -> str:
        return self.harness.respond(approval_id, decision, message, source, client_name,  # type: ignore[arg-type]
                                    hunks)

    async def undo_turn(self, thread_id: str, turn_id: str | None = None) -> list[dict]:
        return [r.to_wire() for r in await self.harness.undo_turn(thread_id, turn_id)]

    async def redo_turn(self, thread_id: str, turn_id: str | None = None) -> list[dict]:
        return [r.to_wire() for r in await self.harness.redo_turn(thread_id, turn_id)]

    def get_thread(self, thread_id: str) -> Thread:
        return self.harness.get_thread(thread_id)

    @property
    def store(self) -> Store:
        return self.harness.store

    async def follow(self, thread_id: str, after_seq: int = 0) -> tuple[Thread, list[Approval]]:
        """In-process, every event already reaches ``on_event``: only the state is returned."""
        return self.harness.get_thread(thread_id), self.harness.pending_approvals(thread_id)

    async def attach(self, thread_id: str) -> None:
        """In-process there is one surface: nobody else to show it to."""
        self.harness.get_thread(thread_id)

    async def detach(self, thread_id: str) -> None:
        self.harness.get_thread(thread_id)

    def memory(self, thread_id: str) -> tuple[str | None, int]:
        return self.harness.memory(thread_id)

    def list_threads(self, parent_thread_id: str | None = None) -> list[Thread]:
        return self.harness.list_threads(parent_thread_id)

    def pending_approvals(self, thread_id: str | None = None) -> list[Approval]:
        return self.harness.pending_approvals(thread_id)

    def resume_page(self, thread_id: str, after_seq: int = 0, limit: int | None = None) -> ResumePage:
        return self.harness.resume_page(thread_id, after_seq, limit)

    def items(self, thread_id: str) -> list[Item]:
        self.harness.get_thread(thread_id)
        return self.harness.store.items(thread_id)

    def resume(self, thread_id: str, after_seq: int = 0) -> Resumed:
        return self.harness.resume(thread_id, after_seq)

    async def shutdown(self) -> None:
        await self.harness.shutdown()
