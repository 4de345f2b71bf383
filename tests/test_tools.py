"""read_file and edit_file on a real temporary workspace: success and failure paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.files.changes import DiskApplier
from agent.tools import ToolContext, ToolError
from agent.tools.edit_file import EditFile, EditFileInput
from agent.tools.read_file import ReadFile, ReadFileInput
from agent.files.workspace import OpenDocument, Workspace
from agent_run import Buffers


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "src" / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    return Workspace(root)


def ctx(ws: Workspace) -> ToolContext:
    return ToolContext(ws, "thr", "turn")


async def test_read_file_numbers_lines_and_pages(ws: Workspace) -> None:
    (ws.root / "long.txt").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    out = await ReadFile().run(ReadFileInput(path="long.txt", offset=3, limit=2), ctx(ws))
    assert out.splitlines() == ["     3\tline 3", "     4\tline 4", "[... 6 more lines of 10; read on with offset=5]"]


async def test_read_file_prefers_the_open_buffer(ws: Workspace) -> None:
    path = ws.root / "src" / "calc.py"
    ws.documents = Buffers({path: OpenDocument("file://" + str(path), "unsaved = 1\n", 7)})
    out = await ReadFile().run(ReadFileInput(path="src/calc.py"), ctx(ws))
    assert out == "     1\tunsaved = 1"


async def test_read_file_refuses_binary_and_missing(ws: Workspace) -> None:
    (ws.root / "blob.bin").write_bytes(b"\x00\x01\x02")
    with pytest.raises(ToolError, match="binary"):
        await ReadFile().run(ReadFileInput(path="blob.bin"), ctx(ws))
    with pytest.raises(ToolError, match="does not exist"):
        await ReadFile().run(ReadFileInput(path="nope.py"), ctx(ws))


@pytest.mark.parametrize("raw", ["../outside.txt", "/etc/passwd", "link/secret.txt", "src/../../outside.txt"])
async def test_paths_outside_the_workspace_are_refused(ws: Workspace, raw: str) -> None:
    outside = ws.root.parent / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (ws.root.parent / "outside.txt").write_text("secret")
    os.symlink(outside, ws.root / "link")
    with pytest.raises(ToolError, match="outside the workspace"):
        await ReadFile().run(ReadFileInput(path=raw), ctx(ws))
    with pytest.raises(ToolError, match="outside the workspace"):
        await EditFile().plan(EditFileInput(path=raw, old_string="secret", new_string="x"), ctx(ws))
    assert (outside / "secret.txt").read_text() == "secret"


async def test_edit_file_plans_a_unique_replacement_and_applies_atomically(ws: Workspace) -> None:
    changes = await EditFile().plan(
        EditFileInput(path="src/calc.py", old_string="return a - b", new_string="return a + b"), ctx(ws)
    )
    assert (ws.root / "src" / "calc.py").read_text().endswith("a - b\n")  # planning writes nothing
    assert changes.title == "Edit src/calc.py"
    assert "-    return a - b\n+    return a + b\n" in changes.diff
    assert changes.files[0].changed_range().start.line == 1
    result = await DiskApplier().apply(changes)
    assert result.outcome == "applied"
    assert (ws.root / "src" / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"


async def test_edit_file_failures_say_what_to_do(ws: Workspace) -> None:
    (ws.root / "dup.py").write_text("x = 1\nx = 1\n")
    with pytest.raises(ToolError, match="matches 2 times"):
        await EditFile().plan(EditFileInput(path="dup.py", old_string="x = 1", new_string="x = 2"), ctx(ws))
    everywhere = await EditFile().plan(
        EditFileInput(path="dup.py", old_string="x = 1", new_string="x = 2", replace_all=True), ctx(ws))
    assert everywhere.files[0].new_text == "x = 2\nx = 2\n"
    with pytest.raises(ToolError) as missing:
        await EditFile().plan(EditFileInput(path="src/calc.py", old_string="return a-b", new_string="y"), ctx(ws))
    assert "closest lines" in str(missing.value) and "return a - b" in str(missing.value)


async def test_disk_applier_refuses_a_file_changed_underneath(ws: Workspace) -> None:
    changes = await EditFile().plan(
        EditFileInput(path="src/calc.py", old_string="a - b", new_string="a + b"), ctx(ws))
    (ws.root / "src" / "calc.py").write_text("# the user changed it\n")
    result = await DiskApplier().apply(changes)
    assert result.outcome == "conflict"
    assert (ws.root / "src" / "calc.py").read_text() == "# the user changed it\n"
