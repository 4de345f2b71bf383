"""``read_file``: a file's text with line numbers, from the open buffer when there is one."""

from __future__ import annotations

from pydantic import Field

from agent.files.changes import text_lines
from agent.tools.base import Tool, ToolContext, ToolError, ToolInput

MAX_LINES = 2000
MAX_LINE_CHARS = 2000
MAX_OUTPUT_CHARS = 100_000


class ReadFileInput(ToolInput):
    path: str = Field(description="File path, relative to the workspace root or absolute inside it.")
    offset: int | None = Field(default=None, ge=1, description="First line to read (1-based).")
    limit: int | None = Field(default=None, ge=1, description="How many lines to read.")


class ReadFile(Tool):
    name = "read_file"
    description = (
        "Read a text file of the workspace. Returns lines prefixed with their 1-based line "
        "numbers and a tab. Shows the editor's unsaved text when the file is open. Use offset "
        "and limit to read long files in parts."
    )
    Input = ReadFileInput
    kind = "read"

    async def run(self, args: ReadFileInput, ctx: ToolContext) -> str:
        path = ctx.workspace.resolve(args.path)
        current = ctx.read(path)
        rel = ctx.workspace.relative(path)
        if not current.exists:
            raise ToolError(f"{rel} does not exist; use glob to find the right path")
        if ctx.state is not None:
            ctx.state.touch(rel, "read")
        lines = text_lines(current.text)
        if not lines:
            return f"{rel} is empty."
        start = (args.offset or 1) - 1
        if start >= len(lines):
            raise ToolError(f"offset {args.offset} is past the end of {rel} ({len(lines)} lines)")
        end = min(len(lines), start + (args.limit or MAX_LINES))
        out: list[str] = []
        size = 0
        for number in range(start, end):
            line = lines[number]
            if len(line) > MAX_LINE_CHARS:
                line = line[:MAX_LINE_CHARS] + f" [... line cut, {len(line) - MAX_LINE_CHARS} more characters]"
            rendered = f"{number + 1:>6}\t{line}"
            size += len(rendered) + 1
            if size > MAX_OUTPUT_CHARS and out:
                end = number
                break
            out.append(rendered)
        if end < len(lines):
            out.append(
                f"[... {len(lines) - end} more lines of {len(lines)}; "
                f"read on with offset={end + 1}]"
            )
        return "\n".join(out)
