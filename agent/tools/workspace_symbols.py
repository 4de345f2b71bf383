"""``workspace_symbols``: classes, functions and other symbols by name, from the editor's language servers."""

from __future__ import annotations

from pydantic import Field

from agent.tools.base import Tool, ToolContext, ToolError, ToolInput
from agent.tools.editor_common import render_locations


class WorkspaceSymbolsInput(ToolInput):
    query: str = Field(description="The symbol's name or part of it (language servers match fuzzily).")


class WorkspaceSymbols(Tool):
    name = "workspace_symbols"
    description = (
        "Find classes, functions, methods and other symbols of the workspace by name, answered by the "
        "user's editor and its language servers (the editor's Go to Symbol in Workspace). Returns "
        "path:line:column lines with the symbol's name and kind, bounded."
    )
    Input = WorkspaceSymbolsInput
    kind = "read"

    async def run(self, args: WorkspaceSymbolsInput, ctx: ToolContext) -> str:
        if not args.query.strip():
            raise ToolError("query must name a symbol (or part of one), e.g. \"parse_config\"")
        results = await ctx.workspace.sight.query("workspaceSymbols", {"query": args.query.strip()})
        return render_locations(results, ctx, f"symbols matching {args.query.strip()!r}")
