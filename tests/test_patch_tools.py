"""write_file and apply_patch on a real temporary workspace: what they plan, and what they refuse."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from agent.files.changes import ChangeSet, DiskApplier, unified_diff
from agent.files.patching import apply_hunks, parse_patch
from agent.tools.apply_patch import ApplyPatch, ApplyPatchInput
from agent.tools.base import ToolContext, ToolError
from agent.tools.write_file import WriteFile, WriteFileInput
from agent.files.workspace import OpenDocument, Workspace
from agent_run import Buffers

CALC = "".join(f"line {i}\n" for i in range(1, 21))


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "src" / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (root / "src" / "lines.txt").write_text(CALC)
    (root / "old.txt").write_text("bye\nnow\n")
    return Workspace(root)


def ctx(ws: Workspace) -> ToolContext:
    return ToolContext(ws, "thr", "turn")


async def patch(ws: Workspace, text: str) -> ChangeSet:
    return await ApplyPatch().plan(ApplyPatchInput(patch=text), ctx(ws))


def snapshot(ws: Workspace) -> dict[str, bytes]:
    return {p.relative_to(ws.root).as_posix(): p.read_bytes() for p in sorted(ws.root.rglob("*")) if p.is_file()}


MULTI = """\
diff --git a/src/calc.py b/src/calc.py
index 1111111..2222222 100644
--- a/src/calc.py
+++ b/src/calc.py
@@ -1,2 +1,3 @@
 def add(a, b):
