"""The interactive CLI (``agent-lsp`` with no arguments) driven in a real terminal: tmux runs it
against the fake API; the test types into the pane and waits for what the screen shows (each
wait polls ``tmux capture-pane`` until the text is there or a deadline passes)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_run import require_tools
from editor import agent_lsp_command, server_env
from fake_anthropic import FakeAnthropic, Reply, Stall, text, tool_use

TMUX = shutil.which("tmux")


class Pane:
    """One tmux session running a command in a terminal of 120 x 40."""

    def __init__(self, socket: Path) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> str:
        assert TMUX is not None
        return subprocess.run([TMUX, "-S", str(self.socket), *args], capture_output=True, text=True,
                              timeout=30).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-J", "-S", "-1000")

    def type(self, line: str) -> None:
        self.tmux("send-keys", "-l", line)
        self.tmux("send-keys", "Enter")

    def key(self, name: str) -> None:
        self.tmux("send-keys", name)

    def wait_for(self, wanted: str, timeout: float = 30, count: int = 1) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if screen.count(wanted) >= count:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{wanted!r} (x{count}) not on the screen after {timeout} s:\n{screen}")
            time.sleep(0.05)  # polling the screen: there is no event to wait on in a terminal


@pytest.fixture
def pane(fake: FakeAnthropic, root: Path, state_dir: Path, tmp_path: Path) -> Iterator[tuple[Pane, Path]]:
    require_tools([] if TMUX else ["tmux (apt-get install tmux)"], "the interactive CLI test needs tmux")
    assert TMUX is not None
    env = server_env(fake.url, state_dir)
    env.update(PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
               TERM="xterm-256color", HOME=str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    rc = tmp_path / "exit-code"
    cli = " ".join(agent_lsp_command())
    # bash, not sh: a Ctrl-C the CLI handles must not end the shell that records its exit code
    command = f"{cli}; echo $? > {rc}; exec {cli}"  # a second session after the first one leaves
    socket = tmp_path / "tmux.sock"
    subprocess.run([TMUX, "-S", str(socket), "-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "40",
                    "-c", str(root), *[a for k, v in env.items() for a in ("-e", f"{k}={v}")],
                    "bash", "-c", command], check=True, env=env, timeout=30)
    try:
        yield Pane(socket), rc
    finally:
        fake.release_stalls()
        subprocess.run([TMUX, "-S", str(socket), "kill-server"], capture_output=True)


def wait_for_file(path: Path, term: Pane, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.read_text().strip():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} was not written in {timeout} s; the screen:\n{term.screen()}")
        time.sleep(0.05)
    return path.read_text().strip()


def test_chat_prompt_answer_approve_undo_interrupt_and_leave(fake: FakeAnthropic, root: Path,
                                                             pane: tuple[Pane, Path]) -> None:
    term, rc = pane
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    fake.script(
        Reply([text("Hello! Here is **what I can do**:\n\n- read code\n- fix bugs\n")]),
        Reply([tool_use("edit_file", {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"})]),
        Reply([text("Fixed `add`.")]),
        Stall(Reply([text("A long answer that never ends...")]), after_frames=4),
    )
    term.wait_for("New thread")
    term.type("hello")
    screen = term.wait_for("— done")
    assert "what I can do" in screen and "**what I can do**" not in screen  # Markdown drawn, not raw
    assert "• read code" in screen

    term.type("fix add")
    screen = term.wait_for("[y]es / [n]o / [a] for this session")
    assert screen.count("+    return a + b") == 1  # the diff, drawn once
    term.type("y")
    screen = term.wait_for("— done", count=2)
    assert "Fixed add." in screen or "Fixed `add`." in screen
    assert (root / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert len(fake.requests) == 3
    second = fake.requests[1].body["messages"]
    assert second[0]["content"][0]["text"] == "hello"  # the same thread went on

    term.key("C-c")  # at the prompt: harmless
    term.wait_for("(Ctrl-D leaves)")
    term.type("/undo")
    term.wait_for("reverted calc.py")
    assert (root / "calc.py").read_text() == "def add(a, b):\n    return a - b\n"
    term.type("/mode acceptEdits")
    term.wait_for("permissionMode is now acceptEdits")

    term.type("talk at length")
    fake.wait_for_stall()
    term.key("C-c")
    term.wait_for("— interrupted")
    term.key("C-d")
    assert wait_for_file(rc, term) == "0"


def test_chat_continues_the_last_thread_and_lists_threads(fake: FakeAnthropic, root: Path, state_dir: Path,
                                                         pane: tuple[Pane, Path]) -> None:
    term, rc = pane
    fake.script(Reply([text("first answer")]))
    term.wait_for("New thread")
    term.type("first question")
    term.wait_for("— done")
    term.type("/threads")
    screen = term.wait_for("* thr_")
    assert "first question" in screen
    term.type("/bogus")
    term.wait_for("unknown command /bogus")
    term.key("C-d")
    assert wait_for_file(rc, term) == "0"
    term.wait_for("Thread thr_")  # the next session opens the last thread
    fake.script(Reply([text("second answer")]))
    term.type("and a second one")
    term.wait_for("second answer")
    messages = fake.requests[1].body["messages"]
    assert messages[0]["content"][0]["text"] == "first question"
