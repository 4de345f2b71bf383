"""Issue 17's figures, agent-lsp beside Claude Code, on one machine and one constant-time fake.

For each figure: agent-lsp's median of RUNS paired runs with the min-max, Claude Code's (when
``claude`` is found: CLAUDE_CODE=path, else on PATH, else /tmp/cc/node_modules/.bin/claude; it
is skipped with a note otherwise) and the ratio. Claude Code has no LSP ``initialize``, no
``turn/start`` and no resume, so those rows show agent-lsp alone. The fake
(benchmarks/constant_fake.py) answers every request in constant time, so what grows is the
client's own time.

    .venv/bin/python benchmarks/suite.py [RUNS]

Rows: spawn -> initialize (agent-lsp serve; in the right-hand column a bare pygls server, paired)
and the settled RSS after it; CLI spawn -> first model request, cold (``agent-lsp ask`` /
``claude -p``: in-process with the agent host off, and the default, where the CLI starts the
agent host), and last request -> exit of both; marginal
time per round trip over 50 trips, and at trips 1-20 vs 281-300 of a 300-trip turn; warm
``turn/start`` -> first request at turn 2 and turn 1,000 and the RSS after that thread (in a
child process); ``agent/thread/resume`` of a 10,000-event thread, full and after last seq - 10
(store read plus the JSON reply). "Agent host warm" runs the CLI through an agent host already
running (issue 12), so the CLI imports no model SDK at all. ``--cli`` runs the CLI rows only.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from constant_fake import ConstantFake, Plan  # noqa: E402


def rss_mib(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def agent_lsp() -> str:
    return shutil.which("agent-lsp", path=str(Path(sys.executable).parent)) or "agent-lsp"


def claude_code() -> str | None:
    for candidate in (os.environ.get("CLAUDE_CODE"), shutil.which("claude"), "/tmp/cc/node_modules/.bin/claude"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def workspace() -> Path:
    root = Path(tempfile.mkdtemp(prefix="bench-ws-"))
    (root / "calc.py").write_text("def add(a, b):\n    return a + b\n" * 20)
    return root


def env_for(fake: ConstantFake, home: Path) -> dict[str, str]:
    return {**os.environ, "ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": "bench-key", "HOME": str(home),
            "AGENT_LSP_STATE_DIR": str(home / "state"), "AGENT_LSP_HOST": "0", "DISABLE_AUTOUPDATER": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_TELEMETRY": "1", "NO_COLOR": "1"}


# --- the subjects ----------------------------------------------------------------------------


def initialize(runs: int) -> tuple[list[float], list[float], list[float]]:
    """Spawn -> initialize answer of `agent-lsp serve` and its VmRSS 1 s later, and, paired with
    each run, a bare pygls server's spawn -> initialize (the floor: Python, pygls, lsprotocol)."""
    from startup import BARE, time_initialize

    times, rss, bare = [], [], []
    for _ in range(runs):
        bare.append(time_initialize([sys.executable, "-c", BARE], {**os.environ}))
        root, home = workspace(), Path(tempfile.mkdtemp())
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                           "params": {"processId": None, "rootUri": root.as_uri(), "capabilities": {}}}).encode()
        started = time.perf_counter()
        proc = subprocess.Popen([agent_lsp(), "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, env={**os.environ, "AGENT_LSP_STATE_DIR": str(home),
                                                                 "AGENT_LSP_HOST": "0"})
        assert proc.stdin and proc.stdout
        proc.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        proc.stdin.flush()
        proc.stdout.readline()
        times.append(time.perf_counter() - started)
        time.sleep(1.0)
        rss.append(rss_mib(proc.pid))
        proc.kill()
        proc.wait()
    return times, rss, bare


