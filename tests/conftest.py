"""Shared fixtures: the fake model API (validated at teardown), workspaces, an editor."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from editor import Editor, server_env
from fake_anthropic import FakeAnthropic


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    """The project's fake Anthropic API; any invalid request fails the test."""
    with FakeAnthropic() as server:
        yield server
        server.assert_valid()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    return workspace


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture(params=["vscode", "neovim"])
def client_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest_asyncio.fixture
async def editor(fake: FakeAnthropic, root: Path, state_dir: Path, client_kind: str) -> AsyncIterator[Editor]:
    """``agent-lsp serve`` over stdio, talking to the fake API, driven by a test editor."""
    ed = await Editor.launch(root, server_env(fake.url, state_dir), client_kind)
    try:
        yield ed
    finally:
        await ed.close()
