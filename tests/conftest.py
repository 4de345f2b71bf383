"""Shared fixtures: the fake model API (validated at teardown), workspaces, an editor, and the
test kit (``agent.testing.kit``): a scripted model checked at teardown, a fake clock, a harness
on both."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
import os
from pathlib import Path

import pytest
import pytest_asyncio

from agent.model.anthropic_api import AnthropicModel
from agent.config import Settings
from agent.engine.harness import Harness
from agent.store.sqlite import Store
from agent.testing.kit import FakeClock, HarnessRecorder, ScriptedModel
from agent.files.workspace import Workspace
from agent_run import Run
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


@pytest.fixture
def settings() -> Settings:
    """Override in a test module (or parametrize) to change the harness's settings."""
    return Settings(permission_mode="ask")


@pytest_asyncio.fixture
async def run(fake: FakeAnthropic, root: Path, tmp_path: Path, settings: Settings, clock: FakeClock,
              monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Run]:
    """The real harness in-process: real SDK, real tools and store, the fake HTTP API; retry
    waits go to the fake clock."""
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    harness = Harness(Workspace(root), Store(tmp_path / "s.db"), settings,
                      model=AnthropicModel(idle_timeout_s=2.0), sleep=clock.sleep)
    yield Run(harness)
    await harness.shutdown()


@pytest.fixture
def clock() -> FakeClock:
    """Where the harness sleeps (retry backoff): no real time passes, every sleep is recorded."""
    return FakeClock()


@pytest.fixture
def scripted() -> Iterator[ScriptedModel]:
    """The scripted model; an invalid request or a step never used fails the test at teardown."""
    model = ScriptedModel()
    yield model
    model.assert_valid()
    model.assert_all_used()


@pytest_asyncio.fixture
async def srun(scripted: ScriptedModel, clock: FakeClock, root: Path, tmp_path: Path,
               settings: Settings) -> AsyncIterator[HarnessRecorder]:
    """The real harness in-process (real tools and store) on the scripted model and fake clock."""
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    harness = Harness(Workspace(root), Store(tmp_path / "s.db"), settings, model=scripted, sleep=clock.sleep)
    recorder = HarnessRecorder(harness)
    yield recorder
    await harness.shutdown()
    recorder.close()


@pytest.fixture(scope="session", autouse=True)
def no_agent_host_outlives_the_tests(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Agent hosts the tests started exit when idle; one whose turn waits for an approval no
    test answers would wait forever, so stop every host left under this run's temp dirs."""
    yield
    import signal
    import subprocess

    base = str(tmp_path_factory.getbasetemp())
    found = subprocess.run(["pgrep", "-f", f"agent.host .*--state-dir {base}"], capture_output=True, text=True)
    for pid in found.stdout.split():
        try:
            os.kill(int(pid), signal.SIGTERM)
        except (ProcessLookupError, ValueError):
            pass
