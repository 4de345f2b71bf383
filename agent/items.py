"""Item lifecycle for one turn: ``item/started`` → ``item/delta``* → ``item/completed``.

``TurnScope`` is the per-turn value the loop and the tool dispatcher share: which thread
and turn they work for, and how to emit events about items. Its only state is one
``StreamRedactor`` per item that is streaming: a delta shows only the text that can no
longer be the start of a secret, and the held-back rest is flushed (redacted) as a last delta
when the item completes. So the deltas of an item add up to its redacted text, and a secret
split across two chunks never reaches the store or a client.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from agent.protocol import (
    Event,
    Item,
    ItemCompletedEvent,
    ItemDeltaEvent,
    ItemStartedEvent,
)
from agent.secrets import SecretSource, StreamRedactor
from agent.store import new_id


@dataclass(frozen=True)
class TurnScope:
    thread_id: str
    turn_id: str
    emit: Callable[[Event], Event]
    secrets: SecretSource = field(default_factory=SecretSource)
    _streams: dict[str, StreamRedactor] = field(default_factory=dict, compare=False, repr=False)

    @staticmethod
    def new_item_id() -> str:
        return new_id("itm")

    def start(self, item: Item) -> Item:
        self.emit(ItemStartedEvent(thread_id=self.thread_id, turn_id=self.turn_id, item=item))
        return item

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