def cli_turn(fake: ConstantFake, command: list[str], plan: Plan, timeout: float = 300,
             host_home: Path | None = None) -> dict[str, float]:
    """One CLI run against the fake: spawn -> first request, last request -> exit, arrivals.
    With ``host_home`` the run goes through the agent host of that home's state dir."""
    fake.plan = plan
    env = env_for(fake, host_home or Path(tempfile.mkdtemp()))
    if host_home is not None:
        env["AGENT_LSP_HOST"] = "1"
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=command_cwd(command),
                          env=env)
    ended = time.perf_counter()
    if done.returncode != 0 or plan.first_any is None:
        raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stderr[-500:] or done.stdout[-500:]}")
    gaps = [b - a for a, b in zip(plan.arrivals, plan.arrivals[1:])]
    return {"first": plan.first_any - started, "exit": ended - (plan.arrivals[-1] if plan.arrivals else ended),
            "gaps": gaps}  # type: ignore[dict-item]


_CWD: dict[int, Path] = {}


def command_cwd(command: list[str]) -> Path:
    return _CWD.setdefault(id(command), workspace())


def agent_cli(prompt: str) -> list[str]:
    return [agent_lsp(), "ask", "--mode", "bypass", prompt]


def claude_cli(path: str, prompt: str) -> list[str]:
    return [path, "-p", prompt, "--allowedTools", "Read", "--model", "claude-sonnet-4-5"]


def claude_plan(trips: int, root: Path) -> Plan:
    return Plan(tool="Read", tool_input={"file_path": str(root / "calc.py")}, trips=trips)


def per_trip(gaps: list[float], first: int, last: int) -> float:
    window = gaps[first - 1:last - 1] if last <= len(gaps) + 1 else gaps[-(last - first):]
    return statistics.mean(window) if window else float("nan")


# --- in-process figures (run in a child so its memory is its own) ----------------------------


async def warm_child(turns: int, runs: int) -> dict[str, Any]:
    from agent.config import Settings
    from agent.engine.harness import Harness
    from agent.model.base import ModelRequest, ModelResponse, StreamSink
    from agent.protocol import TextPart, Usage
    from agent.store.sqlite import Store
    from agent.files.workspace import Workspace

    class Instant:
        def __init__(self) -> None:
            self.called: float = 0.0

        async def stream(self, request: ModelRequest, sink: StreamSink) -> ModelResponse:
            self.called = time.perf_counter()
            sink.block_started(0, "text")
            sink.text_delta(0, "Done.")
            sink.block_finished(0, {"type": "text", "text": "Done."})
            return ModelResponse([{"type": "text", "text": "Done."}], "end_turn", Usage(10, 5, 0, 0), request.model)

    root = workspace()
    model = Instant()
    harness = Harness(Workspace(root), Store(root.parent / (root.name + ".db")), Settings(permission_mode="bypass"),
                      model=model)

    async def timed_turn(thread_id: str, text: str) -> float:
        started = time.perf_counter()
        harness.start_turn(thread_id, [TextPart(text=text)])
        await harness.wait(thread_id)
        return model.called - started

    at_two = []
    for _ in range(runs):
        thread_id = harness.start_thread("two").id
        await timed_turn(thread_id, "first")
        at_two.append(await timed_turn(thread_id, "second"))
    long_id = harness.start_thread("long").id
    for n in range(turns - 1):
        await timed_turn(long_id, f"turn {n} " + "x" * 200)
    at_last = [await timed_turn(long_id, f"turn {turns + i}") for i in range(runs)]
    rss_long = rss_mib()

    # a 10,000-event thread: items started, streamed and completed, as a chat would see them
    from agent.events import ItemCompletedEvent, ItemDeltaEvent, ItemStartedEvent
    from agent.protocol import AgentMessageItem

    store = harness.store
    big = store.create_thread(harness.workspace.key, "big").thread
    n = 0
    while store.get_thread(big.id).last_seq < 10_000:
        item = AgentMessageItem(id=f"item_{n}")
        store.append(ItemStartedEvent(thread_id=big.id, turn_id="turn_b", item=item))
        for _ in range(3):
            store.append(ItemDeltaEvent(thread_id=big.id, turn_id="turn_b", item_id=item.id, text="word " * 8))
        store.append(ItemCompletedEvent(thread_id=big.id, turn_id="turn_b", item=item.model_copy(
            update={"status": "completed", "text": "word " * 24})))
        n += 1
    last = store.get_thread(big.id).last_seq

    def reply(after: int) -> tuple[float, int]:
        started = time.perf_counter()
        page = harness.resume_page(big.id, after)
        raw = json.dumps({"thread": page.thread.to_wire(), "items": page.items, "events": page.events,
                          "itemsComplete": page.items_complete})
        return time.perf_counter() - started, len(raw)

    full = [reply(0) for _ in range(runs)]
    delta = [reply(last - 10) for _ in range(runs)]
    return {"turn2": at_two, "turnN": at_last, "rssLong": rss_long, "events": last,
            "resumeFull": [t for t, _ in full], "resumeFullKB": full[0][1] / 1024,
            "resumeAfter": [t for t, _ in delta], "resumeAfterKB": delta[0][1] / 1024}


