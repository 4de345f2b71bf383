"""``run_command``: a shell command in the workspace, bounded in time and output.

The command runs in its own process group with the API key removed from its environment.
On timeout or interrupt the whole group is killed (TERM, then KILL). Output streams to the
caller as it arrives and is capped: the head and the tail are kept, the middle is counted.
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

from agent.secrets import child_environment
from agent.tools.base import Tool, ToolContext, ToolInput

DEFAULT_TIMEOUT_S = 120.0
HEAD_CHARS = 8000
TAIL_CHARS = 8000


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

    def title(self, args: RunCommandInput, ctx: ToolContext) -> str:
        short = " ".join(args.command.split())
        return f"Run {short if len(short) <= 60 else short[:57] + '...'}"

    async def execute(self, args: RunCommandInput, ctx: ToolContext,
                      on_output: Callable[[str], None]) -> CommandResult:
        timeout_s = args.timeout_s or DEFAULT_TIMEOUT_S
        shell = "/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh"
        proc = await asyncio.create_subprocess_exec(
            shell, "-c", args.command, cwd=ctx.workspace.root, env=child_environment(),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True,
        )
        cap = OutputCap()
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

        async def pump() -> None:
            assert proc.stdout is not None
            while chunk := await proc.stdout.read(65536):
                text = decoder.decode(chunk)
                if text:
                    cap.add(text)
                    on_output(text)

        reader = asyncio.ensure_future(pump())
        try:
            async with asyncio.timeout(timeout_s):
                await proc.wait()
                # a background child may hold the pipe open: give it a moment, then stop reading
                await asyncio.wait([reader], timeout=1.0)
        except TimeoutError:
            await kill_group(proc)
            reader.cancel()
            return CommandResult(None, cap.text(), timed_out=True)
        except asyncio.CancelledError:
            await kill_group(proc)
            reader.cancel()
            raise
        if not reader.done():
            await kill_group(proc)
            reader.cancel()
        tail = decoder.decode(b"", final=True)
        if tail:
            cap.add(tail)
        return CommandResult(proc.returncode, cap.text())
