"""What the editor-sight tools share: a 1-based position as the editor's, and results as text.

Inputs name a workspace file and a 1-based line and column (characters, as ``read_file``
numbers lines); the editor's language servers take 0-based lines and UTF-16 columns, so
``position_params`` converts through the file's text (and refuses paths outside the
workspace or hidden by a deny rule, like ``read_file``). ``render_locations`` turns the
editor's ``[{uri, range, text?}]`` back into ``path:line:column`` relative to the workspace,
bounded: results outside the workspace are only counted, never shown, and results in files a
deny rule hides are left out (``place`` says which is which; ``hover`` uses it too, to keep
the hover of a symbol defined in a hidden file back). ``query_locations`` is both in one: what
definition and references run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field

from agent.files.changes import text_lines
from agent.files.workspace import ToolError, uri_to_path
from agent.tools.base import ToolContext, ToolInput

MAX_RESULTS = 50
MAX_TEXT = 200
MAX_OUTPUT = 12_000


class PositionInput(ToolInput):
    path: str = Field(description="File path, relative to the workspace root.")
    line: int = Field(ge=1, description="1-based line number, as read_file shows it.")
    column: int = Field(ge=1, description="1-based column (character) of the symbol on that line.")


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def from_utf16(line: str, units: int) -> int:
    """The character index that ``units`` UTF-16 code units into ``line`` reach."""
    count = 0
    for index, char in enumerate(line):
        if count >= units:
            return index
        count += 2 if ord(char) > 0xFFFF else 1
    return len(line)


def position_params(args: PositionInput, ctx: ToolContext) -> dict[str, Any]:
    """``{uri, position}`` for the editor, or a ToolError the model can act on."""
    path = ctx.workspace.resolve(args.path)
    current = ctx.read(path)  # a deny rule hides the file: refused here, with nothing of it
    rel = ctx.workspace.relative(path)
    if not current.exists:
        raise ToolError(f"{rel} does not exist; use glob to find the right path")
    lines = text_lines(current.text)
    if args.line > max(1, len(lines)):
        raise ToolError(f"line {args.line} is past the end of {rel} ({len(lines)} lines)")
    text = lines[args.line - 1] if lines else ""
    if args.column > len(text) + 1:
        raise ToolError(f"column {args.column} is past the end of line {args.line} of {rel} "
                        f"({len(text)} characters); count columns from 1")
    character = utf16_units(text[:args.column - 1])
    return {"uri": ctx.workspace.uri_for(path), "position": {"line": args.line - 1, "character": character}}


class _Lines:
    """Source lines of result files, read once each (buffer or disk), for columns and context."""

    def __init__(self, ctx: ToolContext) -> None:
        self._ctx = ctx
        self._cache: dict[Path, list[str]] = {}

    def line(self, path: Path, number: int) -> str | None:
        if path not in self._cache:
            try:
                self._cache[path] = text_lines(self._ctx.workspace.read(path).text)
            except (ToolError, OSError):
                self._cache[path] = []
        lines = self._cache[path]
        return lines[number] if 0 <= number < len(lines) else None


def _start(result: dict[str, Any]) -> tuple[int, int] | None:
    start = (result.get("range") or {}).get("start") if isinstance(result.get("range"), dict) else None
    if not isinstance(start, dict):
        return None
    line, character = start.get("line"), start.get("character")
    if not isinstance(line, int) or not isinstance(character, int) or line < 0 or character < 0:
        return None
    return line, character


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 3] + "..."


def place(result: dict[str, Any], ctx: ToolContext) -> tuple[str, Path | None, tuple[int, int] | None]:
    """Where an editor's location result is, for the model: ``"shown"`` (a workspace file the
    rules let it read, with its path and 0-based start), ``"outside"`` the workspace, ``"hidden"``
    by a deny rule, or ``"unusable"`` (no file, no range)."""
    start = _start(result)
    try:
        path = Path(os.path.realpath(uri_to_path(str(result.get("uri")))))
    except (ToolError, ValueError, OSError):
        return "unusable", None, None
    if start is None:
        return "unusable", None, None
    if path != ctx.workspace.root and ctx.workspace.root not in path.parents:
        return "outside", path, start
    if ctx.denied(ctx.workspace.relative(path)):
        return "hidden", path, start
    return "shown", path, start


def render_locations(results: list[dict[str, Any]], ctx: ToolContext, what: str) -> str:
    """One ``path:line:column  text`` line per result inside the workspace, bounded."""
    lines = _Lines(ctx)
    shown: list[str] = []
    seen: set[str] = set()
    counts = {"outside": 0, "hidden": 0, "unusable": 0}
    for result in results:
        where, path, start = place(result, ctx)
        if where != "shown" or path is None or start is None:
            counts[where] += 1
            continue
        rel = ctx.workspace.relative(path)
        source = lines.line(path, start[0])
        column = (from_utf16(source, start[1]) if source is not None else start[1]) + 1
        label = result.get("text") if isinstance(result.get("text"), str) and result.get("text") else source
        entry = f"{rel}:{start[0] + 1}:{column}" + (f"  {_short(label)}" if label else "")
        if entry not in seen:
            seen.add(entry)
            shown.append(entry)
    outside, hidden, unusable = counts["outside"], counts["hidden"], counts["unusable"]
    total = len(shown)
    body: list[str] = []
    size = 0
    for entry in shown[:MAX_RESULTS]:
        size += len(entry) + 1
        if size > MAX_OUTPUT:
            break
        body.append(entry)
    notes = []
    if total > len(body):
        notes.append(f"{total - len(body)} more not shown; narrow the question")
    if outside:
        notes.append(f"{outside} outside the workspace, not shown")
    if hidden:
        notes.append(f"{hidden} in files hidden by deny rules, not shown")
    if unusable:
        notes.append(f"{unusable} without a file location")
    if not body:
        head = f"No {what} found in the workspace"
        return head + (f" ({'; '.join(notes)})." if notes else ".")
    return "\n".join(body + ([f"[{'; '.join(notes)}]"] if notes else []))


async def query_locations(kind: str, args: PositionInput, ctx: ToolContext) -> str:
    """Ask the editor for the ``kind`` locations (definition, references) at a position, as text."""
    return render_locations(await ctx.workspace.sight.query(kind, position_params(args, ctx)), ctx, kind)