# --- printing --------------------------------------------------------------------------------


def fmt(values: list[float] | None, unit: str, scale: float = 1.0) -> str:
    if not values:
        return "—"
    med = statistics.median(values) * scale
    return f"{med:8.1f} {unit} ({min(values) * scale:.1f}–{max(values) * scale:.1f})"


def row(name: str, ours: list[float] | None, theirs: list[float] | None, unit: str = "ms",
        scale: float = 1000.0, target: str = "") -> None:
    ratio = (f"{statistics.median(ours) / statistics.median(theirs):5.2f}x" if ours and theirs
             and statistics.median(theirs) else "   —  ")
    print(f"{name:<44} {fmt(ours, unit, scale):>28} {fmt(theirs, unit, scale):>28} {ratio:>7}  {target}")


def paired(runs: int, ours: Callable[[], Any], theirs: Callable[[], Any] | None) -> tuple[list[Any], list[Any]]:
    a, b = [], []
    for _ in range(runs):
        a.append(ours())
        if theirs is not None:
            b.append(theirs())
    return a, b


def main(runs: int) -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(asyncio.run(warm_child(int(sys.argv[2]), int(sys.argv[3])))))
        return
    claude = claude_code()
    version = ""
    if claude:
        version = subprocess.run([claude, "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    other = (f"Claude Code {version}" if claude else
             "Claude Code (skipped: not installed; npm install @anthropic-ai/claude-code, or set CLAUDE_CODE)")
    print(f"agent-lsp vs {other}; median of {runs} paired runs (min–max)\n")
    print(f"{'figure':<44} {'agent-lsp':>28} {'Claude Code':>28} {'ratio':>7}  target")

    cli_only = "--cli" in sys.argv
    if not cli_only:
        init_times, init_rss, bare = initialize(runs)
        row("spawn → initialize (right: bare pygls)", init_times, bare, target="≈ bare pygls")
        row("settled RSS after initialize", init_rss, None, "MiB", 1.0, "≤ 80 MiB")

    with ConstantFake() as fake:
        cc_root = workspace()

        def ours_cold() -> dict[str, float]:
            return cli_turn(fake, agent_cli("say hello"), Plan(trips=0))

        def theirs_cold() -> dict[str, float]:
            return cli_turn(fake, claude_cli(claude, "say hello"), claude_plan(0, cc_root))  # type: ignore[arg-type]

        try:
            a, b = paired(runs, ours_cold, theirs_cold if claude else None)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            print(f"  (Claude Code run failed, shown without it: {exc})")
            a, b = paired(runs, ours_cold, None)
        row("CLI spawn → first request (cold, in-process)", [r["first"] for r in a], [r["first"] for r in b] or None,
            target="≤ 1.5x Claude Code")

        def ours_cold_host() -> dict[str, float]:  # the default: no host runs yet, the CLI starts one
            home = Path(tempfile.mkdtemp(prefix="bench-cold-host-"))
            try:
                return cli_turn(fake, agent_cli("say hello"), Plan(trips=0), host_home=home)
            finally:
                subprocess.run([agent_lsp(), "host", "stop"], capture_output=True, timeout=60,
                               env={**os.environ, "AGENT_LSP_STATE_DIR": str(home / "state")})

        try:
            c, cb = paired(runs, ours_cold_host, theirs_cold if claude else None)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            print(f"  (Claude Code run failed, shown without it: {exc})")
            c, cb = paired(runs, ours_cold_host, None)
        row("CLI spawn → first request (cold, starts the host)", [r["first"] for r in c],
            [r["first"] for r in cb] or None, target="≤ 1.5x Claude Code")
        host_home = Path(tempfile.mkdtemp(prefix="bench-host-"))
        cli_turn(fake, agent_cli("warm the host"), Plan(trips=0), host_home=host_home)  # starts the host

        def ours_warm() -> dict[str, float]:
            return cli_turn(fake, agent_cli("say hello"), Plan(trips=0), host_home=host_home)

        try:
            w, wb = paired(runs, ours_warm, theirs_cold if claude else None)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            print(f"  (Claude Code run failed, shown without it: {exc})")
            w, wb = paired(runs, ours_warm, None)
        row("CLI spawn → first request, agent host warm", [r["first"] for r in w], [r["first"] for r in wb] or None,
            target="≤ 1x Claude Code")
        subprocess.run([agent_lsp(), "host", "stop"], env={**os.environ, "AGENT_LSP_STATE_DIR": str(host_home / "state")},
                       capture_output=True, timeout=60)
        row("CLI last request → exit (in-process)", [r["exit"] for r in a], [r["exit"] for r in b] or None)
        row("CLI last request → exit (through the host)", [r["exit"] for r in c], [r["exit"] for r in cb] or None)

        for trips in (() if cli_only else (50, 300)):
            def ours_trips(trips: int = trips) -> dict[str, float]:
                return cli_turn(fake, agent_cli("check calc.py repeatedly"), Plan(trips=trips))

            def theirs_trips(trips: int = trips) -> dict[str, float]:
                return cli_turn(fake, claude_cli(claude, "check calc.py repeatedly"),  # type: ignore[arg-type]
                                claude_plan(trips, cc_root))

            try:
                a, b = paired(runs, ours_trips, theirs_trips if claude else None)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                print(f"  (Claude Code run failed, shown without it: {exc})")
                a, b = paired(runs, ours_trips, None)
            if trips == 50:
                row("per round trip, 50 trips", [statistics.mean(r["gaps"]) for r in a],
                    [statistics.mean(r["gaps"]) for r in b] or None)
            else:
                early = [per_trip(r["gaps"], 1, 20) for r in a]
                late = [per_trip(r["gaps"], 281, 300) for r in a]
                row("per round trip, trips 1-20 of 300", early, [per_trip(r["gaps"], 1, 20) for r in b] or None)
                row("per round trip, trips 281-300 of 300", late,
                    [per_trip(r["gaps"], 281, 300) for r in b] or None, target="≤ 1.5x trips 1-20")
                growth = [lt / e for e, lt in zip(early, late)]
                row("  growth (281-300 / 1-20)", growth, [per_trip(r["gaps"], 281, 300) / per_trip(r["gaps"], 1, 20)
                                                          for r in b] or None, "x", 1.0)

    if cli_only:
        return
    child = subprocess.run([sys.executable, __file__, "--child", "1000", str(runs)], capture_output=True, text=True,
                           timeout=1800, env={**os.environ, "AGENT_LSP_HOST": "0"})
    if child.returncode != 0:
        print(f"in-process figures failed: {child.stderr[-800:]}")
        return
    warm = json.loads(child.stdout.strip().splitlines()[-1])
    row("warm turn/start → first request, turn 2", warm["turn2"], None)
    row("warm turn/start → first request, turn 1000", warm["turnN"], None, target="< 10 ms")
    row(f"resume, full ({warm['events']} events, {warm['resumeFullKB']:.0f} KB)", warm["resumeFull"], None,
        target="< 150 ms")
    row(f"resume, afterSeq = last - 10 ({warm['resumeAfterKB']:.1f} KB)", warm["resumeAfter"], None,
        target="< 20 ms")
    row("RSS after a 1,000-turn thread", [warm["rssLong"]], None, "MiB", 1.0, "≤ 150 MiB")


if __name__ == "__main__":
    counts = [arg for arg in sys.argv[1:] if arg.isdigit()]
    main(int(counts[0]) if counts and sys.argv[1] != "--child" else 5)
