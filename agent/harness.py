"""The harness facade that both the LSP server and the CLI drive.

It owns the per-process pieces (event log, approval broker, permission policy, the running
turns) and exposes what PROTOCOL.md section 3 needs: threads, turns, interrupts, approvals.
Each turn runs as an asyncio task; ``turn/completed`` is always emitted, whatever happens.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from agent.approvals import ApprovalBroker
from agent.changes import ChangeApplier, DiskApplier
from agent.config import Settings
from agent.dispatch import ToolDispatcher
from agent.events import EventLog
from agent.input import render_input
from agent.items import TurnScope
from agent.loop import LoopConfig, TurnResult, TurnRunner
from agent.model import ModelClient
from agent.permissions import PermissionPolicy
from agent.prompt import build_system_prompt
from agent.protocol import (
    Decision,
    ApprovalSource,
    Event,
    InputPart,
    Item,
    Thread,
    Turn,
    TurnCompletedEvent,
    TurnStartedEvent,
    Usage,
    UserMessageItem,
)
from agent.recovery import recover, repair_turn
from agent.rules import RuleFile
from agent.store import Store, StoredThreadState, UnknownThread, new_id, owner_alive
from agent.tools import Tool, default_tools
from agent.workspace import Workspace

log = logging.getLogger(__name__)


class TurnBusy(Exception):
    def __init__(self, turn_id: str) -> None:
        super().__init__(
            f"A turn is already running on this thread (turn {turn_id}); interrupt it with "
            "agent/turn/interrupt or wait for turn/completed."
        )
        self.turn_id = turn_id


@dataclass
class RunningTurn:
    turn: Turn
    task: asyncio.Task[None]


class Harness:
    def __init__(self, workspace: Workspace, store: Store, settings: Settings, *,
                 applier: ChangeApplier | None = None, model: ModelClient | None = None,
                 tools: list[Tool] | None = None,
                 sleep: Callable[[float], Awaitable[None]] | None = None) -> None:
        self.workspace = workspace
        self.store = store
        self.settings = settings
        self.log = EventLog(store, workspace.secrets)
        self.broker = ApprovalBroker(self.log.emit)
        self.policy = PermissionPolicy(settings.permission_mode, RuleFile(workspace.root))
        self.dispatcher = ToolDispatcher(tools or default_tools(), workspace, self.policy, self.broker,
                                         applier or DiskApplier(),
                                         state_for=lambda thread_id: StoredThreadState(store, thread_id))
        self._model = model
        self._sleep = sleep or asyncio.sleep  # where retries wait; tests inject a FakeClock's
        self.current_thread_id: str | None = None
        self._running: dict[str, RunningTurn] = {}
        self.repaired = recover(store, self.log, workspace.key)

    # --- settings and model ------------------------------------------------------------------

    def update_settings(self, settings: Settings) -> None:
        self.settings = settings
        self.policy.mode = settings.permission_mode

    @property
    def model(self) -> ModelClient:
        if self._model is None:
            from agent.anthropic_model import AnthropicModel

            self._model = AnthropicModel()
        return self._model

    # --- threads -----------------------------------------------------------------------------

    def start_thread(self, title: str | None = None) -> Thread:
        event = self.store.create_thread(self.workspace.key, title or "New thread")
        self.log.publish(event)
        self.current_thread_id = event.thread.id
        return event.thread

    def list_threads(self) -> list[Thread]:
        return self.store.list_threads(self.workspace.key)

    def get_thread(self, thread_id: str) -> Thread:
        thread = self.store.get_thread(thread_id)
        if self.store.thread_workspace(thread_id) != self.workspace.key:
            raise UnknownThread(thread_id)
        return thread

    def resume(self, thread_id: str, after_seq: int = 0) -> tuple[Thread, list[Item], list[Event]]:
        thread = self.get_thread(thread_id)
        self.current_thread_id = thread_id
        items, events = self.store.snapshot(thread_id, after_seq)
        return thread.model_copy(update={"last_seq": max([thread.last_seq] + [e.seq for e in events])}), items, events

    def current_thread(self, title: str | None = None) -> str:
        """The last thread started or resumed here, starting one if there is none."""
        if self.current_thread_id is None:
            self.start_thread(title)
        assert self.current_thread_id is not None
        return self.current_thread_id

    # --- turns -------------------------------------------------------------------------------

    def running_turn(self, thread_id: str) -> Turn | None:
        running = self._running.get(thread_id)
        return running.turn if running else None

    def start_turn(self, thread_id: str, parts: list[InputPart]) -> Turn:
        self.get_thread(thread_id)
        busy = self._running.get(thread_id)
        if busy is not None:
            raise TurnBusy(busy.turn.id)
        for dead in [t for t, owner in self.store.running_turns(thread_id) if not owner_alive(owner)]:
            repair_turn(self.store, self.log, dead)
        turn = Turn(id=new_id("turn"), thread_id=thread_id, status="running")
        started = self.log.emit_turn_start(TurnStartedEvent(thread_id=thread_id, turn=turn), owner_alive)
        if isinstance(started, str):  # another live process runs a turn here: one writer per thread
            raise TurnBusy(started)
        scope = TurnScope(thread_id, turn.id, self.log.emit, self.workspace.secrets)
        item = scope.start(UserMessageItem(id=scope.new_item_id(), content=parts))
        scope.complete(item.model_copy(update={"status": "completed"}))
        self.current_thread_id = thread_id
        task = asyncio.get_running_loop().create_task(self._run_turn(scope, turn, parts))
        self._running[thread_id] = RunningTurn(turn, task)
        return turn

    async def _run_turn(self, scope: TurnScope, turn: Turn, parts: list[InputPart]) -> None:
        result = TurnResult("failed", Usage(), "the turn did not start")
        runner: TurnRunner | None = None
        try:
            runner = TurnRunner(scope=scope, store=self.store, model=self.model,
                                dispatcher=self.dispatcher, config=self._loop_config(turn.thread_id),
                                history=self.store.messages(turn.thread_id))
            result = await runner.run(render_input(parts, self.workspace))
        except asyncio.CancelledError:
            result = TurnResult("interrupted", runner.usage if runner else Usage())
        except Exception as exc:  # a bug must still end the turn visibly
            log.exception("turn %s crashed", turn.id)
            result = TurnResult("failed", Usage(), f"internal error: {exc!r}; the thread is intact, try again")
        finally:
            self._running.pop(turn.thread_id, None)
            final = turn.model_copy(update={"status": result.status, "error": result.error})
            self.log.emit(TurnCompletedEvent(thread_id=turn.thread_id, turn=final, usage=result.usage))

    def _loop_config(self, thread_id: str) -> LoopConfig:
        state = self.store.get_state(thread_id)
        if "system" not in state:
            state["system"] = build_system_prompt(self.workspace.root)
            self.store.set_state(thread_id, state)
        return LoopConfig(model=self.settings.model, max_tokens=self.settings.max_tokens,
                          system=state["system"], fallback_model=self.settings.fallback_model, sleep=self._sleep)

    async def interrupt(self, thread_id: str) -> bool:
        running = self._running.get(thread_id)
        if running is None:
            return False
        running.task.cancel()
        await asyncio.gather(running.task, return_exceptions=True)
        if self._running.get(thread_id) is running:  # cancelled before it ever ran
            self._running.pop(thread_id)
            final = running.turn.model_copy(update={"status": "interrupted"})
            self.log.emit(TurnCompletedEvent(thread_id=thread_id, turn=final, usage=Usage()))
        return True

    async def wait(self, thread_id: str) -> None:
        running = self._running.get(thread_id)
        if running is not None:
            await asyncio.gather(running.task, return_exceptions=True)

    def respond(self, approval_id: str, decision: Decision, message: str | None,
                source: ApprovalSource) -> str:
        return self.broker.respond(approval_id, decision, message, source)

    async def shutdown(self) -> None:
        for thread_id in list(self._running):
            await self.interrupt(thread_id)
