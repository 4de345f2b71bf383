"""Running one ``tool_use``: find the tool, validate its input, run it inside its wrappers.

Each kind of tool has one small wrapper here saying how it shows as an item: a read is a
``toolCall`` item, a command a ``commandExecution`` item whose output streams as deltas, the
todo list a ``todoList`` item, a change goes through ``ChangeFlow`` (a ``fileChange`` item).
Every wrapper runs in ``TurnScope.item``, which always completes the item, and asks the
``Gate`` (permission as a wrapper) before the tool acts. Every path returns exactly one
``ToolOutcome``, so the transcript stays valid whatever happens; on an interrupt the
``CancelledError`` may carry the outcome (``outcome``: a command's output so far).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from agent.engine.changeflow import ChangeFlow
from agent.engine.gate import Gate
from agent.engine.items import Refused, TurnScope
from agent.policy.permissions import Action
from agent.protocol import Approval, CommandExecutionItem, TodoListItem, ToolCallItem
from agent.store.sqlite import new_id
from agent.engine.titles import command_title
from agent.tools import Tool, ToolContext, ToolError
from agent.tools.base import ThreadRecord
from agent.tools.run_command import RunCommand, RunCommandInput
from agent.files.workspace import Workspace

if TYPE_CHECKING:
    from agent.engine.subagents import Subagents

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


Wrapper = Callable[[TurnScope, Tool, Any, ToolContext, dict[str, Any]], Awaitable[ToolOutcome]]


class ToolDispatcher:
    def __init__(self, tools: list[Tool], workspace: Workspace, gate: Gate, changes: ChangeFlow,
                 state_for: Callable[[str], ThreadRecord] | None = None) -> None:
        self.tools = {tool.name: tool for tool in tools}
        self.workspace = workspace
        self.gate = gate
        self.changes = changes
        self.state_for = state_for
        self.subagents: Subagents | None = None  # set by the harness: runs spawn_agent
        self._wrappers: dict[str, Wrapper] = {"read": self._read, "todo": self._todo,
                                              "command": self._command, "edit": self._change,
                                              "agent": self._agent}

    def schemas(self, hidden: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
        return [tool.schema() for tool in self.tools.values() if tool.name not in hidden]

    async def run(self, scope: TurnScope, call: dict[str, Any]) -> ToolOutcome:
        tool = self.tools.get(call["name"])
        if tool is None:
            return ToolOutcome(f"Unknown tool {call['name']!r}; use one of: {', '.join(self.tools)}", True)
        raw = call.get("input") or {}
        try:
            args = tool.Input.model_validate(raw)
        except ValidationError as exc:
            return ToolOutcome(f"Invalid input for {tool.name}: {_brief(exc)}", True)
        state = self.state_for(scope.thread_id) if self.state_for else None
        ctx = ToolContext(self.workspace, scope.thread_id, scope.turn_id, state, self.gate.policy.path_denied)
        try:
            return await self._wrappers[tool.kind](scope, tool, args, ctx, raw)
        except Refused as refused:
            return ToolOutcome(refused.message, True)
        except ToolError as exc:
            return ToolOutcome(str(exc), True)

    # --- one wrapper per kind ----------------------------------------------------------------

    async def _read(self, scope: TurnScope, tool: Tool, args: Any, ctx: ToolContext,
                    raw: dict[str, Any]) -> ToolOutcome:
        with scope.item(ToolCallItem(id=scope.new_item_id(), tool=tool.name, input=raw)) as handle, _file_errors():
            await self.gate.permit(scope, Action(tool.name, "read", self._targets(args)))
            text = await tool.run(args, ctx)
            handle.finish(status="completed", output=text)
        return ToolOutcome(text)

    async def _todo(self, scope: TurnScope, tool: Tool, args: Any, ctx: ToolContext,
                    raw: dict[str, Any]) -> ToolOutcome:
        with scope.item(TodoListItem(id=scope.new_item_id(), todos=args.todos)), _file_errors():
            await self.gate.permit(scope, Action(tool.name, "read", ()))
            text = await tool.run(args, ctx)
        return ToolOutcome(text)

    async def _change(self, scope: TurnScope, tool: Tool, args: Any, ctx: ToolContext,
                      raw: dict[str, Any]) -> ToolOutcome:
        try:
            with _file_errors():
                changes = await tool.plan(args, ctx)
        except ToolError as exc:  # nothing to show as a change: a failed call
            with scope.item(ToolCallItem(id=scope.new_item_id(), tool=tool.name,
                                         input=args.model_dump(exclude_none=True))) as handle:
                handle.finish(status="failed", output=str(exc))
            raise
        text, is_error = await self.changes.run(scope, changes, tool.name)
        return ToolOutcome(text, is_error)

    async def _agent(self, scope: TurnScope, tool: Tool, args: Any, ctx: ToolContext,
                     raw: dict[str, Any]) -> ToolOutcome:
        if self.subagents is None:
            return ToolOutcome(f"{tool.name} is not available here.", True)
        return await self.subagents.run(scope, args, scope.fork_base)

    async def _command(self, scope: TurnScope, tool: Tool, args: Any, ctx: ToolContext,
                       raw: dict[str, Any]) -> ToolOutcome:
        assert isinstance(tool, RunCommand) and isinstance(args, RunCommandInput)
        item = CommandExecutionItem(id=scope.new_item_id(), command=args.command, cwd=str(self.workspace.root))
        with scope.item(item) as handle:
            await self.gate.permit(scope, Action(tool.name, "command", (args.command,)), lambda: Approval(
                id=new_id("apr"), turn_id=scope.turn_id, item_id=handle.id, kind="command",
                title=command_title(args.command), command=args.command))
            stream = _Throttle(lambda text: scope.delta(handle.id, text))
            try:
                result = await tool.execute(args, ctx, stream.add)
            except asyncio.CancelledError as exc:  # the item and the model keep what it printed
                partial = getattr(exc, "result", None)
                output = partial.output if partial is not None else ""
                handle.finish(status="interrupted", output=output)
                told = f" Output so far:\n{output}" if output else " It printed nothing before it was stopped."
                exc.outcome = ToolOutcome("Interrupted by the user while the command ran; the command and "  # type: ignore[attr-defined]
                                          f"its children were stopped.{told}", True)
                raise
            except OSError as exc:
                handle.finish(status="failed", output=str(exc))
                return ToolOutcome(f"The command could not start: {exc}", True)
            finally:  # every streamed byte lands before the item completes
                stream.flush()
            ok = result.exit_code == 0
            handle.finish(status="completed" if ok else "failed", exit_code=result.exit_code, output=result.output)
        return ToolOutcome(result.summary(args.timeout_s or 120.0), not ok)

    def _targets(self, args: Any) -> tuple[str, ...]:
        raw = getattr(args, "path", None)
        if not isinstance(raw, str) or not raw:
            return ()
        try:
            return (self.workspace.relative(self.workspace.resolve(raw)),)
        except ToolError:
            return ()


class _file_errors:  # noqa: N801 (used as a context manager, like contextlib's)
    """Turns a file-system error into a ``ToolError`` the model can act on."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: Any) -> None:
        if isinstance(error, OSError) and not isinstance(error, ToolError):
            where = f" ({error.filename})" if error.filename else ""
            raise ToolError(f"The file system refused: {error.strerror or error}{where}. "
                            "Check the path and try another way.") from error


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


def _brief(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "input"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
