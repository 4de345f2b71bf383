"""``apply_patch``: a unified diff over one or more files, checked whole before anything is planned.

The diff is parsed strictly (``agent.files.patching``); every path goes through the workspace gate;
every hunk is matched against the file's current text, which is the open editor buffer when
there is one. Any problem refuses the whole patch, naming the file and hunk, so the planned
``ChangeSet`` is all or nothing. Like every change tool it writes nothing itself.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from agent.files.changes import ChangeSet, PlannedFile
from agent.files.patching import FilePatch, PatchError, apply_hunks, parse_patch
from agent.tools.base import Tool, ToolContext, ToolError, ToolInput


class ApplyPatchInput(ToolInput):
    patch: str = Field(
        description=(
            "A unified diff, git style ('--- a/PATH', '+++ b/PATH') or plain; one or more files. "
            "Use '--- /dev/null' to create a file and '+++ /dev/null' to delete one."
        )
    )


class ApplyPatch(Tool):
    name = "apply_patch"
    description = (
        "Apply a unified diff to one or more files in a single all-or-nothing change: edits, new "
        "files (--- /dev/null) and deleted files (+++ /dev/null). Each hunk needs an "
        "'@@ -start,count +start,count @@' header and context lines copied exactly from the "
        "current file (read it first); a hunk a few lines off its header still applies. If any "
        "hunk does not match, nothing is changed and the error says which. Renames are not "
        "supported. Prefer edit_file for a single small change."
    )
    Input = ApplyPatchInput
    kind = "edit"

    async def plan(self, args: ApplyPatchInput, ctx: ToolContext) -> ChangeSet:
        files = parse_patch(args.patch)
        targets: dict[Path, FilePatch] = {}
        for file in files:
            path = ctx.workspace.resolve(file.path)
            if path in targets:
                raise PatchError(f"{file.path} and {targets[path].path} are the same file; put all "
                                 "its hunks under one header.")
            targets[path] = file
        planned = [_plan_file(path, file, ctx) for path, file in targets.items()]
        return ChangeSet(title=_title([p.rel for p in planned]), files=planned)


def _plan_file(path: Path, file: FilePatch, ctx: ToolContext) -> PlannedFile:
    """One file's planned change, after checking it exists (or not) and every hunk fits."""
    rel = ctx.workspace.relative(path)
    current = ctx.read(path)
    if file.kind == "add" and current.exists:
        raise ToolError(f"The patch creates {rel}, but it already exists. Read it and patch it "
                        "with '--- a/PATH' instead, or replace it with write_file. Nothing was changed.")
    if file.kind != "add" and not current.exists:
        verb = "deletes" if file.kind == "delete" else "changes"
        raise ToolError(f"The patch {verb} {rel}, which does not exist. To create a file use "
                        "'--- /dev/null' as its source. Nothing was changed.")
    source = "open editor buffer" if current.from_buffer else "file"
    new_text = apply_hunks(current.text, file.hunks, rel, source)
    if file.kind == "delete" and new_text:
        raise ToolError(f"The patch deletes {rel} but its hunks leave {len(new_text.splitlines())} "
                        f"line(s) of it; a deletion must remove every line. Read {rel} again. "
                        "Nothing was changed.")
    if file.kind == "update" and new_text == current.text:
        raise ToolError(f"The patch leaves {rel} unchanged; nothing to do.")
    return PlannedFile(
        path=path,
        rel=rel,
        kind=file.kind,
        old_text=current.text,
        new_text="" if file.kind == "delete" else new_text,
        version=current.version,
        from_buffer=current.from_buffer,
    )


def _title(paths: list[str]) -> str:
    return f"Edit {paths[0]}" if len(paths) == 1 else f"Patch {len(paths)} files"
