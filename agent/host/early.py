"""Starting the agent host from a client's first moment, without a second interpreter start.

``agent-lsp ask`` and ``chat`` call ``start_early`` before they import anything else. When the
environment alone says a host should serve this state directory and none holds its lock, this
process takes the lock and forks: the copy (in a session of its own, its output in ``host.log``, the
lock its only inherited descriptor) becomes the host and starts importing the harness and the
model SDK at once, while the client goes on with its own imports and then connects. Forking
saves the host a whole interpreter start and the launcher's imports (about 100 ms here) on a
cold first request, which waits for exactly that host.

A double fork leaves the host no parent to wait for it, and the client reaps the short-lived
middle process at once. Where ``fork`` is missing, or anything here fails, ``start_early`` does
nothing and ``place.connect`` starts the host the ordinary way (``python -m agent.host``).
It imports nothing beyond ``os``, ``fcntl``, ``sys`` and ``pathlib``: it runs before
everything else. Whether a host runs is the lock's answer, not the socket's (a killed host
leaves a stale socket but frees its lock).
"""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path

_ON = ("1", "true", "on", "yes", "t", "y")


def env_state_dir() -> Path:
    """``agent.store.sqlite.default_state_dir`` without importing the store (a test holds them
    equal): ``AGENT_LSP_STATE_DIR``, else the platform's user state directory."""
    configured = os.environ.get("AGENT_LSP_STATE_DIR")
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_state_dir("agent-lsp", appauthor=False))


def host_wanted() -> bool:
    """Whether the environment alone says turns run in an agent host (and there is a key)."""
    return (os.environ.get("AGENT_LSP_HOST", "1").strip().lower() in _ON
            and bool(os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN")))


def start_early() -> None:
    """Fork the state directory's host when none runs or starts; return at once either way."""
    if not host_wanted() or not hasattr(os, "fork"):
        return
    try:
        state_dir = env_state_dir().resolve()  # the lock, not the socket, says whether a host runs:
        state_dir.mkdir(parents=True, exist_ok=True)  # a dead host's socket is stale, its lock free
        os.chmod(state_dir, 0o700)
        lock = os.open(state_dir / "host.lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # a host holds the lock (it runs or is starting), or no lock: connect decides
        os.close(lock)
        return
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    try:
        middle = os.fork()
    except OSError:
        os.close(lock)
        return
    if middle == 0:  # the middle process: fork the host and leave
        code = 1
        try:
            if os.fork() == 0:
                os.setsid()
                code = _become_host(state_dir, lock)
            else:
                code = 0
        finally:
            os._exit(code)
    os.close(lock)  # the host's descriptor keeps the lock (flock belongs to the open file)
    os.waitpid(middle, 0)


def _become_host(state_dir: Path, lock: int) -> int:
    """In the forked host: the lock names it, its output goes to the log, it keeps no other
    descriptor of the client's, then it serves (``agent.host.__main__.serve``)."""
    if lock < 3:  # the client ran without stdin, say: keep the lock clear of the three below
        moved = fcntl.fcntl(lock, fcntl.F_DUPFD, 3)
        os.close(lock)
        lock = moved
    os.ftruncate(lock, 0)
    os.lseek(lock, 0, os.SEEK_SET)
    os.write(lock, f"{os.getpid()}\n".encode())
    os.chdir(state_dir)
    retitle("agent-lsp host")
    null = os.open(os.devnull, os.O_RDONLY)
    log = os.open(state_dir / "host.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.closerange(3, lock)
    os.closerange(lock + 1, _max_fd())
    sys.argv = [sys.argv[0], "host", "run"]
    from agent.host.__main__ import serve

    try:
        return serve(state_dir, lock, None)
    except BaseException:  # noqa: BLE001  (never back into the client's code)
        import traceback

        traceback.print_exc()
        return 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


def retitle(title: str) -> None:
    """Show this process as ``title`` in ``ps`` (Linux): the forked host would otherwise go on
    showing the client's command line, the user's prompt included, for as long as it runs.
    The kernel reads ``/proc/PID/cmdline`` from the original argument strings, which the
    interpreter copied at start-up and never reads again; they are overwritten in place."""
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])  # arg_start, arg_end (fields 48 and 49)
        with open("/proc/self/comm", "w") as comm:
            comm.write(title[:15])
    except (OSError, ValueError, IndexError):
        return
    if end <= start:
        return
    import ctypes

    raw = title.encode()[:end - start - 1]
    ctypes.memset(start, 0, end - start)
    ctypes.memmove(start, raw, len(raw))


def _max_fd() -> int:
    try:
        return int(os.sysconf("SC_OPEN_MAX"))
    except (OSError, ValueError):
        return 1024
