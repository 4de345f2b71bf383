"""Item lifecycle for one turn: ``item/started`` → ``item/delta``* → ``item/completed``.

``TurnScope`` is the per-turn value the loop and the tool dispatcher share: which thread
and turn they work for, and how to emit events about items. It holds no mutable state of
its own beyond what it emits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agent.protocol import (
    Event,
    Item,
    ItemCompletedEvent,
    ItemDeltaEvent,
    ItemStartedEvent,
)
from agent.store import new_id


@dataclass(frozen=True)
class TurnScope:
    thread_id: str
    turn_id: str
    emit: Callable[[Event], Event]

    @staticmethod
    def new_item_id() -> str:
        return new_id("itm")

    def start(self, item: Item) -> Item:
        self.emit(ItemStartedEvent(thread_id=self.thread_id, turn_id=self.turn_id, item=item))
        return item

    def delta(self, item_id: str, text: str) -> None:
        if text:
            self.emit(ItemDeltaEvent(thread_id=self.thread_id, turn_id=self.turn_id, item_id=item_id, text=text))

    def complete(self, item: Item) -> Item:
        self.emit(ItemCompletedEvent(thread_id=self.thread_id, turn_id=self.turn_id, item=item))
        return item
