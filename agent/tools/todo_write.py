"""``todo_write``: the agent's task list, kept by the harness outside the context window.

The list replaces the thread's previous one and is stored with the thread, so it survives
restarts and compaction re-injects it. The dispatcher shows it as a ``todoList`` item.
"""

from __future__ import annotations

from pydantic import Field

from agent.protocol import Todo
from agent.tools.base import Tool, ToolContext, ToolError, ToolInput


class TodoWriteInput(ToolInput):
    todos: list[Todo] = Field(description="The whole task list; it replaces the previous one.")


class TodoWrite(Tool):
    name = "todo_write"
    description = (
        "Replace your task list for this thread. Use it for work with several steps: list the "
        "steps, keep exactly one in_progress, and mark each completed as soon as it is done. "
        "Statuses: pending, in_progress, completed."
    )
    Input = TodoWriteInput
    kind = "todo"

    async def run(self, args: TodoWriteInput, ctx: ToolContext) -> str:
        if ctx.state is None:
            raise ToolError("todo_write is not available here")
        doing = [t for t in args.todos if t.status == "in_progress"]
        if len(doing) > 1:
            raise ToolError(f"{len(doing)} tasks are in_progress; keep exactly one in_progress")
        todos = list(args.todos)
        ctx.state.update(lambda state: state.model_copy(update={"todos": todos}))
        done = sum(t.status == "completed" for t in args.todos)
        return f"Task list saved: {len(args.todos)} tasks, {done} completed."
