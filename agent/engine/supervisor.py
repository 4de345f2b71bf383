"""No orphaned commands: a watchdog that outlives the harness by just enough to kill them.

Every command ``run_command`` starts leads its own process group. Two mechanisms make sure
such a group never outlives the process that started it, even after ``kill -9``:

* ``Supervisor`` owns one tiny watchdog child per harness process, started lazily at the
  first command (never at import or server start). The watchdog is a pure-stdlib script run
  with ``python -I -S -c``; its stdin is a pipe from the harness, over which the harness
  writes ``add PGID`` and ``remove PGID`` lines. When the pipe reaches end of file, because
  the harness exited or died, the watchdog SIGKILLs every group still registered and exits.
  It runs in its own session (signals to the harness's process group do not reach it), with
  every other descriptor closed and stdout/stderr on ``/dev/null``, so it never holds the
  harness's stdout (the LSP pipe) open. On Linux it also asks for a parent-death signal
  (``prctl(PR_SET_PDEATHSIG)``), in case the pipe's write end leaked into a forked child.
* The store records each running group (pgid and the leader's ``pid:starttime``) with the
  turn that started it. ``stop_leftovers`` is called when a dead turn is repaired and kills
  whatever of those groups is still alive: a second line of defence when the watchdog was
  killed too.

A process that leaves its group on purpose (``setsid``, a double-forking daemon) escapes
both; that needs cgroups or a job object and is out of reach here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from typing import Protocol, runtime_checkable

from agent.store.sqlite import Store
from agent.store.records import owner_alive, pid_running

# Runs in the watchdog child. Stdlib only, and nothing imported that is not needed: this is
# on the path of the first command. argv[1] is the harness's pid.
WATCHDOG_SOURCE = r"""
import os, signal, sys
parent = int(sys.argv[1])
groups = set()
pending = [b""]

def feed(data):
    lines = (pending[0] + data).split(b"\n")
    pending[0] = lines.pop()
    for line in lines:
        verb, _, number = line.partition(b" ")
        if number.isdigit():
            (groups.add if verb == b"add" else groups.discard)(int(number))

def reap():
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass
    os._exit(0)

def drain_and_reap(*_):
    if os.getppid() == parent:
        return  # the thread that started us ended, not the harness
    os.set_blocking(0, False)
    try:
        while True:
            data = os.read(0, 65536)
            if not data:
                break
            feed(data)
    except OSError:
        pass
    reap()

for sig in (signal.SIGINT, signal.SIGHUP):
    signal.signal(sig, signal.SIG_IGN)
if sys.platform.startswith("linux") and "--pdeathsig" in sys.argv:
    signal.signal(signal.SIGUSR1, drain_and_reap)
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, int(signal.SIGUSR1), 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass
    drain_and_reap()  # the harness may have died before prctl took effect
while True:
    try:
        data = os.read(0, 65536)
    except InterruptedError:
        continue
    if not data:
        reap()
    feed(data)
"""


@runtime_checkable
class ProcessLedger(Protocol):
    """Where a running command's process group is recorded for the repair of its turn
    (``StoredThreadState`` implements it)."""

    def record_process(self, turn_id: str, pgid: int, identity: str) -> None: ...

    def forget_process(self, turn_id: str, pgid: int) -> None: ...


class Supervisor:
    """The harness side of the watchdog: one per harness process (one per ``RunCommand``).

    ``add``/``remove`` are synchronous and cheap (one write of a few bytes to a pipe). If the
    watchdog has died, the next ``add`` starts a new one and registers every live group again.
    """

    def __init__(self, python: str | None = None) -> None:
        self._python = python or sys.executable
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._groups: set[int] = set()

    @property
    def watchdog_pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def add(self, pgid: int) -> None:
        with self._lock:
            self._groups.add(pgid)
            if self._proc is None or not self._send(f"add {pgid}\n"):
                self._start()

    def remove(self, pgid: int) -> None:
        with self._lock:
            self._groups.discard(pgid)
            if self._proc is not None:
                self._send(f"remove {pgid}\n")

    def close(self) -> None:
        """Stop the watchdog; groups still registered are killed by it on the way out."""
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None:
            return
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _start(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
        args = [self._python, "-I", "-S", "-c", WATCHDOG_SOURCE, str(os.getpid())]
        if threading.current_thread() is threading.main_thread():
            # a parent-death signal fires when the starting *thread* ends; the watchdog
            # double-checks its parent pid, but only the main thread lives as long as we do
            args.append("--pdeathsig")
        self._proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            close_fds=True, start_new_session=True, bufsize=0, cwd="/",
        )
        lines = "".join(f"add {pgid}\n" for pgid in sorted(self._groups))
        if lines and not self._send(lines):
            raise OSError("the command watchdog exited as soon as it started")

    def _send(self, text: str) -> bool:
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(text.encode())
            return True
        except (BrokenPipeError, ValueError):
            return False


def stop_leftovers(store: Store, turn_id: str) -> int:
    """SIGKILL the process groups a dead turn left running; returns how many were signalled.

    Only groups recorded by a process that is gone are touched (a live owner stops its own).
    A group is killed when its leader is the recorded process (same ``pid:starttime``) or
    when its leader is gone: ``killpg`` then reaches the members that outlived it, and a pgid
    cannot be reused while any of them lives. A leader pid now naming another process means
    the group emptied long ago, so it is left alone. Every group looked at is forgotten.
    """
    stopped = 0
    for pgid, identity, owner in store.turn_processes(turn_id):
        if owner_alive(owner):
            continue
        if owner_alive(identity) or not pid_running(pgid):
            try:
                os.killpg(pgid, signal.SIGKILL)
                stopped += 1
            except (ProcessLookupError, PermissionError):
                pass
        store.forget_process(turn_id, pgid)
    return stopped
