"""The harness: the one object front-ends drive (LSP, the CLI, and the host and ACP to come).

It owns the per-workspace pieces (event log, approval broker, permission gate, change flow,
tool dispatcher, the running turns) and offers what PROTOCOL.md sections 3 and 4 need:
threads (start, list, resume, subscribe), turns (start, interrupt, wait: each a
``TurnHandle``), approvals (pending ones with their locations, answers), settings and
notices. Each turn runs as an asyncio task under a cancel scope; ``turn/completed`` is always
emitted, whatever happens (that machinery is ``agent.engine.launch``, a mixin of ``Harness``).
Which thread is "current" is a front-end's business, not this.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from agent.engine.approvals import ApprovalBroker
from agent.engine.changeflow import ChangeFlow
from agent.files.changes import ChangeApplier, ChangeSet, DiskApplier
from agent.store.changes import LandedFile
from agent.context.compaction import Rebuilder
from agent.context.memory import Observer
from agent.config import Settings
from agent.engine.dispatch import ToolDispatcher
from agent.engine.events import EventLog, Subscriber
from agent.engine.gate import Gate, StoredGrants
from agent.engine.input import render_input
from agent.engine.launch import TurnBusy, TurnLauncher
from agent.model.base import ModelClient
from agent.policy.permissions import PermissionPolicy
from agent.events import (
    EVENT_ADAPTER,
    ClientAttachedEvent,
    ClientDetachedEvent,
    Event,
)
from agent.protocol import (
    ITEM_ADAPTER,
    Approval,
    ApprovalSource,
    Decision,
    InputPart,
    Item,
    TextPart,
    Thread,
    Turn,
    UserMessageItem,
)
from agent.engine.recovery import recover
from agent.engine.subagents import Subagents
from agent.policy.rules import RuleFile
from agent.store.sqlite import ResumePage, Store, StoredThreadState, UnknownThread
from agent.context.thread_state import ThreadState
from agent.tools import Tool, default_tools
from agent.context.transcript import Message, message
from agent.engine.turns import CancelScope, TurnHandle, TurnReport
from agent.engine.undo import FileUndo, Undoer, check_approved_hunks
from agent.files.workspace import Workspace

Notice = Callable[[str, "str | None"], None]  # (message, the thread it is about, or None)


class NothingToCompact(ValueError):
    """A thread with no conversation yet has nothing to compact."""

    def __init__(self, thread_id: str) -> None:
        super().__init__(f"Thread {thread_id} has no conversation to compact yet; start a turn first.")


class NoDirectInput(ValueError):
    """``agent/turn/start`` on a subagent's thread: its parent's turn drives it."""

    def __init__(self, thread_id: str) -> None:
        super().__init__(f"a subagent's thread takes no direct input ({thread_id}); write to its parent thread, "
                         "or interrupt the subagent with agent/turn/interrupt on its thread")


@dataclass(frozen=True)
class Resumed:
    """``agent/thread/resume``'s answer: the thread, its items, the events after a seq."""

    thread: Thread
    items: list[Item]
    events: list[Event]
    items_complete: bool = True


