"""``references``: every use of a symbol, answered by the editor's own language servers."""

from __future__ import annotations

from agent.tools.base import Tool, ToolContext
from agent.tools.editor_common import PositionInput, query_locations


class References(Tool):
    name = "references"
    description = (
        "Every place that uses the symbol at a position, answered by the user's editor and its "
        "language servers (the editor's Find All References). Give the file and the 1-based line and "
        "column of the symbol. Returns path:line:column lines with the source line, bounded."
    )
    Input = PositionInput
    kind = "read"

    async def run(self, args: PositionInput, ctx: ToolContext) -> str:
        return await query_locations("references", args, ctx)
