"""``grep``: the lines of the workspace's files that match a Python regular expression.

It searches the files ``search_common`` says a search sees, skips binary files (a NUL byte
in the first 8 KiB) and, for files with unsaved changes in the editor, searches the buffer
instead of the disk. Output lines are ``path:line:text``, sorted by path (component by
component) then line number, cut at 300 characters each and 200 lines in all.

ripgrep does the work when it is on PATH; the Python search gives the same lines. rg runs
with ``-a`` and the binary rule is applied to its results, because its own binary detection
looks further into files than 8 KiB. Patterns that rg rejects or may read differently from
Python's ``re`` (``[[:alpha:]]``, ``\\<``, ``a{ 2}``) go to the Python search.
"""

from __future__ import annotations

import asyncio
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from agent.tools.base import Tool, ToolContext, ToolError, ToolInput
from agent.tools.search_common import (
    MAX_RESULTS,
    Best,
    RipgrepFailed,
    compile_glob,
    is_ignored,
    is_regular,
    load_layer,
    parent_layers,
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

MAX_LINE_CHARS = 300
BINARY_SNIFF_BYTES = 8192
RG_PREVIEW_COLUMNS = 4096  # rg keeps at least this much of a long line: far more than we show
_READ_BY_RUST_DIFFERENTLY = re.compile(r"\[\[|&&|~~|\|\||\\[<>]|\\b\{|\{[\d,]*\s[\d,\s]*\}")


class GrepInput(ToolInput):
    pattern: str = Field(min_length=1, description="Python regular expression searched for in each line.")
    path: str | None = Field(
        default=None, description="Directory or file to search, relative to the workspace root; default: all."
    )
    glob: str | None = Field(
        default=None,
        description="Only search files matching this glob: '*.py' matches file names at any depth, "
        "'src/**/*.ts' matches paths relative to path.",
    )


@dataclass(frozen=True)
class Hit:
    """One matching line."""

    rel: str
    number: int
    text: str

    def key(self) -> tuple[tuple[str, ...], int]:
        return path_key(self.rel), self.number


def compile_pattern(pattern: str) -> tuple[re.Pattern[str], bool]:
    """The compiled pattern, and whether ripgrep would read it the way Python does."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            regex = re.compile(pattern)
        except (re.error, RecursionError, OverflowError) as exc:
            raise ToolError(
                f"invalid regular expression {pattern!r}: {exc}. grep takes Python `re` syntax; "
                "put a backslash before ( ) [ ] { } . * + ? | to match it literally"
            ) from None
    return regex, not caught and not _READ_BY_RUST_DIFFERENTLY.search(pattern)


def cut(line: str) -> str:
    line = line.removesuffix("\r")
    return line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + " [... line cut]"


def search_text(text: str, regex: re.Pattern[str], rel: str, best: Best[Hit]) -> None:
    """Lines split on ``\\n`` only, as ripgrep splits them; a final newline ends no extra line."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, 1):
        if regex.search(line):
            best.add(Hit(rel, number, cut(line)))


def name_filter(glob: str | None, root: Path, start: Path) -> Callable[[str], bool]:
    """Whether a root-relative path passes ``glob`` (a name glob, or a path glob under start)."""
    if not glob:
        return lambda rel: True
    matches = compile_glob(glob.removeprefix("./"))
    if "/" not in glob.removeprefix("./"):
        return lambda rel: matches(rel.rsplit("/", 1)[-1])
    base = relative_to_root(root, start if start.is_dir() else start.parent)
    prefix = f"{base}/" if base else ""
    return lambda rel: rel.startswith(prefix) and matches(rel[len(prefix) :])


def admits(root: Path, start: Path, path: Path) -> bool:
    """Whether ``walk_files(root, start)`` would list ``path`` (without walking everything)."""
    if path == start:
        return is_regular(path)
    if start not in path.parents or not is_regular(path):
        return False
    layers = parent_layers(root, start) + load_layer(start, relative_to_root(root, start))
    current = start
    for part in path.relative_to(start).parts:
        current = current / part
        rel = relative_to_root(root, current)
        is_dir = current != path
        if part == ".git" or is_ignored(layers, rel, is_dir) or (is_dir and current.is_symlink()):
            return False
        layers = layers + load_layer(current, rel) if is_dir else layers
    return True


def is_binary(path: Path) -> bool:
    """A NUL byte in the first 8 KiB; unreadable files count as binary (skipped)."""
    try:
        with open(path, "rb") as handle:
            return b"\x00" in handle.read(BINARY_SNIFF_BYTES)
    except OSError:
        return True


def python_search(
    root: Path, start: Path, regex: re.Pattern[str], wanted: Callable[[str], bool], buffers: dict[Path, str]
) -> Best[Hit]:
    """The whole search in Python: walk, filter, read (buffer or disk), match."""
    best: Best[Hit] = Best(MAX_RESULTS, Hit.key)
    for rel in walk_files(root, start):
        if not wanted(rel):
            continue
        path = root / rel
        text = buffers.get(path)
        if text is None:
            if is_binary(path):
                continue
            try:
                text = path.read_bytes().decode("utf-8", errors="replace")
            except OSError:
                continue
        search_text(text, regex, rel, best)
    return best


async def rg_search(
    rg: str, root: Path, start: Path, pattern: str, regex: re.Pattern[str],
    wanted: Callable[[str], bool], buffers: dict[Path, str],
) -> Best[Hit] | None:
    """The search by ripgrep, with the same filters; None when rg cannot do this one."""
    args = ["-a", "--encoding", "none", "--null", "--no-heading", "--line-number", "--with-filename", "--color",
            "never", "--max-columns", str(RG_PREVIEW_COLUMNS), "--max-columns-preview", "-e", pattern]
    command = rg_command(rg, root, start, args)
    if command is None:
        return None
    best: Best[Hit] = Best(MAX_RESULTS, Hit.key)
    verdicts: dict[str, bool] = {}
    async for line in rg_lines(command, root):
        raw_path, _, rest = line.partition(b"\0")
        number, _, text = rest.partition(b":")
        if not number.isdigit():
            continue  # only a file name with a newline in it can split a line like this
        rel = rg_path(raw_path)
        if rel not in verdicts:
            path = root / rel
            verdicts[rel] = wanted(rel) and path not in buffers and is_regular(path) and not is_binary(path)
        if verdicts[rel]:
            best.add(Hit(rel, int(number), cut(text.decode("utf-8", errors="replace"))))
    for path, text in buffers.items():
        rel = relative_to_root(root, path) if root in path.parents else ""
        if rel and wanted(rel) and admits(root, start, path):
            search_text(text, regex, rel, best)
    return best


class Grep(Tool):
    name = "grep"
    description = (
        "Search file contents with a Python regular expression. Returns matching lines as "
        "path:line:text, sorted by path and line, at most 200. Searches the editor's unsaved "
        "text for open files; skips .git, symlinks, binary files and files ignored by "
        ".gitignore. Narrow it with path (a directory or file) and glob (e.g. '*.py')."
    )
    Input = GrepInput
    kind = "read"

    def __init__(self, use_ripgrep: bool | None = None) -> None:
        """``use_ripgrep``: None uses rg when it is on PATH, False never, True insists."""
        self.use_ripgrep = use_ripgrep


    async def run(self, args: GrepInput, ctx: ToolContext) -> str:
        regex, portable = compile_pattern(args.pattern)
        workspace = ctx.workspace
        root, start = workspace.root, search_start(workspace, args.path)
        by_name = name_filter(args.glob, root, start)

        def wanted(rel: str) -> bool:
            return by_name(rel) and not ctx.denied(rel)

        buffers: dict[Path, str] = {}
        for path in workspace.documents.unsaved_paths():
            doc = workspace.documents.get(path)
            if doc is not None:
                buffers[Path(os.path.realpath(path))] = doc.text
        rg = ripgrep(self.use_ripgrep) if portable else None  # Python's reading is the contract
        best: Best[Hit] | None = None
        if rg is not None:
            try:
                best = await rg_search(rg, root, start, args.pattern, regex, wanted, buffers)
            except RipgrepFailed:
                best = None
        if best is None:
            best = await asyncio.to_thread(python_search, root, start, regex, wanted, buffers)
        if best.total == 0:
            among = f" among files matching {args.glob!r}" if args.glob else ""
            where = "the workspace" if start == root else workspace.relative(start)
            return f"No matches for {args.pattern!r} in {where}{among}."
        lines = [f"{hit.rel}:{hit.number}:{hit.text}" for hit in best.items()]
        hint = "narrow the search with a more specific path, glob or pattern"
        return render(lines, best.total, "matching lines", hint)
