"""What ``glob`` and ``grep`` share: which files a search sees, globs, and bounded output.

Globs are ``wcmatch``'s and ``.gitignore`` files are read by ``pathspec``; nothing here
translates either by hand.

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
from functools import lru_cache
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

from pathspec import GitIgnoreSpec
from pathspec.pattern import RegexPattern as Pattern
from wcmatch import glob as wcglob

from agent.tools.base import ToolError
from agent.files.workspace import Workspace

MAX_RESULTS = 200
MAX_OUTPUT_CHARS = 30_000

T = TypeVar("T")


class RipgrepFailed(Exception):
    """rg stopped with an error before printing anything; search in Python instead."""


GLOB_FLAGS = wcglob.GLOBSTAR | wcglob.BRACE | wcglob.DOTGLOB | wcglob.FORCEUNIX


@lru_cache(maxsize=512)
def compile_glob(pattern: str) -> Callable[[str], bool]:
    """The one glob dialect of rules, ``glob`` and ``grep``, by ``wcmatch``: whether a POSIX
    relative path matches. ``*``, ``?`` and ``[...]``/``[!...]`` stay within a component,
    ``**`` as a whole component spans any number of them, ``{a,b}`` picks alternatives, ``\\``
    escapes, and dot files are not special."""
    try:
        return wcglob.compile(pattern, flags=GLOB_FLAGS).match
    except (ValueError, re.error) as exc:
        raise ToolError(f"glob {pattern!r} cannot be used ({exc}); simplify its [...] classes or {{...}}") from None


class IgnoreFile(NamedTuple):
    """One ``.gitignore`` file: its directory (root-relative, ``""`` for the root) and patterns."""

    base: str
    patterns: tuple[Pattern, ...]


def parse_gitignore(text: str) -> tuple[Pattern, ...]:
    """The patterns of a ``.gitignore`` text in file order, parsed by ``pathspec`` (comments,
    blank lines, ``!``, ``/`` anchoring, ``dir/``, ``**``, trailing spaces, ``\\`` escapes)."""
    spec = GitIgnoreSpec.from_lines(text.splitlines())
    return tuple(p for p in spec.patterns if p.include is not None and p.regex is not None)


def matches_itself(pattern: Pattern, sub: str) -> bool:
    """Whether ``pattern`` names ``sub`` itself (a directory as ``name/``), not only as something
    inside a directory it names: the start of a search is searched even when ignored, as rg does."""
    regex = pattern.regex  # pathspec searches it; a ``ps_d`` group marks "or anything inside"
    if "ps_d" not in regex.groupindex:
        return regex.search(sub) is not None  # `dir/**`: everything inside, by itself
    return _at_end(regex.pattern, regex.flags).search(sub) is not None


@lru_cache(maxsize=1024)
def _at_end(source: str, flags: int) -> re.Pattern[str]:
    return re.compile(f"(?:{source})\\Z", flags)


def load_layer(directory: Path, rel: str) -> list[IgnoreFile]:
    """The ``.gitignore`` of one directory as a layer, or nothing; symlinks are not read."""
    path = directory / ".gitignore"
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return []
        patterns = parse_gitignore(path.read_bytes().decode("utf-8", errors="replace"))
    except OSError:
        return []
    return [IgnoreFile(rel, patterns)] if patterns else []


def is_ignored(layers: list[IgnoreFile], rel: str, is_dir: bool) -> bool:
    """git's answer: the deepest file with a matching pattern decides, its last match wins."""
    for base, patterns in reversed(layers):
        if base and not rel.startswith(base + "/"):
            continue
        sub = (rel[len(base) + 1 :] if base else rel) + ("/" if is_dir else "")
        for pattern in reversed(patterns):
            if matches_itself(pattern, sub):
                return bool(pattern.include)
    return False


def _join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def relative_to_root(root: Path, path: Path) -> str:
    """``path`` relative to the root in POSIX form; the root itself is ``""``."""
    return path.relative_to(root).as_posix() if path != root else ""


def parent_layers(root: Path, start: Path) -> list[IgnoreFile]:
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
