"""No orphaned commands: a command dies with the process that runs it, even after kill -9.

Harness processes here are small Python scripts driving the real ``RunCommand`` tool and
``Supervisor``; the test kills them and then polls the process table with a deadline.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.config import Settings
from agent.protocol import TextPart
from agent.store.sqlite import Store, StoredThreadState, process_identity
from agent.engine.supervisor import Supervisor, stop_leftovers
from agent.tools import ToolContext
from agent.tools.run_command import CommandInterrupted, RunCommand, RunCommandInput
from agent.files.workspace import Workspace
from agent_run import Run, pid_alive
from fake_anthropic import FakeAnthropic, Reply, text, tool_use

REPO = Path(__file__).resolve().parent.parent
DEAD_OWNER = "4194305:1"  # above every pid_max (Linux 2**22, macOS 99999): never alive

# A harness in miniature: runs one command through the real tool, recording it in a store,
# and prints the watchdog's pid once the command has printed something.
HARNESS = r"""
import asyncio, sys
from pathlib import Path
from agent.store.sqlite import Store, StoredThreadState
from agent.tools import ToolContext
from agent.tools.run_command import RunCommand, RunCommandInput
from agent.files.workspace import Workspace

async def main():
    root, db, command = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    tool = RunCommand()
    ctx = ToolContext(Workspace(root), "thr", "turn", StoredThreadState(Store(db), "thr"))
    told = []
    def on_output(text):
        if not told:
            told.append(1)
            print(tool.supervisor.watchdog_pid, flush=True)
    await tool.execute(RunCommandInput(command=command), ctx, on_output)

asyncio.run(main())
"""

COMMAND = ("echo $$ > leader.pid; (sleep 300 & echo $! > sleep.pid); echo started; "
           "while true; do date >> out.txt; sleep 0.05; done")




def group_members(pgid: int) -> list[int]:
    """Live processes of the group (Linux reads /proc; elsewhere, killpg says if any)."""
    if not Path("/proc/self/stat").exists():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        return [pgid]
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[0] != "Z" and int(fields[2]) == pgid:
                members.append(int(entry))
    return members


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.02)


def read_pid(path: Path) -> int:
    wait_until(lambda: path.exists() and path.read_text().strip().isdigit(), f"{path.name} is written")
    return int(path.read_text())


@pytest.fixture
def root(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    return workspace


@pytest.fixture
def sleepers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Process groups started by a test; whatever is left is killed afterwards."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def start_harness(root: Path, db: Path) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, "-c", HARNESS, str(root), str(db), COMMAND], cwd=REPO,
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout is not None
    watchdog = int(proc.stdout.readline())
    wait_until(lambda: (root / "out.txt").exists(), "the command writes to the workspace")
    return proc, watchdog


def test_kill_9_of_the_harness_kills_the_command_and_what_it_started(root: Path, tmp_path: Path) -> None:
    harness, watchdog = start_harness(root, tmp_path / "db.sqlite3")
    leader, grandchild = read_pid(root / "leader.pid"), read_pid(root / "sleep.pid")
    assert group_members(leader) and pid_alive(grandchild) and pid_alive(watchdog)
    [(pgid, identity, owner)] = Store(tmp_path / "db.sqlite3").turn_processes("turn")
    assert pgid == leader and identity == process_identity(leader) and owner == process_identity(harness.pid)

    harness.kill()
    harness.wait()
    wait_until(lambda: not group_members(leader), "every process of the command's group is gone")
    wait_until(lambda: not pid_alive(grandchild), "the backgrounded grandchild is gone")
    wait_until(lambda: not pid_alive(watchdog), "the watchdog has exited")


def test_the_repair_stops_a_command_whose_watchdog_died_too(root: Path, tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    harness, watchdog = start_harness(root, db)
    leader, grandchild = read_pid(root / "leader.pid"), read_pid(root / "sleep.pid")
    os.kill(watchdog, signal.SIGKILL)
    wait_until(lambda: not pid_alive(watchdog), "the watchdog is dead")
    harness.kill()
    harness.wait()
    assert group_members(leader) and pid_alive(grandchild)  # orphans now, still writing

    assert stop_leftovers(Store(db), "turn") == 1
    wait_until(lambda: not group_members(leader) and not pid_alive(grandchild), "the leftovers are gone")
    assert Store(db).turn_processes("turn") == []


def test_stop_leftovers_kills_only_groups_of_a_dead_owner(tmp_path: Path,
                                                          sleepers: list[subprocess.Popen[bytes]]) -> None:
    db = tmp_path / "db.sqlite3"
    dead, live = Store(db, owner=DEAD_OWNER), Store(db)
    mine, theirs, reused = (subprocess.Popen(["sleep", "300"], start_new_session=True) for _ in range(3))
    sleepers += [mine, theirs, reused]
    # a leader that exited while its child lives on in the group
    orphaned = subprocess.Popen(["bash", "-c", "sleep 300 & echo $!"], start_new_session=True,
                                stdout=subprocess.PIPE, text=True)
    sleepers.append(orphaned)
    orphaned_identity = process_identity(orphaned.pid)
    assert orphaned.stdout is not None
    child = int(orphaned.stdout.readline())
    orphaned.wait()

    dead.record_process("thr", "dead-turn", mine.pid, process_identity(mine.pid))
    dead.record_process("thr", "dead-turn", orphaned.pid, orphaned_identity)
    dead.record_process("thr", "dead-turn", reused.pid, f"{reused.pid}:12345")  # pid now someone else
    live.record_process("thr", "live-turn", theirs.pid, process_identity(theirs.pid))

    assert stop_leftovers(live, "dead-turn") == 2
    assert mine.wait(timeout=10) == -signal.SIGKILL
    wait_until(lambda: not pid_alive(child), "the child that outlived its leader is gone")
    assert reused.poll() is None and live.turn_processes("dead-turn") == []

    assert stop_leftovers(live, "live-turn") == 0
    assert theirs.poll() is None
    assert [p[0] for p in live.turn_processes("live-turn")] == [theirs.pid]


def test_the_watchdog_exits_with_its_harness_and_kills_what_is_still_registered(
        sleepers: list[subprocess.Popen[bytes]]) -> None:
    script = r"""
