"""The README works as written: its shell snippets run, in order, in a fresh environment.

Every fenced block of README.md is either run (``sh``), parsed (``json``) or marked, on the
line before its fence, with ``<!-- not run: REASON -->``. The runnable ``sh`` blocks run as
one bash session, the way a reader follows the README from the set-up on: cwd the clone
(whose ``.venv`` the set-up made), a new ``HOME``, a ``PATH`` without the virtual
environment (the README must put ``agent-lsp`` there itself), no ``AGENT_LSP_*`` variables,
and the fake Anthropic API in place of the real one (the only step the README does not show:
its ``export ANTHROPIC_API_KEY`` block is marked). The fake model plays each prompt the
README asks; the First run's edit must be approved at the terminal and land on disk.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent import docs
from fake_anthropic import FakeAnthropic, Reply, text, tool_use

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
CI_RUN = ROOT / ".ci/run"
MARK = re.compile(r"^\s*<!-- not run: (?P<reason>[^>]*\S) -->\s*$")
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w-]*)\s*$")

FIX_PROMPT = "fix add in calc.py"
FIX_PLAY = [
    Reply([tool_use("read_file", {"path": "calc.py"})]),
    Reply([tool_use("edit_file", {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"})]),
    Reply([text("Fixed: `add` now returns `a + b`.")]),
]


@dataclass(frozen=True)
class Fence:
    line: int  # 1-based line of the opening fence
    lang: str
    body: str
    not_run: str | None  # the reason, when marked


def fences(text_: str) -> list[Fence]:
    found: list[Fence] = []
    lines = text_.splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening or not opening.group("lang"):
            index += 1
            continue
        indent = opening.group("indent")
        end = index + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        assert end < len(lines), f"README.md line {index + 1}: a fence that never closes"
        body = "\n".join(line.removeprefix(indent) for line in lines[index + 1:end])
        previous = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        mark = MARK.match(previous)
        found.append(Fence(index + 1, opening.group("lang"), body, mark.group("reason") if mark else None))
        index = end + 1
    return found


def runnable(all_fences: list[Fence]) -> list[Fence]:
    return [f for f in all_fences if f.not_run is None and f.lang in ("sh", "bash")]


def _turn_prompt(body: dict[str, Any]) -> tuple[str, int]:
    """The text of the turn's user prompt and how many model answers followed it."""
    messages = body["messages"]
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if message["role"] == "user" and not any(b.get("type") == "tool_result" for b in blocks):
            said = " ".join(b.get("text", "") for b in blocks if b.get("type") == "text")
            return said, sum(1 for m in messages[index + 1:] if m["role"] == "assistant")
    raise AssertionError("a request without a user prompt")


def play(body: dict[str, Any]) -> Reply:
    """The fake model: the First run's fix in three steps; a short answer to anything else."""
    prompt, answered = _turn_prompt(body)
    if FIX_PROMPT in prompt:
        return FIX_PLAY[answered]
    return Reply([text("calc.py defines add(a, b), which returns a + b.")])


def model_requests_for(prompts: list[str]) -> int:
    return sum(len(FIX_PLAY) if p == FIX_PROMPT else 1 for p in prompts)


def fresh_env(fake: FakeAnthropic, home: Path) -> dict[str, str]:
    venv_bins = {str(Path(sys.prefix) / "bin"), str(ROOT / ".venv" / "bin")}
    path = [d for d in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep) if d and d not in venv_bins]
    return {"PATH": os.pathsep.join(path), "HOME": str(home), "LANG": "C.UTF-8", "TERM": "dumb",
            "ANTHROPIC_API_KEY": "sk-ant-readme-test", "ANTHROPIC_BASE_URL": fake.url}


def the_clone(tmp_path: Path) -> Path:
    """The clone the snippets run in: this checkout when its ``.venv`` is this interpreter's."""
    if (ROOT / ".venv").resolve() == Path(sys.prefix).resolve():
        return ROOT
    clone = tmp_path / "clone"  # tests run from another environment: give it the set-up's layout
    clone.mkdir()
    (clone / ".venv").symlink_to(Path(sys.prefix))
    return clone


def test_every_fence_is_run_checked_or_marked() -> None:
    all_fences = fences(README.read_text(encoding="utf-8"))
    assert len(all_fences) >= 8
    for fence in all_fences:
        if fence.not_run is not None or fence.lang in ("sh", "bash"):
            continue
        if fence.lang == "json":
            json.loads(fence.body)  # a settings example that does not parse would mislead
            continue
        pytest.fail(f"README.md line {fence.line}: a `{fence.lang}` block that is neither run nor marked; "
                    "make it a runnable sh block or put `<!-- not run: REASON -->` on the line before it")
    assert len(runnable(all_fences)) >= 3


def test_the_commands_ci_runs_are_the_readmes() -> None:
    ci = CI_RUN.read_text(encoding="utf-8")
    for fence in fences(README.read_text(encoding="utf-8")):
        if fence.not_run and ".ci/run" in fence.not_run:
            for line in fence.body.splitlines():
                assert line in ci, f"README.md line {fence.line}: .ci/run no longer runs {line!r}"


def test_readme_points_at_the_protocol_reference_in_the_repository() -> None:
    readme = README.read_text(encoding="utf-8")
    assert "PROTOCOL.md" not in readme, "the README must not point at a contract outside the repository"
    assert "](docs/protocol.md)" in readme and (ROOT / docs.DOC_PATH).exists()
    assert "ripgrep" in readme and "apt-get install -y chromium libkrb5-dev iproute2 ripgrep" in readme


@pytest.mark.timeout(240)
def test_the_shell_snippets_work_as_written(fake: FakeAnthropic, tmp_path: Path) -> None:
    snippets = runnable(fences(README.read_text(encoding="utf-8")))
    script = ["set -e"]
    for fence in snippets:
        script += [f"echo '--- README.md line {fence.line}' >&2", fence.body]
    prompts = re.findall(r'agent-lsp ask [^"\n]*"([^"]+)"', "\n".join(f.body for f in snippets))
    assert FIX_PROMPT in prompts, "the First run must ask for the fix the fake model plays"
    fake.script(*[play] * model_requests_for(prompts))
    home = tmp_path / "home"
    home.mkdir()
    try:
        done = subprocess.run(["bash", "-c", "\n".join(script)], cwd=the_clone(tmp_path), env=fresh_env(fake, home),
                              input="y\n", capture_output=True, text=True, timeout=220)
    finally:  # the snippets' agent host (started by `agent-lsp ask`) leaves with the test
        subprocess.run([str(Path(sys.prefix) / "bin" / "agent-lsp"), "host", "stop"], env=fresh_env(fake, home),
                       capture_output=True, timeout=60)
    report = f"exit {done.returncode}\n--- stdout ---\n{done.stdout[-4000:]}\n--- stderr ---\n{done.stderr[-4000:]}"
    assert done.returncode == 0, report
    assert "Allow: Edit calc.py? [y]es / [s]ession / [a]lways / [n]o" in done.stderr, report
    assert (home / "agent-demo" / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert "applied" in done.stdout and "Fixed: add now returns a + b." in done.stdout, report
    assert len(fake.requests) == model_requests_for(prompts), report
    assert "sk-ant-readme-test" not in done.stdout + done.stderr
