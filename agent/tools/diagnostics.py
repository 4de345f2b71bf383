"""``diagnostics``: the problems the editor's language servers report, for a file or the workspace.

The editor shims publish what the editor shows (every source: type checkers, linters,
compilers) into the workspace's ``EditorSight``; this tool reads it. One file: its problems,
worst first. No path: the workspace's files worst first, bounded. Files hidden by a deny rule
and files outside the workspace are never shown.
"""

from __future__ import annotations

from collections import Counter

from pydantic import Field

from agent.files.sight import NO_EDITOR, SEVERITIES, EditorDiagnostic
from agent.tools.base import Tool, ToolContext, ToolError, ToolInput

MAX_PER_FILE = 20
MAX_TOTAL = 60
MAX_FILES = 20


class DiagnosticsInput(ToolInput):
    path: str | None = Field(default=None, description="A file, relative to the workspace root; leave it out "
                                                       "for the whole workspace (worst files first).")


def summary(diagnostics: list[EditorDiagnostic]) -> str:
    counts = Counter(SEVERITIES.get(d.severity, "error") for d in diagnostics)
    return ", ".join(f"{n} {kind}{'s' if n != 1 else ''}" for kind, n in sorted(
        counts.items(), key=lambda kv: list(SEVERITIES.values()).index(kv[0])))


def listing(rel: str, diagnostics: list[EditorDiagnostic], limit: int) -> list[str]:
    lines = [f"{rel}: {summary(diagnostics)}"]
    lines += [f"  {d.render()}" for d in diagnostics[:limit]]
    if len(diagnostics) > limit:
        lines.append(f"  ... {len(diagnostics) - limit} more in {rel}; ask for this file alone")
    return lines


class Diagnostics(Tool):
    name = "diagnostics"
    description = (
        "The problems (errors, warnings, hints) that the user's editor and its language servers "
        "(type checkers, linters, compilers) report now. With path: that file's problems with "
        "1-based line:column. Without path: the workspace's files with problems, worst first. "
        "Only files the editor has checked are covered (usually the open ones and the ones you "
        "edited). After each edit the edit's result already lists what changed."
    )
    Input = DiagnosticsInput
    kind = "read"

    async def run(self, args: DiagnosticsInput, ctx: ToolContext) -> str:
        sight = ctx.workspace.sight
        if not sight.reporting and sight.answer is None:
            raise ToolError(NO_EDITOR)
        if args.path is not None:
            path = ctx.workspace.resolve(args.path)
            rel = ctx.workspace.relative(path)
            ctx.read(path)  # a deny rule hides the file: refused, with nothing of it
            found = sight.diagnostics(path)
            if not found:
                return f"The editor reports no problems in {rel}."
            return "\n".join(listing(rel, found, MAX_PER_FILE))
        files = []
        for path, found in sight.files().items():
            if path != ctx.workspace.root and ctx.workspace.root not in path.parents:
                continue
            rel = ctx.workspace.relative(path)
            if not ctx.denied(rel):
                files.append((rel, found))
        if not files:
            return "The editor reports no problems in the workspace's checked files."
        files.sort(key=lambda f: (min(d.severity for d in f[1]),
                                  -sum(1 for d in f[1] if d.severity == f[1][0].severity), f[0]))
        everything = [d for _, found in files for d in found]
        out = [f"{summary(everything)} in {len(files)} file{'s' if len(files) != 1 else ''}, worst first:"]
        budget = MAX_TOTAL
        for index, (rel, found) in enumerate(files):
            if budget <= 0 or index >= MAX_FILES:
                out.append(f"... {len(files) - index} more files with problems; ask for a file by path")
                break
            limit = min(MAX_PER_FILE, budget)
            out += listing(rel, found, limit)
            budget -= min(limit, len(found))
        return "\n".join(out)
