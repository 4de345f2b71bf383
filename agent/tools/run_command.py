"""``run_command``: a shell command in the workspace, bounded in time and output.

The command runs in its own process group with the API key removed from its environment.
On timeout or interrupt the whole group is killed (TERM, then KILL); when the command ends,
whatever it left running in its group is killed too. While it runs, the group is registered
with the harness's watchdog (``agent.engine.supervisor``), so it dies with the harness even after
``kill -9``, and recorded in the store (when the thread state is a ``ProcessLedger``), so the
repair of a dead turn can stop it. Output streams to the caller as it arrives and is capped:
the head and the tail are kept, the middle is counted.

Interrupt contract: when ``execute`` is cancelled it kills the group and raises
``CommandInterrupted``, a ``CancelledError`` whose ``result`` is the ``CommandResult`` of what
the command printed before it was stopped (``exit_code`` None). Callers that catch
``CancelledError`` read it with ``getattr(exc, "result", None)``.
"""

from __future__ import annotations

import asyncio
import codecs
import os
import signal
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import Field

from agent.policy.secrets import child_environment
from agent.store.sqlite import process_identity
from agent.engine.supervisor import ProcessLedger, Supervisor
from agent.tools.base import Tool, ToolContext, ToolInput

DEFAULT_TIMEOUT_S = 120.0
HEAD_CHARS = 8000
TAIL_CHARS = 8000
# The shell waits at this gate until its group is registered (watchdog and store), then
# becomes the command (same pid, so the recorded identity holds). If the harness dies before
# opening the gate, the read meets end of file and nothing of the command ever runs.
GATE = 'read -r _ || exit 125; exec "$0" -c "$1" </dev/null'


class RunCommandInput(ToolInput):
    command: str = Field(min_length=1, description="Shell command, run with bash in the workspace root.")
    timeout_s: float | None = Field(default=None, gt=0, le=3600, description="Timeout in seconds (default 120).")


@dataclass(frozen=True)
class CommandResult:
    exit_code: int | None
    output: str
    timed_out: bool = False

    def summary(self, timeout_s: float) -> str:
        if self.timed_out:
            head = f"Timed out after {timeout_s:g} s; the command and its children were killed."
        else:
            head = f"Exit code {self.exit_code}"
        return f"{head}\n{self.output}" if self.output else head


class CommandInterrupted(asyncio.CancelledError):
    """Raised by ``RunCommand.execute`` when it is cancelled: still a cancellation (``except
    CancelledError`` catches it and the task ends cancelled), carrying the output so far."""

    def __init__(self, result: CommandResult, *args: object) -> None:
        super().__init__(*args)
        self.result = result


class OutputCap:
    """Keeps the first and last characters of a stream and counts what fell between."""

    def __init__(self, head: int = HEAD_CHARS, tail: int = TAIL_CHARS) -> None:
        self._head_limit, self._tail_limit = head, tail
        self._head: list[str] = []
        self._head_size = 0
        self._tail: deque[str] = deque()
        self._tail_size = 0
        self.dropped = 0

    def add(self, text: str) -> None:
        if self._head_size < self._head_limit:
            take = text[: self._head_limit - self._head_size]
            self._head.append(take)
            self._head_size += len(take)
            text = text[len(take):]
        if not text:
            return
        self._tail.append(text)
        self._tail_size += len(text)
        while self._tail_size > self._tail_limit:
            first = self._tail[0]
            excess = self._tail_size - self._tail_limit
            if len(first) <= excess:
                self._tail.popleft()
                self._tail_size -= len(first)
                self.dropped += len(first)
            else:
                self._tail[0] = first[excess:]
                self._tail_size -= excess
                self.dropped += excess

    def text(self) -> str:
        middle = f"\n[... {self.dropped} characters of output left out ...]\n" if self.dropped else ""
        return "".join(self._head) + middle + "".join(self._tail)


async def kill_group(proc: asyncio.subprocess.Process, grace_s: float = 2.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            await asyncio.wait_for(asyncio.shield(proc.wait()), grace_s)
            if sig == signal.SIGTERM:
                # the leader is gone; make sure nothing it started lingers
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            return
        except TimeoutError:
            continue


class RunCommand(Tool):
    name = "run_command"
    description = (
        "Run a shell command (bash) in the workspace root and return its exit code and output "
        "(stdout and stderr together; long output keeps its beginning and end). Default "
        "timeout 120 s. Do not start servers or interactive programs."
    )
    Input = RunCommandInput
    kind = "command"

    def __init__(self, supervisor: Supervisor | None = None) -> None:
        self.supervisor = supervisor or Supervisor()


    async def execute(self, args: RunCommandInput, ctx: ToolContext,
                      on_output: Callable[[str], None]) -> CommandResult:
        """Run the command; on cancellation raise ``CommandInterrupted`` (see the module doc)."""
        timeout_s = args.timeout_s or DEFAULT_TIMEOUT_S
        shell = "/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh"
        gate, opener = os.pipe()
        try:
            proc = await asyncio.create_subprocess_exec(
                shell, "-c", GATE, shell, args.command, cwd=ctx.workspace.root, env=child_environment(),
                stdin=gate, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        except BaseException:
            os.close(opener)
            raise
        finally:
            os.close(gate)
        ledger = ctx.state if isinstance(ctx.state, ProcessLedger) else None
        try:
            self.supervisor.add(proc.pid)
            if ledger is not None:
                ledger.record_process(ctx.turn_id, proc.pid, process_identity(proc.pid))
            try:
                os.write(opener, b"go\n")  # registered: the command may start
            except BrokenPipeError:
                pass  # the shell is already gone; its exit status tells the rest
        except BaseException:
            await kill_group(proc)
            raise
        finally:
            os.close(opener)
        try:
            return await self._watch(proc, timeout_s, on_output)
        finally:
            _kill_leftovers(proc.pid)
            self.supervisor.remove(proc.pid)
            if ledger is not None:
                ledger.forget_process(ctx.turn_id, proc.pid)

    async def _watch(self, proc: asyncio.subprocess.Process, timeout_s: float,
                     on_output: Callable[[str], None]) -> CommandResult:
        cap = OutputCap()
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

        async def pump() -> None:
            assert proc.stdout is not None
            while chunk := await proc.stdout.read(65536):
                text = decoder.decode(chunk)
                if text:
                    cap.add(text)
                    on_output(text)

        def captured() -> str:
            tail = decoder.decode(b"", final=True)
            if tail:
                cap.add(tail)
            return cap.text()

        reader = asyncio.ensure_future(pump())
        try:
            async with asyncio.timeout(timeout_s):
                await proc.wait()
                # a background child may hold the pipe open: give it a moment, then stop reading
                await asyncio.wait([reader], timeout=1.0)
        except TimeoutError:
            await kill_group(proc)
            reader.cancel()
            return CommandResult(None, captured(), timed_out=True)
        except asyncio.CancelledError as exc:
            try:
                await kill_group(proc)
                # the group is dead: what it wrote before dying is still in the pipe
                await asyncio.wait([reader], timeout=0.5)
            finally:
                reader.cancel()
                raise CommandInterrupted(CommandResult(None, captured()), *exc.args) from exc
        if not reader.done():
            await kill_group(proc)
            reader.cancel()
        return CommandResult(proc.returncode, captured())


def _kill_leftovers(pgid: int) -> None:
    """What the command left running in its group dies with it (nothing may outlive a
    command: the harness could not stop it after its turn)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