-    return a - b
+    \"\"\"Sum.\"\"\"
+    return a + b
diff --git a/src/new.py b/src/new.py
new file mode 100644
--- /dev/null
+++ b/src/new.py
@@ -0,0 +1,2 @@
+import calc
+print(calc.add(1, 2))
diff --git a/old.txt b/old.txt
deleted file mode 100644
--- a/old.txt
+++ /dev/null
@@ -1,2 +0,0 @@
-bye
-now
"""


async def test_multi_file_patch_with_add_and_delete_plans_then_applies(ws: Workspace) -> None:
    before = snapshot(ws)
    changes = await patch(ws, MULTI)
    assert snapshot(ws) == before  # planning writes nothing
    assert changes.title == "Patch 3 files"
    assert [(f.rel, f.kind) for f in changes.files] == [
        ("src/calc.py", "update"), ("src/new.py", "add"), ("old.txt", "delete")]
    calc, new, old = changes.files
    assert calc.new_text == 'def add(a, b):\n    """Sum."""\n    return a + b\n'
    assert (new.old_text, new.new_text) == ("", "import calc\nprint(calc.add(1, 2))\n")
    assert (old.old_text, old.new_text) == ("bye\nnow\n", "")
    assert all(f.version is None and not f.from_buffer for f in changes.files)
    assert "+    return a + b\n" in changes.diff and "--- /dev/null\n+++ b/src/new.py\n" in changes.diff
    assert (await DiskApplier().apply(changes)).outcome == "applied"
    assert (ws.root / "src" / "calc.py").read_text() == calc.new_text
    assert (ws.root / "src" / "new.py").read_text() == new.new_text
    assert not (ws.root / "old.txt").exists()


async def test_plain_diff_for_one_file_is_titled_edit(ws: Workspace) -> None:
    changes = await patch(ws, "--- src/calc.py\n+++ src/calc.py\n@@ -2 +2 @@\n-    return a - b\n+    return b + a\n")
    assert changes.title == "Edit src/calc.py"
    assert changes.files[0].new_text == "def add(a, b):\n    return b + a\n"


async def test_hunks_apply_to_the_open_buffer_not_the_disk(ws: Workspace) -> None:
    path = ws.root / "src" / "calc.py"
    ws.documents = Buffers({path: OpenDocument("file://" + str(path), "def add(a, b):\n    return 0  # wip\n", 7)})
    changes = await patch(ws, "--- a/src/calc.py\n+++ b/src/calc.py\n@@ -2 +2 @@\n-    return 0  # wip\n+    return a + b\n")
    planned = changes.files[0]
    assert (planned.version, planned.from_buffer) == (7, True)
    assert planned.old_text == "def add(a, b):\n    return 0  # wip\n"
    assert planned.new_text == "def add(a, b):\n    return a + b\n"
    with pytest.raises(ToolError, match="open editor buffer has '    return 0  # wip'"):
        await patch(ws, "--- a/src/calc.py\n+++ b/src/calc.py\n@@ -2 +2 @@\n-    return a - b\n+    return a + b\n")


async def test_hunks_a_few_lines_off_their_header_still_apply(ws: Workspace) -> None:
    # Both headers are 4 lines early; the offset found for the first carries to the second.
    text = ("--- a/src/lines.txt\n+++ b/src/lines.txt\n"
            "@@ -2,3 +2,3 @@\n line 6\n-line 7\n+LINE SEVEN\n line 8\n"
            "@@ -11,2 +11,3 @@\n line 15\n+line 15.5\n line 16\n")
    changes = await patch(ws, text)
    lines = changes.files[0].new_text.splitlines()
    assert lines[5:8] == ["line 6", "LINE SEVEN", "line 8"]
    assert lines[14:17] == ["line 15", "line 15.5", "line 16"]
    assert len(lines) == 21


async def test_hunks_far_from_their_header_or_ambiguous_are_refused(ws: Workspace) -> None:
    far = "--- a/src/lines.txt\n+++ b/src/lines.txt\n@@ -60 +60 @@\n-line 20\n+LAST\n"
    (ws.root / "src" / "lines.txt").write_text("".join(f"line {i}\n" for i in range(1, 101)))
    with pytest.raises(ToolError, match="more than 30 lines from its header: its lines are at line 20"):
        await patch(ws, far)
    (ws.root / "dup.txt").write_text("a\nx\nb\nx\nc\n")
    with pytest.raises(ToolError, match="matches both line 2 and line 4"):
        await patch(ws, "--- a/dup.txt\n+++ b/dup.txt\n@@ -3 +3 @@\n-x\n+y\n")
    fenced = "```diff\n--- a/dup.txt\n+++ dup.txt\n@@ -4,2 +4,2 @@\n x\n-c\n+C\n```\n"
    assert (await patch(ws, fenced)).files[0].new_text == "a\nx\nb\nx\nC\n"


async def test_a_stale_hunk_names_file_hunk_and_line_and_plans_nothing(ws: Workspace) -> None:
    text = ("--- a/src/calc.py\n+++ b/src/calc.py\n@@ -2 +2 @@\n-    return a - b\n+    return a + b\n"
            "--- a/src/lines.txt\n+++ b/src/lines.txt\n@@ -1,2 +1,2 @@\n-line 1\n+line one\n line 2\n"
            "@@ -10,2 +10,2 @@\n line 10\n-line eleven\n+line 11!\n")
    before = snapshot(ws)
    with pytest.raises(ToolError) as err:
        await patch(ws, text)
    message = str(err.value)
    assert "hunk 2 of src/lines.txt (@@ -10,2 +10,2 @@)" in message
    assert "at line 11 the patch expects 'line eleven' but the file has 'line 11'" in message
    assert "Read src/lines.txt again" in message and "Nothing was changed" in message
    assert snapshot(ws) == before


@pytest.mark.parametrize(("text", "expected"), [
    ("", "The patch is empty"),
    ("   \n\n", "The patch is empty"),
    ("Here is the fix: change a - b to a + b in calc.py.\n", "no file headers"),
    ("*** Begin Patch\n*** Update File: src/calc.py\n-a\n+b\n*** End Patch\n", "Begin Patch"),
    ("--- a/src/calc.py\n+++ b/src/calc.py\n@@ ... @@\n-    return a - b\n+    return a + b\n",
     "hunk header without line numbers"),
    ("I changed the return:\n--- a/src/calc.py\n+++ b/src/calc.py\n@@ -2 +2 @@\n-    return a - b\n+    return a + b\n",
     r"Line 1 of the patch \('I changed the return:'\) is not part of the diff"),
])
async def test_prose_empty_and_headerless_patches_are_errors(ws: Workspace, text: str, expected: str) -> None:
    with pytest.raises(ToolError, match=expected):
        await patch(ws, text)


async def test_lines_after_a_complete_hunk_are_an_error_not_dropped(ws: Workspace) -> None:
    # The header counts one line each side, so unidiff would silently drop "+    # more".
    text = "--- a/src/calc.py\n+++ b/src/calc.py\n@@ -2 +2 @@\n-    return a - b\n+    return a + b\n+    # more\n"
    with pytest.raises(ToolError, match=r"Line 6 of the patch \('\+    # more'\) is not part of any hunk.*fix the counts"):
        await patch(ws, text)
    trailing_prose = text.replace("+    # more\n", "That should do it.\n")
    with pytest.raises(ToolError, match="Line 6 .*not part of the diff"):
        await patch(ws, trailing_prose)


async def test_a_crlf_file_stays_crlf(ws: Workspace) -> None:
    (ws.root / "win.txt").write_bytes(b"one\r\ntwo\r\nthree\r\n")
    changes = await patch(ws, "--- a/win.txt\n+++ b/win.txt\n@@ -1,3 +1,4 @@\n one\n-two\n+TWO\n+two and a half\n three\n")
    assert changes.files[0].new_text == "one\r\nTWO\r\ntwo and a half\r\nthree\r\n"
    # A patch that itself has CRLF endings (git diff of a CRLF file) works the same way.
    crlf_patch = "--- a/win.txt\r\n+++ b/win.txt\r\n@@ -2 +2 @@\r\n-two\r\n+2\r\n"
    assert (await patch(ws, crlf_patch)).files[0].new_text == "one\r\n2\r\nthree\r\n"


async def test_no_newline_at_end_of_file_on_either_side(ws: Workspace) -> None:
    (ws.root / "eof.txt").write_text("a\nb")
    adds_newline = "--- a/eof.txt\n+++ b/eof.txt\n@@ -1,2 +1,3 @@\n a\n-b\n\\ No newline at end of file\n+b\n+c\n"
    assert (await patch(ws, adds_newline)).files[0].new_text == "a\nb\nc\n"
    keeps_missing = ("--- a/eof.txt\n+++ b/eof.txt\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n"
                     "+B\n\\ No newline at end of file\n")
    assert (await patch(ws, keeps_missing)).files[0].new_text == "a\nB"
    (ws.root / "eol.txt").write_text("x\ny\n")
    drops_newline = "--- a/eol.txt\n+++ b/eol.txt\n@@ -2 +2 @@\n-y\n+z\n\\ No newline at end of file\n"
    assert (await patch(ws, drops_newline)).files[0].new_text == "x\nz"


@pytest.mark.parametrize("target", ["../outside.txt", "link/secret.txt", "/etc/passwd"])
async def test_paths_outside_the_workspace_are_refused(ws: Workspace, target: str) -> None:
    outside = ws.root.parent / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret\n")
    (ws.root.parent / "outside.txt").write_text("secret\n")
    os.symlink(outside, ws.root / "link")
    text = f"--- {target}\n+++ {target}\n@@ -1 +1 @@\n-secret\n+owned\n"
    with pytest.raises(ToolError, match="outside the workspace"):
        await patch(ws, text)
    with pytest.raises(ToolError, match="outside the workspace"):
        await WriteFile().plan(WriteFileInput(path=target, content="owned\n"), ctx(ws))
    assert (outside / "secret.txt").read_text() == "secret\n"


async def test_file_existence_and_renames_are_checked(ws: Workspace) -> None:
    with pytest.raises(ToolError, match="creates src/calc.py, but it already exists"):
        await patch(ws, "--- /dev/null\n+++ b/src/calc.py\n@@ -0,0 +1 @@\n+x = 1\n")
    with pytest.raises(ToolError, match="deletes gone.txt, which does not exist"):
        await patch(ws, "--- a/gone.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n")
    with pytest.raises(ToolError, match="changes gone.txt, which does not exist"):
        await patch(ws, "--- a/gone.txt\n+++ b/gone.txt\n@@ -1 +1 @@\n-x\n+y\n")
    with pytest.raises(ToolError, match="renames are not supported"):
        await patch(ws, "diff --git a/old.txt b/new.txt\nsimilarity index 100%\nrename from old.txt\nrename to new.txt\n")
    with pytest.raises(ToolError, match="deletes old.txt but its hunks leave 1 line"):
        await patch(ws, "--- a/old.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n")


async def test_write_file_creates_with_parent_folders_and_replaces(ws: Workspace) -> None:
    created = await WriteFile().plan(WriteFileInput(path="pkg/sub/mod.py", content="X = 1\n"), ctx(ws))
    assert not (ws.root / "pkg").exists()  # planning writes nothing
    assert created.title == "Create pkg/sub/mod.py"
    assert [(f.rel, f.kind, f.old_text, f.new_text) for f in created.files] == [
        ("pkg/sub/mod.py", "add", "", "X = 1\n")]
    assert (await DiskApplier().apply(created)).outcome == "applied"
    assert (ws.root / "pkg" / "sub" / "mod.py").read_text() == "X = 1\n"

    replaced = await WriteFile().plan(WriteFileInput(path="src/calc.py", content="def add(a, b):\n    return a + b\n"), ctx(ws))
    assert replaced.title == "Write src/calc.py"
    assert replaced.files[0].kind == "update"
    assert replaced.files[0].old_text == "def add(a, b):\n    return a - b\n"
    assert (await DiskApplier().apply(replaced)).outcome == "applied"
    assert (ws.root / "src" / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    with pytest.raises(ToolError, match="already has exactly this content"):
        await WriteFile().plan(WriteFileInput(path="src/calc.py", content="def add(a, b):\n    return a + b\n"), ctx(ws))


async def test_write_file_keeps_crlf_and_uses_the_open_buffer(ws: Workspace) -> None:
    (ws.root / "win.txt").write_bytes(b"one\r\ntwo\r\n")
    changes = await WriteFile().plan(WriteFileInput(path="win.txt", content="uno\ndos\n"), ctx(ws))
    assert changes.files[0].new_text == "uno\r\ndos\r\n"
    path = ws.root / "src" / "calc.py"
    ws.documents = Buffers({path: OpenDocument("file://" + str(path), "unsaved\n", 3)})
    planned = (await WriteFile().plan(WriteFileInput(path="src/calc.py", content="new\n"), ctx(ws))).files[0]
    assert (planned.old_text, planned.version, planned.from_buffer) == ("unsaved\n", 3, True)


def test_the_projects_own_diffs_apply_back() -> None:
    """Seeded round trip: changes.unified_diff output (LF or CRLF, with or without a final
    newline, new files included) parses and applies back to exactly the new text."""
    rng = random.Random(7)
    for _ in range(400):
        eol = rng.choice(["\n", "\r\n"])
        old = [f"l{rng.randint(0, 5)}" for _ in range(rng.randint(1, 25))]
        new = list(old)
        for _ in range(rng.randint(1, 4)):
            at = rng.randint(0, len(new))
            if rng.random() < 0.4 or not new:
                new.insert(at, f"n{rng.randint(0, 99)}")
            elif rng.random() < 0.5:
                del new[min(at, len(new) - 1)]
            else:
                new[min(at, len(new) - 1)] = f"c{rng.randint(0, 99)}"
        old_text = eol.join(old) + (eol if rng.random() < 0.8 else "")
        new_text = eol.join(new) + (eol if new and rng.random() < 0.8 else "")
        if old_text == new_text or (eol == "\r\n" and "\r\n" not in old_text):
            continue  # a file with no line ending gives added lines LF, by design
        [file] = parse_patch(unified_diff("x.txt", old_text, new_text))
        assert apply_hunks(old_text, file.hunks, "x.txt") == new_text, (old_text, new_text)
