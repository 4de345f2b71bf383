"""``hover``: a symbol's type and documentation, answered by the editor's own language servers."""

from __future__ import annotations

from agent.tools.base import Tool, ToolContext
from agent.tools.editor_common import PositionInput, position_params

MAX_HOVER = 4000


class Hover(Tool):
    name = "hover"
    description = (
        "The type, signature and documentation of the symbol at a position, answered by the user's "
        "editor and its language servers (what the editor shows on hover). Give the file and the "
        "1-based line and column of the symbol."
    )
    Input = PositionInput
    kind = "read"

    async def run(self, args: PositionInput, ctx: ToolContext) -> str:
        params = position_params(args, ctx)
        texts: list[str] = []
        for result in await ctx.workspace.sight.query("hover", params):
            text = result.get("text")
            if isinstance(text, str) and text.strip() and text.strip() not in texts:
                texts.append(text.strip())
        if not texts:
            return f"The editor's language servers have no hover information at {args.path}:{args.line}:{args.column}."
        body = "\n\n---\n\n".join(texts)
        if len(body) > MAX_HOVER:
            body = body[:MAX_HOVER] + f"\n[... {len(body) - MAX_HOVER} more characters cut]"
        return body