class Harness(TurnLauncher):
    def __init__(self, workspace: Workspace, store: Store, settings: Settings, *,
                 applier: ChangeApplier | None = None, model: ModelClient | None = None,
                 tools: list[Tool] | None = None,
                 sleep: Callable[[float], Awaitable[None]] | None = None) -> None:
        self.workspace = workspace
        self.store = store
        self.settings = settings
        self.log = EventLog(store, workspace.secrets)
        self.broker = ApprovalBroker(self.log.emit, status=self._approval_status)
        self.rules = RuleFile(workspace.root)
        self.policy = PermissionPolicy(settings.permission_mode, self.rules, StoredGrants(store))
        self.subagents = Subagents(self)
        self.observer = Observer(store, lambda: self.model, lambda: self.settings.memory_every)
        gate = Gate(self.policy, self.broker, label=self.subagents.label)
        self.changes = ChangeFlow(workspace, gate, applier or DiskApplier(), self._record_changes,
                                  journal=self._journal)
        self.dispatcher = ToolDispatcher(tools or default_tools(), workspace, gate, self.changes,
                                         state_for=lambda thread_id: StoredThreadState(store, thread_id))
        self.dispatcher.subagents = self.subagents
        self._model = model
        self._sleep = sleep or asyncio.sleep  # where retries wait; tests inject a FakeClock's
        self._running: dict[str, TurnHandle] = {}
        self._notices: list[Notice] = []
        self._reported: tuple[str, ...] = ()
        self._rebuilder = Rebuilder(store, workspace, self.policy.path_denied, self.pending_approvals)
        recover(store, self.log, workspace.key)

    # --- settings, model, notices ------------------------------------------------------------

    def update_settings(self, settings: Settings) -> None:
        self.settings = settings
        self.policy.mode = settings.permission_mode

    @property
    def model(self) -> ModelClient:
        if self._model is None:
            from agent.model.anthropic_api import AnthropicModel

            self._model = AnthropicModel(idle_timeout_s=self.settings.stream_idle_timeout)
        return self._model

    def on_notice(self, callback: Notice) -> Callable[[], None]:
        """Messages a person should see outside the conversation (a broken rules file, a retry),
        with the thread a message is about (a retry's), or None (the rules file's)."""
        self._notices.append(callback)
        return lambda: self._notices.remove(callback)

    def _notify(self, message: str, thread_id: str | None = None) -> None:
        """Tell the surfaces (a retry, a fallback to another model): of ``thread_id``, or all."""
        for notice in list(self._notices):
            notice(message, thread_id)

    def check_rules(self) -> list[str]:
        """Re-read the rules file; report its problems once each time they change."""
        self.rules.rules()
        errors = tuple(self.rules.errors)
        if errors != self._reported:
            self._reported = errors
            for message in errors:
                for notice in list(self._notices):
                    notice(f"{message}. Fix the file; until then its rules are not applied.", None)
        return list(errors)

    # --- threads -----------------------------------------------------------------------------

    def start_thread(self, title: str | None = None) -> Thread:
        event = self.store.create_thread(self.workspace.key, title or "New thread")
        self.log.publish(event)
        return event.thread

    def list_threads(self, parent_thread_id: str | None = None) -> list[Thread]:
        """The main threads, newest first; with ``parent_thread_id``, that thread's subagents."""
        if parent_thread_id is not None:
            self.get_thread(parent_thread_id)
        return self.store.list_threads(self.workspace.key, parent_thread_id)

    def get_thread(self, thread_id: str) -> Thread:
        thread = self.store.get_thread(thread_id)
        if self.store.thread_workspace(thread_id) != self.workspace.key:
            raise UnknownThread(thread_id)
        return thread

    def memory(self, thread_id: str) -> tuple[str | None, int]:
        """The background observer's session note of the thread, and the seq it was written at."""
        note = self.thread_state(thread_id).memory
        return (note.note, note.updated_at_seq) if note else (None, 0)

    def thread_state(self, thread_id: str) -> ThreadState:
        self.get_thread(thread_id)
        return self.store.thread_state(thread_id)

    def resume(self, thread_id: str, after_seq: int = 0) -> Resumed:
        """The thread, typed: every item (``after_seq`` 0) or those changed after ``after_seq``
        (``items_complete`` False), and the events after it."""
        page = self.resume_page(thread_id, after_seq)
        return Resumed(page.thread, [ITEM_ADAPTER.validate_python(i) for i in page.items],
                       [EVENT_ADAPTER.validate_python(e) for e in page.events], page.items_complete)

    def resume_page(self, thread_id: str, after_seq: int = 0, limit: int | None = None) -> ResumePage:
        """``agent/thread/resume`` as wire JSON: at most ``limit`` events after ``after_seq``
        and the items changed among them; ``next_after_seq`` when there are more."""
        self.get_thread(thread_id)
        return self.store.resume_page(thread_id, after_seq, limit)

    def presence(self, thread_id: str, client_id: str, client_name: str, attached: bool) -> None:
        """A surface joined (``attached``) or left a thread: ``client/attached`` / ``client/detached``."""
        self.get_thread(thread_id)
        kind = ClientAttachedEvent if attached else ClientDetachedEvent
        self.log.emit(kind(thread_id=thread_id, client_id=client_id, client_name=client_name))

    def on_event(self, subscriber: Subscriber) -> Callable[[], None]:
        """Every event of this workspace's threads as it is stored; returns an unsubscribe."""
        return self.log.subscribe(subscriber)

    async def subscribe(self, thread_id: str, after_seq: int = 0) -> AsyncIterator[Event]:
        """The thread's events after ``after_seq``: the stored ones, then live ones, each once
        and in order (a gap in what arrives live is filled from the store)."""
        self.get_thread(thread_id)
        queue: asyncio.Queue[Event] = asyncio.Queue()
        unsubscribe = self.log.subscribe(lambda e: queue.put_nowait(e) if e.thread_id == thread_id else None)
        last = after_seq
        try:
            for event in self.store.events_after(thread_id, after_seq):
                yield event
                last = event.seq
            while True:
                event = await queue.get()
                if event.seq <= last:
                    continue
                for missed in self.store.events_after(thread_id, last) if event.seq > last + 1 else [event]:
                    if missed.seq <= event.seq:
                        yield missed
                        last = missed.seq
        finally:
            unsubscribe()

    # --- turns -------------------------------------------------------------------------------

    def running_turns(self) -> list[Turn]:
        """Every turn this harness runs now."""
        return [handle.turn for handle in self._running.values()]

    def running_turn(self, thread_id: str) -> Turn | None:
        handle = self._running.get(thread_id)
        return handle.turn if handle else None

    def start_turn(self, thread_id: str, parts: list[InputPart], *, parent: CancelScope | None = None) -> TurnHandle:
        """Start a turn now and run it in the background; ``TurnBusy`` if one runs."""
        if self.get_thread(thread_id).kind == "subagent":
            raise NoDirectInput(thread_id)
        turn, scope, transcript = self._begin(thread_id)
        with scope.item(UserMessageItem(id=scope.new_item_id(), content=parts)):
            # the request is in the transcript before anything can cut the turn off
            content = scope.secrets.current().redact_json(render_input(parts, self.workspace))
            content = [{"type": "text", "text": note} for note in self.store.take_undo_notes(thread_id)] + content
            transcript.append(turn.id, message({"role": "user", "content": content}))
        return self._launch(turn, scope, transcript, parent)

    def start_child_turn(self, thread_id: str, prompt: str, parent: CancelScope | None,
                         seed: list[Message] | None = None) -> TurnHandle:
        """A subagent's turn: its parent's system prompt; from ``seed`` (a fork: the parent's
        request, ending with the prompt) or from the prompt alone; cancelled with ``parent``."""
        parent_id = self.store.lineage(thread_id)[0]
        assert parent_id is not None, "only a subagent's thread has a child turn"
        system = self.store.thread_state(parent_id).system
        self.store.update_state(thread_id, lambda s: s.model_copy(update={"system": system, "forked": seed is not None}))
        turn, scope, transcript = self._begin(thread_id)
        with scope.item(UserMessageItem(id=scope.new_item_id(), content=[TextPart(text=prompt)])):
            start = [m.wire() for m in seed] if seed else [{"role": "user", "content": [{"type": "text", "text": prompt}]}]
            # stored and sent without secrets, as every message is (a fork's seed holds the
            # parent's pending assistant message as the model wrote it)
            transcript.append(turn.id, *(message(m) for m in scope.secrets.current().redact_json(start)))
        return self._launch(turn, scope, transcript, parent)

    def _journal(self, thread_id: str, turn_id: str, item_id: str, title: str, files: list[LandedFile]) -> None:
        """What undo reverts: a subagent's changes are its main thread's running turn's, so
        undoing that turn undoes what its subagents changed too."""
        root = self.store.root_thread(thread_id)
        running = self._running.get(root) if root != thread_id else None
        if running is not None:
            thread_id, turn_id = root, running.turn.id
        self.store.record_changes(thread_id, turn_id, item_id, title, files)

    def cancel_scope(self, thread_id: str) -> CancelScope | None:
        """The cancel scope of the thread's running turn: what its subagents run under."""
        handle = self._running.get(thread_id)
        return handle.scope if handle is not None else None

    def compact(self, thread_id: str, instructions: str | None = None) -> TurnHandle:
        """Compact the thread's context now, as a turn of its own (``agent/thread/compact``)."""
        self.get_thread(thread_id)
        if self.store.message_count(thread_id) == 0:
            raise NothingToCompact(thread_id)
        turn, scope, transcript = self._begin(thread_id)
        return self._launch(turn, scope, transcript, None, compact=True, instructions=instructions)

    def _record_changes(self, thread_id: str, changes: ChangeSet) -> None:
        def touch(state: ThreadState) -> ThreadState:
            for planned in changes.files:
                state = state.touched(planned.rel, planned.kind)
            return state

        self.store.update_state(thread_id, touch)

    async def interrupt(self, thread_id: str) -> bool:
        handle = self._running.get(thread_id)
        if handle is None:
            return False
        handle.cancel()
        await handle.scope.wait()
        await handle.result()
        return True

    async def wait(self, thread_id: str) -> TurnReport | None:
        handle = self._running.get(thread_id)
        return await handle.result() if handle is not None else None

    # --- approvals ---------------------------------------------------------------------------

    def pending_approvals(self, thread_id: str | None = None) -> list[Approval]:
        """Approvals waiting for an answer in this workspace, oldest first, with locations."""
        return self.store.pending_approvals(self.workspace.key, thread_id)

    def respond(self, approval_id: str, decision: Decision, message: str | None = None,
                source: ApprovalSource = "request", client_name: str | None = None,
                hunks: list[int] | None = None) -> str:
        """Answer an approval; ``hunks`` (decision ``approve`` only) approves just those hunks."""
        if hunks is not None:
            check_approved_hunks(self.store.approval_record(approval_id), decision, hunks)
        return self.broker.respond(approval_id, decision, message, source, client_name, hunks)

    # --- undo ----------------------------------------------------------------------------------

    async def undo_turn(self, thread_id: str, turn_id: str | None = None) -> list[FileUndo]:
        """Revert a turn's file changes (the last turn that changed files without ``turn_id``)."""
        return await Undoer(self).undo(thread_id, turn_id)

    async def redo_turn(self, thread_id: str, turn_id: str | None = None) -> list[FileUndo]:
        """Re-apply an undone turn (the last one undone without ``turn_id``)."""
        return await Undoer(self).redo(thread_id, turn_id)

    def _approval_status(self, approval_id: str) -> str | None:
        record = self.store.approval_record(approval_id)
        return record.status if record is not None else None

    async def shutdown(self) -> None:
        for thread_id in list(self._running):
            await self.interrupt(thread_id)
        await self.observer.shutdown()