import subprocess
from agent.engine.supervisor import Supervisor
sup = Supervisor()
kept, removed = (subprocess.Popen(["sleep", "300"], start_new_session=True, stdout=subprocess.DEVNULL)
                 for _ in range(2))
sup.add(kept.pid)
sup.add(removed.pid)
sup.remove(removed.pid)
print(sup.watchdog_pid, kept.pid, removed.pid, flush=True)
"""
    harness = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    # returns only at end of file: the watchdog does not hold the harness's stdout open
    out, _ = harness.communicate(timeout=20)
    assert harness.returncode == 0
    watchdog, kept, removed = map(int, out.split())
    try:
        wait_until(lambda: not pid_alive(watchdog), "the watchdog has exited")
        wait_until(lambda: not pid_alive(kept), "the group still registered at exit is gone")
        assert pid_alive(removed)
    finally:
        for pid in (kept, removed):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_a_dead_watchdog_is_replaced_and_keeps_every_group(sleepers: list[subprocess.Popen[bytes]]) -> None:
    sup = Supervisor()
    first, second = (subprocess.Popen(["sleep", "300"], start_new_session=True) for _ in range(2))
    sleepers += [first, second]
    sup.add(first.pid)
    old = sup.watchdog_pid
    assert old is not None
    os.kill(old, signal.SIGKILL)
    wait_until(lambda: not pid_alive(old), "the watchdog is dead")
    sup.add(second.pid)
    assert sup.watchdog_pid not in (None, old)
    sup.close()
    assert first.wait(timeout=10) == -signal.SIGKILL and second.wait(timeout=10) == -signal.SIGKILL


async def test_cancelling_a_command_keeps_what_it_printed(root: Path) -> None:
    tool = RunCommand()
    printed = asyncio.Event()

    def on_output(text: str) -> None:
        if "first" in text:
            printed.set()

    ctx = ToolContext(Workspace(root), "thr", "turn")
    task = asyncio.ensure_future(tool.execute(
        RunCommandInput(command="echo $$ > cmd.pid; echo first; sleep 30"), ctx, on_output))
    async with asyncio.timeout(10):
        await printed.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError) as caught:
        await task
    assert task.cancelled() and isinstance(caught.value, CommandInterrupted)
    assert caught.value.result.exit_code is None and caught.value.result.output.startswith("first\n")
    assert not pid_alive(int((root / "cmd.pid").read_text()))
    tool.supervisor.close()


async def test_a_command_leaves_nothing_running_behind(root: Path, tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    tool = RunCommand()
    ctx = ToolContext(Workspace(root), "thr", "turn", StoredThreadState(store, "thr"))
    result = await tool.execute(RunCommandInput(command="(sleep 300 > /dev/null 2>&1 &); echo $$"), ctx,
                                lambda text: None)
    assert result.exit_code == 0
    wait_until(lambda: not group_members(int(result.output)), "the backgrounded sleep is gone")
    assert store.turn_processes("turn") == []
    tool.supervisor.close()


@pytest.mark.parametrize("settings", [Settings(permission_mode="bypass")])
async def test_the_harness_records_a_running_command_in_the_store(run: Run, fake: FakeAnthropic,
                                                                  root: Path) -> None:
    fake.script(Reply([tool_use("run_command", {"command": "echo $$ > cmd.pid; sleep 30"})]), Reply([text("ok")]))
    thread_id = run.harness.start_thread("t").id
    turn = run.harness.start_turn(thread_id, [TextPart(text="go")])
    pid_file = root / "cmd.pid"
    async with asyncio.timeout(10):
        while not pid_file.exists() or not pid_file.read_text().strip():
            await asyncio.sleep(0.01)
    leader = int(pid_file.read_text())
    [(pgid, identity, _)] = run.harness.store.turn_processes(turn.id)
    assert pgid == leader and identity == process_identity(leader)
    assert await run.harness.interrupt(thread_id)
    assert run.harness.store.turn_processes(turn.id) == [] and not group_members(leader)
