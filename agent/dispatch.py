"""Running one ``tool_use``: validate, check permission, ask, act, and report as items.

This is where permissions wrap tools. Read tools run and become ``toolCall`` items; change
tools are planned first, shown as a ``fileChange`` item, approved per the permission mode,
then handed to the applier. Every path returns exactly one ``tool_result`` block, so the
transcript stays valid whatever happens.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from agent.approvals import ApprovalBroker
from agent.changes import ChangeApplier, ChangeSet
from agent.items import TurnScope
from agent.permissions import Allow, Deny, PermissionPolicy
from agent.protocol import Approval, FileChangeItem, ToolCallItem
from agent.store import new_id
from agent.tools import Tool, ToolContext, ToolError
from agent.workspace import Workspace


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
                 broker: ApprovalBroker, applier: ChangeApplier) -> None:
        self.tools = {tool.name: tool for tool in tools}
        self.workspace = workspace
        self.policy = policy
        self.broker = broker
        self.applier = applier

    def schemas(self) -> list[dict[str, Any]]:
        return [tool.schema() for tool in self.tools.values()]

    async def run(self, scope: TurnScope, call: dict[str, Any]) -> ToolOutcome:
        tool = self.tools.get(call["name"])
        if tool is None:
            return ToolOutcome(f"Unknown tool {call['name']!r}; use one of: {', '.join(self.tools)}", True)
        try:
            args = tool.Input.model_validate(call.get("input") or {})
        except ValidationError as exc:
            return ToolOutcome(f"Invalid input for {tool.name}: {_brief(exc)}", True)
        ctx = ToolContext(self.workspace, scope.thread_id, scope.turn_id)
        if tool.kind == "edit":
            return await self._run_change(scope, tool, args, ctx)
        return await self._run_read(scope, tool, args, ctx, call.get("input") or {})

    async def _run_read(self, scope: TurnScope, tool: Tool, args: Any, ctx: ToolContext,
                        raw: dict[str, Any]) -> ToolOutcome:
        item = scope.start(ToolCallItem(id=scope.new_item_id(), tool=tool.name, input=raw))
        try:
            text = await tool.run(args, ctx)
        except ToolError as exc:
            scope.complete(item.model_copy(update={"status": "failed", "output": str(exc)}))
            return ToolOutcome(str(exc), True)
        scope.complete(item.model_copy(update={"status": "completed", "output": text}))
        return ToolOutcome(text)

    async def _run_change(self, scope: TurnScope, tool: Tool, args: Any, ctx: ToolContext) -> ToolOutcome:
        try:
            changes = await tool.plan(args, ctx)
        except ToolError as exc:
            item = scope.start(ToolCallItem(id=scope.new_item_id(), tool=tool.name,
                                            input=args.model_dump(exclude_none=True)))
            scope.complete(item.model_copy(update={"status": "failed", "output": str(exc)}))
            return ToolOutcome(str(exc), True)
        item = scope.start(FileChangeItem(id=scope.new_item_id(), changes=changes.to_protocol()))
        verdict = self.policy.check(scope.thread_id, "edit")
        if isinstance(verdict, Deny):
            scope.complete(item.model_copy(update={"status": "declined", "outcome": "rejected"}))
            return ToolOutcome(verdict.message, True)
        if not isinstance(verdict, Allow):
            try:
                answer = await self.broker.ask(scope.thread_id, _approval(scope, item.id, changes, self.workspace))
            except asyncio.CancelledError:
                scope.complete(item.model_copy(update={"status": "declined", "outcome": "rejected"}))
                raise
            if answer.decision == "reject":
                scope.complete(item.model_copy(update={"status": "declined", "outcome": "rejected"}))
                reason = f" Their reason: {answer.message}" if answer.message else ""
                return ToolOutcome(f"The user rejected this change; nothing was written.{reason}", True)
            if answer.decision in ("approveForSession", "approveAlways"):
                self.policy.grant_session(scope.thread_id, "edit")
        result = await self.applier.apply(changes)
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


def _approval(scope: TurnScope, item_id: str, changes: ChangeSet, workspace: Workspace) -> Approval:
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
