"""Item lifecycle for one turn: ``item/started`` → ``item/delta``* → ``item/completed``.

``TurnScope`` is the per-turn value the loop and the tool dispatcher share: which thread
and turn they work for, and how to emit events about items. Its only state is one
``StreamRedactor`` per item that is streaming: a delta shows only the text that can no
longer be the start of a secret, and the held-back rest is flushed (redacted) as a last delta
when the item completes. So the deltas of an item add up to its redacted text, and a secret
split across two chunks never reaches the store or a client.

``TurnScope.item`` is the one way a tool call shows as an item: a context manager that starts
the item and always completes it, whatever ends the block. The final state is the one the
block gave ``ItemHandle.finish`` (also when it then raised); otherwise a normal exit is
``completed``, a refusal (``Refused``) or an interrupt while a person was asked
(``CancelledWhileAsking``) ``declined``, any other interrupt or error ``failed`` with the error
as the item's output where the item has one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from agent.events import (
    Event,
    ItemCompletedEvent,
    ItemDeltaEvent,
    ItemStartedEvent,
)
from agent.protocol import FileChangeItem, Item
from agent.policy.secrets import SecretSource, StreamRedactor
from agent.store.sqlite import new_id


class Refused(Exception):
    """A tool call the permission policy or the user refused; ``message`` is for the model."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CancelledWhileAsking(asyncio.CancelledError):
    """An interrupt that came while a person was being asked: the item ends declined."""


class ItemHandle:
    """The item a block works on; ``finish`` sets the state it completes with."""

    def __init__(self, item: Item) -> None:
        self.item = item
        self.final: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return self.item.id

    def finish(self, **update: Any) -> None:
        self.final = update


def ending(item: Item, error: BaseException | None) -> dict[str, Any]:
    """The update that completes ``item`` when its block ended with ``error`` (None: normally)."""
    if error is None:
        return {"status": "completed"}
    if isinstance(error, (Refused, CancelledWhileAsking)):
        return {"status": "declined", **({"outcome": "rejected"} if isinstance(item, FileChangeItem) else {})}
    update: dict[str, Any] = {"status": "failed"}
    if "output" in type(item).model_fields and not isinstance(error, BaseExceptionGroup):
        message = str(error) if isinstance(error, Exception) else "Interrupted by the user."
        update["output"] = getattr(error, "item_output", None) or message
    return update


@dataclass(frozen=True)
class TurnScope:
    thread_id: str
    turn_id: str
    emit: Callable[[Event], Event]
    secrets: SecretSource = field(default_factory=SecretSource)
    # during a tool call: the request so far and the pending assistant message (a fork's start)
    fork_base: Callable[[], tuple[list[dict[str, Any]], dict[str, Any]]] | None = field(default=None, compare=False)
    _streams: dict[str, StreamRedactor] = field(default_factory=dict, compare=False, repr=False)

    @staticmethod
    def new_item_id() -> str:
        return new_id("itm")

    def start(self, item: Item) -> Item:
        self.emit(ItemStartedEvent(thread_id=self.thread_id, turn_id=self.turn_id, item=item))
        return item

    @contextmanager
    def item(self, item: Item) -> Iterator[ItemHandle]:
        """Start ``item``, run the block, and complete the item however the block ends."""
        handle = ItemHandle(self.start(item))
        try:
            yield handle
        except BaseException as error:
            self.complete(item.model_copy(update=handle.final or ending(item, error)))
            raise
        self.complete(item.model_copy(update=handle.final or ending(item, None)))

    def delta(self, item_id: str, text: str) -> None:
        stream = self._streams.get(item_id)
        if stream is None:
            stream = self._streams[item_id] = self.secrets.current().stream()
        self._send(item_id, stream.push(text))

    def complete(self, item: Item) -> Item:
        stream = self._streams.pop(item.id, None)
        if stream is not None:
            self._send(item.id, stream.flush())
        self.emit(ItemCompletedEvent(thread_id=self.thread_id, turn_id=self.turn_id, item=item))
        return item

    def _send(self, item_id: str, text: str) -> None:
        if text:
            self.emit(ItemDeltaEvent(thread_id=self.thread_id, turn_id=self.turn_id, item_id=item_id, text=text))
