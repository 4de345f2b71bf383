"""Commit-then-publish: the only way an event leaves the harness.

``EventLog.emit`` scrubs the API key out of the event, stores it (which numbers it) and
only then hands it to the
subscribers (the LSP server's ``agent/event`` notifier, the CLI printer, progress). A
subscriber that raises is logged and skipped; it cannot lose the event or stop the turn.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from agent.protocol import EVENT_ADAPTER, Event, TurnStartedEvent
from agent.secrets import redact, secret_values
from agent.store import Store

log = logging.getLogger(__name__)

Subscriber = Callable[[Event], None]


def scrub(event: Event) -> Event:
    """The event with any API key value replaced, wherever a tool's text carried it."""
    secrets = secret_values()
    if not secrets:
        return event
    wire = json.dumps(event.to_wire())
    if not any(secret in wire for secret in secrets):
        return event
    return EVENT_ADAPTER.validate_json(redact(wire))


class EventLog:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns a function that removes it."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def emit(self, event: Event) -> Event:
        numbered = self.store.append(scrub(event))
        self.publish(numbered)
        return numbered

    def emit_turn_start(self, event: TurnStartedEvent, alive: Callable[[str], bool]) -> Event | str:
        """Like ``emit``, unless a live process runs a turn on the thread: then its id."""
        result = self.store.begin_turn(event, alive)
        if not isinstance(result, str):
            self.publish(result)
        return result

    def publish(self, event: Event) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:  # a broken view must not break the turn
                log.exception("event subscriber failed on %s", event.type)
