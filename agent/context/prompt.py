"""The system prompt: who the agent is, where it works, how its tools behave.

It is built once per thread (at its first turn) and stored with the thread, so every
request of the thread, before and after a restart, starts with the same bytes and the
prompt cache keeps hitting. Things that change between turns (unsaved buffers) go into the
user message of the turn instead.
"""

from __future__ import annotations

import platform
import subprocess
from datetime import date
from pathlib import Path

IDENTITY = """You are agent-lsp, a coding agent working inside the user's editor.
You read and change the user's workspace through tools. Work carefully and briefly:
read before you edit, make the smallest change that solves the task, and say in one or two
sentences what you changed when you are done."""

CONVENTIONS = """Tool conventions:
- Paths are relative to the workspace root (absolute paths must stay inside it).
- read_file shows the editor's unsaved text when a file is open; edit against that text.
- edit_file needs old_string to match exactly once; copy it from read_file output without
  the line-number prefix.
- Every change is shown to the user as a diff and may need their approval. If a change is
  rejected, read the reason and do not retry the same change.
- A tool error is information: read it and adjust."""


def git_status(root: Path) -> str:
    try:
        done = subprocess.run(
            ["git", "status", "--short", "--branch"], cwd=root, capture_output=True, text=True, timeout=2
        )
    except (OSError, subprocess.TimeoutExpired):
        return "(git not available)"
    if done.returncode != 0:
        return "(not a git repository)"
    lines = done.stdout.splitlines()
    if len(lines) > 20:
        lines = lines[:20] + [f"... {len(lines) - 20} more"]
    return "\n".join(lines) or "(clean)"


def build_system_prompt(root: Path) -> str:
    environment = (
        f"Environment:\n- Workspace root: {root}\n- OS: {platform.system()} {platform.release()}\n"
        f"- Date when this conversation started: {date.today().isoformat()}\n"
        f"- Git status at that time:\n{git_status(root)}"
    )
    return "\n\n".join([IDENTITY, CONVENTIONS, environment])
