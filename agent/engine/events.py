"""Commit-then-publish: the only way an event leaves the harness.

``EventLog.emit`` scrubs every secret (``agent/policy/secrets.py``) out of the event, stores it
(which numbers it) and only then hands it to the subscribers (the LSP server's
``agent/event`` notifier, the CLI printer, progress). A subscriber that raises is logged
and skipped; it cannot lose the event or stop the turn.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from agent.events import EVENT_ADAPTER, Event, TurnStartedEvent
from agent.policy.secrets import Secrets, SecretSource
from agent.store.sqlite import Store

log = logging.getLogger(__name__)

Subscriber = Callable[[Event], None]


def scrub(event: Event, secrets: Secrets) -> Event:
    """The event with every secret value replaced, wherever a tool's text carried it."""
    if not secrets.values:
        return event
    wire = event.to_wire()
    redacted = secrets.redact_json(wire)
    return event if redacted == wire else EVENT_ADAPTER.validate_python(redacted)


class EventLog:
    def __init__(self, store: Store, secrets: SecretSource | None = None) -> None:
        self.store = store
        self.secrets = secrets or SecretSource()
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns a function that removes it."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def emit(self, event: Event) -> Event:
        numbered = self.store.append(scrub(event, self.secrets.current()))
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
