"""``edit_file``: replace an exact, unique string in one file; planned, never half-written."""

from __future__ import annotations

import difflib

from pydantic import Field

from agent.files.changes import ChangeSet, PlannedFile, text_lines
from agent.tools.base import Tool, ToolContext, ToolError, ToolInput


class EditFileInput(ToolInput):
    path: str = Field(description="File to edit, relative to the workspace root.")
    old_string: str = Field(description="Exact text to replace, including whitespace.")
    new_string: str = Field(description="Text to put in its place.")
    replace_all: bool = Field(default=False, description="Replace every occurrence.")


class EditFile(Tool):
    name = "edit_file"
    description = (
        "Replace old_string with new_string in a file. old_string must match the current text "
        "exactly (read the file first) and only once, unless replace_all is true; include "
        "enough surrounding lines to make it unique."
    )
    Input = EditFileInput
    kind = "edit"

    async def plan(self, args: EditFileInput, ctx: ToolContext) -> ChangeSet:
        path = ctx.workspace.resolve(args.path)
        rel = ctx.workspace.relative(path)
        current = ctx.read(path)
        if not current.exists:
            raise ToolError(f"{rel} does not exist; use write_file to create a file")
        if not args.old_string:
            raise ToolError("old_string is empty; give the exact text to replace")
        if args.old_string == args.new_string:
            raise ToolError("old_string and new_string are the same; nothing would change")
        count = current.text.count(args.old_string)
        if count == 0:
            raise ToolError(f"old_string was not found in {rel}.{closest_lines(current.text, args.old_string)}")
        if count > 1 and not args.replace_all:
            raise ToolError(
                f"old_string matches {count} times in {rel}; add surrounding lines to make it "
                "unique, or set replace_all to true"
            )
        new_text = current.text.replace(args.old_string, args.new_string)
        planned = PlannedFile(
            path=path,
            rel=rel,
            kind="update",
            old_text=current.text,
            new_text=new_text,
            version=current.version,
            from_buffer=current.from_buffer,
        )
        return ChangeSet(title=f"Edit {rel}", files=[planned])


def closest_lines(text: str, wanted: str) -> str:
    """A hint showing the file's lines most like the first line of ``wanted``."""
    lines = text_lines(text)
    first = next((line for line in wanted.splitlines() if line.strip()), "")
    if not first or not lines:
        return " Read the file again and copy the text exactly."
    stripped = [line.strip() for line in lines]
    best = difflib.get_close_matches(first.strip(), stripped, n=3, cutoff=0.5)
    if not best:
        return " No similar line exists; read the file again and copy the text exactly."
    shown = []
    for candidate in best:
        number = stripped.index(candidate)
        shown.append(f"{number + 1:>6}\t{lines[number]}")
    return " The closest lines are:\n" + "\n".join(shown) + "\nCopy the text exactly, whitespace included."
