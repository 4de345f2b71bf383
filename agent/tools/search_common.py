"""What ``glob`` and ``grep`` share: which files a search sees, globs, and bounded output.

A search from a directory sees its regular files minus anything named ``.git``, minus
symlinks (never followed, so no search leaves the workspace), minus what the ``.gitignore``
files from the workspace root down exclude; the start itself is searched even if ignored.
ripgrep (``rg_command``, ``rg_lines``) and ``walk_files`` (``os.walk``) must agree exactly.
rg gets the root's ``.gitignore`` by ``--ignore-file`` when a search starts lower down; it
cannot be told of a ``.gitignore`` between the root and the start, so then ``rg_command``
returns None and the caller walks in Python.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import stat
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

from agent.tools.base import ToolError
from agent.workspace import Workspace

MAX_RESULTS = 200
MAX_OUTPUT_CHARS = 30_000

T = TypeVar("T")


class RipgrepFailed(Exception):
    """rg stopped with an error before printing anything; search in Python instead."""


def glob_regex(pattern: str) -> str:
    """A ``fullmatch`` regex: ``*``, ``?`` within a component, ``**`` across any number of
    them, ``[...]``/``[!...]`` classes, ``{a,b}`` alternatives, ``\\`` escapes."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        at_start = i == 0 or pattern[i - 1] == "/"
        if pattern.startswith("**", i) and at_start and (i + 2 == n or pattern[i + 2] == "/"):
            out.append(".*" if i + 2 == n else "(?:.*/)?")
            i += 3
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "[" and (end := _class_end(pattern, i)) > 0:
            body = pattern[i + 1 : end]
            negated = body[:1] in ("!", "^")
            body = body[1:] if negated else body
            chars = "".join(ch if ch == "-" else re.escape(ch) for ch in body)
            out.append(f"[^/{chars}]" if negated else f"[{chars}]")
            i = end
        elif c == "{" and (alternatives := _braces(pattern, i)) is not None:
            options, i = alternatives
            out.append("(?:" + "|".join(glob_regex(o) for o in options) + ")")
            continue
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _class_end(pattern: str, start: int) -> int:
    j = start + 1 + (pattern[start + 1 : start + 2] in ("!", "^"))
    end = pattern.find("]", j + (pattern[j : j + 1] == "]"))
    return end if end > 0 and "/" not in pattern[start:end] else -1


def _braces(pattern: str, start: int) -> tuple[list[str], int] | None:
    depth, options, last = 0, [], start + 1
    for j in range(start, len(pattern)):
        c = pattern[j]
        depth += {"{": 1, "}": -1}.get(c, 0)
        if c == "}" and depth == 0:
            return options + [pattern[last:j]], j + 1
        if c == "," and depth == 1:
            options.append(pattern[last:j])
            last = j + 1
    return None


