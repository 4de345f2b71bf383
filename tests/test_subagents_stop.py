"""Subagents under stress (found in review): nesting at the parallel limit, Stop while a child
waits for a slot, Stop pressed twice during the clean-up, a bug in one parallel child, and
secrets in a fork's seed. The real harness on the scripted model (which checks every request)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from agent.config import Settings
from agent.context.transcript import Transcript
from agent.engine.harness import Harness
from agent.engine.subagents import Subagents
from agent.files.workspace import Workspace
from agent.protocol import TextPart
from agent.store.sqlite import Store
from agent.testing.kit import Hold, Recorder, Reply, ScriptedModel, text, tool_use

SECRET = "ghp_Zx81KqLmN0pQrS7tUvW2yA4bC6dE8fG0hJ3k"


def first_text(body: dict[str, Any]) -> str:
    return next((str(b["text"]) for b in body["messages"][0]["content"] if b.get("type") == "text"), "")


def last_text(body: dict[str, Any]) -> str:
    return " ".join(b.get("text", "") for b in body["messages"][-1]["content"] if b.get("type") == "text")


class Router:
    """Answers each request from the script of the agent it belongs to (named in its text)."""

    def __init__(self, key: Any = first_text, **scripts: list[Any]) -> None:
        self.scripts = {k: list(v) for k, v in scripts.items()}
        self.seen: dict[str, list[dict[str, Any]]] = {k: [] for k in scripts}
        self.key = key

    def __call__(self, body: dict[str, Any]) -> Any:
        found = self.key(body)
        name = next(k for k in sorted(self.scripts, key=len, reverse=True) if k in found)
        self.seen[name].append(body)
        return self.scripts[name].pop(0)

    def steps(self) -> list[Any]:
        return [self] * sum(len(s) for s in self.scripts.values())


def spawn(description: str, prompt: str, fork: bool = False) -> dict[str, Any]:
    return tool_use("spawn_agent", {"description": description, "prompt": prompt, "fork": fork})


@pytest.fixture
def make(tmp_path: Path) -> Any:
    made: list[Harness] = []

    def build(router: Router) -> tuple[Harness, ScriptedModel, Recorder]:
        root = tmp_path / "ws"
        root.mkdir(exist_ok=True)
        model = ScriptedModel(*router.steps())
        harness = Harness(Workspace(root), Store(tmp_path / "s.db"), Settings(permission_mode="bypass"), model=model)
        made.append(harness)
        return harness, model, Recorder(harness.log)

    return build


def five_children() -> Router:
    """Five parallel children: four hold their stream open, the fifth waits for a slot."""
    scripts: dict[str, list[Any]] = {"MAIN": [Reply([spawn(f"c{i}", f"CHILD{i}: go") for i in range(5)])]}
    for i in range(4):
        scripts[f"CHILD{i}"] = [Hold(Reply([text(f"child {i} ok")]), after_blocks=0, chunks=1)]
    scripts["CHILD4"] = [Reply([text("child 4 must never run")])]
    return Router(**scripts)


async def test_nested_children_at_the_parallel_limit_do_not_deadlock(make: Any) -> None:
    scripts: dict[str, list[Any]] = {"MAIN": [Reply([spawn(f"c{i}", f"CHILD{i}: go") for i in range(4)]),
                                              Reply([text("done")])]}
    for i in range(4):  # each child holds one of its parent's slots while its own child runs
        scripts[f"CHILD{i}"] = [Reply([spawn(f"g{i}", f"GRAND{i}: go")]), Reply([text(f"child {i} ok")])]
        scripts[f"GRAND{i}"] = [Reply([text(f"grand {i} ok")])]
    router = Router(**scripts)
    harness, model, _ = make(router)
    thread = harness.start_thread("main")
    report = await asyncio.wait_for(harness.start_turn(thread.id, [TextPart(text="MAIN: go")]).result(), 20)
    assert report.status == "completed" and all(router.seen[f"GRAND{i}"] for i in range(4))
    model.assert_valid()
    await harness.shutdown()


@pytest.mark.parametrize("stops", [1, 2])
async def test_stop_ends_every_child_first_and_starts_none(make: Any, stops: int) -> None:
    router = five_children()
    harness, model, recorder = make(router)
    thread = harness.start_thread("main")
    handle = harness.start_turn(thread.id, [TextPart(text="MAIN: go")])
    await recorder.wait_until(lambda: sum(e.type == "turn/started" and e.thread_id != thread.id
                                          for e in recorder.events) == 4)

    def stop_again(event: Any) -> None:  # Stop pressed once more while the clean-up runs
        if stops == 2 and event.type == "item/completed" and event.thread_id == thread.id:
            handle.cancel()

    harness.on_event(stop_again)
    await harness.interrupt(thread.id)
    ends = [i for i, e in enumerate(recorder.events) if e.type == "turn/completed" and e.thread_id == thread.id]
    assert len(ends) == 1 and recorder.events[ends[0]:] == recorder.events[-1:]  # the parent's end is last
    assert harness.running_turns() == [] and not router.seen["CHILD4"]  # the queued child never started
    roles = [m["role"] for m in Transcript.load(harness.store, thread.id).render()]
    assert roles == ["user", "assistant", "user"]  # every call answered: valid to send
    model.release()
    await harness.shutdown()
    assert not router.seen["CHILD4"]


async def test_a_bug_in_one_parallel_child_stops_the_others_and_keeps_the_transcript(
        make: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    router = Router(MAIN=[Reply([spawn("a", "CHILDA: go"), spawn("b", "CHILDB: go")])],
                    CHILDA=[Reply([text("a ok")])], CHILDB=[Hold(Reply([text("b ok")]))])
    harness, model, _ = make(router)
    real = Subagents._outcome

    def buggy(self: Subagents, report: Any, child_id: str, handle: Any, with_parent: bool) -> Any:
        if "a ok" in self._final_text(child_id):
            raise RuntimeError("a bug in the wrapper")
        return real(self, report, child_id, handle, with_parent)

    monkeypatch.setattr(Subagents, "_outcome", buggy)
    thread = harness.start_thread("main")
    report = await asyncio.wait_for(harness.start_turn(thread.id, [TextPart(text="MAIN: go")]).result(), 20)
    assert report.status == "failed" and harness.running_turns() == []
    assert [m["role"] for m in Transcript.load(harness.store, thread.id).render()] == ["user", "assistant", "user"]
    model.release()
    await harness.shutdown()


async def test_a_forks_seed_holds_no_secret(make: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", SECRET)
    router = Router(key=lambda body: last_text(body) or first_text(body),
                    FORKED=[Reply([text("fork report")])],
                    MAIN=[Reply([text(f"The token is {SECRET}."), spawn("look", f"FORKED: use {SECRET}", fork=True)]),
                          Reply([text("ok")])])
    harness, model, _ = make(router)
    thread = harness.start_thread("main")
    await harness.start_turn(thread.id, [TextPart(text="MAIN: look")]).result()
    [child] = harness.list_threads(thread.id)
    assert SECRET not in json.dumps(Transcript.load(harness.store, child.id).render())
    assert SECRET not in json.dumps(router.seen["FORKED"][0])
    model.assert_valid()
    await harness.shutdown()


async def test_undoing_a_turn_undoes_what_its_subagents_changed(make: Any, tmp_path: Path) -> None:
    edit = {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"}
    router = Router(MAIN=[Reply([spawn("fix", "CHILD: fix calc")]), Reply([text("done")])],
                    CHILD=[Reply([tool_use("edit_file", edit)]), Reply([text("fixed")])])
    harness, model, _ = make(router)
    calc = tmp_path / "ws" / "calc.py"
    calc.write_text("def add(a, b):\n    return a - b\n")
    thread = harness.start_thread("main")
    handle = harness.start_turn(thread.id, [TextPart(text="MAIN: fix")])
    assert (await handle.result()).status == "completed" and "a + b" in calc.read_text()
    [undone] = await harness.undo_turn(thread.id)  # the main thread's last turn that changed files
    assert undone.outcome == "reverted" and calc.read_text() == "def add(a, b):\n    return a - b\n"
    model.assert_valid()
    await harness.shutdown()
