"""Running one ``tool_use``: validate, check permission, ask, act, and report as items.

This is where permissions wrap tools. Read tools run and become ``toolCall`` items; change
tools are planned first and shown as a ``fileChange`` item; commands become a
``commandExecution`` item whose output streams as ``item/delta``; ``todo_write`` becomes a
``todoList`` item. Every path returns exactly one ``tool_result``, so the transcript stays
valid whatever happens, including an interrupt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from agent.approvals import ApprovalBroker
from agent.changes import ChangeApplier, ChangeSet
from agent.items import TurnScope
from agent.permissions import Action, Allow, Ask, Deny, PermissionPolicy
from agent.protocol import (
    Approval,
    CommandExecutionItem,
    FileChangeItem,
    Item,
    Range,
    TodoListItem,
    ToolCallItem,
)
from agent.secrets import redact
from agent.store import new_id
from agent.tools import Tool, ToolContext, ToolError
from agent.tools.base import ThreadState
from agent.tools.run_command import RunCommand, RunCommandInput
from agent.workspace import Workspace

FLUSH_CHARS = 4096
FLUSH_SECONDS = 0.1


@dataclass(frozen=True)
class ToolOutcome:
    text: str
    is_error: bool = False

    def result_block(self, tool_use_id: str) -> dict[str, Any]:
        block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_use_id,
                                 "content": self.text or "(no output)"}
        if self.is_error:
            block["is_error"] = True
        return block


class ToolDispatcher:
    def __init__(self, tools: list[Tool], workspace: Workspace, policy: PermissionPolicy,
                 broker: ApprovalBroker, applier: ChangeApplier,
                 state_for: Callable[[str], ThreadState] | None = None) -> None:
        self.tools = {tool.name: tool for tool in tools}
        self.workspace = workspace
        self.policy = policy
        self.broker = broker
        self.applier = applier
        self.state_for = state_for

    def schemas(self) -> list[dict[str, Any]]:
        return [tool.schema() for tool in self.tools.values()]

    async def run(self, scope: TurnScope, call: dict[str, Any]) -> ToolOutcome:
        outcome = await self._run(scope, call)
        return ToolOutcome(redact(outcome.text), outcome.is_error)

    async def _run(self, scope: TurnScope, call: dict[str, Any]) -> ToolOutcome:
        tool = self.tools.get(call["name"])
        if tool is None:
            return ToolOutcome(f"Unknown tool {call['name']!r}; use one of: {', '.join(self.tools)}", True)
        raw = call.get("input") or {}
        try:
            args = tool.Input.model_validate(raw)
        except ValidationError as exc:
            return ToolOutcome(f"Invalid input for {tool.name}: {_brief(exc)}", True)
        state = self.state_for(scope.thread_id) if self.state_for else None
        ctx = ToolContext(self.workspace, scope.thread_id, scope.turn_id, state, self.policy.path_denied)
        if tool.kind == "edit":
            return await self._run_change(scope, tool, args, ctx)
        if tool.kind == "command":
            return await self._run_command(scope, tool, args, ctx)
        return await self._run_read(scope, tool, args, ctx, raw)

    # --- permission, shared by every kind -----------------------------------------------------

    async def _permit(self, scope: TurnScope, item: Item, action: Action,
                      approval: Callable[[], Approval],
                      locations: list[tuple[str, Range]] | None = None) -> ToolOutcome | None:
        """None when the action may go ahead; otherwise the result to give the model. On a
        refusal the item is completed as declined here."""
        verdict = self.policy.check(scope.thread_id, action)
        if isinstance(verdict, Allow):
            return None
        if isinstance(verdict, Deny):
            scope.complete(_declined(item))
            return ToolOutcome(verdict.message, True)
        request = approval()
        if isinstance(verdict, Ask) and verdict.reason:  # say why no rule could decide
            request = request.model_copy(update={"title": f"{request.title}. {verdict.reason}"})
        try:
            answer = await self.broker.ask(scope.thread_id, request, locations)
        except asyncio.CancelledError:
            scope.complete(_declined(item))
            raise
        if answer.decision == "reject":
            scope.complete(_declined(item))
            reason = f" Their reason: {answer.message}" if answer.message else " They gave no reason."
            return ToolOutcome(f"The user rejected this; nothing was done.{reason}", True)
        self.policy.remember(scope.thread_id, action, answer.decision)
        return None

    # --- kinds -------------------------------------------------------------------------------

    async def _run_read(self, scope: TurnScope, tool: Tool, args: Any, ctx: ToolContext,
                        raw: dict[str, Any]) -> ToolOutcome:
        todo = tool.kind == "todo"
        item: Item = (TodoListItem(id=scope.new_item_id(), todos=args.todos) if todo
                      else ToolCallItem(id=scope.new_item_id(), tool=tool.name, input=raw))
        scope.start(item)
        try:
            refused = await self._permit(scope, item, Action(tool.name, "read", self._targets(args)),
                                         lambda: _never())
            if refused is not None:
                return refused
            text = await tool.run(args, ctx)
        except (ToolError, OSError) as exc:
            message = _tool_error(exc)
            update: dict[str, Any] = {"status": "failed"} if todo else {"status": "failed", "output": message}
            scope.complete(item.model_copy(update=update))
            return ToolOutcome(message, True)
        except asyncio.CancelledError:
            scope.complete(item.model_copy(update={"status": "failed"} if todo else
                                           {"status": "failed", "output": "Interrupted by the user."}))
            raise
        scope.complete(item.model_copy(update={"status": "completed"} if todo else
                                       {"status": "completed", "output": redact(text)}))
        return ToolOutcome(text)

    async def _run_change(self, scope: TurnScope, tool: Tool, args: Any, ctx: ToolContext) -> ToolOutcome:
        try:
            changes = await tool.plan(args, ctx)
        except (ToolError, OSError) as exc:
            message = _tool_error(exc)
            failed = scope.start(ToolCallItem(id=scope.new_item_id(), tool=tool.name,
                                              input=args.model_dump(exclude_none=True)))
            scope.complete(failed.model_copy(update={"status": "failed", "output": message}))
            return ToolOutcome(message, True)
        item = scope.start(FileChangeItem(id=scope.new_item_id(), changes=changes.to_protocol()))
        action = Action(tool.name, "edit", tuple(f.rel for f in changes.files))
        places = [(self.workspace.uri_for(f.path), f.changed_range()) for f in changes.files]
        refused = await self._permit(scope, item, action,
                                     lambda: _change_approval(scope, item.id, changes, self.workspace), places)
        if refused is not None:
            return refused
        try:
            result = await self.applier.apply(changes)
        except OSError as exc:
            scope.complete(item.model_copy(update={"status": "failed", "outcome": "conflict"}))
            return ToolOutcome(f"The change could not be written: {_tool_error(exc)}", True)
        except asyncio.CancelledError:
            # the editor may or may not have applied it: the model must look before going on
            scope.complete(item.model_copy(update={"status": "failed"}))
            raise
        if result.outcome != "applied":
            scope.complete(item.model_copy(update={"status": "failed", "outcome": "conflict"}))
            return ToolOutcome(
                f"Conflict: {result.detail or 'the file changed since it was read'}. Nothing was "
                "written. Read the file again and redo the change against its current text.",
                True,
            )
        scope.complete(item.model_copy(update={"status": "completed", "outcome": "applied"}))
        names = ", ".join(f.rel for f in changes.files)
        return ToolOutcome(f"Applied: {changes.title} ({names}).")

    async def _run_command(self, scope: TurnScope, tool: Tool, args: Any, ctx: ToolContext) -> ToolOutcome:
        assert isinstance(tool, RunCommand) and isinstance(args, RunCommandInput)
        item = scope.start(CommandExecutionItem(id=scope.new_item_id(), command=args.command,
                                                cwd=str(self.workspace.root)))
        action = Action(tool.name, "command", (args.command,))
        refused = await self._permit(scope, item, action, lambda: Approval(
            id=new_id("apr"), turn_id=scope.turn_id, item_id=item.id, kind="command",
            title=tool.title(args, ctx), command=args.command))
        if refused is not None:
            return refused
        stream = _Throttle(lambda text: scope.delta(item.id, redact(text)))
        try:
            result = await tool.execute(args, ctx, stream.add)
        except asyncio.CancelledError as exc:
            # stopped by the interrupt: the item and the model keep what it printed so far
            stream.flush()
            partial = getattr(exc, "result", None)
            output = redact(partial.output) if partial is not None else ""
            scope.complete(item.model_copy(update={"status": "interrupted", "output": output}))
            told = f" Output so far:\n{output}" if output else " It printed nothing before it was stopped."
            exc.outcome = ToolOutcome("Interrupted by the user while the command ran; the command and its "  # type: ignore[attr-defined]
                                      f"children were stopped.{told}", True)
            raise
        except OSError as exc:
            scope.complete(item.model_copy(update={"status": "failed", "output": str(exc)}))
            return ToolOutcome(f"The command could not start: {exc}", True)
        stream.flush()
        ok = result.exit_code == 0
        scope.complete(item.model_copy(update={"status": "completed" if ok else "failed",
                                               "exit_code": result.exit_code, "output": redact(result.output)}))
        return ToolOutcome(result.summary(args.timeout_s or 120.0), not ok)

    def _targets(self, args: Any) -> tuple[str, ...]:
        raw = getattr(args, "path", None)
        if not isinstance(raw, str) or not raw:
            return ()
        try:
            return (self.workspace.relative(self.workspace.resolve(raw)),)
        except ToolError:
            return ()


class _Throttle:
    """Batches streamed command output into a few events per second; what is held back is
    sent at the latest ``FLUSH_SECONDS`` later, so a command that prints and then waits
    still shows what it printed."""

    def __init__(self, send: Callable[[str], None]) -> None:
        self._send = send
        self._pending: list[str] = []
        self._size = 0
        self._last = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def add(self, text: str) -> None:
        self._pending.append(text)
        self._size += len(text)
        loop = asyncio.get_running_loop()
        if self._size >= FLUSH_CHARS or loop.time() - self._last >= FLUSH_SECONDS:
            self.flush()
        elif self._timer is None:
            self._timer = loop.call_at(self._last + FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._pending:
            self._send("".join(self._pending))
            self._pending.clear()
            self._size = 0
            self._last = asyncio.get_running_loop().time()


def _tool_error(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, ToolError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"The file system refused: {exc.strerror or exc}{where}. Check the path and try another way."
    return str(exc)


def _declined(item: Item) -> Item:
    update: dict[str, Any] = {"status": "declined"}
    if isinstance(item, FileChangeItem):
        update["outcome"] = "rejected"
    return item.model_copy(update=update)


def _never() -> Approval:
    raise AssertionError("reads never ask")


def _change_approval(scope: TurnScope, item_id: str, changes: ChangeSet, workspace: Workspace) -> Approval:
    first = changes.files[0]
    return Approval(
        id=new_id("apr"),
        turn_id=scope.turn_id,
        item_id=item_id,
        kind="fileChange",
        title=changes.title,
        diff=changes.diff,
        uri=workspace.uri_for(first.path),
        range=first.changed_range(),
    )


def _brief(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "input"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
