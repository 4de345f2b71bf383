"""``glob``: the workspace's files whose paths match a glob pattern, newest first.

Patterns are relative to ``path`` (the workspace root by default): ``*`` and ``?`` stay
within one directory, ``**`` spans any number of them, ``{a,b}`` picks alternatives.
Only files are listed, never directories, and only those ``search_common`` says a search
sees (no ``.git``, no symlinks, nothing ``.gitignore`` excludes). Binary files are listed:
finding ``**/*.png`` is a fair question for a file finder.

Leading literal directories of the pattern (``src/app`` in ``src/app/**/*.ts``) become the
directory the walk starts from, so a narrow pattern walks a narrow tree; like any explicit
start, that directory is searched even when ``.gitignore`` excludes it.
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path, PurePosixPath

from pydantic import Field

from agent.tools.base import Tool, ToolContext, ToolError, ToolInput
from agent.tools.search_common import (
    MAX_RESULTS,
    Best,
    RipgrepFailed,
    compile_glob,
    path_key,
    relative_to_root,
    render,
    rg_command,
    rg_lines,
    rg_path,
    ripgrep,
    search_start,
    walk_files,
)
from agent.files.workspace import Workspace

_GLOB_CHARS = frozenset("*?[{\\")
_SKIPPED = ".git, symlinks and files ignored by .gitignore are skipped"


class GlobInput(ToolInput):
    pattern: str = Field(
        min_length=1,
        description="Glob relative to path, e.g. '**/*.py' (any depth), 'src/*.ts' (one directory), "
        "'**/*.{ts,tsx}' (alternatives).",
    )
    path: str | None = Field(
        default=None, description="Directory to search in, relative to the workspace root; default: the root."
    )


def normalize(pattern: str, start: Path) -> str:
    """The pattern relative to ``start``, without ``.`` or empty components; no ``..``."""
    if pattern.startswith("/"):
        try:
            pattern = PurePosixPath(pattern).relative_to(start).as_posix()
        except ValueError:
            raise ToolError(
                f"the absolute pattern {pattern!r} is not under {start}; give a pattern relative "
                "to path, such as '**/*.py', and put the directory in path"
            ) from None
    parts = [part for part in pattern.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ToolError("a glob pattern may not contain '..'; set path to the directory to search instead")
    return "/".join(parts)


async def list_files(root: Path, start: Path, use_ripgrep: bool | None) -> list[str]:
    """Root-relative paths of the files a search from ``start`` sees, by rg or by walking."""
    rg = ripgrep(use_ripgrep)
    command = rg_command(rg, root, start, ["--files"]) if rg else None
    if command is not None:
        try:
            return [rg_path(line) async for line in rg_lines(command, root)]
        except RipgrepFailed:
            pass
    return await asyncio.to_thread(lambda: list(walk_files(root, start)))


def split_literal_prefix(pattern: str) -> tuple[str, str]:
    """``src/app/**/*.ts`` -> (``src/app``, ``**/*.ts``); the last component always stays."""
    parts = pattern.split("/")
    literal: list[str] = []
    for part in parts[:-1]:
        if _GLOB_CHARS.intersection(part):
            break
        literal.append(part)
    return "/".join(literal), "/".join(parts[len(literal) :])


def narrowed_start(workspace: Workspace, start: Path, literal: str) -> Path | None:
    """``start`` joined with the pattern's literal directories, through the path gate."""
    if not literal:
        return start
    joined = workspace.resolve(str(start / literal))
    inside_git = ".git" in joined.relative_to(workspace.root).parts
    return joined if joined.is_dir() and not inside_git else None


class Glob(Tool):
    name = "glob"
    description = (
        "Find files by path pattern, such as '**/*.py' (any depth) or 'src/*.ts' (one "
        "directory), relative to path (default: the workspace root). Returns file paths "
        "relative to the workspace root, one per line, most recently modified first, at "
        "most 200. Skips .git, symlinks and files ignored by .gitignore."
    )
    Input = GlobInput
    kind = "read"

    def __init__(self, use_ripgrep: bool | None = None) -> None:
        """``use_ripgrep``: None uses rg to list files when it is on PATH, False never, True insists."""
        self.use_ripgrep = use_ripgrep


    async def run(self, args: GlobInput, ctx: ToolContext) -> str:
        workspace = ctx.workspace
        root = workspace.root
        start = search_start(workspace, args.path)
        if not start.is_dir():
            raise ToolError(
                f"{workspace.relative(start)} is a file; path must be a directory (put file names in pattern)"
            )
        pattern = normalize(args.pattern, start)
        where = "the workspace" if start == root else workspace.relative(start)
        if not pattern:
            raise ToolError(f"{args.pattern!r} names no files; try '**/*' for every file under {where}")
        literal, rest = split_literal_prefix(pattern)
        matches = compile_glob(rest)
        walk_from = narrowed_start(workspace, start, literal)
        if walk_from is None:
            return f"No files match {args.pattern!r} in {where} ({literal} is not a directory there)."
        base = relative_to_root(root, walk_from)
        prefix = f"{base}/" if base else ""
        best: Best[tuple[int, str]] = Best(MAX_RESULTS, lambda item: (-item[0], path_key(item[1])))
        for rel in await list_files(root, walk_from, self.use_ripgrep):
            if not matches(rel[len(prefix) :]) or ctx.denied(rel):
                continue
            try:
                info = os.lstat(root / rel)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                best.add((info.st_mtime_ns, rel))
        if best.total == 0:
            return f"No files match {args.pattern!r} in {where} ({_SKIPPED})."
        hint = "narrow the search with a more specific path or pattern"
        return render([rel for _, rel in best.items()], best.total, "files", hint)
