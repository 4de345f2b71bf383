"""``write_file``: create a file or replace its whole text; planned, never half-written.

Missing parent folders are created when the change is applied (``write_atomic`` makes them),
not while planning. A file that exists is replaced against its current text (the open editor
buffer when there is one), so a change made after planning is a conflict, not an overwrite.
A CRLF file given LF-only content stays CRLF, so replacing it does not rewrite every line.
"""

from __future__ import annotations

from pydantic import Field

from agent.files.changes import ChangeSet, PlannedFile
from agent.files.patching import line_ending
from agent.tools.base import Tool, ToolContext, ToolError, ToolInput


class WriteFileInput(ToolInput):
    path: str = Field(description="File to create or replace, relative to the workspace root.")
    content: str = Field(description="The complete new text of the file.")


class WriteFile(Tool):
    name = "write_file"
    description = (
        "Create a file, or replace the whole text of an existing one, with content. Missing "
        "parent folders are created. To change part of an existing file use edit_file or "
        "apply_patch instead; read a file before replacing it."
    )
    Input = WriteFileInput
    kind = "edit"

    async def plan(self, args: WriteFileInput, ctx: ToolContext) -> ChangeSet:
        path = ctx.workspace.resolve(args.path)
        rel = ctx.workspace.relative(path)
        if path == ctx.workspace.root:
            raise ToolError(f"{args.path!r} is the workspace root, not a file; give a file path")
        current = ctx.read(path)
        if not current.exists:
            planned = PlannedFile(path=path, rel=rel, kind="add", old_text="", new_text=args.content,
                                  version=None, from_buffer=False)
            return ChangeSet(title=f"Create {rel}", files=[planned])
        content = args.content
        if line_ending(current.text) == "\r\n" and "\r" not in content:
            content = content.replace("\n", "\r\n")
        if content == current.text:
            raise ToolError(f"{rel} already has exactly this content; nothing would change")
        planned = PlannedFile(
            path=path,
            rel=rel,
            kind="update",
            old_text=current.text,
            new_text=content,
            version=current.version,
            from_buffer=current.from_buffer,
        )
        return ChangeSet(title=f"Write {rel}", files=[planned])
