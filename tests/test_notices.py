"""Retry and fallback notices (issue 15): a retried model request and a fall back to another
model are told to every surface through the harness's notices, not only logged. On the real
harness with the fake API (HTTP 529 steps), in an editor over the agent host (a retry as a log
message, a fallback as a warning), and in the CLI's output.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types as t

from agent.config import Settings
from agent.engine.loop import retry_notice
from agent.testing.kit import FakeClock
from agent_run import Run
from editor import Editor, server_env
from fake_anthropic import FakeAnthropic, HttpError, Reply, text
from test_cli import run_cli
from test_e2e_requests import new_thread, start_turn

OVERLOADED = HttpError(529, "overloaded_error", "Overloaded", retry_after=4)


def test_a_retry_notice_says_why_how_long_and_which_attempt() -> None:
    assert retry_notice("overloaded", 4.0, 2) == "model overloaded, retrying in 4 s (attempt 2 of 5)"
    assert retry_notice("connection", 0.4, 3) == "could not reach the API, retrying in 0.4 s (attempt 3 of 5)"


async def test_each_retry_is_a_notice(run: Run, fake: FakeAnthropic, clock: FakeClock) -> None:
    notices: list[str] = []
    about: set[str | None] = set()
    run.harness.on_notice(lambda message, thread_id: (notices.append(message), about.add(thread_id)))
    fake.script(OVERLOADED, HttpError(500, "api_error", "boom"), Reply([text("made it")]))
    done = await run.turn("hi")
    assert done.turn.status == "completed"
    assert about == {done.turn.thread_id}  # a retry's notice names its thread (the host tells its followers)
    assert clock.sleeps[0] == 4
    assert notices[0] == "model overloaded, retrying in 4 s (attempt 2 of 5)"
    assert notices[1].startswith("the API had a server error, retrying in ") and notices[1].endswith("(attempt 3 of 5)")
    assert len(notices) == 2


@pytest.mark.parametrize("settings", [Settings(fallback_model="claude-fallback")])
async def test_falling_back_to_another_model_is_a_notice(run: Run, fake: FakeAnthropic) -> None:
    notices: list[str] = []
    run.harness.on_notice(lambda message, thread_id: notices.append(message))
    fake.script(OVERLOADED, OVERLOADED, Reply([text("from the fallback")]))
    assert (await run.turn("hi")).turn.status == "completed"
    assert fake.requests[-1].body["model"] == "claude-fallback"
    model = Settings().model
    assert notices == ["model overloaded, retrying in 4 s (attempt 2 of 5)",
                       f"{model} is overloaded, falling back to claude-fallback",
                       "model overloaded, retrying in 4 s (attempt 3 of 5)"]


async def test_the_editor_logs_a_retry_and_shows_a_fallback(fake: FakeAnthropic, root: Path, state_dir: Path) -> None:
    quick = HttpError(529, "overloaded_error", "Overloaded", retry_after=0.01)
    env = server_env(fake.url, state_dir, AGENT_LSP_FALLBACK_MODEL="claude-fallback")
    editor = await Editor.launch(root, env)
    logged, shown = editor.client.log_messages, editor.client.messages
    try:
        fake.script(quick, quick, Reply([text("ok")]))
        turn = await start_turn(editor, await new_thread(editor), "hi")
        done = await editor.wait_event("turn/completed", lambda e: e["turn"]["id"] == turn["id"])
        assert done["turn"]["status"] == "completed"
        retries = await editor.wait_for(lambda: [m for m in logged if "retrying in" in m.message])
        assert retries[0].message == "agent-lsp: model overloaded, retrying in 0.0 s (attempt 2 of 5)"
        assert not any("retrying" in m.message for m in shown)  # retries never pop up
        [fallback] = await editor.wait_for(lambda: [m for m in shown if "falling back" in m.message])
        assert fallback.type == t.MessageType.Warning and fallback.message.endswith("falling back to claude-fallback")
    finally:
        await editor.close()


def test_the_cli_prints_a_retry(fake: FakeAnthropic, root: Path, state_dir: Path) -> None:
    fake.script(HttpError(529, "overloaded_error", "Overloaded", retry_after=0.01), Reply([text("Hello.")]))
    asked = run_cli(["ask", "say hello"], root, server_env(fake.url, state_dir))
    assert asked.returncode == 0, asked.stderr
    assert "model overloaded, retrying in 0.0 s (attempt 2 of 5)" in asked.stdout + asked.stderr
    assert "Hello." in asked.stdout


class Wire:
    """Stands in for a client's socket: what the host's session would send it."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def on(self, *args: object) -> None: ...

    def on_notification(self, *args: object) -> None: ...

    def notify(self, method: str, params: dict[str, object]) -> None:
        if method == "notice":
            self.sent.append(str(params["message"]))


def test_the_host_tells_a_retry_to_those_who_see_its_thread(tmp_path: Path) -> None:
    """A retry's notice names its thread: the host sends it to the clients following that thread
    (or a thread it descends from, a subagent's) and to editors that show every thread; a client
    following another thread does not hear of it. A notice about no thread reaches everyone."""
    from types import SimpleNamespace

    from agent.host.session import Session
    from agent.store.sqlite import Store

    store = Store(tmp_path / "agent.db")
    a = store.create_thread("ws", "A").thread_id
    b = store.create_thread("ws", "B").thread_id
    child = store.create_thread("ws", "A's subagent", parent_thread_id=a).thread_id
    hosted = SimpleNamespace(harness=SimpleNamespace(store=store))
    sessions = {name: Session(SimpleNamespace(), Wire()) for name in ("on A", "on B", "editor")}  # type: ignore[arg-type]
    for session in sessions.values():
        session.hosted = hosted  # type: ignore[assignment]
    sessions["on A"].following[a] = 1
    sessions["on B"].following[b] = 1
    sessions["editor"].everything = True
    for message, thread in (("retry in A", a), ("retry in A's subagent", child), ("rules file broken", None)):
        for session in sessions.values():
            session.notice(message, thread)
    heard = {name: session.connection.sent for name, session in sessions.items()}  # type: ignore[attr-defined]
    assert heard == {"on A": ["retry in A", "retry in A's subagent", "rules file broken"],
                     "on B": ["rules file broken"],
                     "editor": ["retry in A", "retry in A's subagent", "rules file broken"]}
