"""Unified diffs, parsed strictly and applied to text in memory: no disk, no workspace.

``parse_patch`` turns a model-written diff (git style or plain ``---``/``+++``) into
``FilePatch`` values. ``unidiff`` does the parsing, but it forgives too much for a tool that
changes files: prose parses as an empty patch, ``@@ ... @@`` without numbers as a file with no
hunks, and lines after a hunk whose counts are satisfied are dropped without a word. So every
line of the input must be accounted for (a hunk line, a hunk header, a file header or a blank
line), and anything else is an error that names the line.

``apply_hunks`` applies one file's hunks to its current text like ``patch`` with fuzz 0: the
context and removed lines must match exactly (line endings aside), first at the header's line,
then at the nearest position within ``MAX_OFFSET`` lines, the offset found carrying over to the
next hunk. Kept lines keep their own endings and added lines take the file's dominant ending,
so a CRLF file stays CRLF; ``\\ No newline at end of file`` is honoured on both sides.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, replace
from typing import Literal, cast

from unidiff.errors import UnidiffParseError
from unidiff.patch import Hunk, PatchedFile, PatchSet

from agent.files.changes import PlannedFile, split_lines
from agent.files.workspace import ToolError

MAX_OFFSET = 30
"""How far (in lines) a hunk may sit from where its header says before it is refused."""

_HEADER_LINE = re.compile(
    r"^(?:$|diff --git |index |(?:new|deleted) file mode |(?:old|new) mode "
    r"|(?:dis)?similarity index |(?:rename|copy) (?:from|to) |--- |\+\+\+ |\\ )"
)
_FENCE = re.compile(r"^```[\w+-]*\s*$")


class PatchError(ToolError):
    """The patch is malformed or does not fit the file; the message says what to fix."""


@dataclass(frozen=True)
class HunkLine:
    """One body line of a hunk: its operation, its text without line ending, and whether
    a ``\\ No newline at end of file`` marker follows it."""

    op: Literal[" ", "-", "+"]
    text: str
    no_eol: bool = False


@dataclass(frozen=True)
class ParsedHunk:
    header: str
    source_start: int
    source_length: int
    lines: tuple[HunkLine, ...]

    @property
    def old(self) -> list[str]:
        """The lines the hunk expects to find: context and removed lines, in order."""
        return [line.text for line in self.lines if line.op != "+"]

    @property
    def expected_index(self) -> int:
        """0-based index of the first old line (an empty old side inserts after line N)."""
        return self.source_start if self.source_length == 0 else self.source_start - 1


@dataclass(frozen=True)
class FilePatch:
    """One file's part of a patch; ``None`` stands for ``/dev/null``."""

    old_path: str | None
    new_path: str | None
    hunks: tuple[ParsedHunk, ...]

    @property
    def kind(self) -> Literal["add", "update", "delete"]:
        if self.old_path is None:
            return "add"
        return "delete" if self.new_path is None else "update"

    @property
    def path(self) -> str:
        path = self.new_path if self.new_path is not None else self.old_path
        assert path is not None
        return path


def parse_patch(text: str) -> list[FilePatch]:
    """Every file of a unified diff, or a PatchError naming the first thing wrong with it."""
    text = _strip_fence(text.replace("\r\n", "\n"))
    if not text.strip():
        raise PatchError("The patch is empty. " + _SHAPE)
    try:
        patchset = PatchSet.from_string(text)
    except UnidiffParseError as exc:
        raise PatchError(f"The patch could not be parsed: {exc}. Check that every hunk's @@ counts "
                         f"match its lines. {_SHAPE}") from None
    if len(patchset) == 0:
        hint = " It looks like the '*** Begin Patch' format, which is not supported." if "*** " in text else ""
        raise PatchError(f"The patch has no file headers, so it is not a unified diff.{hint} {_SHAPE}")
    _check_every_line_used(text, patchset)
    files = [_file_patch(patched) for patched in patchset]
    seen: set[str] = set()
    for file in files:
        if file.path in seen:
            raise PatchError(f"{file.path} appears twice in the patch; put all its hunks under one header.")
        seen.add(file.path)
    return files


_SHAPE = (
    "apply_patch takes only a unified diff: '--- a/PATH' and '+++ b/PATH' lines (--- /dev/null "
    "for a new file, +++ /dev/null for a deleted one), then hunks headed "
    "'@@ -start,count +start,count @@' whose lines start with ' ', '-' or '+'."
)


def _strip_fence(text: str) -> str:
    """Drop a Markdown code fence wrapped around the whole patch, if there is one."""
    lines = text.split("\n")
    body = [i for i, line in enumerate(lines) if line.strip()]
    if len(body) >= 2 and _FENCE.match(lines[body[0]]) and lines[body[-1]].strip() == "```":
        return "\n".join(lines[body[0] + 1 : body[-1]]) + "\n"
    return text


