"""Hunks of a change: choosing some of a proposed change's hunks, and three-way reverts.

``select_hunks`` keeps the hunks a person approved of a ``ChangeSet`` (numbered as the
approval's unified diff shows them: ``@@`` blocks in diff order across files, from 0) and says
which were left out. ``three_way`` applies the change ``base → target`` to ``current`` (a text
that may have moved on from ``base``) only where ``current`` still has ``base``'s lines: a
line someone changed since is never overwritten, and the lines kept are reported.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace

from agent.files.changes import ChangeSet, PlannedFile, split_lines

CONTEXT = 3  # unified_diff's context lines: what groups edits into one @@ hunk


class HunkError(ValueError):
    """A hunk selection that does not fit the approval's diff."""


def count_hunks(diff: str) -> int:
    return sum(1 for line in diff.splitlines() if line.startswith("@@ "))


def check_hunks(diff: str, hunks: list[int]) -> None:
    total = count_hunks(diff)
    bad = [h for h in hunks if not 0 <= h < total]
    if bad:
        raise HunkError(f"hunks {bad} are not in this approval's diff, which has {total} hunk(s) "
                        f"numbered 0 to {total - 1} in diff order across files")


@dataclass(frozen=True)
class HunkChoice:
    """What ``select_hunks`` kept: the change set of the chosen hunks and a label per hunk."""

    changes: ChangeSet
    applied: list[tuple[int, str]]
    rejected: list[tuple[int, str]]


def select_hunks(changes: ChangeSet, chosen: list[int]) -> HunkChoice:
    """Only the ``chosen`` hunks of ``changes``; a file none of whose hunks is chosen is left out."""
    wanted = set(chosen)
    files: list[PlannedFile] = []
    applied: list[tuple[int, str]] = []
    rejected: list[tuple[int, str]] = []
    index = 0
    for planned in changes.files:
        old, new = split_lines(planned.old_text), split_lines(planned.new_text)
        groups = list(difflib.SequenceMatcher(None, old, new).get_grouped_opcodes(CONTEXT))
        keep: list[tuple[str, int, int, int, int]] = []
        for group in groups:
            edits = [op for op in group if op[0] != "equal"]
            first, last = edits[0], edits[-1]
            label = f"{planned.rel} {describe_lines([(first[1] + 1, max(first[1] + 1, last[2]))])}"
            (applied if index in wanted else rejected).append((index, label))
            if index in wanted:
                keep.extend(edits)
            index += 1
        if not groups or len(keep) == sum(1 for g in groups for op in g if op[0] != "equal"):
            files.append(planned)  # every hunk (or a file with none, such as an empty new file)
        elif keep:
            text = _apply(old, [(i1, i2, new[j1:j2]) for _, i1, i2, j1, j2 in keep])
            files.append(replace(planned, new_text=text, kind="update" if planned.kind != "add" else "add"))
    return HunkChoice(ChangeSet(changes.title, files), applied, rejected)


def _apply(base: list[str], edits: list[tuple[int, int, list[str]]]) -> str:
    """``base`` with each ``(i1, i2, lines)`` edit (non-overlapping, any order) applied."""
    out: list[str] = []
    at = 0
    for i1, i2, lines in sorted(edits, key=lambda e: (e[0], e[1])):
        out.extend(base[at:i1])
        out.extend(lines)
        at = i2
    out.extend(base[at:])
    return "".join(out)


@dataclass
class Merge:
    """``three_way``'s answer: the merged text, how many of the change's hunks it applied of
    how many, and the 1-based line ranges (in the merged text) kept because they changed since."""

    text: str
    applied: int = 0
    total: int = 0
    kept: list[tuple[int, int]] = field(default_factory=list)


def _edits(a: list[str], b: list[str]) -> list[tuple[int, int, list[str]]]:
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return [(i1, i2, b[j1:j2]) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]


def _conflict(a: tuple[int, int, list[str]], u: tuple[int, int, list[str]]) -> bool:
    if max(a[0], u[0]) < min(a[1], u[1]):
        return True  # both change a line of base
    # an insertion touching the other's range: its place is ambiguous, so leave it alone
    return (a[0] == a[1] or u[0] == u[1]) and a[0] <= u[1] and u[0] <= a[1]


def three_way(base: str, target: str, current: str) -> Merge:
    """Apply ``base → target`` to ``current`` hunk by hunk, where ``current`` kept ``base``'s
    lines; a hunk that meets a change made since (``base → current``) is left as it is now."""
    b = split_lines(base)
    mine = _edits(b, split_lines(target))
    theirs = _edits(b, split_lines(current))
    chosen: list[tuple[int, int, list[str]]] = []
    blocking: set[int] = set()
    applied = 0
    for edit in mine:
        if edit in theirs:  # the same change is already there
            applied += 1
            continue
        hits = [k for k, other in enumerate(theirs) if _conflict(edit, other)]
        if hits:
            blocking.update(hits)
            continue
        chosen.append(edit)
        applied += 1
    edits = sorted([(e, None) for e in chosen] + [(e, k) for k, e in enumerate(theirs)],
                   key=lambda pair: (pair[0][0], pair[0][1]))
    out: list[str] = []
    kept: list[tuple[int, int]] = []
    at = 0
    for (i1, i2, lines), k in edits:
        out.extend(b[at:i1])
        if k in blocking and lines:
            kept.append((len(out) + 1, len(out) + len(lines)))
        out.extend(lines)
        at = i2
    out.extend(b[at:])
    return Merge("".join(out), applied, len(mine), kept)


def describe_lines(ranges: list[tuple[int, int]]) -> str:
    parts = [f"{a}" if a == b else f"{a}-{b}" for a, b in ranges]
    return ("line " if len(parts) == 1 and "-" not in parts[0] else "lines ") + ", ".join(parts)
