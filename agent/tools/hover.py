"""``hover``: a symbol's type and documentation, answered by the editor's own language servers.

A hover shows what the symbol's definition says (its signature, its docstring), so it is kept
back when the editor places that definition in a file a deny rule hides, as ``read_file`` would
refuse the file itself."""

from __future__ import annotations

from agent.tools.base import Tool, ToolContext
from agent.tools.editor_common import PositionInput, place, position_params

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
        definitions = await ctx.workspace.sight.query("definition", params)
        if any(place(result, ctx)[0] == "hidden" for result in definitions):
            return (f"The symbol at {args.path}:{args.line}:{args.column} is defined in a file hidden by deny "
                    "rules; its hover is not shown.")
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
