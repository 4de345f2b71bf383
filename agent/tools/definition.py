"""``definition``: where a symbol is defined, answered by the editor's own language servers."""

from __future__ import annotations

from agent.tools.base import Tool, ToolContext
from agent.tools.editor_common import PositionInput, query_locations


class Definition(Tool):
    name = "definition"
    description = (
        "Where the symbol at a position is defined, answered by the user's editor and its language "
        "servers (the editor's Go to Definition). Give the file and the 1-based line and column of "
        "the symbol (as read_file numbers lines). Returns path:line:column lines with the source line."
    )
    Input = PositionInput
    kind = "read"

    async def run(self, args: PositionInput, ctx: ToolContext) -> str:
        return await query_locations("definition", args, ctx)
