"""Subagents: a ``spawn_agent`` call run as a child thread with its own loop and transcript.

``Subagents.run`` is the dispatcher's wrapper for the ``agent`` kind of tool. It creates the
child thread (``parentThreadId``, the spawning item's id, one level deeper), shows the parent's
``subagent`` item (live: ``subagent/progress`` lines as the child works), runs the child's turn
under the parent turn's cancel scope, and returns the child's final report as the tool result.

- **Permissions**: the child runs in the same harness, so the same mode and rules; its session
  grants are its root thread's (``StoredGrants``), and its approvals are ordinary approvals whose
  title names the subagent (``Gate``'s label).
- **Fork**: the child starts from the parent's exact request (same system prompt, tools, model
  and messages, the pending tool calls answered with placeholders, then the child's prompt),
  so its first request reads the parent's prompt cache. Without fork, a fresh context with the
  same system prompt and tools.
- **Cancel**: interrupting the parent cancels every running descendant first (``CancelScope``),
  and the child's ``turn/completed`` is stored before the wrapper returns; cancelling the child
  alone (``interrupt`` on its thread) ends this call with "cancelled" and what it had done.
- **Depth**: a thread at ``max_depth`` has no ``spawn_agent`` in its tools (a fork keeps the
  parent's exact tool list, for the cache, and is refused at the call instead).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from agent.context.transcript import Message, message
from agent.engine.dispatch import ToolOutcome
from agent.engine.items import TurnScope
from agent.engine.titles import item_title, shorten
from agent.engine.turns import TurnReport
from agent.events import Event, ItemStartedEvent, SubagentProgressEvent
from agent.protocol import AgentMessageItem, SubagentItem
from agent.tools.spawn_agent import SpawnAgentInput

if TYPE_CHECKING:
    from agent.engine.harness import Harness

MAX_DEPTH = 2
MAX_PARALLEL = 4
FORK_PLACEHOLDER = "(running in parallel: this result is not available to a forked subagent)"
REPORT_LIMIT = 20_000

ForkBase = Callable[[], tuple[list[dict[str, Any]], dict[str, Any]]]


class Subagents:
    def __init__(self, harness: Harness, max_depth: int = MAX_DEPTH, max_parallel: int = MAX_PARALLEL) -> None:
        self.harness = harness
        self.max_depth = max_depth
        self.max_parallel = max_parallel
        self._slots: dict[str, tuple[asyncio.Semaphore, int]] = {}  # per parent thread: the limit, its users

    def hidden_tools(self, thread_id: str) -> frozenset[str]:
        """Tools left out of a thread's requests: ``spawn_agent`` at the depth limit."""
        depth = self.harness.store.lineage(thread_id)[2]
        return frozenset({"spawn_agent"}) if depth >= self.max_depth else frozenset()

    def label(self, thread_id: str) -> str | None:
        """How an approval names the agent asking: the subagent's description, or None."""
        thread = self.harness.store.get_thread(thread_id)
        return thread.title if thread.kind == "subagent" else None

    async def run(self, scope: TurnScope, args: SpawnAgentInput, fork_base: ForkBase | None) -> ToolOutcome:
        store = self.harness.store
        depth = store.lineage(scope.thread_id)[2]
        if depth >= self.max_depth:
            return ToolOutcome(f"spawn_agent is not available at this depth (subagents may nest {self.max_depth} "
                               "levels); do the task yourself with your other tools.", True)
        item_id = scope.new_item_id()
        started = store.create_thread(self.harness.workspace.key, shorten(args.description, 80),
                                      parent_thread_id=scope.thread_id, spawn_item_id=item_id)
        self.harness.log.publish(started)
        child_id = started.thread_id
        item = SubagentItem(id=item_id, child_thread_id=child_id, description=args.description)
        with scope.item(item) as handle, self._slot(scope.thread_id) as slots:
            parent = self.harness.cancel_scope(scope.thread_id)
            try:
                await slots.acquire()  # siblings share a parent's slots; a child's children use its own
            except asyncio.CancelledError as exc:
                handle.finish(status="interrupted", output="Stopped before it started.")
                exc.outcome = ToolOutcome("The subagent was stopped with the turn before it started.", True)  # type: ignore[attr-defined]
                raise
            try:
                if parent is None or parent.cancelled:  # Stop came while it waited for a slot
                    handle.finish(status="interrupted", output="Stopped before it started.")
                    return ToolOutcome("The subagent was stopped with the turn before it started.", True)
                seed = self._fork_seed(fork_base, args.prompt) if args.fork else None
                turn = self.harness.start_child_turn(child_id, args.prompt, parent, seed)
                unsubscribe = self.harness.on_event(self._progress(scope, item_id, child_id))
                try:
                    report = await turn.result()
                except asyncio.CancelledError as exc:  # the parent was interrupted: the child first
                    turn.cancel()
                    await turn.settled()  # through a second Stop too: its end is stored before ours
                    done = self._so_far(child_id)
                    handle.finish(status="interrupted", output=done)
                    exc.outcome = ToolOutcome(f"The subagent was stopped with the turn. {done}", True)  # type: ignore[attr-defined]
                    raise
                finally:
                    unsubscribe()
            finally:
                slots.release()
            return self._outcome(report, child_id, handle, parent.cancelled)

    @contextmanager
    def _slot(self, thread_id: str) -> Iterator[asyncio.Semaphore]:
        """The parallel limit of one parent's subagents; forgotten when none is left."""
        slots, users = self._slots.get(thread_id) or (asyncio.Semaphore(self.max_parallel), 0)
        self._slots[thread_id] = (slots, users + 1)
        try:
            yield slots
        finally:
            slots, users = self._slots[thread_id]
            if users <= 1:
                del self._slots[thread_id]
            else:
                self._slots[thread_id] = (slots, users - 1)

    def _outcome(self, report: TurnReport, child_id: str, handle: Any, with_parent: bool) -> ToolOutcome:
        if report.status == "completed":
            text = self._final_text(child_id) or "(the subagent finished without a report)"
            handle.finish(status="completed", output=text)
            return ToolOutcome(text[:REPORT_LIMIT])
        done = self._so_far(child_id)
        if report.status == "interrupted":
            handle.finish(status="interrupted", output=done)
            who = "was stopped with the turn" if with_parent else "was cancelled by the user before it finished"
            return ToolOutcome(f"The subagent {who}. {done}", True)
        handle.finish(status="failed", output=f"{report.error or 'failed'}. {done}")
        return ToolOutcome(f"The subagent failed: {report.error or 'unknown error'}. {done}", True)

    def _progress(self, scope: TurnScope, item_id: str, child_id: str) -> Callable[[Event], None]:
        loop = asyncio.get_running_loop()

        def on_event(event: Event) -> None:
            if event.thread_id == child_id and isinstance(event, ItemStartedEvent):
                line = item_title(event.item)
                if line:  # emitted after the child's event has reached every subscriber
                    loop.call_soon(lambda: scope.emit(SubagentProgressEvent(
                        thread_id=scope.thread_id, item_id=item_id, child_thread_id=child_id, text=line)))
        return on_event

    def _fork_seed(self, fork_base: ForkBase | None, prompt: str) -> list[Message] | None:
        """The parent's request as it stands, its pending calls answered with placeholders,
        then the child's prompt: the same bytes up to the parent's last message."""
        if fork_base is None:
            return None
        messages, assistant = fork_base()
        results: list[dict[str, Any]] = [
            {"type": "tool_result", "tool_use_id": block["id"], "content": FORK_PLACEHOLDER}
            for block in assistant["content"] if block["type"] == "tool_use"]
        results.append({"type": "text", "text": prompt})
        return [message(m) for m in [*messages, assistant, {"role": "user", "content": results}]]

    def _final_text(self, child_id: str) -> str:
        texts = [i.text for i in self.harness.store.items(child_id) if isinstance(i, AgentMessageItem) and i.text]
        return texts[-1] if texts else ""

    def _so_far(self, child_id: str) -> str:
        """What a stopped child had done: its steps, and its last words."""
        items = self.harness.store.items(child_id)
        steps = [t for t in (item_title(i) for i in items if not isinstance(i, AgentMessageItem)) if t]
        said = self._final_text(child_id)
        parts = [f"It had done {len(steps)} step(s): " + "; ".join(steps[-12:]) + "." if steps
                 else "It had not done anything yet."]
        if said:
            parts.append(f"Its last words: {shorten(said, 400)}")
        return " ".join(parts)


__all__ = ["MAX_DEPTH", "MAX_PARALLEL", "ForkBase", "Subagents"]