def _check_every_line_used(text: str, patchset: PatchSet) -> None:
    """Refuse any line unidiff skipped: prose, or lines beyond a hunk's counted length."""
    used: set[int] = set()
    for patched in patchset:
        for hunk in patched:
            numbers = [line.diff_line_no for line in hunk if line.diff_line_no is not None]
            if numbers:
                used.update(numbers)
                used.add(min(numbers) - 1)  # the @@ header just before the first body line
    lines = text.split("\n")
    for number, line in enumerate(lines, 1):
        if number in used:
            continue
        if line.startswith("--- ") and not (number < len(lines) and lines[number].startswith("+++ ")):
            raise PatchError(f"Line {number} of the patch ({line!r}) is a '--- ' header without a "
                             "'+++ ' line after it. " + _SHAPE)
        if _HEADER_LINE.match(line):
            continue
        if line.startswith("@@"):
            why = "is a hunk header without line numbers; write @@ -start,count +start,count @@"
        elif line[:1] in (" ", "+", "-") and any(n < number for n in used):
            why = ("is not part of any hunk: the hunk before it has more lines than its @@ header "
                   "counts, so fix the counts")
        else:
            why = "is not part of the diff: send only the diff, without prose or commentary"
        raise PatchError(f"Line {number} of the patch ({line!r}) {why}. Nothing was changed.")


def _file_patch(patched: PatchedFile) -> FilePatch:
    old_path = _clean_path(patched.source_file)
    new_path = _clean_path(patched.target_file)
    old_path, new_path = _strip_prefixes(old_path, new_path)
    info = "".join(patched.patch_info or [])
    if old_path is None and new_path is None:
        raise PatchError("A file in the patch has /dev/null on both sides. " + _SHAPE)
    shown = new_path or old_path or ""
    if re.search(r"^(?:rename|copy) from ", info, re.M) or (
            old_path is not None and new_path is not None and old_path != new_path):
        raise PatchError(
            f"The patch renames or copies {old_path} to {new_path}; renames are not supported yet. "
            "Create the new file (write_file or a /dev/null patch) and delete the old one in a "
            "separate patch, or use the same path on the --- and +++ lines."
        )
    if patched.is_binary_file:
        raise PatchError(f"The patch changes the binary file {shown}; binary patches are not supported.")
    hunks = tuple(_hunk(hunk, shown) for hunk in patched)
    git_empty = re.search(r"^(?:new|deleted) file mode ", info, re.M) and (old_path is None or new_path is None)
    if not hunks and not git_empty:
        raise PatchError(f"The patch has no hunks for {shown}. Every file needs at least one "
                         "'@@ -start,count +start,count @@' hunk with its lines.")
    return FilePatch(old_path, new_path, hunks)


def _strip_prefixes(old: str | None, new: str | None) -> tuple[str | None, str | None]:
    """Drop git's a/ and b/ prefixes (only those: a real folder named c/ keeps its name)."""
    bare_old = old[2:] if old is not None and old.startswith("a/") else old
    bare_new = new[2:] if new is not None and new.startswith("b/") else new
    if old is None or new is None or (old != bare_old and new != bare_new):
        return bare_old, bare_new
    if old == new:
        return old, new
    same = {old, bare_old} & {new, bare_new}  # a/x against plain x: one file, one prefix
    return (same.pop(),) * 2 if same else (bare_old, bare_new)


def _clean_path(raw: str) -> str | None:
    """A header path without quotes or trailing whitespace; None for /dev/null."""
    path = raw.strip()
    if path.startswith('"') and path.endswith('"') and len(path) >= 2:
        inner = path[1:-1]
        path = codecs.escape_decode(inner.encode("utf-8"))[0].decode("utf-8") if "\\" in inner else inner
    if path == "/dev/null":
        return None
    if not path:
        raise PatchError("A '---' or '+++' line in the patch has no path. " + _SHAPE)
    return path


def _hunk(hunk: Hunk, path: str) -> ParsedHunk:
    header = f"@@ -{hunk.source_start},{hunk.source_length} +{hunk.target_start},{hunk.target_length} @@"
    lines: list[HunkLine] = []
    for line in hunk:
        if line.line_type == "\\":
            if lines:
                last = lines[-1]
                lines[-1] = HunkLine(last.op, last.text, no_eol=True)
        elif line.line_type in (" ", "-", "+"):
            text = line.value[:-1] if line.value.endswith("\n") else line.value
            lines.append(HunkLine(cast(Literal[" ", "-", "+"], line.line_type), text))
    if not any(line.op != " " for line in lines):
        raise PatchError(f"Hunk {header} of {path} has no '+' or '-' lines, so it changes nothing.")
    return ParsedHunk(header, hunk.source_start, hunk.source_length, tuple(lines))


