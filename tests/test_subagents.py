"""Subagents (issue 13): ``spawn_agent`` runs a child thread with its own loop and transcript.

The real harness, tools and store against the fake HTTP API (which validates every request and
keeps prompt-cache accounting). The fake serves requests in arrival order, and children run at
once, so every scripted step is one router that answers by whose request it is (the first user
text of the request names the agent).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.config import Settings
from agent.engine.harness import Harness, NoDirectInput
from agent.protocol import TextPart
from agent.store.sqlite import Store
from agent.files.workspace import Workspace
from agent.model.anthropic_api import AnthropicModel
from agent_run import Run
from editor import server_env
from fake_anthropic import FakeAnthropic, Reply, Stall, text, tool_use

BUGGY = "def add(a, b):\n    return a - b\n"


def first_text(body: dict[str, Any]) -> str:
    """The first text block of the first user message: the prompt an agent started from."""
    for block in body["messages"][0]["content"]:
        if block.get("type") == "text":
            return str(block["text"])
    return ""


def last_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in body["messages"][-1]["content"] if b.get("type") == "tool_result"]


def patient(run: Run) -> None:
    """Streams held open by ``Stall`` stay open for the whole test (on a loaded machine the
    run fixture's 2 s stream idle timeout could end one before the test acts)."""
    run.harness._model = AnthropicModel(idle_timeout_s=120.0)


def spawn(description: str, prompt: str, fork: bool = False) -> dict[str, Any]:
    return tool_use("spawn_agent", {"description": description, "prompt": prompt, "fork": fork})


class Router:
    """Answers each request from the script of the agent whose request it is, in order."""

    def __init__(self, **scripts: list[Any]) -> None:
        self.scripts = {key: list(steps) for key, steps in scripts.items()}
        self.seen: dict[str, list[dict[str, Any]]] = {key: [] for key in scripts}

    def __call__(self, body: dict[str, Any]) -> Any:
        prompt = first_text(body)
        key = next(k for k in self.scripts if k in prompt)
        self.seen[key].append(body)
        return self.scripts[key].pop(0)

    def steps(self) -> list[Any]:
        return [self] * sum(len(s) for s in self.scripts.values())


@pytest.fixture
def settings() -> Settings:
    return Settings(permission_mode="ask")


async def test_two_children_run_in_parallel_and_one_asks_through_the_parent(run: Run, fake: FakeAnthropic,
                                                                            root: Path) -> None:
    patient(run)
    (root / "calc.py").write_text(BUGGY)
    edit = {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"}
    router = Router(
        MAIN=[Reply([text("Delegating."), spawn("explore tests", "CHILD-A: list the tests"),
                     spawn("fix calc", "CHILD-B: fix add in calc.py")]),
              Reply([text("Both done.")])],
        # A streams only once B waits for its approval: run one after the other, this deadlocks
        **{"CHILD-A": [Stall(Reply([text("A report: there are no tests yet, nothing to list.")]), after_frames=1)],
           "CHILD-B": [Reply([tool_use("edit_file", edit)]), Reply([text("B report: add fixed.")])]},
    )
    fake.script(*router.steps())
    thread = run.harness.start_thread("main")
    run.harness.start_turn(thread.id, [TextPart(text="MAIN: fix calc and list tests")])
    asked = await run.until("approval/requested")
    assert asked.approval.title == "Subagent 'fix calc': Edit calc.py"  # who asks is named
    fake.release_stalls()
    # a child's approval is an ordinary one: answered like any (here as a code action would)
    assert run.harness.respond(asked.approval.id, "approve", source="codeAction") == "resolved"
    await run.harness.wait(thread.id)
    done = next(e for e in run.of_type("turn/completed") if e.thread_id == thread.id)
    assert done.turn.status == "completed"
    assert (root / "calc.py").read_text() == BUGGY.replace("a - b", "a + b")
    results = last_results(router.seen["MAIN"][1])  # in the order of the calls
    assert [r["content"] for r in results] == ["A report: there are no tests yet, nothing to list.",
                                               "B report: add fixed."]
    children = run.harness.list_threads(thread.id)
    assert [c.title for c in children] == ["explore tests", "fix calc"]
    assert all(c.kind == "subagent" and c.parent_thread_id == thread.id for c in children)
    assert [t.id for t in run.harness.list_threads()] == [thread.id]  # main threads only
    items = [i for i in run.items("subagent") if i.child_thread_id in {c.id for c in children}]
    assert sorted(i.status for i in items) == ["completed", "completed"]
    progress = [e for e in run.of_type("subagent/progress") if e.thread_id == thread.id]
    assert any(p.text == "Editing calc.py" for p in progress)
    with pytest.raises(NoDirectInput):
        run.harness.start_turn(children[0].id, [TextPart(text="hi")])
    fake.assert_valid()


async def test_a_fork_reads_the_parents_prompt_cache(run: Run, fake: FakeAnthropic) -> None:
    router = Router(MAIN=[Reply([text("Forking."), spawn("look around", "FORKED: summarize", fork=True)]),
                          Reply([text("ok")])],
                    FORKED=[Reply([text("fork report")])])
    # a fork's first user text is the parent's: route the fork by its last user text instead
    seen_fork: list[dict[str, Any]] = []

    def route(body: dict[str, Any]) -> Any:
        last = body["messages"][-1]["content"]
        if any(b.get("type") == "text" and "FORKED" in b.get("text", "") for b in last):
            seen_fork.append(body)
            return router.scripts["FORKED"].pop(0)
        return router(body)

    fake.script(route, route, route)
    thread = run.harness.start_thread("main")
    await run.turn("MAIN: look around", thread.id)
    [fork] = seen_fork
    parent_first = router.seen["MAIN"][0]
    assert fork["system"] == parent_first["system"] and fork["tools"] == parent_first["tools"]
    assert fork["messages"][0] == parent_first["messages"][0]  # the parent's request, then its pending call
    fork_request = next(r for r in fake.requests if r.body is fork)
    parent_request = next(r for r in fake.requests if r.body is parent_first)
    written = parent_request.usage["cache_creation_input_tokens"]
    assert written > 0 and fork_request.usage["cache_read_input_tokens"] >= written
    assert last_results(router.seen["MAIN"][1])[0]["content"] == "fork report"
    fake.assert_valid()


async def test_interrupting_the_parent_cancels_every_child_first(run: Run, fake: FakeAnthropic) -> None:
    patient(run)
    router = Router(MAIN=[Reply([spawn("one", "KID-1: wait"), spawn("two", "KID-2: wait")]), Reply([text("ok")])],
                    **{"KID-1": [Stall(Reply([text("never")]), after_frames=1)],
                       "KID-2": [Stall(Reply([text("never")]), after_frames=1)]})
    fake.script(*router.steps()[:3])
    thread = run.harness.start_thread("main")
    run.harness.start_turn(thread.id, [TextPart(text="MAIN: go")])
    await asyncio.to_thread(fake.wait_for_requests, 3, 30)  # the parent's, then both children's at once
    assert await run.harness.interrupt(thread.id)
    ends = [e for e in run.events if e.type == "turn/completed"]
    assert [e.thread_id for e in ends][-1] == thread.id  # the children's ends are stored first
    kids = {c.id for c in run.harness.list_threads(thread.id)}
    assert {e.thread_id for e in ends[:-1]} == kids
    assert [e.turn.status for e in ends] == ["interrupted"] * 3, [(e.turn.status, e.turn.error) for e in ends]
    assert sorted(i.status for i in run.items("subagent")) == ["interrupted", "interrupted"]
    fake.release_stalls()
    # the transcript stays valid: the next turn's request carries both calls' results
    fake.script(Reply([text("fine")]))
    await run.turn("MAIN: and now?", thread.id)
    results = [b for m in fake.requests[-1].body["messages"] for b in m["content"] if b.get("type") == "tool_result"]
    assert len(results) == 2 and all("stopped with the turn" in r["content"] for r in results), results
    fake.assert_valid()


async def test_one_child_cancelled_alone_and_the_parent_goes_on(run: Run, fake: FakeAnthropic) -> None:
    patient(run)
    router = Router(MAIN=[Reply([spawn("slow", "SLOW: read everything")]), Reply([text("I will do it myself.")])],
                    SLOW=[Reply([tool_use("glob", {"pattern": "*.py"})]),
                          Stall(Reply([text("never")]), after_frames=1)])
    fake.script(*router.steps())
    thread = run.harness.start_thread("main")
    run.harness.start_turn(thread.id, [TextPart(text="MAIN: go")])
    await asyncio.to_thread(fake.wait_for_requests, 3, 30)  # the child's second request hangs
    [child] = run.harness.list_threads(thread.id)
    assert await run.harness.interrupt(child.id)
    await run.harness.wait(thread.id)
    done = next(e for e in run.of_type("turn/completed") if e.thread_id == thread.id)
    assert done.turn.status == "completed"
    [result] = last_results(router.seen["MAIN"][1])
    assert result.get("is_error") and "cancelled by the user" in result["content"], result
    assert "Finding *.py" in result["content"]  # what it had done so far
    fake.release_stalls()
    fake.assert_valid()


async def test_depth_limit_and_inherited_deny_rule(run: Run, fake: FakeAnthropic, root: Path) -> None:
    (root / ".agent-lsp").mkdir()
    (root / ".agent-lsp" / "settings.json").write_text('{"permissions": {"deny": ["read_file(secret.txt)"]}}')
    (root / "secret.txt").write_text("hunter2-value")
    router = Router(MAIN=[Reply([spawn("level one", "LEVEL-1: go deeper")]), Reply([text("ok")])],
                    **{"LEVEL-1": [Reply([spawn("level two", "LEVEL-2: read the secret")]), Reply([text("l1 done")])],
                       "LEVEL-2": [Reply([tool_use("read_file", {"path": "secret.txt"})]), Reply([text("l2 done")])]})
    fake.script(*router.steps())
    thread = run.harness.start_thread("main")
    await run.turn("MAIN: go", thread.id)
    level2 = router.seen["LEVEL-2"]
    names = [t["name"] for t in level2[0]["tools"]]
    assert "spawn_agent" not in names and "spawn_agent" in [t["name"] for t in router.seen["LEVEL-1"][0]["tools"]]
    [denied] = last_results(level2[1])
    assert denied["is_error"] and "deny rule" in denied["content"] and "hunter2" not in denied["content"]
    assert [t.title for t in run.harness.list_threads(run.harness.list_threads(thread.id)[0].id)] == ["level two"]
    fake.assert_valid()


CRASHING = """
import asyncio, sys
from pathlib import Path
from agent.config import Settings
from agent.engine.harness import Harness
from agent.files.workspace import Workspace
from agent.protocol import TextPart
from agent.store.sqlite import Store

async def main() -> None:
    harness = Harness(Workspace(Path(sys.argv[1])), Store(Path(sys.argv[2])), Settings(permission_mode="ask"))
    thread = harness.start_thread("main")
    harness.start_turn(thread.id, [TextPart(text="MAIN: go")])
    print(thread.id, flush=True)
    await asyncio.sleep(3600)  # killed with -9 while its child's request hangs

asyncio.run(main())
"""


async def test_a_crash_with_children_running_is_repaired_on_resume(fake: FakeAnthropic, root: Path,
                                                                   tmp_path: Path) -> None:
    """kill -9 while a child runs leaves the parent's and the child's turns running in the
    store; the next harness repairs both, the parent's subagent item says the agent host
    stopped, the model is told, and the thread takes the next turn."""
    router = Router(MAIN=[Reply([spawn("kid", "KID: wait")])], KID=[Stall(Reply([text("never")]), after_frames=1)])
    fake.script(*router.steps())
    db = tmp_path / "crash.sqlite3"
    env = server_env(fake.url, tmp_path / "state")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", CRASHING, str(root), str(db), env=env,
                                                stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    thread_id = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
    await asyncio.to_thread(fake.wait_for_requests, 2, 30)  # the parent's, then the child's
    proc.kill()
    await proc.wait()
    fake.release_stalls()

    store = Store(db)
    try:
        harness = Harness(Workspace(root), store, Settings(permission_mode="ask"),
                          model=AnthropicModel(idle_timeout_s=2.0))
        [kid] = harness.list_threads(thread_id)
        [sub] = [i for i in store.items(thread_id) if i.type == "subagent"]
        assert sub.status == "failed" and "the agent host stopped" in (sub.output or "")
        assert store.latest_turn(kid.id).status == "interrupted"  # type: ignore[union-attr]
        fake.script(Reply([text("resumed")]))
        with pytest.MonkeyPatch.context() as env_patch:
            env_patch.setenv("ANTHROPIC_BASE_URL", fake.url)
            env_patch.setenv("ANTHROPIC_API_KEY", "test-key")
            done = await Run(harness).turn("MAIN: go on", thread_id)
        assert done.turn.status == "completed"
        told = [b for m in fake.requests[-1].body["messages"] for b in m["content"] if b.get("type") == "tool_result"]
        assert told and "the agent host stopped" in told[-1]["content"]
        await harness.shutdown()
        fake.assert_valid()
    finally:
        store.close()


async def test_a_childs_approval_is_a_code_action_in_the_editor(fake: FakeAnthropic, root: Path,
                                                                tmp_path: Path) -> None:
    """Through the real server and agent host: the child's edit waits for approval, shows as the
    parent's surfaces show any (diagnostic + code action, named after the subagent), is approved
    there, lands in the editor's buffer, and the parent gets the child's report."""
    from pygls.exceptions import JsonRpcException

    from editor import Editor

    (root / "calc.py").write_text(BUGGY)
    edit = {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"}
    fake.script(Reply([spawn("fix calc", "fix add in calc.py")]), Reply([tool_use("edit_file", edit)]),
                Reply([text("Fixed add.")]), Reply([text("The subagent fixed it.")]))
    ed = await Editor.launch(root, server_env(fake.url, tmp_path / "state"), "vscode")
    try:
        uri = ed.open("calc.py", BUGGY)
        thread_id = (await ed.request("agent/thread/start", {}))["thread"]["id"]
        await ed.request("agent/turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "fix it"}]})
        await ed.wait_for(lambda: ed.client.diagnostics.get(uri))
        [diagnostic] = ed.client.diagnostics[uri]
        assert "Subagent 'fix calc': Edit calc.py" in diagnostic.message
        [approve] = [a for a in await ed.code_actions(uri, 1) if a.title.startswith("Approve agent edit")]
        assert (await ed.command(approve.command))["outcome"] == "resolved"
        await ed.wait_for(lambda: ed.text(uri) == BUGGY.replace("a - b", "a + b"))
        await ed.wait_for(lambda: any(e["type"] == "turn/completed" and e["threadId"] == thread_id
                                      for e in ed.events))
        children = (await ed.request("agent/thread/list", {"parentThreadId": thread_id}))["threads"]
        assert [c["kind"] for c in children] == ["subagent"]
        with pytest.raises(JsonRpcException) as refused:
            await ed.request("agent/turn/start", {"threadId": children[0]["id"],
                                                  "input": [{"type": "text", "text": "hi"}]})
        assert refused.value.code == -32602 and "takes no direct input" in refused.value.message
        assert "The subagent fixed it." in [i.get("text") for i in (await ed.request(
            "agent/thread/resume", {"threadId": thread_id}))["items"] if i["type"] == "agentMessage"]
    finally:
        await ed.close()
    fake.assert_valid()
