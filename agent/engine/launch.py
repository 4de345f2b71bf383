"""How the harness runs a turn: begin it, launch its task, build its runner, end it once.

A mixin of ``agent.engine.harness.Harness`` (which owns the store, the event log, the dispatcher
and the table of running turns), kept apart so the facade reads as the API front-ends drive.
``_begin`` refuses a second turn on a thread (``TurnBusy``: this harness or another live process
runs one), repairs turns a dead process left running and commits ``turn/started``; ``_launch``
runs the turn as an asyncio task under a cancel scope; ``_runner`` builds its ``TurnRunner``
from the settings and the thread's state; ``_finish`` commits ``turn/completed`` exactly once,
whatever happens (an interrupt, a crash, a task cancelled before it ever ran).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from agent.config import Settings
from agent.context.budget import ContextMeter, Measurement, auto_compact_at, context_window
from agent.context.compaction import Rebuilder
from agent.context.memory import Observer
from agent.context.prompt import build_system_prompt
from agent.context.transcript import Transcript
from agent.engine.dispatch import ToolDispatcher
from agent.engine.events import EventLog
from agent.engine.items import TurnScope
from agent.engine.loop import LoopConfig, TurnResult, TurnRunner
from agent.engine.recovery import repair_turn
from agent.engine.subagents import Subagents
from agent.engine.turns import CancelScope, TurnHandle, TurnReport
from agent.events import TurnCompletedEvent, TurnStartedEvent
from agent.files.workspace import Workspace
from agent.protocol import Turn, Usage
from agent.store.sqlite import Store, new_id, owner_alive

if TYPE_CHECKING:
    from agent.model.base import ModelClient
    from agent.protocol import Thread

logger = logging.getLogger(__name__)


class TurnBusy(Exception):
    def __init__(self, turn_id: str) -> None:
        super().__init__(
            f"A turn is already running on this thread (turn {turn_id}); interrupt it with "
            "agent/turn/interrupt or wait for turn/completed."
        )
        self.turn_id = turn_id


class TurnLauncher:
    """A turn's lifecycle as a task; ``Harness`` provides the pieces it uses."""

    workspace: Workspace
    store: Store
    settings: Settings
    log: EventLog
    dispatcher: ToolDispatcher
    subagents: Subagents
    observer: Observer
    _sleep: Callable[[float], Awaitable[None]]
    _running: dict[str, TurnHandle]
    _rebuilder: Rebuilder

    if TYPE_CHECKING:
        @property
        def model(self) -> ModelClient: ...
        def get_thread(self, thread_id: str) -> Thread: ...
        def check_rules(self) -> list[str]: ...
        def _notify(self, message: str, thread_id: str | None = None) -> None: ...

    def _begin(self, thread_id: str) -> tuple[Turn, TurnScope, Transcript]:
        self.get_thread(thread_id)
        busy = self._running.get(thread_id)
        if busy is not None:
            raise TurnBusy(busy.id)
        self.check_rules()
        for dead, owner in self.store.running_turns(thread_id):
            if not owner_alive(owner):
                repair_turn(self.store, self.log, dead, owner)
        turn = Turn(id=new_id("turn"), thread_id=thread_id, status="running")
        started = self.log.emit_turn_start(TurnStartedEvent(thread_id=thread_id, turn=turn), owner_alive)
        if isinstance(started, str):  # another live process runs a turn here: one writer per thread
            raise TurnBusy(started)
        scope = TurnScope(thread_id, turn.id, self.log.emit, self.workspace.secrets)
        return turn, scope, Transcript.load(self.store, thread_id)

    def _launch(self, turn: Turn, scope: TurnScope, transcript: Transcript, parent: CancelScope | None,
                compact: bool = False, instructions: str | None = None) -> TurnHandle:
        loop = asyncio.get_running_loop()
        report: asyncio.Future[TurnReport] = loop.create_future()
        task = loop.create_task(self._run_turn(scope, turn, transcript, report, compact, instructions))
        handle = TurnHandle(turn, CancelScope(task, parent), report)
        # a task cancelled before it ever ran never reaches _run_turn's `finally`
        task.add_done_callback(lambda _: self._finish(turn, TurnReport("interrupted"), report))
        self._running[turn.thread_id] = handle
        return handle

    async def _run_turn(self, scope: TurnScope, turn: Turn, transcript: Transcript,
                        report: asyncio.Future[TurnReport], compact: bool = False,
                        instructions: str | None = None) -> None:
        result = TurnResult("failed", Usage(), "the turn did not start")
        runner: TurnRunner | None = None
        try:
            runner = self._runner(scope, transcript, instructions)
            result = await runner.run("compact" if compact else "model")
        except asyncio.CancelledError:
            result = TurnResult("interrupted", runner.usage if runner else Usage())
        except Exception as exc:  # a bug must still end the turn visibly
            logger.exception("turn %s crashed", turn.id)
            result = TurnResult("failed", Usage(), f"internal error: {exc!r}; the thread is intact, try again")
        finally:
            self._finish(turn, TurnReport(result.status, result.usage, result.error), report)

    def _finish(self, turn: Turn, final: TurnReport, report: asyncio.Future[TurnReport]) -> None:
        """End the turn once: ``turn/completed`` stored and sent, the report set."""
        if report.done():
            return
        if self._running.get(turn.thread_id) is not None and self._running[turn.thread_id].turn is turn:
            del self._running[turn.thread_id]
        ended = turn.model_copy(update={"status": final.status, "error": final.error})
        self.log.emit(TurnCompletedEvent(thread_id=turn.thread_id, turn=ended, usage=final.usage))
        report.set_result(final)

    def _runner(self, scope: TurnScope, transcript: Transcript, instructions: str | None = None) -> TurnRunner:
        thread_id = scope.thread_id
        state = self.store.thread_state(thread_id)
        if state.system is None:  # built once per thread: every request starts with the same bytes
            system = build_system_prompt(self.workspace.root)
            state = self.store.update_state(thread_id, lambda s: s if s.system else s.model_copy(
                update={"system": system}))
        assert state.system is not None
        settings = self.settings
        config = LoopConfig(model=settings.model, max_tokens=settings.max_tokens, system=state.system,
                            fallback_model=settings.fallback_model, sleep=self._sleep,
                            context_window=context_window(settings.model, settings.context_window),
                            auto_compact_at=auto_compact_at(settings.model, settings.context_window,
                                                            settings.max_tokens, settings.auto_compact_at),
                            compact_instructions=instructions, cache_ttl=settings.cache_ttl,
                            prices=settings.prices, notice=lambda message: self._notify(message, thread_id))
        measured = (Measurement(state.measured_tokens, state.measured_messages)
                    if state.measured_tokens is not None and state.measured_messages is not None else None)
        return TurnRunner(scope=scope, store=self.store, model=self.model, dispatcher=self.dispatcher,
                          config=config, transcript=transcript, meter=ContextMeter(measured),
                          rebuilder=self._rebuilder,
                          hidden_tools=frozenset() if state.forked else self.subagents.hidden_tools(thread_id),
                          observer=self.observer)