def line_ending(text: str) -> str:
    """The text's most common line ending; '\\n' when it has none."""
    crlf = text.count("\r\n")
    counts = {"\n": text.count("\n") - crlf, "\r\n": crlf, "\r": text.count("\r") - crlf}
    best = max(counts, key=lambda eol: counts[eol])
    return best if counts[best] > counts["\n"] else "\n"


def apply_hunks(text: str, hunks: tuple[ParsedHunk, ...] | list[ParsedHunk], rel: str,
                source: str = "file") -> str:
    """``text`` with every hunk applied, or a PatchError naming the hunk that does not fit.

    ``source`` says where ``text`` came from ("file", "open editor buffer") for the message.
    """
    lines = split_lines(text)
    keys = [line.rstrip("\r\n") for line in lines]
    eol = line_ending(text)
    out: list[str] = []
    cursor = 0
    offset = 0
    for number, hunk in enumerate(hunks, 1):
        start = _locate(hunk, keys, cursor, offset, f"hunk {number} of {rel} ({hunk.header})", source, rel)
        offset = start - hunk.expected_index
        out.extend(lines[cursor:start])
        index = start
        for line in hunk.lines:
            if line.op == "+":
                out.append(line.text + ("" if line.no_eol else eol))
                continue
            if line.op == " ":
                out.append(lines[index])
            index += 1
        cursor = index
    out.extend(lines[cursor:])
    for index in range(len(out) - 1):  # only the last line may lack an ending
        if not out[index].endswith(("\n", "\r")):
            out[index] += eol
    return "".join(out)


def _locate(hunk: ParsedHunk, keys: list[str], cursor: int, offset: int, name: str,
            source: str, rel: str) -> int:
    """Where the hunk's old lines start: nearest exact match to the header within MAX_OFFSET."""
    old = hunk.old
    expected = hunk.expected_index + offset
    advice = f"Nothing was changed. Read {rel} again and write the patch against its current text."
    if not old:
        if cursor <= expected <= len(keys):
            return expected
        raise PatchError(f"{name} inserts after line {expected}, but the {source} has {len(keys)} "
                         f"lines there. {advice}")
    span = len(old)
    matches = [p for p in range(len(keys) - span + 1) if keys[p] == old[0] and keys[p : p + span] == old]
    near = [p for p in matches if p >= cursor and abs(p - expected) <= MAX_OFFSET]
    if near:
        best = min(near, key=lambda p: (abs(p - expected), p))
        if expected - (best - expected) in near and best != expected:
            raise PatchError(f"{name} matches both line {min(best, 2 * expected - best) + 1} and line "
                             f"{max(best, 2 * expected - best) + 1}, equally far from its header; add "
                             f"context lines or correct the header's line numbers. {advice}")
        return best
    if any(p >= cursor for p in matches):
        where = ", ".join(str(p + 1) for p in matches if p >= cursor)
        raise PatchError(f"{name} is more than {MAX_OFFSET} lines from its header: its lines are at line "
                         f"{where} of the {source}, not near line {expected + 1}. Correct the @@ line "
                         f"numbers. {advice}")
    if matches:
        raise PatchError(f"{name} matches only above the previous hunk (line {matches[0] + 1}); hunks "
                         f"must be in file order and must not overlap. {advice}")
    at = _closest(old, keys, cursor, expected)
    mismatch = next(i for i in range(span) if at + i >= len(keys) or keys[at + i] != old[i])
    found = repr(keys[at + mismatch]) if at + mismatch < len(keys) else "the end of the file"
    raise PatchError(
        f"{name} does not apply: at line {at + mismatch + 1} the patch expects {old[mismatch]!r} but "
        f"the {source} has {found}. {advice}"
    )


def _closest(old: list[str], keys: list[str], cursor: int, expected: int) -> int:
    """The start near ``expected`` where most of ``old`` matches, to explain a failure."""
    low = max(cursor, expected - MAX_OFFSET)
    high = max(low, min(len(keys), expected + MAX_OFFSET))
    best, best_score = min(max(expected, cursor), len(keys)), -1
    for p in range(low, high + 1):
        score = sum(1 for i, want in enumerate(old) if p + i < len(keys) and keys[p + i] == want)
        if score > best_score or (score == best_score and abs(p - expected) < abs(best - expected)):
            best, best_score = p, score
    return best if best_score > 0 else min(max(expected, cursor), len(keys))


def rebase(planned: PlannedFile, text: str, version: int | None) -> PlannedFile | None:
    """The same change re-applied to ``text`` after the buffer moved on (the user typed
    elsewhere), or None when its hunks no longer fit: then it is a conflict."""
    if text == planned.old_text:
        return replace(planned, version=version, from_buffer=True)
    try:
        [file_patch] = parse_patch(planned.diff)
        new_text = apply_hunks(text, file_patch.hunks, planned.rel, "open editor buffer")
    except (PatchError, ValueError):
        return None
    return replace(planned, old_text=text, new_text=new_text, version=version, from_buffer=True)
