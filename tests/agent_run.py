"""Test helpers for the harness in-process: ``Run`` drives the real harness (real SDK, fake
HTTP API) and records its events; ``Buffers`` stands in for an editor's open documents."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.store.records import pid_running as pid_alive  # noqa: F401  (the tests' one process check)

from agent.testing.kit import HarnessRecorder
from agent.files.workspace import OpenDocument


class Buffers:
    """Open editor buffers for tool tests (the ``Documents`` an editor would lend)."""

    def __init__(self, docs: dict[Path, OpenDocument]) -> None:
        self.docs = docs

    def get(self, path: Path) -> OpenDocument | None:
        return self.docs.get(path)

    def unsaved_paths(self) -> list[Path]:
        return list(self.docs)


class Run(HarnessRecorder):
    """The real harness with its events recorded; waits wake on each event (agent.testing.kit)."""


def require_tools(missing: list[str], what: str) -> None:
    """Skip a test whose outside tools are missing, saying which and how to install them; in CI
    (``CI`` set) fail instead, since CI installs every tool the README lists."""
    if not missing:
        return
    reason = f"{what}: missing " + ", ".join(missing)
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)