def compile_glob(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(glob_regex(pattern))
    except re.error as exc:
        raise ToolError(f"glob {pattern!r} cannot be used ({exc}); simplify its [...] classes") from None


class IgnoreRule(NamedTuple):
    """One ``.gitignore`` line: a path regex relative to the file's directory."""

    regex: re.Pattern[str]
    negated: bool
    dir_only: bool


def parse_gitignore(text: str) -> list[IgnoreRule]:
    """Rules in file order: comments, blank lines, ``!``, ``/`` anchoring, ``dir/``, ``**``."""
    rules: list[IgnoreRule] = []
    for raw in text.splitlines():
        line = raw if raw.endswith("\\ ") else raw.rstrip()
        if not line or line.startswith("#"):
            continue
        negated, line = line.startswith("!"), line.removeprefix("!")
        dir_only, line = line.endswith("/"), line.rstrip("/")
        if not line:
            continue
        if "/" not in line and line != "**":
            line = "**/" + line  # no slash: matches a name at any depth
        try:
            regex = re.compile(glob_regex(line.removeprefix("/")))
        except re.error:
            continue
        rules.append(IgnoreRule(regex, negated, dir_only))
    return rules


Layer = tuple[str, list[IgnoreRule]]  # (root-relative directory, its rules)


def load_layer(directory: Path, rel: str) -> list[Layer]:
    """The ``.gitignore`` of one directory as a layer, or nothing; symlinks are not read."""
    path = directory / ".gitignore"
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return []
        rules = parse_gitignore(path.read_bytes().decode("utf-8", errors="replace"))
    except OSError:
        return []
    return [(rel, rules)] if rules else []


def is_ignored(layers: list[Layer], rel: str, is_dir: bool) -> bool:
    """git's answer: the deepest file with a matching rule decides, its last match wins."""
    for base, rules in reversed(layers):
        if base and not rel.startswith(base + "/"):
            continue
        sub = rel[len(base) + 1 :] if base else rel
        for rule in reversed(rules):
            if (is_dir or not rule.dir_only) and rule.regex.fullmatch(sub):
                return not rule.negated
    return False


def _join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def relative_to_root(root: Path, path: Path) -> str:
    """``path`` relative to the root in POSIX form; the root itself is ``""``."""
    return path.relative_to(root).as_posix() if path != root else ""


def parent_layers(root: Path, start: Path) -> list[Layer]:
    """The layers of the directories above ``start``, from the root down."""
    if start == root:
        return []
    layers, directory = load_layer(root, ""), root
    for part in start.relative_to(root).parts[:-1]:
        directory = directory / part
        layers += load_layer(directory, relative_to_root(root, directory))
    return layers


def walk_files(root: Path, start: Path) -> Iterator[str]:
    """Root-relative POSIX paths of the files a search from ``start`` sees, in walk order."""
    rel_start = relative_to_root(root, start)
    if not start.is_dir():
        yield rel_start
        return
    stacks = {str(start): parent_layers(root, start) + load_layer(start, rel_start)}
    for dirpath, dirnames, filenames in os.walk(start):
        layers = stacks.pop(dirpath)
        rel_dir = relative_to_root(root, Path(dirpath))
        kept = []
        for name in dirnames:
            full, rel = os.path.join(dirpath, name), _join(rel_dir, name)
            if name != ".git" and not os.path.islink(full) and not is_ignored(layers, rel, True):
                kept.append(name)
                stacks[full] = layers + load_layer(Path(full), rel)
        dirnames[:] = kept
        for name in filenames:
            rel = _join(rel_dir, name)
            if name != ".git" and not is_ignored(layers, rel, False) and is_regular(root / rel):
                yield rel


def is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def search_start(workspace: Workspace, raw: str | None) -> Path:
    """The directory or file a search starts from, through the workspace's path gate."""
    path = workspace.resolve(raw or ".")
    if ".git" in path.relative_to(workspace.root).parts:
        raise ToolError(f"{raw!r} is inside .git, which searches never enter; search elsewhere")
    if not path.exists():
        raise ToolError(f"{raw!r} does not exist; give a directory of the workspace (or leave path out)")
    return path


def ripgrep(use_ripgrep: bool | None) -> str | None:
    """The rg executable to use: None if it is on PATH, False never, True insists."""
    found = shutil.which("rg") if use_ripgrep is not False else None
    if use_ripgrep and found is None:
        raise ToolError("ripgrep (rg) is not on PATH")
    return found


def rg_command(rg: str, root: Path, start: Path, args: list[str]) -> list[str] | None:
    """rg with the walk rules above, run from the root; None when rg cannot express them."""
    command = [rg, "--no-config", "--hidden", "--no-require-git", "--no-ignore-parent", "--no-ignore-dot",
               "--no-ignore-global", "--no-ignore-exclude", "--no-messages", "--glob", "!.git"]
    if start != root and start.is_dir():
        for layer_dir in list(start.relative_to(root).parents)[:-1]:
            if load_layer(root / layer_dir, layer_dir.as_posix()):
                return None  # a .gitignore between root and start: rg would not read it
    if start != root and load_layer(root, ""):
        command += ["--ignore-file", str(root / ".gitignore")]
    target = start.relative_to(root).as_posix() if start != root else "."
    return command + args + ["--", target]


async def rg_lines(command: list[str], cwd: Path) -> AsyncIterator[bytes]:
    """rg's output lines; RipgrepFailed when it fails before printing anything."""
    pipe, null = asyncio.subprocess.PIPE, asyncio.subprocess.DEVNULL
    process = await asyncio.create_subprocess_exec(
        *command, cwd=cwd, stdin=null, stdout=pipe, stderr=null, limit=1 << 22
    )
    printed = False
    try:
        assert process.stdout is not None
        async for line in process.stdout:
            printed = True
            yield line.rstrip(b"\n")
        code = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    if code not in (0, 1) and not printed:
        raise RipgrepFailed(f"rg exited with {code}")


def rg_path(raw: bytes) -> str:
    path = os.fsdecode(raw)
    return path[2:] if path.startswith("./") else path


def path_key(rel: str) -> tuple[str, ...]:
    return tuple(rel.split("/"))  # component by component: a/b before a.txt


class Best(Generic[T]):
    """The ``limit`` smallest items by ``key`` in sorted order, and how many were offered."""

    def __init__(self, limit: int, key: Callable[[T], Any]) -> None:
        self.limit, self.key, self.total = limit, key, 0
        self._items: list[T] = []

    def add(self, item: T) -> None:
        self.total += 1
        self._items.append(item)
        if len(self._items) >= 4 * self.limit:
            self._trim()

    def _trim(self) -> None:
        self._items.sort(key=self.key)
        del self._items[self.limit :]

    def items(self) -> list[T]:
        self._trim()
        return self._items


def render(lines: list[str], total: int, noun: str, hint: str) -> str:
    """Lines up to the character budget, then a note on what was left out and how to narrow."""
    shown: list[str] = []
    size = 0
    for line in lines:
        size += len(line) + 1
        if size > MAX_OUTPUT_CHARS and shown:
            break
        shown.append(line)
    if len(shown) < total:
        shown.append(f"[... {total - len(shown)} more {noun} left out ({total} in all); {hint}]")
    return "\n".join(shown)
