"""The background observer: a running session note for each long thread, kept by the harness.

Every ``memoryEvery`` tokens of new work (measured by the API's own input counts), the
``Observer`` sends one side request in the background: the thread's request exactly as the turn
just sent it (so it reads the prompt cache the turn wrote), with a final instruction to update the
structured note (goal, current state, files and functions, decisions, errors and fixes, next
step) from the new part of the conversation. The note lives in the thread's state
(``ThreadState.memory``), never in the transcript, and is readable (``agent/thread/memory``).

Compaction starts from a fresh note (one written at most ``FRESH_MESSAGES`` messages ago)
instead of asking for a summary, so it costs no model request. A note that fails to come is
simply not there: the observer never touches the turn, and compaction asks for a summary as
before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent.context.compaction import summary_text
from agent.context.thread_state import SessionNote
from agent.model.base import ModelClient, ModelRequest, QuietSink
from agent.store.sqlite import Store

log = logging.getLogger(__name__)

NOTE_MARKER = "[agent-lsp: session note]"
NOTE_PROMPT = f"""{NOTE_MARKER} This is a background request of the harness, not the user's: keep a running
session note of this conversation. Respond with TEXT ONLY (a tool call here is ignored): the whole
updated note, at most about 400 words, under exactly these headings:
Goal: the user's goal and constraints, in their own words.
Current state: what is done and what is in progress right now.
Files and functions: paths and symbols that matter, and why.
Decisions: what was decided and why.
Errors and fixes: errors met and how they were fixed (or that they are open).
Next step: the next concrete step."""
FRESH_MESSAGES = 6  # a note this close to the transcript's end is what compaction starts from
NOTE_TOKENS = 1500


def note_request(base: ModelRequest, previous: str | None) -> ModelRequest:
    """``base`` (the turn's request, unchanged) with one final user text asking for the note."""
    ask = NOTE_PROMPT + (f"\n\nThe note so far (update it; keep what still holds):\n{previous}" if previous else "")
    messages = list(base.messages)
    final = {"type": "text", "text": ask}
    if messages and messages[-1]["role"] == "user":
        content = messages[-1]["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
        messages[-1] = {"role": "user", "content": [*blocks, final]}
    else:
        messages.append({"role": "user", "content": [final]})
    return ModelRequest(model=base.model, max_tokens=min(base.max_tokens, NOTE_TOKENS), system=base.system,
                        tools=base.tools, messages=messages, cache_ttl=base.cache_ttl)


@dataclass
class Observer:
    store: Store
    model: Callable[[], ModelClient]
    every: Callable[[], int]  # memoryEvery, read when needed (settings change)
    _running: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    def after_response(self, thread_id: str, request: ModelRequest, messages: int, tokens: int) -> None:
        """Called by the loop after each model response, with the request it sent and the
        context's measured size: start a note update when enough new work has piled up."""
        every = self.every()
        if every <= 0 or thread_id in self._running:
            return
        note = self.store.thread_state(thread_id).memory
        if tokens - (note.tokens if note else 0) < every:
            return
        previous = note.note if note else None
        task = asyncio.ensure_future(self._observe(thread_id, note_request(request, previous), messages, tokens))
        self._running[thread_id] = task
        task.add_done_callback(lambda _: self._running.pop(thread_id, None))

    async def _observe(self, thread_id: str, request: ModelRequest, messages: int, tokens: int) -> None:
        try:
            response = await self.model().stream(request, QuietSink())
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the note is a help, never a failure: compaction falls back
            log.warning("the session note of %s was not updated: %s", thread_id, exc)
            return
        text = summary_text(response.content)
        if not text:
            return
        seq = self.store.get_thread(thread_id).last_seq
        note = SessionNote(note=text, updated_at_seq=seq, messages=messages, tokens=tokens)
        self.store.update_state(thread_id, lambda state: state.model_copy(update={"memory": note}))

    async def fresh(self, thread_id: str, messages: int) -> str | None:
        """The note compaction may start from: one written from at most ``FRESH_MESSAGES``
        messages fewer than the transcript has now (an update in flight is waited for)."""
        running = self._running.get(thread_id)
        if running is not None:
            await asyncio.gather(asyncio.shield(running), return_exceptions=True)
        note = self.store.thread_state(thread_id).memory
        if note is None or messages - note.messages > FRESH_MESSAGES:
            return None
        return note.note

    def forget(self, thread_id: str) -> None:
        """After a compaction the transcript starts over: the note's counts no longer apply."""
        self.store.update_state(thread_id, lambda state: state.model_copy(update={"memory": (
            state.memory.model_copy(update={"messages": 1, "tokens": 0}) if state.memory else None)}))

    async def shutdown(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)
