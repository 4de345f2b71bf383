"""glob and grep on real temporary workspaces, with ripgrep and with the Python walk.

Tests that take ``impl`` run once with the Python search and, when ``rg`` is on PATH, once
with ripgrep; ``test_ripgrep_and_python_give_identical_output`` compares the two directly.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from agent.tools import ToolContext, ToolError
from agent.tools.glob import Glob, GlobInput
from agent.tools.grep import Grep, GrepInput
from agent.tools.search_common import IgnoreFile, is_ignored, parse_gitignore
from agent.files.workspace import OpenDocument, Workspace
from agent_run import Buffers

HAVE_RG = shutil.which("rg") is not None
needs_rg = pytest.mark.skipif(not HAVE_RG, reason="ripgrep (rg) is not on PATH, so its variant of the search tools is untested; install it (apt-get install ripgrep, README 'Run the tests')")
IMPLS = [pytest.param(False, id="python"), pytest.param(True, id="ripgrep", marks=needs_rg)]


def write(root: Path, rel: str, content: str | bytes = "hit\n") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir()
    return Workspace(root)


def ctx(ws: Workspace) -> ToolContext:
    return ToolContext(ws, "thr", "turn")


async def glob(ws: Workspace, impl: bool, pattern: str, path: str | None = None) -> list[str]:
    return (await Glob(use_ripgrep=impl).run(GlobInput(pattern=pattern, path=path), ctx(ws))).splitlines()


async def grep(ws: Workspace, impl: bool, pattern: str, path: str | None = None, glob: str | None = None) -> str:
    return await Grep(use_ripgrep=impl).run(GrepInput(pattern=pattern, path=path, glob=glob), ctx(ws))


def ignore_tree(root: Path) -> None:
    write(root, ".gitignore", "# a comment\n\n*.log\n!important.log\n/dist\ncache/\ndocs/**/draft.md\n")
    write(root, "src/.gitignore", "*.tmp\n!debug.log\n/generated/\n")
    for rel in [
        "app.py", "debug.log", "important.log", "dist/out.js", "src/dist/kept.js", "src/cache/x.py",
        "cache", "docs/draft.md", "docs/a/b/draft.md", "docs/final.md", "src/debug.log", "src/x.tmp",
        "x.tmp", "src/generated/gen.py", "lib/generated/kept.py", ".hidden.py", ".git/config", "sub/.git",
    ]:
        write(root, rel)


KEPT = [
    ".gitignore", ".hidden.py", "app.py", "cache", "docs/final.md", "important.log", "lib/generated/kept.py",
    "src/.gitignore", "src/debug.log", "src/dist/kept.js", "x.tmp",
]


@pytest.mark.parametrize("impl", IMPLS)
async def test_gitignore_root_nested_negation_and_git_dir(ws: Workspace, impl: bool) -> None:
    ignore_tree(ws.root)
    assert sorted(await glob(ws, impl, "**/*")) == KEPT
    hits = (await grep(ws, impl, "^hit$")).splitlines()
    assert hits == [f"{rel}:1:hit" for rel in KEPT if "gitignore" not in rel]


@pytest.mark.parametrize("impl", IMPLS)
async def test_gitignore_above_the_search_path_still_applies(ws: Workspace, impl: bool) -> None:
    ignore_tree(ws.root)
    write(ws.root, "src/deep/more.log")  # root *.log; src/.gitignore re-includes only debug.log
    write(ws.root, "src/deep/debug.log")
    write(ws.root, "src/deep/notes.tmp")
    write(ws.root, "src/deep/ok.py")
    # from src: the root .gitignore applies (rg is handed it); from src/deep: src/.gitignore sits
    # between the root and the start, which rg cannot be told about, so Python takes over
    assert sorted(await glob(ws, impl, "**/*", path="src")) == [
        "src/.gitignore", "src/debug.log", "src/deep/debug.log", "src/deep/ok.py", "src/dist/kept.js",
    ]
    assert sorted(await glob(ws, impl, "*", path="src/deep")) == ["src/deep/debug.log", "src/deep/ok.py"]
    assert (await grep(ws, impl, "hit", path="src/deep")).splitlines() == [
        "src/deep/debug.log:1:hit", "src/deep/ok.py:1:hit",
    ]


@pytest.mark.parametrize("impl", IMPLS)
async def test_binary_files_are_skipped_silently(ws: Workspace, impl: bool) -> None:
    write(ws.root, "blob.bin", b"needle\n\x00\x01")
    write(ws.root, "late.txt", b"needle\n" + b"x" * 9000 + b"\x00")  # NUL after the first 8 KiB
    write(ws.root, "text.txt", "a needle here\n")
    assert (await grep(ws, impl, "needle")).splitlines() == ["late.txt:1:needle", "text.txt:1:a needle here"]
    assert sorted(await glob(ws, impl, "*")) == ["blob.bin", "late.txt", "text.txt"]  # glob lists them


@pytest.mark.parametrize("impl", IMPLS)
async def test_grep_output_is_bounded_with_a_left_out_note(ws: Workspace, impl: bool) -> None:
    write(ws.root, "many.txt", "".join(f"match {i}\n" for i in range(250)))
    lines = (await grep(ws, impl, "match")).splitlines()
    assert lines[:2] == ["many.txt:1:match 0", "many.txt:2:match 1"]
    assert len(lines) == 201 and lines[199] == "many.txt:200:match 199"
    assert lines[-1].startswith("[... 50 more matching lines left out (250 in all); narrow the search")

    write(ws.root, "many.txt", "".join(f"wide {i} {'w' * 400}\n" for i in range(150)))
    out = await grep(ws, impl, "wide")
    lines = out.splitlines()
    assert len(out) <= 30_200 and lines[0].endswith(" [... line cut]") and len(lines[0]) < 330
    assert lines[-1].startswith(f"[... {150 - (len(lines) - 1)} more matching lines left out (150 in all)")


@pytest.mark.parametrize("impl", IMPLS)
async def test_glob_output_is_bounded_with_a_left_out_note(ws: Workspace, impl: bool) -> None:
    for i in range(230):
        os.utime(write(ws.root, f"f/{i:03}.py"), ns=(10**18, 10**18 + i))
    lines = await glob(ws, impl, "**/*.py")
    assert len(lines) == 201 and lines[0] == "f/229.py" and lines[199] == "f/030.py"
    note = "[... 30 more files left out (230 in all); narrow the search with a more specific path or pattern]"
    assert lines[-1] == note


@pytest.mark.parametrize("impl", IMPLS)
async def test_glob_orders_newest_first_ties_by_path_and_excludes_directories(ws: Workspace, impl: bool) -> None:
    times = {"old.py": 1, "a.py": 5, "a/b.py": 5, "new.py": 9, "a/c/deep.ts": 7, "a/c/deep.tsx": 3}
    for rel, t in times.items():
        os.utime(write(ws.root, rel), ns=(t * 10**9, t * 10**9))
    assert await glob(ws, impl, "**/*.py") == ["new.py", "a/b.py", "a.py", "old.py"]
    assert await glob(ws, impl, "*.py") == ["new.py", "a.py", "old.py"]
    assert await glob(ws, impl, "**/*.{ts,tsx}") == ["a/c/deep.ts", "a/c/deep.tsx"]
    assert await glob(ws, impl, "c/*", path="a") == ["a/c/deep.ts", "a/c/deep.tsx"]
    assert await glob(ws, impl, "a/*") == ["a/b.py"]  # a/c is a directory
    assert await glob(ws, impl, "**/c") == [
        "No files match '**/c' in the workspace (.git, symlinks and files ignored by .gitignore are skipped)."
    ]


@pytest.mark.parametrize("impl", IMPLS)
async def test_grep_sorts_by_path_then_line_and_filters_by_glob(ws: Workspace, impl: bool) -> None:
    write(ws.root, "a.txt", "x1\nno\nx3\n")
    write(ws.root, "a/b.txt", "x1\n")
    write(ws.root, "src/m.py", "x = 1\r\n")
    write(ws.root, "src/ui/v.ts", "x\n")
    assert (await grep(ws, impl, "x")).splitlines() == ["a/b.txt:1:x1", "a.txt:1:x1", "a.txt:3:x3",
                                                        "src/m.py:1:x = 1", "src/ui/v.ts:1:x"]
    assert (await grep(ws, impl, "x", glob="*.py")).splitlines() == ["src/m.py:1:x = 1"]
    assert (await grep(ws, impl, "x", path="src", glob="ui/**/*.ts")).splitlines() == ["src/ui/v.ts:1:x"]
    assert (await grep(ws, impl, "1$", path="a.txt")).splitlines() == ["a.txt:1:x1"]
    no_match = "No matches for 'zzz' in the workspace among files matching '*.py'."
    assert await grep(ws, impl, "zzz", glob="*.py") == no_match


@pytest.mark.parametrize("impl", IMPLS)
async def test_grep_searches_the_unsaved_buffer_of_open_files(ws: Workspace, impl: bool) -> None:
    path = write(ws.root, "src/calc.py", "def old_name():\n    pass\n")
    write(ws.root, "src/other.py", "old_name()\n")
    ws.documents = Buffers({path: OpenDocument("file://" + str(path), "# edited\ndef new_name():\n", 3)})
    assert (await grep(ws, impl, "new_name")).splitlines() == ["src/calc.py:2:def new_name():"]
    assert (await grep(ws, impl, "old_name")).splitlines() == ["src/other.py:1:old_name()"]


@pytest.mark.parametrize("raw", ["..", "../outside", "/etc", "link", "link/secret.txt"])
async def test_paths_outside_the_workspace_are_refused(ws: Workspace, raw: str) -> None:
    outside = ws.root.parent / "outside"
    write(outside, "secret.txt", "needle\n")
    os.symlink(outside, ws.root / "link")
    with pytest.raises(ToolError, match="outside the workspace"):
        await glob(ws, False, "**/*", path=raw)
    with pytest.raises(ToolError, match="outside the workspace"):
        await grep(ws, False, "needle", path=raw)


@pytest.mark.parametrize("impl", IMPLS)
async def test_symlinks_inside_the_tree_are_never_followed(ws: Workspace, impl: bool) -> None:
    outside = ws.root.parent / "outside"
    write(outside, "secret.txt", "needle\n")
    os.symlink(outside, ws.root / "dirlink")
    os.symlink(outside / "secret.txt", ws.root / "filelink.txt")
    write(ws.root, "mine.txt", "needle\n")
    assert await glob(ws, impl, "**/*") == ["mine.txt"]
    assert (await grep(ws, impl, "needle")).splitlines() == ["mine.txt:1:needle"]
    with pytest.raises(ToolError, match="outside the workspace"):
        await glob(ws, impl, "dirlink/*")


async def test_errors_the_model_can_act_on(ws: Workspace) -> None:
    write(ws.root, "a.py", "x\n")
    with pytest.raises(ToolError, match=r"invalid regular expression '\(unclosed'.*missing \)"):
        await grep(ws, False, "(unclosed")
    with pytest.raises(ToolError, match="does not exist"):
        await grep(ws, False, "x", path="nope")
    with pytest.raises(ToolError, match="does not exist"):
        await glob(ws, False, "*", path="nope")
    with pytest.raises(ToolError, match="inside .git"):
        await grep(ws, False, "x", path=".git/objects")
    with pytest.raises(ToolError, match="path must be a directory"):
        await glob(ws, False, "*", path="a.py")
    with pytest.raises(ToolError, match=r"may not contain '\.\.'"):
        await glob(ws, False, "../*")
    assert await grep(ws, False, "nothing") == "No matches for 'nothing' in the workspace."


def rich_tree(root: Path) -> None:
    ignore_tree(root)
    write(root, "README.md", "# Title\nneedle in README\n")
    write(root, "a.txt", "needle\n")
    write(root, "a/b.txt", "needle one\nnope\nneedle two")  # no final newline
    write(root, "crlf.txt", "needle\r\nneedle$\r\n")
    write(root, "uni/é.py", "café = 'needle'\n")
    write(root, "wide.js", "x" * 5000 + "needle" + "y" * 5000 + "\n")
    write(root, "bom.txt", b"\xef\xbb\xbfneedle at start\n")
    write(root, "latin1.txt", b"caf\xe9 needle\n")
    write(root, "bin.dat", b"needle\x00")
    write(root, "regex.txt", "x{ 2} is literal in Python\nso is g] here\n")
    write(root, "src/inner/.gitignore", "ignored.py\n")
    write(root, "src/inner/ignored.py", "needle\n")
    write(root, "src/inner/deeper/kept.py", "needle\nneedle needle\n")
    write(root, "src/inner/deeper/ignored.py", "needle\n")  # ignored from a .gitignore above the start
    for i in range(30):
        write(root, f"bulk/{i % 7}/f{i}.py", "".join(f"needle {j}\n" for j in range(i)))


QUERIES: list[dict[str, Any]] = [
    {"pattern": "needle"},
    {"pattern": r"^needle\b", "glob": "*.py"},
    {"pattern": "needle$"},
    {"pattern": "caf.", "path": "uni"},
    {"pattern": "needle", "path": "src"},
    {"pattern": "needle", "path": "src/inner/deeper"},  # .gitignore between root and start
    {"pattern": "(?<=needle )two"},  # look-behind: rg rejects it, Python answers
    {"pattern": "needle [[0-9]"},  # rg rejects the unclosed nested class: Python answers
    {"pattern": "[[:digit:]]"},  # rg reads a POSIX class, Python "[" ":" "d"... then "]": Python answers
    {"pattern": "x{ 2}"},  # rg reads "xx", Python the literal text: Python answers
    {"pattern": "needle [0-9]", "glob": "bulk/**/*.py"},
    {"pattern": "hit", "path": "src"},
]
GLOBS: list[dict[str, Any]] = [
    {"pattern": "**/*"}, {"pattern": "**/*.py"}, {"pattern": "*"}, {"pattern": "*.py", "path": "bulk/3"},
    {"pattern": "src/**"}, {"pattern": "**/*.{md,txt}"}, {"pattern": "**/inner/**/*.py"},
]


@needs_rg
async def test_ripgrep_and_python_give_identical_output(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    rich_tree(ws.root)
    spawned: list[str] = []
    real_exec = asyncio.create_subprocess_exec

    async def spy(*args: Any, **kwargs: Any) -> Any:
        spawned.append(str(args[0]))
        return await real_exec(*args, **kwargs)

    monkeypatch.setattr(asyncio, "create_subprocess_exec", spy)
    for query in QUERIES:
        python = await Grep(use_ripgrep=False).run(GrepInput(**query), ctx(ws))
        ripgrep = await Grep(use_ripgrep=True).run(GrepInput(**query), ctx(ws))
        assert ripgrep == python, query
        assert "No matches" not in python, query
    for query in GLOBS:
        python = await Glob(use_ripgrep=False).run(GlobInput(**query), ctx(ws))
        ripgrep = await Glob(use_ripgrep=True).run(GlobInput(**query), ctx(ws))
        assert ripgrep == python, query
    assert len(spawned) >= 12 and all(p.endswith("rg") for p in spawned)


# --- .gitignore semantics by pathspec: cases from git's own test suite that apply ---------------

GIT_IGNORE_CASES: list[tuple[str, str, bool, bool]] = [
    # (.gitignore text, path, is_dir, ignored) -- t0008-ignores, t3001-ls-files-others-exclude, wildmatch
    ("*.o\n!keep.o\n", "a.o", False, True),
    ("*.o\n!keep.o\n", "keep.o", False, False),
    ("*.o\n!keep.o\n", "sub/keep.o", False, False),
    ("*.log\n!a.log\na.log\n", "a.log", False, True),  # the last match wins
    ("/top\n", "top", False, True),
    ("/top\n", "sub/top", False, False),
    ("a/b\n", "a/b", False, True),  # a slash in the middle anchors too
    ("a/b\n", "x/a/b", False, False),
    ("name\n", "deep/er/name", False, True),  # no slash: any depth
    ("dir/\n", "dir", True, True),
    ("dir/\n", "dir", False, False),  # dir/ never names a file
    ("**/foo\n", "foo", False, True),
    ("**/foo\n", "x/y/foo", False, True),
    ("abc/**\n", "abc/x/y", False, True),
    ("a/**/b\n", "a/b", False, True),
    ("a/**/b\n", "a/x/y/b", False, True),
    ("a/**/b\n", "a/xb", False, False),
    ("trailing   \n", "trailing", False, True),  # unescaped trailing spaces are dropped
    ("trailing\\ \n", "trailing ", False, True),  # an escaped one is kept
    ("trailing\\ \n", "trailing", False, False),
    ("\\#hash\n", "#hash", False, True),
    ("#hash\n", "#hash", False, False),  # a comment
    ("\\!bang\n", "!bang", False, True),
    ("[ab].txt\n", "b.txt", False, True),
    ("[!ab].txt\n", "b.txt", False, False),
    ("*\n!*/\n!*.py\n", "pkg", True, False),
    ("*\n!*/\n!*.py\n", "pkg/x.txt", False, True),
    ("*\n!*/\n!*.py\n", "pkg/x.py", False, False),
]


@pytest.mark.parametrize(("text", "rel", "is_dir", "ignored"), GIT_IGNORE_CASES)
def test_gitignore_patterns_as_git_reads_them(text: str, rel: str, is_dir: bool, ignored: bool) -> None:
    layers = [IgnoreFile("", parse_gitignore(text))]
    assert is_ignored(layers, rel, is_dir) is ignored


def test_a_nested_gitignore_is_relative_to_its_directory() -> None:
    layers = [IgnoreFile("", parse_gitignore("*.tmp\n")), IgnoreFile("src", parse_gitignore("/gen/\n!keep.tmp\n"))]
    assert is_ignored(layers, "src/gen", True) and not is_ignored(layers, "gen", True)
    assert is_ignored(layers, "a.tmp", False) and not is_ignored(layers, "src/keep.tmp", False)


@pytest.mark.parametrize("impl", IMPLS)
async def test_a_start_inside_an_ignored_directory_is_searched_as_rg_does(ws: Workspace, impl: bool) -> None:
    write(ws.root, ".gitignore", "/dist\nbuild/**\n")
    write(ws.root, "dist/out.js")
    write(ws.root, "dist/sub/more.js")
    write(ws.root, "build/x/y.js")
    assert sorted(await glob(ws, impl, "**/*", path="dist")) == ["dist/out.js", "dist/sub/more.js"]
    assert await glob(ws, impl, "*", path="build/x") == [
        "No files match '*' in build/x (.git, symlinks and files ignored by .gitignore are skipped)."]
