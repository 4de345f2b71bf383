"""What every tool is: a name, a pydantic input model, a kind, and one async method.

Read-only tools implement ``run`` and return text. Tools that change files implement
``plan`` and return a ``ChangeSet`` without writing anything: the dispatcher wraps them with
the permission step, the ``fileChange`` item and the applier, so no tool can skip approval.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from agent.files.changes import ChangeSet
from agent.context.thread_state import FileKind
from agent.context.thread_state import ThreadState as State
from agent.files.workspace import FileText, ToolError, Workspace

ToolKind = Literal["read", "edit", "command", "todo", "agent"]

__all__ = ["ThreadRecord", "Tool", "ToolContext", "ToolError", "ToolInput", "ToolKind"]


class ThreadRecord(Protocol):
    """The thread's harness state as a tool sees it (``agent.store.sqlite.StoredThreadState``)."""

    def load(self) -> State: ...

    def update(self, change: Callable[[State], State]) -> State: ...

    def touch(self, rel: str, kind: FileKind) -> None: ...

    def record_process(self, turn_id: str, pgid: int, identity: str) -> None: ...

    def forget_process(self, turn_id: str, pgid: int) -> None: ...


class ToolInput(BaseModel):
    """Base for tool inputs: unknown keys are an error the model can read."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class ToolContext:
    """What a tool may use while it runs; one value per tool call."""

    workspace: Workspace
    thread_id: str
    turn_id: str
    state: ThreadRecord | None = None
    denied: Callable[[str], bool] = lambda rel: False  # paths deny rules hide from every tool

    def read(self, path: Path) -> FileText:
        """The file's current text (buffer or disk), unless a deny rule hides the path: then
        an error that names the rule's effect and nothing of the file, so no hint, diff or
        message built from the text can carry a denied file's contents."""
        rel = self.workspace.relative(path)
        if self.denied(rel):
            raise ToolError(f"{rel} is hidden by a deny rule in .agent-lsp/settings.json; the agent may not "
                            "read or change it. Do not retry; ask the user if it is needed.")
        return self.workspace.read(path)


class Tool:
    """Base class; subclasses set the class variables and override ``run`` or ``plan``."""

    name: ClassVar[str]
    description: ClassVar[str]
    Input: ClassVar[type[ToolInput]]
    kind: ClassVar[ToolKind] = "read"

    def schema(self) -> dict[str, Any]:
        """The tool definition sent to the model; identical bytes on every request."""
        return {"name": self.name, "description": self.description, "input_schema": _schema(self.Input)}

    async def run(self, args: Any, ctx: ToolContext) -> str:
        raise ToolError(f"{self.name} cannot be run directly")

    async def plan(self, args: Any, ctx: ToolContext) -> ChangeSet:
        raise ToolError(f"{self.name} does not change files")


_SCHEMAS: dict[type[ToolInput], dict[str, Any]] = {}


def _schema(model: type[ToolInput]) -> dict[str, Any]:
    if model not in _SCHEMAS:
        _SCHEMAS[model] = _strip_titles(model.model_json_schema())
    return _SCHEMAS[model]


def _strip_titles(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_titles(v) for k, v in node.items() if k != "title"}
    if isinstance(node, list):
        return [_strip_titles(v) for v in node]
    return node
