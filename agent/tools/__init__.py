"""The tools the model is given (PROTOCOL.md section 7), one module each."""

from __future__ import annotations

from agent.tools.base import Tool, ToolContext, ToolError, ToolInput
from agent.tools.apply_patch import ApplyPatch
from agent.tools.definition import Definition
from agent.tools.diagnostics import Diagnostics
from agent.tools.edit_file import EditFile
from agent.tools.glob import Glob
from agent.tools.grep import Grep
from agent.tools.hover import Hover
from agent.tools.read_file import ReadFile
from agent.tools.references import References
from agent.tools.run_command import RunCommand
from agent.tools.spawn_agent import SpawnAgent
from agent.tools.todo_write import TodoWrite
from agent.tools.workspace_symbols import WorkspaceSymbols
from agent.tools.write_file import WriteFile


def default_tools() -> list[Tool]:
    """The tool list in a fixed order, so the request prefix never changes."""
    return [ReadFile(), Glob(), Grep(), EditFile(), WriteFile(), ApplyPatch(), RunCommand(), TodoWrite(),
            Diagnostics(), Definition(), References(), WorkspaceSymbols(), Hover(), SpawnAgent()]


__all__ = ["Tool", "ToolContext", "ToolError", "ToolInput", "default_tools"]
